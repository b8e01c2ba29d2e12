"""Record what each simulated machine did: the one source of events, truth, views and signals.

The engine (:mod:`werk.sim.line`) appends to a :class:`MachineJournal` as simulated time passes;
everything else reads windows of it. Because history files, live views and ground truth are all
cut from the same journal, they cannot disagree.

Times are integer milliseconds since the Unix epoch (UTC): exact, so intervals meet without gaps
and counts attribute to the same minute everywhere.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Timeline:
    """State intervals of one machine overlapping a window, as arrays.

    The first interval may start before the window (it was going on); the last one is cut at the
    window's end. ``exec_ms`` is the machine's accumulated executing time at each start, which
    wear and drift are functions of.
    """

    start: I64
    end: I64
    code: npt.NDArray[np.int8]
    reason: list[str | None]
    product: npt.NDArray[np.int16]
    exec_ms: I64


@dataclass(frozen=True, slots=True)
class Conditions:
    """Wear and process-drift segments covering a window.

    Within segment ``j`` (from ``ms[j]``), at accumulated executing time ``e``::

        wear  = wear0[j]  + wear_rate[j]  * (e - exec_ms[j])
        drift = clip(drift0[j] + drift_rate[j] * (e - exec_ms[j]), -DRIFT_CAP, DRIFT_CAP)
    """

    ms: I64
    exec_ms: I64
    wear0: F64
    wear_rate: F64
    drift0: F64
    drift_rate: F64


DRIFT_CAP = 1.6
"""Process drift stops growing here (a drift of 1 already raises scrap clearly)."""


@dataclass(frozen=True, slots=True)
class Parts:
    """Parts a machine completed in a window, one row per part, in completion order."""

    ms: I64
    product: npt.NDArray[np.int16]
    order: npt.NDArray[np.int32]
    scrap: npt.NDArray[np.bool_]
    found_ms: I64
    """When end-of-line inspection finds a latent defect in the part; 0 if none."""


@dataclass(frozen=True, slots=True)
class JournalEvent:
    """An order, product or alarm event (state and count events are derived, not stored)."""

    ms: int
    kind: str
    code: str | None
    reason: str | None
    product: int
    active: bool | None


@dataclass(frozen=True, slots=True)
class Failure:
    """A breakdown: from its start until the machine is restored (wall time, breaks included)."""

    start_ms: int
    end_ms: int
    reason: str
    cause: str
    """``wear`` (predictable from signals) or ``random``."""
    plc_restart: bool


@dataclass(frozen=True, slots=True)
class MachineWindow:
    """Everything one machine did in ``[start_ms, end_ms)``."""

    start_ms: int
    end_ms: int
    timeline: Timeline
    conditions: Conditions
    parts: Parts
    events: list[JournalEvent]
    failures: list[Failure]
    restarts: list[int]
    job: tuple[int, int]
    """Product and order number the machine works on at the window's start (-1: none)."""


class MachineJournal:
    """The append-only record of one machine, pruned from the front as consumers move on."""

    __slots__ = (
        "ctr_good",
        "ctr_ms",
        "ctr_scrap",
        "events",
        "failures",
        "job_ms",
        "job_order",
        "job_product",
        "part_found",
        "part_ms",
        "part_order",
        "part_product",
        "part_scrap",
        "path",
        "restarts",
        "seg_drift0",
        "seg_drift_rate",
        "seg_exec",
        "seg_ms",
        "seg_wear0",
        "seg_wear_rate",
        "st_code",
        "st_exec",
        "st_product",
        "st_reason",
        "st_start",
    )

    def __init__(self, path: str) -> None:
        self.path = path
        self.st_start: list[int] = []
        self.st_code: list[int] = []
        self.st_reason: list[str | None] = []
        self.st_product: list[int] = []
        self.st_exec: list[int] = []
        self.part_ms: list[int] = []
        self.part_product: list[int] = []
        self.part_order: list[int] = []
        self.part_scrap: list[bool] = []
        self.part_found: list[int] = []
        self.ctr_ms: list[int] = []
        self.ctr_good: list[int] = []
        self.ctr_scrap: list[int] = []
        self.job_ms: list[int] = []
        self.job_product: list[int] = []
        self.job_order: list[int] = []
        self.seg_ms: list[int] = []
        self.seg_exec: list[int] = []
        self.seg_wear0: list[float] = []
        self.seg_wear_rate: list[float] = []
        self.seg_drift0: list[float] = []
        self.seg_drift_rate: list[float] = []
        self.events: list[JournalEvent] = []
        self.failures: list[Failure] = []
        self.restarts: list[int] = []

    # --- written by the engine ------------------------------------------------------------------

    def state(self, ms: int, code: int, reason: str | None, exec_ms: int, product: int) -> None:
        """Record that the displayed state changed at ``ms``.

        A change at the same millisecond as the previous one replaces it, and a change back to
        the state before that merges with it, so intervals never have zero length.
        """
        starts = self.st_start
        if starts and starts[-1] == ms:
            starts.pop()
            self.st_code.pop()
            self.st_reason.pop()
            self.st_product.pop()
            self.st_exec.pop()
        if (
            starts
            and self.st_code[-1] == code
            and self.st_reason[-1] == reason
            and self.st_product[-1] == product
        ):
            return
        starts.append(ms)
        self.st_code.append(code)
        self.st_reason.append(reason)
        self.st_product.append(product)
        self.st_exec.append(exec_ms)

    def part(self, ms: int, product: int, order: int, scrap: bool, found_ms: int) -> None:
        """Record a completed part."""
        self.part_ms.append(ms)
        self.part_product.append(product)
        self.part_order.append(order)
        self.part_scrap.append(scrap)
        self.part_found.append(found_ms)

    def counters(self, ms: int, good: int, scrap: int) -> None:
        """Record the PLC counters after a change (a part, or a reset on restart)."""
        self.ctr_ms.append(ms)
        self.ctr_good.append(good)
        self.ctr_scrap.append(scrap)

    def job(self, ms: int, product: int, order: int) -> None:
        """Record that the machine now works on ``order`` making ``product``."""
        self.job_ms.append(ms)
        self.job_product.append(product)
        self.job_order.append(order)

    def conditions(
        self,
        ms: int,
        exec_ms: int,
        wear0: float,
        wear_rate: float,
        drift0: float,
        drift_rate: float,
    ) -> None:
        """Record a new wear/drift segment (after a repair, maintenance, setup, drift start)."""
        if self.seg_ms and self.seg_ms[-1] == ms:
            for column in (
                self.seg_ms,
                self.seg_exec,
                self.seg_wear0,
                self.seg_wear_rate,
                self.seg_drift0,
                self.seg_drift_rate,
            ):
                column.pop()
        self.seg_ms.append(ms)
        self.seg_exec.append(exec_ms)
        self.seg_wear0.append(wear0)
        self.seg_wear_rate.append(wear_rate)
        self.seg_drift0.append(drift0)
        self.seg_drift_rate.append(drift_rate)

    def event(self, event: JournalEvent) -> None:
        """Record an order, product or alarm event."""
        self.events.append(event)

    # --- read by consumers ----------------------------------------------------------------------

    def window(self, start_ms: int, end_ms: int) -> MachineWindow:
        """Return what the machine did in ``[start_ms, end_ms)``.

        The engine must have advanced to ``end_ms``: every state that starts before it is final.
        """
        first = max(bisect_right(self.st_start, start_ms) - 1, 0)
        last = bisect_right(self.st_start, end_ms - 1)
        starts = np.array(self.st_start[first:last], dtype=np.int64)
        ends = np.empty_like(starts)
        ends[:-1] = starts[1:]
        ends[-1:] = end_ms
        timeline = Timeline(
            start=starts,
            end=ends,
            code=np.array(self.st_code[first:last], dtype=np.int8),
            reason=self.st_reason[first:last],
            product=np.array(self.st_product[first:last], dtype=np.int16),
            exec_ms=np.array(self.st_exec[first:last], dtype=np.int64),
        )
        s0 = max(bisect_right(self.seg_ms, start_ms) - 1, 0)
        s1 = bisect_right(self.seg_ms, end_ms - 1)
        conditions = Conditions(
            ms=np.array(self.seg_ms[s0:s1], dtype=np.int64),
            exec_ms=np.array(self.seg_exec[s0:s1], dtype=np.int64),
            wear0=np.array(self.seg_wear0[s0:s1], dtype=np.float64),
            wear_rate=np.array(self.seg_wear_rate[s0:s1], dtype=np.float64),
            drift0=np.array(self.seg_drift0[s0:s1], dtype=np.float64),
            drift_rate=np.array(self.seg_drift_rate[s0:s1], dtype=np.float64),
        )
        p0 = bisect_right(self.part_ms, start_ms - 1)
        p1 = bisect_right(self.part_ms, end_ms - 1)
        parts = Parts(
            ms=np.array(self.part_ms[p0:p1], dtype=np.int64),
            product=np.array(self.part_product[p0:p1], dtype=np.int16),
            order=np.array(self.part_order[p0:p1], dtype=np.int32),
            scrap=np.array(self.part_scrap[p0:p1], dtype=np.bool_),
            found_ms=np.array(self.part_found[p0:p1], dtype=np.int64),
        )
        return MachineWindow(
            start_ms=start_ms,
            end_ms=end_ms,
            timeline=timeline,
            conditions=conditions,
            parts=parts,
            events=[e for e in self.events if start_ms <= e.ms < end_ms],
            failures=[f for f in self.failures if start_ms <= f.start_ms < end_ms],
            restarts=[r for r in self.restarts if start_ms <= r < end_ms],
            job=self.job_at(start_ms),
        )

    def job_at(self, ms: int) -> tuple[int, int]:
        """Return the product and order number in force at ``ms`` (-1 for none)."""
        j = bisect_right(self.job_ms, ms) - 1
        return (self.job_product[j], self.job_order[j]) if j >= 0 else (-1, -1)

    def at(self, ms: int) -> tuple[int, str | None, int, int, int, int]:
        """Return the state code, reason, good and scrap counters, product and order at ``ms``."""
        i = bisect_right(self.st_start, ms) - 1
        c = bisect_right(self.ctr_ms, ms) - 1
        product, order = self.job_at(ms)
        return (
            self.st_code[i],
            self.st_reason[i],
            self.ctr_good[c],
            self.ctr_scrap[c],
            product,
            order,
        )

    def prune(self, before_ms: int) -> None:
        """Forget what ended before ``before_ms``; keep what is still going on at it."""
        _prune_timeline(before_ms, self.st_start, self.st_code, self.st_reason, self.st_product,
                        self.st_exec)  # fmt: skip
        _prune_timeline(before_ms, self.ctr_ms, self.ctr_good, self.ctr_scrap)
        _prune_timeline(before_ms, self.job_ms, self.job_product, self.job_order)
        _prune_timeline(before_ms, self.seg_ms, self.seg_exec, self.seg_wear0, self.seg_wear_rate,
                        self.seg_drift0, self.seg_drift_rate)  # fmt: skip
        cut = bisect_right(self.part_ms, before_ms - 1)
        for column in (
            self.part_ms,
            self.part_product,
            self.part_order,
            self.part_scrap,
            self.part_found,
        ):
            del column[:cut]
        self.events = [e for e in self.events if e.ms >= before_ms]
        self.failures = [f for f in self.failures if f.start_ms >= before_ms]
        self.restarts = [r for r in self.restarts if r >= before_ms]


def _prune_timeline(before_ms: int, times: list[int], *columns: list[Any]) -> None:
    """Drop entries before the one in force at ``before_ms``."""
    cut = bisect_right(times, before_ms) - 1
    if cut > 0:
        del times[:cut]
        for column in columns:
            del column[:cut]
