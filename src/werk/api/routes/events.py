"""Read events (state changes, counts, alarms, orders, products): ``GET /events``, paginated.

Pages are ordered by ts, path, kind, code and hold at most ``limit`` rows; ``next`` (the
``Werk-Next-Cursor`` header of an Arrow answer) continues after the last row returned, or is
null on the last page. The store is read in time slices that grow until a page is full, so a
page of a long range costs about what its rows cost, not the whole range.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated, Final

import pyarrow as pa
import pyarrow.compute as pc
from fastapi import APIRouter, Query, Request, Response

from werk.api.auth import Door, Reader
from werk.api.params import parse_path, parse_window
from werk.api.routes.signals import (
    CursorQuery,
    LimitQuery,
    decode_cursor,
    encode_cursor,
    page_response,
)
from werk.errors import InvalidInput
from werk.samples import EventKind, from_ns
from werk.sharing.door import ReadKind, ReadRequest, Scope
from werk.store import Store

router = APIRouter(tags=["events"])

FIRST_SLICE: Final = timedelta(hours=1)
"""The first time slice a page reads; each further slice is four times as long."""

KINDS: Final = tuple(k.value for k in EventKind)
_ORDER: Final = [
    ("ts", "ascending"),
    ("path", "ascending"),
    ("kind", "ascending"),
    ("code", "ascending"),
]


def parse_kinds(kind: list[str] | None) -> list[str] | None:
    """Return the event kinds of repeated or comma-separated ``kind`` parameters, checked."""
    if not kind:
        return None
    names = [k.strip() for item in kind for k in item.split(",") if k.strip()]
    unknown = [k for k in names if k not in KINDS]
    if unknown:
        raise InvalidInput(
            f"unknown event kind {unknown[0]!r}; known: {', '.join(KINDS)}",
            key="request.invalid_kind",
            field="kind",
        )
    return names or None


def read_page(
    store: Store,
    scope: Scope,
    prefix: str,
    start: datetime,
    end: datetime,
    kinds: list[str] | None,
    limit: int,
    skip: int,
) -> pa.Table:
    """Return up to ``limit`` + 1 events from ``start`` on, after skipping ``skip`` rows at
    exactly ``start`` (rows of one instant already sent), in the scope."""
    found: list[pa.Table] = []
    rows = 0
    lo, width = start, FIRST_SLICE
    while lo < end and rows < skip + limit + 1:
        hi = min(end, lo + width)
        part = scope.filter(store.events(prefix, lo, hi, kinds=kinds))
        if part.num_rows:
            found.append(part)
            rows += part.num_rows
        lo, width = hi, width * 4
    if not found:
        return store.events(prefix, end, end)  # an empty table with the event schema
    table = pa.concat_tables(found)
    table = table.take(pc.sort_indices(table, sort_keys=_ORDER))
    return table.slice(skip, limit + 1)


@router.get("/events", operation_id="list_events", summary="Events under a path, paginated")
async def events(
    request: Request,
    principal: Reader,
    door: Door,
    from_: Annotated[str, Query(alias="from", description="Start: ISO 8601, now, or -7d.")],
    to: Annotated[str, Query(description="End (exclusive): ISO 8601, now, or -1h.")] = "now",
    path: Annotated[str | None, Query(description="Asset path prefix (empty: all).")] = None,
    kind: Annotated[
        list[str] | None,
        Query(description="Only these kinds: state, count, alarm, order, product."),
    ] = None,
    limit: LimitQuery = 1000,
    cursor: CursorQuery = None,
    agreement: Annotated[str | None, Query(description="Agreement the read is made under.")] = None,
    purpose: Annotated[str | None, Query(description="Purpose of the read (ODRL).")] = None,
) -> Response:
    """Return the events at or below ``path`` in ``[from, to)``, oldest first."""
    the_path = parse_path(path) or ""
    start, end = parse_window(from_, to)
    kinds = parse_kinds(kind)
    decision, scope = door.check(
        principal,
        ReadRequest(
            ReadKind.EVENTS, the_path, None, start, end, agreement=agreement, purpose=purpose
        ),
    )
    lo_scoped, hi_scoped = scope.window(start, end)
    lo, hi = lo_scoped or start, hi_scoped or end
    skip, at_ns = 0, None
    if cursor is not None:
        after = decode_cursor(cursor)
        at, skip_value = after.get("ts"), after.get("skip")
        if not isinstance(at, int) or not isinstance(skip_value, int) or skip_value < 0:
            raise InvalidInput("cursor is malformed", key="request.invalid_cursor", field="cursor")
        lo, skip, at_ns = max(lo, from_ns(at)), skip_value, at
    store: Store = request.app.state.store
    table = (
        await asyncio.to_thread(read_page, store, scope, the_path, lo, hi, kinds, limit, skip)
        if lo < hi
        else store.events(the_path, hi, hi)
    )
    page = table.slice(0, limit)
    next_cursor = None
    if table.num_rows > limit:
        last_ns = page.column("ts")[limit - 1].value
        # rows of the last instant already on this page (and on earlier pages at that instant)
        same = pc.sum(pc.equal(page.column("ts"), page.column("ts")[limit - 1])).as_py()
        carried = skip if at_ns == last_ns else 0
        next_cursor = encode_cursor(ts=last_ns, skip=int(same) + carried)
    door.record(decision, page.num_rows)
    return page_response(request, page, next_cursor, path=the_path, start=lo, end=hi)
