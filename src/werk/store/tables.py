"""Shape the Arrow tables the store takes and returns: batches in, result schemas out.

Batches arrive validated (:mod:`werk.ingest`), but their columns may come chunked or in a
compatible type (``timestamp[us]``, ``large_string``); they are brought to one shape here before a
backend writes them. Results leave with the schemas below, whichever backend made them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from werk.errors import InvalidInput
from werk.samples import EVENT_SCHEMA, UTC_NS
from werk.store.layouts import one_array

Int64Array = npt.NDArray[np.int64]

SERIES_SCHEMA: Final = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("path", pa.string(), nullable=False),
        pa.field("signal", pa.string(), nullable=False),
        pa.field("unit", pa.string()),
        pa.field("value_type", pa.string()),
    ]
)
RAW_SCHEMA: Final = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("signal", pa.string(), nullable=False),
        pa.field("ts", UTC_NS, nullable=False),
        pa.field("value", pa.float64(), nullable=False),
        pa.field("quality", pa.uint8(), nullable=False),
    ]
)
"""Raw range reads and ``latest()``."""
NAME_CODES: Final = pa.dictionary(pa.int32(), pa.string())
"""Type of dictionary-encoded paths and signals."""
CODED_RAW_SCHEMA: Final = pa.schema(
    [
        pa.field(f.name, NAME_CODES, nullable=False) if f.name in ("path", "signal") else f
        for f in RAW_SCHEMA
    ]
)
"""``latest(dictionary=True)``: path and signal dictionary-encoded."""
BUCKET_SCHEMA: Final = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("signal", pa.string(), nullable=False),
        pa.field("ts", UTC_NS, nullable=False),
        pa.field("value", pa.float64(), nullable=False),
        pa.field("count", pa.int64(), nullable=False),
    ]
)
"""Bucketed range reads: ``ts`` is the bucket start."""


@dataclass(frozen=True, slots=True)
class SampleColumns:
    """A sample batch as plain columns: what the backends write."""

    paths: pa.Array
    signals: pa.Array
    ts: Int64Array
    value: npt.NDArray[np.float64]
    quality: npt.NDArray[np.uint8]
    status: npt.NDArray[np.uint32] | None
    """None when the batch has no status at all."""
    status_null: npt.NDArray[np.bool_] | None
    lo: int = 0
    """Oldest ``ts`` of the batch (0 when it is empty)."""
    hi: int = 0
    """Newest ``ts`` of the batch (0 when it is empty)."""

    def __len__(self) -> int:
        return len(self.ts)


def column_of(table: pa.Table, name: str, kind: pa.DataType) -> pa.Array:
    if name not in table.column_names:
        raise InvalidInput(f"batch has no column {name!r}", key="store.missing_column", column=name)
    column = table.column(name)
    try:
        column = column.cast(kind) if column.type != kind else column
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidInput(
            f"column {name!r} of type {table.column(name).type} cannot be read as {kind}",
            key="store.invalid_column",
            column=name,
        ) from exc
    return one_array(column)


def sample_columns(table: pa.Table | pa.RecordBatch) -> SampleColumns:
    """Normalise a sample batch (:data:`werk.samples.SAMPLE_SCHEMA`, optional status)."""
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    ts = column_of(table, "ts", UTC_NS).view(pa.int64())
    status = status_null = None
    ts_ns = np.asarray(ts.to_numpy(), dtype=np.int64)
    if "status" in table.column_names:
        column = column_of(table, "status", pa.uint32())
        if column.null_count < len(column):
            status_null = np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            status = np.asarray(column.fill_null(0).to_numpy(), dtype=np.uint32)
    return SampleColumns(
        paths=column_of(table, "path", pa.string()),
        signals=column_of(table, "signal", pa.string()),
        ts=ts_ns,
        value=np.asarray(column_of(table, "value", pa.float64()).to_numpy(), dtype=np.float64),
        quality=np.asarray(column_of(table, "quality", pa.uint8()).to_numpy(), dtype=np.uint8),
        status=status,
        status_null=status_null if status_null is not None and status_null.any() else None,
        lo=int(ts_ns.min()) if len(ts_ns) else 0,
        hi=int(ts_ns.max()) if len(ts_ns) else 0,
    )


def event_table(table: pa.Table | pa.RecordBatch) -> pa.Table:
    """Normalise an event batch to :data:`werk.samples.EVENT_SCHEMA` with ts as int64 ns."""
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    columns = []
    for field in EVENT_SCHEMA:
        if field.name in table.column_names:
            columns.append(column_of(table, field.name, field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    columns[1] = columns[1].cast(pa.int64())
    names = [f.name for f in EVENT_SCHEMA]
    return pa.Table.from_arrays(columns, names=names)
