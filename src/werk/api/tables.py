"""Answer Arrow tables as JSON rows, or as an Arrow IPC stream when the client asks for it.

JSON is encoded with orjson, and timestamps are turned into text column by column before the
rows are built: for a week of one-minute buckets of a machine (70k rows) the standard library's
``json.dumps`` and Arrow's time-zone-aware ``strftime`` cost 80 % of the request, ahead of the
store read itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from fastapi import Request, Response

from werk.api.flights import Answer

ARROW = "application/vnd.apache.arrow.stream"


def wants_arrow(request: Request) -> bool:
    """Tell whether the client asked for an Arrow IPC stream."""
    return ARROW in request.headers.get("accept", "")


def arrow_response(table: pa.Table) -> Response:
    """Answer ``table`` as an lz4-compressed Arrow IPC stream (see :func:`arrow_bytes`)."""
    return Response(arrow_bytes(table), media_type=ARROW)


def arrow_bytes(table: pa.Table) -> memoryview:
    """Serialise ``table`` as an lz4-compressed Arrow IPC stream.

    lz4 on purpose: for 100k latest rows it costs ~4 ms and cuts the body from 7 MB to 1.5 MB,
    which the server and client then move and parse faster (measured: 20 ms against 30 ms for
    the whole request uncompressed).
    """
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="lz4")
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return memoryview(sink.getvalue())


def iso_text(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Return timestamps as ISO 8601 UTC text with microseconds (``...T16:40:00.000000Z``).

    Microseconds are what every ISO 8601 parser (Python's fromisoformat, JavaScript's Date)
    reads. Each distinct instant is formatted once (a trend repeats every bucket start once per
    signal) by numpy, five times faster than Arrow's ``strftime`` on a zoned column; nulls stay
    null.
    """
    micros = pc.cast(column, pa.timestamp("us", tz="UTC"), safe=False)
    if isinstance(micros, pa.ChunkedArray):
        micros = micros.combine_chunks()
    distinct = pc.unique(micros)
    ticks = pc.fill_null(distinct.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
    text = np.char.add(np.datetime_as_string(ticks.astype("datetime64[us]"), unit="us"), "Z")
    labels = pa.array(text, pa.string())
    return pc.take(labels, pc.index_in(micros, value_set=distinct, skip_nulls=True))


def _jsonable(table: pa.Table) -> pa.Table:
    """Turn timestamps into ISO 8601 strings (UTC, microseconds) without per-value Python."""
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            table = table.set_column(index, field.name, iso_text(table.column(index)))
    return table


def rows(table: pa.Table) -> list[dict[str, Any]]:
    """Return the rows of ``table`` as JSON-ready dicts."""
    return _jsonable(table).to_pylist()  # type: ignore[no-any-return]


def table_response(request: Request, table: pa.Table, **meta: object) -> Response:
    """Answer ``table`` as Arrow (if asked) or as ``{"rows": [...], **meta}``."""
    if wants_arrow(request):
        return arrow_response(table)
    return Response(table_json(table, **meta), media_type="application/json")


def encoded(table: pa.Table, arrow: bool, **meta: object) -> Answer:
    """Encode ``table`` as Arrow or as JSON rows with ``meta`` (blocking: run it in a thread)."""
    if arrow:
        return Answer(arrow_bytes(table), ARROW, table.num_rows)
    return Answer(table_json(table, **meta), "application/json", table.num_rows)


def table_json(table: pa.Table, **meta: object) -> bytes:
    """Encode ``{**meta, "count": n, "rows": [...]}`` as JSON bytes (blocking for big tables)."""
    return dumps({**meta, "count": table.num_rows, "rows": rows(table)})


def _default(value: object) -> object:
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(body: object) -> bytes:
    """Encode ``body`` as JSON bytes (datetimes in ISO 8601; NaN and infinities as null).

    JSON has no NaN: a missing number is null, as JavaScript's ``JSON.stringify`` writes it
    (the standard library refused it and failed the whole request).
    """
    return orjson.dumps(body, default=_default, option=orjson.OPT_NON_STR_KEYS)
