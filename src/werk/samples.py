"""Define what every part of werk exchanges: samples, quality, events and their Arrow batches.

Connectors may produce :class:`Sample` and :class:`Event` one by one; everything downstream (buffer,
uplink, ingest, store) moves Arrow record batches with :data:`SAMPLE_SCHEMA` and
:data:`EVENT_SCHEMA`. Helpers here turn one into the other without per-row Python on the hot path.

Sample batch columns (the ingest wire format):

=========  ======================  ==========================================================
column     type                    meaning
=========  ======================  ==========================================================
path       string                  ISA-95 asset path, ``enterprise/site/area/line[/cell]/eq``
signal     string                  signal name, ``[a-z][a-z0-9_]*``
ts         timestamp[ns, UTC]      source timestamp
value      float64                 the value (booleans and enums as numbers)
quality    uint8                   0 GOOD, 1 UNCERTAIN, 2 BAD
status     uint32 (optional)       raw protocol status (OPC UA StatusCode, Modbus exception...)
=========  ======================  ==========================================================

Event batch columns:

=========  ======================  ==========================================================
path       string                  asset path of the machine the event belongs to
ts         timestamp[ns, UTC]      when it happened (for a count: when the parts were made)
kind       string                  ``state`` | ``count`` | ``alarm`` | ``order`` | ``product``
code       string (nullable)       state code, alarm code, order id or product id
reason     string (nullable)       reason code or text (failure reason, scrap reason...)
product    string (nullable)       product being made
good       int64 (nullable)        good parts (kind ``count``)
scrap      int64 (nullable)        scrap parts (kind ``count``; negative corrects earlier counts)
rework     int64 (nullable)        reworked parts (kind ``count``)
active     bool (nullable)         alarm raised (true) or cleared (false)
=========  ======================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Final

import pyarrow as pa

UTC_NS: Final = pa.timestamp("ns", tz="UTC")


class Quality(IntEnum):
    """How far a value can be trusted. Quality is data, never an exception."""

    GOOD = 0
    UNCERTAIN = 1
    BAD = 2


class EventKind(StrEnum):
    """What an :class:`Event` reports."""

    STATE = "state"
    COUNT = "count"
    ALARM = "alarm"
    ORDER = "order"
    PRODUCT = "product"


SAMPLE_SCHEMA: Final = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("signal", pa.string(), nullable=False),
        pa.field("ts", UTC_NS, nullable=False),
        pa.field("value", pa.float64(), nullable=False),
        pa.field("quality", pa.uint8(), nullable=False),
    ]
)
"""Required columns of a sample batch; ``status`` (uint32) may follow."""

STATUS_FIELD: Final = pa.field("status", pa.uint32(), nullable=True)

EVENT_SCHEMA: Final = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("ts", UTC_NS, nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("code", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("product", pa.string()),
        pa.field("good", pa.int64()),
        pa.field("scrap", pa.int64()),
        pa.field("rework", pa.int64()),
        pa.field("active", pa.bool_()),
    ]
)
"""Columns of an event batch; only path, ts and kind are required on the wire."""

EVENT_REQUIRED: Final = ("path", "ts", "kind")


def utc(ts: datetime) -> datetime:
    """Return ``ts`` in UTC; refuse naive datetimes, which have no place in werk."""
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {ts.isoformat()} has no time zone; werk stores UTC")
    return ts.astimezone(UTC)


def to_ns(ts: datetime) -> int:
    """Return nanoseconds since the Unix epoch of an aware datetime."""
    ts = utc(ts)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    delta = ts - epoch
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def from_ns(ns: int) -> datetime:
    """Return the aware UTC datetime of nanoseconds since the epoch (microsecond precision)."""
    return datetime.fromtimestamp(ns // 1_000 / 1_000_000, tz=UTC)


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of one signal of one asset at one instant."""

    path: str
    signal: str
    ts: datetime
    value: float
    quality: Quality = Quality.GOOD
    status: int | None = None
    """Raw protocol status (OPC UA StatusCode, Modbus exception code), kept for support."""


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to an asset: a state change, a count, an alarm, an order change."""

    path: str
    ts: datetime
    kind: EventKind
    code: str | None = None
    reason: str | None = None
    product: str | None = None
    good: int | None = None
    scrap: int | None = None
    rework: int | None = None
    active: bool | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False)


def samples_to_batch(samples: Sequence[Sample]) -> pa.RecordBatch:
    """Build a sample batch (with a ``status`` column) from samples."""
    schema = SAMPLE_SCHEMA.append(STATUS_FIELD)
    return pa.RecordBatch.from_arrays(
        [
            pa.array([s.path for s in samples], pa.string()),
            pa.array([s.signal for s in samples], pa.string()),
            pa.array([to_ns(s.ts) for s in samples], pa.int64()).cast(UTC_NS),
            pa.array([s.value for s in samples], pa.float64()),
            pa.array([int(s.quality) for s in samples], pa.uint8()),
            pa.array([s.status for s in samples], pa.uint32()),
        ],
        schema=schema,
    )


def batch_to_samples(batch: pa.RecordBatch | pa.Table) -> list[Sample]:
    """Turn a sample batch back into samples (for tests and small tools, not hot paths)."""
    cols = batch.to_pydict()
    statuses: Iterable[int | None] = cols.get("status") or [None] * batch.num_rows
    return [
        Sample(p, s, t, v, Quality(q), st)
        for p, s, t, v, q, st in zip(
            cols["path"],
            cols["signal"],
            cols["ts"],
            cols["value"],
            cols["quality"],
            statuses,
            strict=True,
        )
    ]


def events_to_batch(events: Sequence[Event]) -> pa.RecordBatch:
    """Build an event batch from events."""
    return pa.RecordBatch.from_arrays(
        [
            pa.array([e.path for e in events], pa.string()),
            pa.array([to_ns(e.ts) for e in events], pa.int64()).cast(UTC_NS),
            pa.array([str(e.kind) for e in events], pa.string()),
            pa.array([e.code for e in events], pa.string()),
            pa.array([e.reason for e in events], pa.string()),
            pa.array([e.product for e in events], pa.string()),
            pa.array([e.good for e in events], pa.int64()),
            pa.array([e.scrap for e in events], pa.int64()),
            pa.array([e.rework for e in events], pa.int64()),
            pa.array([e.active for e in events], pa.bool_()),
        ],
        schema=EVENT_SCHEMA,
    )


def batch_to_events(batch: pa.RecordBatch | pa.Table) -> list[Event]:
    """Turn an event batch back into events (for tests and small tools, not hot paths)."""
    rows = batch.to_pylist()
    return [
        Event(
            path=r["path"],
            ts=r["ts"],
            kind=EventKind(r["kind"]),
            code=r.get("code"),
            reason=r.get("reason"),
            product=r.get("product"),
            good=r.get("good"),
            scrap=r.get("scrap"),
            rework=r.get("rework"),
            active=r.get("active"),
        )
        for r in rows
    ]
