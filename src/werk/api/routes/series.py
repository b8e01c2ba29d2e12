"""Read series, latest values and ranges; JSON by default, Arrow with ``Accept``."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from werk.api.auth import Reader
from werk.api.params import parse_path, parse_time
from werk.api.tables import table_response
from werk.assets.paths import validate_signal
from werk.errors import InvalidInput, PathError
from werk.store import Agg, Store
from werk.store.buckets import parse_bucket

router = APIRouter(tags=["series"])

PathQuery = Annotated[
    str | None, Query(description="Asset path; everything at or below it (empty: all).")
]


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
async def series(request: Request, _: Reader, path: PathQuery = None) -> Response:
    """List the series (path + signal, unit, value type) at or below ``path``."""
    store: Store = request.app.state.store
    table = await asyncio.to_thread(store.series, parse_path(path))
    return table_response(request, table)


@router.get("/latest", operation_id="latest", summary="Newest value of each series")
async def latest(
    request: Request,
    _: Reader,
    path: PathQuery = None,
    signal: Annotated[list[str] | None, Query(description="Only these signals.")] = None,
) -> Response:
    """Return the newest sample of every series at or below ``path``."""
    store: Store = request.app.state.store
    table = await asyncio.to_thread(store.latest, parse_path(path), _signals(signal))
    return table_response(request, table)


@router.get("/range", operation_id="range", summary="Samples over time, raw or downsampled")
async def range_(
    request: Request,
    _: Reader,
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
) -> Response:
    """Read samples of one asset (or a subtree) in ``[from, to)``."""
    store: Store = request.app.state.store
    the_path = parse_path(path)
    if the_path is None:
        raise InvalidInput("range needs an asset path", key="request.invalid_path", field="path")
    start, end = parse_time(from_, "from"), parse_time(to, "to")
    if end <= start:
        raise InvalidInput(
            f"to ({end.isoformat()}) must be after from ({start.isoformat()})",
            key="request.invalid_range",
            field="to",
        )
    width = parse_bucket(bucket) if bucket else None
    table = await asyncio.to_thread(
        store.range,
        the_path,
        start,
        end,
        signals=_signals(signal),
        descendants=descendants,
        bucket=width,
        agg=agg,
        tz=tz,
    )
    return table_response(
        request,
        table,
        path=the_path,
        start=start,
        end=end,
        bucket=bucket,
        agg=str(agg) if bucket else None,
        tz=tz,
    )
