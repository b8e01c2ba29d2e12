"""List the signals of an asset with unit, type and newest value: ``GET /signals``, paginated.

A page is at most ``limit`` rows, ordered by path and signal; the answer's ``next`` (and the
``Werk-Next-Cursor`` header of an Arrow answer) is the opaque cursor of the following page, or
null on the last one.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Annotated

import pyarrow as pa
import pyarrow.compute as pc
from fastapi import APIRouter, Query, Request, Response

from werk.api.auth import Door, Reader
from werk.api.params import parse_path
from werk.api.routes.assets import current_assets
from werk.api.tables import table_response, wants_arrow
from werk.assets.model import AssetModel
from werk.assets.paths import validate_signal
from werk.errors import InvalidInput, PathError
from werk.sharing.door import ReadKind, ReadRequest
from werk.store import Store

router = APIRouter(tags=["series"])

CURSOR_HEADER = "Werk-Next-Cursor"

LimitQuery = Annotated[int, Query(ge=1, le=100_000, description="Rows per page.")]
CursorQuery = Annotated[str | None, Query(description="The `next` cursor of the previous page.")]


def parse_signals(signal: list[str] | None) -> list[str] | None:
    """Return the signal names of repeated and comma-separated ``signal`` parameters, checked."""
    if not signal:
        return None
    names = [s.strip() for item in signal for s in item.split(",") if s.strip()]
    for name in names:
        try:
            validate_signal(name)
        except PathError as exc:
            raise InvalidInput(exc.message, key="request.invalid_signal", field="signal") from exc
    return names or None


def encode_cursor(**fields: object) -> str:
    """Return an opaque cursor holding ``fields``."""
    return base64.urlsafe_b64encode(json.dumps(fields).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, object]:
    """Return the fields of a cursor made by :func:`encode_cursor`.

    Raises:
        InvalidInput: the cursor was not made by this server.
    """
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        fields = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            "cursor is not one this server handed out; pass a page's `next` unchanged",
            key="request.invalid_cursor",
            field="cursor",
        ) from exc
    if not isinstance(fields, dict):
        raise InvalidInput("cursor is malformed", key="request.invalid_cursor", field="cursor")
    return fields


def page_response(
    request: Request, table: pa.Table, next_cursor: str | None, **meta: object
) -> Response:
    """Answer one page: Arrow with the cursor in a header, or JSON with ``next``."""
    response = (
        table_response(request, table)
        if wants_arrow(request)
        else table_response(request, table, **meta, next=next_cursor)
    )
    if next_cursor is not None:
        response.headers[CURSOR_HEADER] = next_cursor
    return response


def units_from(model: AssetModel, series: pa.Table) -> pa.Table:
    """Fill the unit of each series its machine's type declares, where the series has none."""
    declared: dict[tuple[str, str], str] = {}
    for inst in model.instances:
        for spec in model.type_of(inst).signals:
            if spec.unit:
                declared[(inst.path, spec.name)] = spec.unit
    if not declared:
        return series.drop_columns(["id"])
    units = [
        u if u else declared.get((p, s))
        for p, s, u in zip(
            series.column("path").to_pylist(),
            series.column("signal").to_pylist(),
            series.column("unit").to_pylist(),
            strict=True,
        )
    ]
    index = series.column_names.index("unit")
    return series.set_column(index, "unit", pa.array(units, pa.string())).drop_columns(["id"])


def with_latest(series: pa.Table, latest: pa.Table) -> pa.Table:
    """Join the newest value (ts, value, quality) onto each series row."""
    newest = latest.select(["path", "signal", "ts", "value", "quality"])
    joined = series.join(newest, keys=["path", "signal"], join_type="left outer")
    order = pc.sort_indices(joined, sort_keys=[("path", "ascending"), ("signal", "ascending")])
    return joined.take(order)


@router.get("/signals", operation_id="list_signals", summary="Signals of an asset, with latest")
async def signals(
    request: Request,
    principal: Reader,
    door: Door,
    path: Annotated[str | None, Query(description="Asset path; signals at or below it.")] = None,
    prefix: Annotated[
        bool, Query(description="Include assets below the path (false: this asset only).")
    ] = True,
    limit: LimitQuery = 1000,
    cursor: CursorQuery = None,
    agreement: Annotated[str | None, Query(description="Agreement the read is made under.")] = None,
    purpose: Annotated[str | None, Query(description="Purpose of the read (ODRL).")] = None,
) -> Response:
    """List the signals (path, signal, unit, value type) with their newest value."""
    the_path = parse_path(path) or ""
    decision, scope = door.check(
        principal,
        ReadRequest(ReadKind.SERIES, the_path, agreement=agreement, purpose=purpose),
    )
    store: Store = request.app.state.store
    series, latest = await asyncio.gather(
        asyncio.to_thread(store.series, the_path or None),
        asyncio.to_thread(store.latest, the_path or None, None),
    )
    table = scope.filter(with_latest(units_from(current_assets(request), series), latest))
    if not prefix and the_path:
        table = table.filter(pc.equal(table.column("path"), the_path))
    if cursor is not None:
        after = decode_cursor(cursor)
        key = pc.binary_join_element_wise(table.column("path"), table.column("signal"), "\x00")
        table = table.filter(pc.greater(key, f"{after.get('path')}\x00{after.get('signal')}"))
    page = table.slice(0, limit)
    next_cursor = None
    if table.num_rows > limit:
        last = page.slice(limit - 1, 1).to_pylist()[0]
        next_cursor = encode_cursor(path=last["path"], signal=last["signal"])
    door.record(decision, page.num_rows)
    return page_response(request, page, next_cursor, path=the_path)
