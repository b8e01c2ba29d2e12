"""Read series, latest values and ranges; JSON by default, Arrow with ``Accept``.

Every read passes the read door first (ARCHITECTURE.md, "Reads go through one door"): the door
permits it as asked (the owner's own reads: no filtering at all), narrows it (only the granted
sub-paths are read, one store read per granted prefix; signals, window and bucket floor of an
agreement are applied), or denies it (404 for a path the caller may not see).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import pyarrow as pa
import pyarrow.compute as pc
from fastapi import APIRouter, Query, Request, Response

from werk.api.auth import Door, Reader
from werk.api.flights import Answer, flights
from werk.api.params import parse_path, parse_window
from werk.api.tables import encoded, wants_arrow
from werk.assets.paths import validate_signal
from werk.errors import InvalidInput, PathError
from werk.sharing.door import ReadKind, ReadRequest, Scope
from werk.store import Agg, Store
from werk.store.buckets import format_bucket, parse_bucket

router = APIRouter(tags=["series"])

PathQuery = Annotated[
    str | None, Query(description="Asset path; everything at or below it (empty: all).")
]
AgreementQuery = Annotated[
    str | None, Query(description="Agreement the read is made under (reads of others' data).")
]
PurposeQuery = Annotated[str | None, Query(description="Purpose of the read (ODRL purpose).")]


def untouched(scope: Scope, path: str, signals: list[str] | None) -> bool:
    """Return whether a read of ``path`` is permitted exactly as asked (nothing to filter)."""
    asked = None if signals is None else frozenset(signals)
    return (
        scope.paths == (path,)
        and (scope.signals is None or scope.signals == asked)
        and scope.start is None
        and scope.end is None
    )


def scoped_read(
    scope: Scope,
    path: str,
    signals: list[str] | None,
    read: Callable[[str, list[str] | None], pa.Table],
) -> pa.Table:
    """Read ``path`` within ``scope``: as asked when untouched, else per granted prefix, filtered.

    ``read(prefix, signals)`` reads one prefix ("" is everything) with a signal list.
    """
    if untouched(scope, path, signals):
        return read(path, signals)
    names = signals
    if scope.signals is not None:
        names = sorted(scope.signals if signals is None else scope.signals & set(signals))
        if not names:
            return read(path, signals).slice(0, 0)
    # a prefix wider than the scope is read only where it is granted
    tables = [read(prefix, names) for prefix in scope.paths]
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    return scope.filter(table)


def _signals(signal: list[str] | None) -> list[str] | None:
    if not signal:
        return None
    names = [s for item in signal for s in item.split(",") if s]
    for name in names:
        try:
            validate_signal(name)
        except PathError as exc:
            raise InvalidInput(exc.message, key="request.invalid_signal", field="signal") from exc
    return names or None


@router.get("/series", operation_id="list_series", summary="Series under a path")
async def series(
    request: Request,
    principal: Reader,
    door: Door,
    path: PathQuery = None,
    agreement: AgreementQuery = None,
    purpose: PurposeQuery = None,
) -> Response:
    """List the series (path + signal, unit, value type) at or below ``path``."""
    store: Store = request.app.state.store
    the_path = parse_path(path) or ""
    decision, scope = door.check(
        principal,
        ReadRequest(ReadKind.SERIES, the_path, agreement=agreement, purpose=purpose),
    )
    arrow = wants_arrow(request)

    def answer() -> Answer:
        table = scoped_read(scope, the_path, None, lambda p, _: store.series(p or None))
        return encoded(table, arrow)

    found = await flights(request).run(("series", the_path, scope, arrow), answer)
    door.record(decision, found.rows)
    return found.response()


@router.get("/latest", operation_id="latest", summary="Newest value of each series")
async def latest(
    request: Request,
    principal: Reader,
    door: Door,
    path: PathQuery = None,
    signal: Annotated[list[str] | None, Query(description="Only these signals.")] = None,
    agreement: AgreementQuery = None,
    purpose: PurposeQuery = None,
) -> Response:
    """Return the newest sample of every series at or below ``path``."""
    store: Store = request.app.state.store
    the_path, names = parse_path(path) or "", _signals(signal)
    decision, scope = door.check(
        principal,
        ReadRequest(
            ReadKind.LATEST,
            the_path,
            tuple(names) if names else None,
            agreement=agreement,
            purpose=purpose,
        ),
    )
    arrow = wants_arrow(request)

    def answer() -> Answer:
        table = scoped_read(
            scope, the_path, names, lambda p, s: store.latest(p or None, s, dictionary=arrow)
        )
        return encoded(table, arrow)

    key = ("latest", the_path, tuple(names) if names else None, scope, arrow)
    found = await flights(request).run(key, answer)
    door.record(decision, found.rows)
    return found.response()


@router.get("/range", operation_id="range", summary="Samples over time, raw or downsampled")
async def range_(
    request: Request,
    principal: Reader,
    door: Door,
    path: Annotated[str, Query(description="Asset path of the machine (or a prefix).")],
    from_: Annotated[str, Query(alias="from", description="Start: ISO 8601, now, or -7d.")],
    to: Annotated[str, Query(description="End (exclusive): ISO 8601, now, or -1h.")] = "now",
    signal: Annotated[list[str] | None, Query(description="Signals (default: all).")] = None,
    bucket: Annotated[
        str | None, Query(description="Bucket width 1s..1w, e.g. 1m, 1h, 1d (none: raw).")
    ] = None,
    agg: Annotated[Agg, Query(description="Aggregation within a bucket.")] = Agg.AVG,
    tz: Annotated[str, Query(description="IANA time zone buckets align to.")] = "UTC",
    descendants: Annotated[bool, Query(description="Include assets below the path.")] = False,
    agreement: AgreementQuery = None,
    purpose: PurposeQuery = None,
) -> Response:
    """Read samples of one asset (or a subtree) in ``[from, to)``."""
    store: Store = request.app.state.store
    the_path = parse_path(path)
    if the_path is None:
        raise InvalidInput("range needs an asset path", key="request.invalid_path", field="path")
    start, end = parse_window(from_, to)
    width = parse_bucket(bucket) if bucket else None
    names = _signals(signal)
    decision, scope = door.check(
        principal,
        ReadRequest(
            ReadKind.RANGE,
            the_path,
            tuple(names) if names else None,
            start,
            end,
            width,
            agreement=agreement,
            purpose=purpose,
        ),
    )
    lo, hi = scope.window(start, end)
    start, end = lo or start, hi or end
    if scope.bucket(width) != width:  # an aggregation floor raises the bucket
        width = scope.bucket(width)
        bucket = format_bucket(width) if width is not None else None

    def read(prefix: str, signals: list[str] | None) -> pa.Table:
        return store.range(
            prefix or the_path,
            start,
            max(start, end),  # a window wholly outside the agreement's reads nothing
            signals=signals,
            # a granted part below the asked path is read as a subtree
            descendants=descendants or prefix != the_path,
            bucket=width,
            agg=agg,
            tz=tz,
        )

    arrow = wants_arrow(request)

    def answer() -> Answer:
        table = scoped_read(scope, the_path, names, read)
        if not descendants and not untouched(scope, the_path, names):
            table = table.filter(pc.equal(table.column("path"), the_path))
        return encoded(
            table,
            arrow,
            path=the_path,
            start=start,
            end=end,
            bucket=bucket,
            agg=str(agg) if bucket else None,
            tz=tz,
        )

    key = (
        "range",
        the_path,
        start,
        end,
        tuple(names) if names else None,
        width,
        bucket,
        agg,
        tz,
        descendants,
        scope,
        arrow,
    )
    found = await flights(request).run(key, answer)
    door.record(decision, found.rows)
    return found.response()
