"""Turn OPC UA data values into werk samples: number, quality and source time. Pure.

Quality follows the StatusCode severity bits (Part 4 §7.34.1): ``00`` Good, ``01`` Uncertain,
``10``/``11`` Bad; the full code travels in the sample's ``status``. A value that is not a number
(a string where a Double was mapped, NaN, ±inf, a missing value) becomes quality BAD with the
StatusCode that names why (:class:`~werk.connectors.derive.BadReason`), never an exception.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from werk.connectors.derive import to_number
from werk.samples import Quality

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_QUALITY: Final = (Quality.GOOD, Quality.UNCERTAIN, Quality.BAD, Quality.BAD)


def quality_of(status: int) -> Quality:
    """Return the quality of an OPC UA StatusCode from its two severity bits."""
    return _QUALITY[(status >> 30) & 0b11]


def ua_ns(ts: datetime | None, fallback_ns: int) -> int:
    """Return nanoseconds since the epoch of an OPC UA DateTime (naive means UTC)."""
    if ts is None:
        return fallback_ns
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    d = ts - _EPOCH
    return (d.days * 86_400 + d.seconds) * 1_000_000_000 + d.microseconds * 1_000


def map_value(
    value: object, status: int, source_ts: datetime | None, server_ts: datetime | None, now_ns: int
) -> tuple[int, float, Quality, int]:
    """Map one data value to ``(ts_ns, value, quality, status)``.

    The source timestamp is the sample's time; the server's when the source gave none, the
    receive time when neither did. A good status with an unusable value is turned BAD.
    """
    ts = ua_ns(source_ts if source_ts is not None else server_ts, now_ns)
    number, bad = to_number(value)
    quality = quality_of(status)
    if bad is not None and quality is not Quality.BAD:
        return ts, number, Quality.BAD, bad.status
    return ts, number, quality, status
