"""Hold the ISO 22400-2 time elements and quantities of one unit over one window.

A :class:`TimeModel` is additive: the time model of a line, a site, a day or a month is the sum of
the time models of its machines and shifts, and every KPI of the sum is computed from the summed
elements (standards.md §3.5: "sum times and PRI-weighted counts, never average OEE values").

Every instant of a window lands in exactly one of ``not_scheduled``, ``no_data``, ``unmapped``,
``pdot``, ``apt``, ``aust``, ``adet``, ``adot``, so (§3.1)::

    all_time = not_scheduled + no_data + unmapped + POT
    POT      = PDOT + PBT
    PBT      = APT + AUST + ADET + ADOT      AUBT = APT + AUST + ADET      AUPT = APT + AUST
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Final

TIME_FIELDS: Final = (
    "all_time",
    "not_scheduled",
    "no_data",
    "unmapped",
    "pdot",
    "apt",
    "aust",
    "adet",
    "adot",
    "minor_stops",
    "failure",
    "external",
    "outside_plan",
    "aoet",
    "ideal",
    "ideal_good",
    "ideal_startup",
    "restoration",
)
"""The additive durations of a :class:`TimeModel`, in column order."""

COUNT_FIELDS: Final = (
    "pq",
    "gq",
    "sq",
    "rq",
    "unpriced",
    "startup_rejects",
    "failures",
    "restored",
)
"""The additive quantities of a :class:`TimeModel`, in column order."""

_ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class TimeModel:
    """ISO 22400-2 time elements and quantities of one unit (or a sum of units) over one window.

    Attributes:
        all_time: Length of the window(s): calendar time, the base of TEEP.
        not_scheduled: Outside planned operation time (no shift, holiday).
        no_data: Nothing known (before the first state, after the data horizon, ``NotAvailable``).
        unmapped: A state code the mapping does not know (reported as a finding).
        pdot: Planned down time (PDOT): planned breaks and maintenance.
        apt: Actual production time (APT), minor stops below the threshold included.
        aust: Actual unit setup time (AUST).
        adet: Actual unit delay time (ADET).
        adot: Actual unit down time (ADOT).
        minor_stops: Part of APT: short stops kept in production time (six big losses, no. 3).
        failure: Part of ADET: time in failure states (breakdowns).
        external: Part of ADET: stops whose cause is up- or downstream (starved, blocked).
        outside_plan: Part of APT: production where the calendar planned none.
        aoet: Actual order execution time within POT: time an order was booked on the unit.
        ideal: Σ PRI × PQ over products with a planned run time per item (net production time).
        ideal_good: Σ PRI × GQ: fully productive time.
        ideal_startup: Σ PRI × (SQ + RQ) of parts made right after a setup (startup rejects).
        restoration: Σ TTR of the failures that started in the window and were restored.
        pq: Produced quantity.
        gq: Good quantity (first pass: reworked parts are not good here).
        sq: Scrap quantity.
        rq: Rework quantity.
        unpriced: Produced quantity of products without a PRI (effectiveness is then undefined).
        startup_rejects: SQ + RQ made within the startup window after a setup.
        failures: Failure events (FE) that started in the window.
        restored: Of those, the failures that ended before the data horizon.
    """

    all_time: timedelta = _ZERO
    not_scheduled: timedelta = _ZERO
    no_data: timedelta = _ZERO
    unmapped: timedelta = _ZERO
    pdot: timedelta = _ZERO
    apt: timedelta = _ZERO
    aust: timedelta = _ZERO
    adet: timedelta = _ZERO
    adot: timedelta = _ZERO
    minor_stops: timedelta = _ZERO
    failure: timedelta = _ZERO
    external: timedelta = _ZERO
    outside_plan: timedelta = _ZERO
    aoet: timedelta = _ZERO
    ideal: timedelta = _ZERO
    ideal_good: timedelta = _ZERO
    ideal_startup: timedelta = _ZERO
    restoration: timedelta = _ZERO
    pq: int = 0
    gq: int = 0
    sq: int = 0
    rq: int = 0
    unpriced: int = 0
    startup_rejects: int = 0
    failures: int = 0
    restored: int = 0

    @property
    def pbt(self) -> timedelta:
        """Planned busy time: APT + AUST + ADET + ADOT (= POT − PDOT)."""
        return self.apt + self.aust + self.adet + self.adot

    @property
    def pot(self) -> timedelta:
        """Planned operation time: PDOT + PBT."""
        return self.pdot + self.pbt

    @property
    def aubt(self) -> timedelta:
        """Actual unit busy time: APT + AUST + ADET."""
        return self.apt + self.aust + self.adet

    @property
    def aupt(self) -> timedelta:
        """Actual unit processing time: APT + AUST."""
        return self.apt + self.aust

    @property
    def covered(self) -> timedelta:
        """Time whose element is known: the window less no data and unmapped time."""
        return self.all_time - self.no_data - self.unmapped

    @property
    def completeness(self) -> float | None:
        """Share of the window covered by interpretable data (None for an empty window)."""
        if self.all_time <= _ZERO:
            return None
        return self.covered / self.all_time

    def __add__(self, other: TimeModel) -> TimeModel:
        """Sum two time models (disjoint units or disjoint windows)."""
        return TimeModel(
            *(getattr(self, f.name) + getattr(other, f.name) for f in fields(TimeModel))
        )

    def as_dict(self) -> dict[str, float | int]:
        """Return the model as JSON-ready numbers: durations in seconds, quantities as counts."""
        out: dict[str, float | int] = {}
        for name in TIME_FIELDS:
            out[name] = getattr(self, name).total_seconds()
        for name in COUNT_FIELDS:
            out[name] = getattr(self, name)
        for name in ("pot", "pbt", "aubt", "aupt"):
            out[name] = getattr(self, name).total_seconds()
        return out


def total(models: list[TimeModel] | tuple[TimeModel, ...]) -> TimeModel:
    """Sum time models (an empty sum is the zero model)."""
    result = TimeModel()
    for m in models:
        result = result + m
    return result


@dataclass(frozen=True, slots=True)
class Finding:
    """Something a KPI reader must know about its inputs: bad master data, unmapped codes...

    Attributes:
        key: Stable identifier: ``mapping.unmapped_code``, ``master_data.effectiveness_over_100``,
            ``master_data.missing_ideal_cycle_time``, ``counts.negative_quantity``,
            ``counter.wrap``, ``counter.reset``, ``calendar.production_outside_plan``,
            ``input.after_horizon``.
        message: What is wrong, in words.
        path: The asset it concerns.
        window: Label of the window it concerns.
        detail: Structured facts (the code, the seconds, the product...).
    """

    key: str
    message: str
    path: str | None = None
    window: str | None = None
    detail: Mapping[str, str | int | float] | None = None
