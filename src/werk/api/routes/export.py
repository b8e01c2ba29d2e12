"""Stream bulk history as one Arrow IPC stream: ``GET /export`` (what ``werk export`` reads).

The range is read in time slices (``chunk``, one hour by default) and each slice is written to
the response as soon as it is read, so a year of a site never sits in the server's memory. Every
row passes the read door as an ``export`` read; the stream's columns are those of
:data:`werk.samples.SAMPLE_SCHEMA` (samples) or :data:`werk.samples.EVENT_SCHEMA` (events).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Final, Literal

import pyarrow as pa
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from werk.api.auth import Door, Reader
from werk.api.params import parse_duration, parse_path, parse_window
from werk.api.routes.signals import parse_signals
from werk.api.tables import ARROW
from werk.samples import EVENT_SCHEMA, SAMPLE_SCHEMA
from werk.sharing.door import Decision, ReadDoor, ReadKind, ReadRequest, Scope
from werk.store import Store

router = APIRouter(tags=["export"])

ROWS_HEADER: Final = "Werk-Export-Slices"


def _slices(start: datetime, end: datetime, chunk_s: float) -> list[tuple[datetime, datetime]]:
    out = []
    lo = start
    while lo < end:
        hi = min(end, datetime.fromtimestamp(lo.timestamp() + chunk_s, tz=lo.tzinfo))
        out.append((lo, hi))
        lo = hi
    return out


def _read(
    store: Store,
    kind: str,
    path: str,
    lo: datetime,
    hi: datetime,
    signals: list[str] | None,
    scope: Scope,
) -> pa.Table:
    if kind == "events":
        table = store.events(path, lo, hi)
        return scope.filter(table).cast(EVENT_SCHEMA)
    table = store.range(path, lo, hi, signals=signals, descendants=True)
    return scope.filter(table).select(SAMPLE_SCHEMA.names).cast(SAMPLE_SCHEMA)


class _Pipe:
    """A write-only file the Arrow writer writes to; the response drains it after each slice."""

    closed = False

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: parts are kept until drained."""

    def close(self) -> None:
        self.closed = True

    def drain(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


async def _stream(
    store: Store,
    door: ReadDoor,
    decision: Decision,
    scope: Scope,
    kind: str,
    path: str,
    slices: list[tuple[datetime, datetime]],
    signals: list[str] | None,
) -> AsyncIterator[bytes]:
    schema = EVENT_SCHEMA if kind == "events" else SAMPLE_SCHEMA
    pipe = _Pipe()
    options = pa.ipc.IpcWriteOptions(compression="lz4")
    writer = pa.ipc.new_stream(pa.PythonFile(pipe, mode="w"), schema, options=options)
    sent = 0
    try:
        yield pipe.drain()
        for lo, hi in slices:
            table = await asyncio.to_thread(_read, store, kind, path, lo, hi, signals, scope)
            if table.num_rows:
                writer.write_table(table, max_chunksize=256_000)
                sent += table.num_rows
                yield pipe.drain()
        writer.close()
        yield pipe.drain()
    finally:
        door.record(decision, sent)


@router.get(
    "/export",
    operation_id="export",
    summary="Bulk history as an Arrow IPC stream",
    response_class=StreamingResponse,
    responses={200: {"content": {ARROW: {}}, "description": "An Arrow IPC stream"}},
)
async def export(
    request: Request,
    principal: Reader,
    door: Door,
    from_: Annotated[str, Query(alias="from", description="Start: ISO 8601, now, or -7d.")],
    to: Annotated[str, Query(description="End (exclusive): ISO 8601, now, or -1h.")] = "now",
    path: Annotated[str | None, Query(description="Asset path prefix (empty: all).")] = None,
    kind: Annotated[
        Literal["samples", "events"], Query(description="Samples or events.")
    ] = "samples",
    signal: Annotated[list[str] | None, Query(description="Only these signals.")] = None,
    chunk: Annotated[str, Query(description="Time slice read at once, e.g. 15m, 1h, 1d.")] = "1h",
    agreement: Annotated[str | None, Query(description="Agreement the read is made under.")] = None,
    purpose: Annotated[str | None, Query(description="Purpose of the read (ODRL).")] = None,
) -> StreamingResponse:
    """Stream the samples (or events) at or below ``path`` in ``[from, to)``."""
    the_path = parse_path(path) or ""
    start, end = parse_window(from_, to)
    names = parse_signals(signal)
    width = parse_duration(chunk, "chunk").total_seconds()
    decision, scope = door.check(
        principal,
        ReadRequest(
            ReadKind.EXPORT,
            the_path,
            tuple(names) if names else None,
            start,
            end,
            agreement=agreement,
            purpose=purpose,
        ),
    )
    lo, hi = scope.window(start, end)
    slices = _slices(lo or start, hi or end, width) if (lo or start) < (hi or end) else []
    store: Store = request.app.state.store
    return StreamingResponse(
        _stream(store, door, decision, scope, kind, the_path, slices, names),
        media_type=ARROW,
        headers={ROWS_HEADER: str(len(slices))},
    )
