"""Build store batches from plain rows in tests: nanosecond timestamps, optional status."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pyarrow as pa

from werk.samples import EVENT_SCHEMA, SAMPLE_SCHEMA, STATUS_FIELD, UTC_NS, to_ns

Row = tuple[str, str, int, float, int]
"""(path, signal, ts in ns, value, quality)."""


def ns(text: str) -> int:
    """Return ns since the epoch of an ISO 8601 UTC time such as ``2026-03-29T00:00:00``."""
    return to_ns(datetime.fromisoformat(text).replace(tzinfo=UTC))


def dt(value: int) -> datetime:
    """Return the aware datetime of ``value`` ns (microsecond precision)."""
    return datetime.fromtimestamp(value / 1e9, tz=UTC)


def sample_table(rows: Sequence[Row], status: Sequence[int | None] | None = None) -> pa.Table:
    """Build a sample batch from (path, signal, ts_ns, value, quality) rows."""
    paths, signals, ts, values, quality = zip(*rows, strict=True) if rows else ([],) * 5
    arrays = [
        pa.array(paths, pa.string()),
        pa.array(signals, pa.string()),
        pa.array(ts, pa.int64()).cast(UTC_NS),
        pa.array(values, pa.float64()),
        pa.array(quality, pa.uint8()),
    ]
    schema = SAMPLE_SCHEMA
    if status is not None:
        arrays.append(pa.array(status, pa.uint32()))
        schema = schema.append(STATUS_FIELD)
    return pa.Table.from_arrays(arrays, schema=schema)


def event_table(rows: Sequence[dict[str, object]]) -> pa.Table:
    """Build an event batch from dicts (missing columns are null; ts in ns)."""
    columns = {f.name: [r.get(f.name) for r in rows] for f in EVENT_SCHEMA}
    arrays = [
        pa.array(columns[f.name], pa.int64()).cast(UTC_NS)
        if f.name == "ts"
        else pa.array(columns[f.name], f.type)
        for f in EVENT_SCHEMA
    ]
    return pa.Table.from_arrays(arrays, schema=EVENT_SCHEMA)
