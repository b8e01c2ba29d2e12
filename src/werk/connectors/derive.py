"""Derive events from point values and collect readings column by column: pure, no I/O.

Every connector turns protocol values into ``(point, ts, value, quality)``. Two things happen to
each of them here:

* it is appended to a :class:`Collector`, which keeps the sample columns as plain lists and
  hands them on as one Arrow batch (:meth:`Collector.flush`), so no per-sample object is built on
  the hot path;
* :class:`EventDeriver` turns the values of ``state``, ``good``, ``scrap`` and ``alarm`` points
  (:class:`~werk.connectors.base.PointRole`) into events:

  ==========  ===========================================================================
  role        event
  ==========  ===========================================================================
  ``state``   STATE when the code changes; ``code`` is ``point.states[str(raw)]`` (the raw
              code as text when unmapped), the first value seen opens the first state
  ``good``    COUNT ``good = increase`` for every increase of the PLC counter
  ``scrap``   COUNT ``scrap = increase``
  ``alarm``   ALARM ``active = value != 0`` on every change (the first value only if raised)
  ==========  ===========================================================================

Counters: the first value seen is the baseline (no event — parts made before the agent started
are not this agent's to count). A decrease is either a *wrap* (a UInt16 counter going
65535 → 0) or a *reset* (the PLC restarted its counter): when the wrapped increase
``value + modulus - last`` is at most ``max_step`` it is a wrap and counts that many parts;
otherwise it is a reset and the parts made since the reset (``value``) are counted. Neither ever
yields a negative count. Values of quality BAD never derive anything: a garbage register must not
look like a state change.

The edge agent may use the same module for sources whose connector does not derive events itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Final

import pyarrow as pa

from werk.connectors.base import READINGS_SAMPLE_SCHEMA, Point, PointRole, Readings
from werk.samples import UTC_NS, Event, EventKind, Quality, events_to_batch, to_ns

UINT16_MODULUS: Final = 1 << 16
"""Counters are UInt16 on most PLCs (and in the simulator): they wrap at 65536."""
DEFAULT_MAX_STEP: Final = 4096
"""Largest believable increase between two reads; a bigger "wrap" is a reset."""


class BadReason(Enum):
    """Why a value became quality BAD, with the OPC UA StatusCode carried in ``status``.

    Samples have no text column, so the reason travels as the numeric status every OPC UA tool
    can name (Part 4 §7.34); the source's health counts each reason in words.
    """

    NOT_A_NUMBER = ("not a number", 0x80740000)  # BadTypeMismatch
    WRONG_TYPE = ("wrong type", 0x80740000)  # BadTypeMismatch
    OUT_OF_RANGE = ("out of range", 0x803C0000)  # BadOutOfRange
    UNDECODABLE = ("undecodable payload", 0x80070000)  # BadDecodingError
    MISSING = ("field missing", 0x809B0000)  # BadNoData
    READ_FAILED = ("read failed", 0x80310000)  # BadCommunicationError
    STALE = ("source offline", 0x808A0000)  # BadNoCommunication
    DEVICE_ERROR = ("device exception", 0x808D0000)  # BadDeviceFailure

    def __init__(self, text: str, status: int) -> None:
        self.text = text
        self.status = status


def state_code(point: Point, raw: float) -> str:
    """Return the state name of a raw state code through the point's ``states`` table."""
    key = str(int(raw)) if float(raw).is_integer() else str(raw)
    if point.states is None:
        return key
    return point.states.get(key, key)


@dataclass(slots=True)
class CounterStep:
    """What one counter value meant: parts counted and whether the counter wrapped or reset."""

    parts: int
    wrapped: bool = False
    reset: bool = False


def counter_step(
    last: int, value: int, *, modulus: int = UINT16_MODULUS, max_step: int = DEFAULT_MAX_STEP
) -> CounterStep:
    """Return the parts made between two counter reads (see the module docstring)."""
    if value >= last:
        return CounterStep(value - last)
    wrapped = value + modulus - last
    if 0 < wrapped <= max_step:
        return CounterStep(wrapped, wrapped=True)
    return CounterStep(value, reset=True)


@dataclass(slots=True)
class EventDeriver:
    """Keep the last state, counter and alarm value per point and emit events on change.

    Attributes:
        resets: Counter resets detected (a PLC restart), for the source's health.
        wraps: Counter wraps detected.
    """

    max_step: int = DEFAULT_MAX_STEP
    resets: int = 0
    wraps: int = 0
    _last: dict[tuple[str, str], float] = field(default_factory=dict)

    def derive(
        self,
        point: Point,
        ts: datetime,
        value: float,
        quality: Quality = Quality.GOOD,
        *,
        modulus: int = UINT16_MODULUS,
        reason: str | None = None,
    ) -> Event | None:
        """Return the event a new value of ``point`` means, or None.

        Args:
            point: The point the value belongs to; only its role, path, signal, states matter.
            ts: Source timestamp of the value.
            value: The value as a number (a counter or code as read).
            quality: Values of quality BAD derive nothing.
            modulus: Where the counter wraps (65536 for UInt16, 2**32 for UInt32).
            reason: Reason code to attach to a STATE event, where the protocol carries one.
        """
        role = point.role
        if role is PointRole.VALUE or quality is Quality.BAD or value != value:  # NaN
            return None
        key = (point.path, point.signal)
        last = self._last.get(key)
        self._last[key] = value
        if role is PointRole.STATE:
            if last is not None and last == value:
                return None
            return Event(
                point.path, ts, EventKind.STATE, code=state_code(point, value), reason=reason
            )
        if role is PointRole.ALARM:
            active = value != 0
            if (last is None and not active) or (last is not None and (last != 0) == active):
                return None
            return Event(point.path, ts, EventKind.ALARM, code=point.signal, active=active)
        # role is GOOD or SCRAP
        if last is None:
            return None
        step = counter_step(int(last), int(value), modulus=modulus, max_step=self.max_step)
        self.resets += step.reset
        self.wraps += step.wrapped
        if step.parts <= 0:
            return None
        extra = {"counter": "reset"} if step.reset else {}
        if role is PointRole.GOOD:
            return Event(point.path, ts, EventKind.COUNT, good=step.parts, extra=extra)
        return Event(point.path, ts, EventKind.COUNT, scrap=step.parts, extra=extra)

    def forget(self, point: Point) -> None:
        """Forget a point's last value (its source went stale: the next value is a baseline)."""
        self._last.pop((point.path, point.signal), None)

    def known(self, point: Point) -> float | None:
        """Return the last value seen of ``point``, or None."""
        return self._last.get((point.path, point.signal))


class Collector:
    """Collect samples as columns and events as objects; flush them as one :class:`Readings`.

    Not thread-safe; one per event loop. Every value goes through :meth:`add`, which also runs
    the :class:`EventDeriver`.
    """

    __slots__ = ("_events", "_paths", "_q", "_signals", "_st", "_ts", "_v", "deriver")

    def __init__(self, deriver: EventDeriver | None = None) -> None:
        self.deriver = deriver or EventDeriver()
        self._paths: list[str] = []
        self._signals: list[str] = []
        self._ts: list[int] = []
        self._v: list[float] = []
        self._q: list[int] = []
        self._st: list[int | None] = []
        self._events: list[Event] = []

    def __len__(self) -> int:
        return len(self._v) + len(self._events)

    def add(
        self,
        point: Point,
        ts: datetime,
        value: float,
        quality: Quality = Quality.GOOD,
        status: int | None = None,
        *,
        modulus: int = UINT16_MODULUS,
        reason: str | None = None,
    ) -> None:
        """Append one sample and the event it derives, if any."""
        self.add_ns(point, to_ns(ts), value, quality, status)
        if point.role is not PointRole.VALUE:
            event = self.deriver.derive(point, ts, value, quality, modulus=modulus, reason=reason)
            if event is not None:
                self._events.append(event)

    def add_ns(
        self, point: Point, ts_ns: int, value: float, quality: Quality, status: int | None
    ) -> None:
        """Append one sample given in nanoseconds; derives nothing (for value points)."""
        self._paths.append(point.path)
        self._signals.append(point.signal)
        self._ts.append(ts_ns)
        self._v.append(value)
        self._q.append(int(quality))
        self._st.append(status)

    def add_columns(
        self,
        paths: list[str],
        signals: list[str],
        ts_ns: list[int],
        values: list[float],
        quality: list[int],
        status: list[int | None],
    ) -> None:
        """Append samples given column by column, as many :meth:`add_ns` calls would (equal
        lengths; derives nothing)."""
        self._paths.extend(paths)
        self._signals.extend(signals)
        self._ts.extend(ts_ns)
        self._v.extend(values)
        self._q.extend(quality)
        self._st.extend(status)

    def add_event(self, event: Event) -> None:
        """Append an event the connector built itself."""
        self._events.append(event)

    def flush(self) -> Readings:
        """Return everything collected as readings and start over."""
        samples = pa.RecordBatch.from_arrays(
            [
                pa.array(self._paths, pa.string()),
                pa.array(self._signals, pa.string()),
                pa.array(self._ts, pa.int64()).cast(UTC_NS),
                pa.array(self._v, pa.float64()),
                pa.array(self._q, pa.uint8()),
                pa.array(self._st, pa.uint32()),
            ],
            schema=READINGS_SAMPLE_SCHEMA,
        )
        events = events_to_batch(self._events)
        self._paths, self._signals, self._ts = [], [], []
        self._v, self._q, self._st, self._events = [], [], [], []
        return Readings(samples, events)


def bad_reasons(counts: Mapping[str, int]) -> str:
    """Summarise BAD reasons for diagnostics: ``"not a number ×3, out of range ×1"``."""
    return ", ".join(f"{k} ×{v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def to_number(value: object) -> tuple[float, BadReason | None]:
    """Return the value as a float, or NaN and the reason it is not a usable number."""
    if isinstance(value, bool):
        return (1.0 if value else 0.0), None
    if isinstance(value, int):
        return float(value), None
    if isinstance(value, float):
        if math.isnan(value):
            return value, BadReason.NOT_A_NUMBER
        if math.isinf(value):
            return math.nan, BadReason.OUT_OF_RANGE
        return value, None
    if value is None:
        return math.nan, BadReason.MISSING
    return math.nan, BadReason.WRONG_TYPE
