"""Derive state, count and alarm events from a batch of samples: pure, no I/O.

For sources that hand on whole sample batches (file exports, replays) rather than one value at
a time. The rules are those of :class:`~werk.connectors.base.PointRole`, the same as the
per-value deriver the protocol connectors use:

==========  ==================================================================================
role        event
==========  ==================================================================================
state       STATE when the code changes (``code`` through the point's ``states`` table; the
            first value seen opens the first state)
good        COUNT ``good = increase`` of a monotonic counter
scrap       COUNT ``scrap = increase``
alarm       ALARM ``active = value != 0`` on every change (the first value only if raised)
==========  ==================================================================================

Counters: the first value is a baseline (no event). A decrease is a *wrap* when
``value + modulus - last`` is at most ``max_step`` (a UInt16 counter going 65535 → 0), else a
*reset* (the PLC restarted its counter) that counts ``value`` parts. Never a negative count.
Samples of quality BAD or NaN derive nothing.

Selecting the rows of role points, and their order, is vectorised (Arrow compute); only those
rows — a small share of a plant's samples — are walked one by one to compare each with the one
before.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from werk.connectors.base import Point, PointRole
from werk.samples import EVENT_SCHEMA, UTC_NS, Quality

UINT16_MODULUS: Final = 1 << 16
DEFAULT_MAX_STEP: Final = 4096
_SEP: Final = "\x1f"


@dataclass(frozen=True, slots=True)
class Rule:
    """How the values of one point become events."""

    role: PointRole
    states: dict[str, str] | None = None
    modulus: int = UINT16_MODULUS
    max_step: int = DEFAULT_MAX_STEP


@dataclass(slots=True)
class DeriveState:
    """The last value of each role point, carried from one batch to the next."""

    last: dict[str, float] = field(default_factory=dict)
    resets: int = 0
    wraps: int = 0


def rules_from_points(points: Iterable[Point]) -> dict[str, Rule]:
    """Return the rules of the points that feed events, keyed ``path\\x1fsignal``.

    A point may say where its counter wraps with an int attribute ``counter_modulus``.
    """
    out = {}
    for p in points:
        if p.role is PointRole.VALUE:
            continue
        modulus = getattr(p, "counter_modulus", None)
        out[f"{p.path}{_SEP}{p.signal}"] = Rule(
            p.role, p.states, modulus if isinstance(modulus, int) else UINT16_MODULUS
        )
    return out


def state_code(states: dict[str, str] | None, raw: float) -> str:
    """Return the state name of a raw code (the code as text when it is not mapped)."""
    key = str(int(raw)) if float(raw).is_integer() else str(raw)
    return key if states is None else states.get(key, key)


def derive_events(
    samples: pa.RecordBatch | pa.Table, rules: dict[str, Rule], state: DeriveState
) -> pa.RecordBatch:
    """Return the events that ``samples`` mean under ``rules``, updating ``state``."""
    columns: dict[str, list[object]] = {name: [] for name in EVENT_SCHEMA.names}
    if rules and samples.num_rows:
        keys = pc.binary_join_element_wise(samples["path"], samples["signal"], _SEP)
        mask = pc.and_(
            pc.is_in(keys, value_set=pa.array(list(rules), pa.string())),
            pc.not_equal(samples["quality"], int(Quality.BAD)),
        )
        picked = pa.table(
            {"key": keys, "path": samples["path"], "ts": samples["ts"], "value": samples["value"]}
        ).filter(mask)
        picked = picked.take(pc.sort_indices(picked, [("key", "ascending"), ("ts", "ascending")]))
        rows = zip(
            picked["key"].to_pylist(),
            picked["path"].to_pylist(),
            picked["ts"].cast(pa.int64()).to_pylist(),
            picked["value"].to_pylist(),
            strict=True,
        )
        for key, path, ts, value in rows:
            if value is None or math.isnan(value):
                continue
            _one(rules[key], key, path, ts, value, state, columns)
    arrays = [
        pa.array(columns[f.name], pa.int64()).cast(UTC_NS)
        if f.name == "ts"
        else pa.array(columns[f.name], f.type)
        for f in EVENT_SCHEMA
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=EVENT_SCHEMA)


def _one(
    rule: Rule,
    key: str,
    path: str,
    ts: int,
    value: float,
    state: DeriveState,
    out: dict[str, list[object]],
) -> None:
    last = state.last.get(key)
    state.last[key] = value
    event: dict[str, object] = {}
    if rule.role is PointRole.STATE:
        if last is None or last != value:
            event = {"kind": "state", "code": state_code(rule.states, value)}
    elif rule.role is PointRole.ALARM:
        active = value != 0
        if (last is None and active) or (last is not None and (last != 0) != active):
            event = {"kind": "alarm", "code": key.split(_SEP, 1)[1], "active": active}
    elif last is not None:  # a counter after its baseline
        parts = int(value) - int(last)
        if parts < 0:
            wrapped = int(value) + rule.modulus - int(last)
            if 0 < wrapped <= rule.max_step:
                parts = wrapped
                state.wraps += 1
            else:
                parts = int(value)
                state.resets += 1
        if parts > 0:
            field_name = "good" if rule.role is PointRole.GOOD else "scrap"
            event = {"kind": "count", field_name: parts}
    if event:
        for name in out:
            out[name].append(event.get(name))
        out["path"][-1] = path
        out["ts"][-1] = ts
