"""Turn PLC part-counter readings into part deltas, detecting wraps and resets.

PLC counters are cumulative and bounded: a UInt16 counter goes 65535 → 0 (a *wrap*), and a
controller restart starts it again from 0 (a *reset*). A counter reading that goes backwards is one
of the two, never negative production (standards.md §3.5: "compute deltas with wrap/reset
detection; reject negative deltas"). Which one is decided by plausibility: the wrapped delta
``new + modulus − old`` is a wrap when it is no more than the machine could have made since the last
reading (``max_rate`` × elapsed time, or ``max_step``, or a quarter of the range by default);
otherwise it is a reset, and the delta is the new reading (parts made since the restart). Every
wrap and reset is reported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from werk.errors import InvalidInput
from werk.kpi.intervals import to_us
from werk.kpi.model import Finding

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class CounterDeltas:
    """Part deltas between consecutive counter readings.

    Attributes:
        deltas: ``deltas[i]`` parts were made between reading ``i`` and reading ``i + 1``.
        wraps: Indexes ``i`` of the deltas where the counter wrapped.
        resets: Indexes ``i`` of the deltas where the counter was reset.
        findings: One ``counter.wrap`` or ``counter.reset`` finding per event.
    """

    deltas: I64
    wraps: I64
    resets: I64
    findings: tuple[Finding, ...]


def counter_deltas(
    values: Sequence[int] | I64,
    ts: Sequence[datetime] | None = None,
    *,
    modulus: int | None = 65_536,
    max_step: int | None = None,
    max_rate: float | None = None,
    path: str | None = None,
) -> CounterDeltas:
    """Return the deltas of cumulative counter readings, treating decreases as wrap or reset.

    Args:
        values: Counter readings in time order.
        ts: When each reading was taken (needed for ``max_rate`` and named in findings).
        modulus: Range of the counter (65,536 for UInt16); None for a counter that never wraps.
        max_step: Most parts plausible between two readings.
        max_rate: Most parts per second the machine can make (bounds a wrap by elapsed time).
        path: The machine, named in findings.

    Raises:
        InvalidInput: for a negative reading, one outside the counter's range, or ``ts`` of the
            wrong length.
    """
    v = np.asarray(values, np.int64).reshape(-1)
    if ts is not None and len(ts) != len(v):
        raise InvalidInput(f"{len(v)} readings but {len(ts)} timestamps", field="ts")
    bad = np.flatnonzero((v < 0) | ((v >= modulus) if modulus is not None else False))
    if len(bad):
        raise InvalidInput(
            f"counter reading {int(v[bad[0]])} outside 0…{(modulus or 0) - 1 if modulus else '∞'}",
            row=int(bad[0]),
        )
    d = np.diff(v)
    back = np.flatnonzero(d < 0)
    wraps: list[int] = []
    resets: list[int] = []
    deltas = d.copy()
    for i in (int(x) for x in back):
        limit = _limit(i, ts, modulus, max_step, max_rate)
        wrapped = int(d[i]) + modulus if modulus is not None else None
        if wrapped is not None and wrapped <= limit:
            deltas[i] = wrapped
            wraps.append(i)
        else:
            deltas[i] = v[i + 1]
            resets.append(i)
    findings = []
    for kind, indexes in (("wrap", wraps), ("reset", resets)):
        for i in indexes:
            when = f" at {ts[i + 1].isoformat()}" if ts is not None else ""
            findings.append(
                Finding(
                    f"counter.{kind}",
                    f"counter went from {int(v[i])} to {int(v[i + 1])}{when}: treated as a "
                    f"{kind}, {int(deltas[i])} parts",
                    path,
                    None,
                    {"from": int(v[i]), "to": int(v[i + 1]), "delta": int(deltas[i])},
                )
            )
    return CounterDeltas(
        deltas,
        np.array(wraps, np.int64),
        np.array(resets, np.int64),
        tuple(findings),
    )


def _limit(
    i: int,
    ts: Sequence[datetime] | None,
    modulus: int | None,
    max_step: int | None,
    max_rate: float | None,
) -> float:
    """Most parts plausible between reading ``i`` and ``i + 1``."""
    if max_rate is not None and ts is not None:
        seconds = (to_us(ts[i + 1]) - to_us(ts[i])) / 1e6
        return max(1.0, math.ceil(max_rate * seconds))
    if max_step is not None:
        return float(max_step)
    return (modulus or 0) / 4
