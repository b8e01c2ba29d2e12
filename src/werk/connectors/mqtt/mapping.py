"""Turn JSON MQTT payloads into werk values: field extraction, types, timestamps. Pure.

A payload that is not JSON, a field that is missing, text where a number belongs, NaN: each
becomes a BAD sample whose ``status`` names the reason
(:class:`~werk.connectors.derive.BadReason`) — never an exception, never a dropped message
without a trace.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from werk.connectors.derive import BadReason, to_number
from werk.samples import Quality, to_ns

_SCALE: Final = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_MISSING: Final = object()


def parse(payload: bytes) -> tuple[object, BadReason | None]:
    """Return the JSON document of a payload, or the reason it is not one."""
    try:
        return json.loads(payload), None
    except (ValueError, UnicodeDecodeError):
        return None, BadReason.UNDECODABLE


def extract(doc: object, dotted: str) -> object:
    """Return the value at a dotted path (``a.b.0.c``), or :data:`_MISSING`."""
    if not dotted:
        return doc
    node = doc
    for key in dotted.split("."):
        if isinstance(node, dict):
            if key not in node:
                return _MISSING
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return _MISSING
    return node


def number(value: object) -> tuple[float, BadReason | None]:
    """Return a JSON value as a float, or NaN and the reason it is not a number."""
    if value is _MISSING:
        return math.nan, BadReason.MISSING
    return to_number(value)


def timestamp_ns(value: object, unit: str) -> int | None:
    """Return a timestamp in ns since the epoch, or None when it cannot be read."""
    if unit == "iso":
        if not isinstance(value, str):
            return None
        try:
            ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return to_ns(ts) if ts.tzinfo is not None else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value * _SCALE[unit]) if isinstance(value, float) else value * _SCALE[unit]


@dataclass(frozen=True, slots=True)
class Mapped:
    """One value taken from one message."""

    ts_ns: int
    value: float
    quality: Quality
    status: int | None
    reason: BadReason | None
    bad_timestamp: bool = False


def map_payload(
    doc: object,
    parse_error: BadReason | None,
    field: str,
    timestamp_field: str | None,
    timestamp_unit: str,
    now_ns: int,
) -> Mapped:
    """Map a parsed payload to one value (see the module docstring)."""
    if parse_error is not None:
        return Mapped(now_ns, math.nan, Quality.BAD, parse_error.status, parse_error)
    ts, bad_ts = now_ns, False
    if timestamp_field:
        raw = extract(doc, timestamp_field)
        if raw is not _MISSING:
            got = timestamp_ns(raw, timestamp_unit)
            if got is None:
                bad_ts = True  # keep the value, stamped with the receive time
            else:
                ts = got
    value, bad = number(extract(doc, field))
    if bad is not None:
        return Mapped(ts, value, Quality.BAD, bad.status, bad, bad_ts)
    return Mapped(ts, value, Quality.GOOD, None, None, bad_ts)
