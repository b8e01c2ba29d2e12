"""Roll time models up the asset tree and the calendar; build loss trees, Paretos, benchmarks.

Roll-ups sum time elements and PRI-weighted counts and compute KPIs from the sums; they never
average ratios (standards.md §3.5). Machines sum into lines, areas, sites and the enterprise by
their ISA-95 path; shifts into production days, days into weeks (Monday start) and months, all in
plant time. Summing ISO 22400 time models of a line's machines gives the line's *equipment* view;
a line's output OEE is usually taken from its bottleneck or end-of-line machine, which is a
selection of rows (:meth:`TimeModelTable.select`), not a different formula.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import numpy as np

from werk.assets import Level
from werk.kpi.calendar import Granularity, PlantCalendar, Window, covering
from werk.kpi.mapping import Element
from werk.kpi.model import TimeModel
from werk.kpi.oee import Kpis, kpis
from werk.kpi.table import ELEMENTS, TimeModelTable

DEPTH: Final = {
    Level.ENTERPRISE: 1,
    Level.SITE: 2,
    Level.AREA: 3,
    Level.PRODUCTION_LINE: 4,
    Level.WORK_CELL: 5,
}
"""Number of path segments of each level (an equipment path has 5 or 6)."""


def ancestor(path: str, level: Level) -> str:
    """Return the path of ``path``'s ancestor at ``level`` (the path itself if it is higher)."""
    return "/".join(path.split("/")[: DEPTH[level]])


def by_level(table: TimeModelTable, level: Level) -> TimeModelTable:
    """Sum a table's units into their ancestors at ``level`` (machines → line, area, site...)."""
    return table.regroup(lambda p: ancestor(p, level), lambda w: w)


def by_period(table: TimeModelTable, calendar: PlantCalendar, by: Granularity) -> TimeModelTable:
    """Sum a table's windows into the day, week or month of their production day.

    Shift windows roll up into days exactly when they include the gaps between shifts
    (``calendar.windows(SHIFT, ..., gaps=True)``); without gaps the day holds only shift time.
    """
    if by is Granularity.RANGE:
        return over_range(table)
    return table.regroup(lambda p: p, lambda w: calendar.period(by, w.day))


def over_range(table: TimeModelTable) -> TimeModelTable:
    """Sum all of a table's windows into one window from the first start to the last end."""
    whole = covering(table.windows)
    return table.regroup(lambda p: p, lambda w: whole)


@dataclass(frozen=True, slots=True)
class LossNode:
    """A node of the loss tree: a stretch of time, what it is, and what it splits into.

    Attributes:
        name: Stable key (``availability.breakdowns``...).
        label: Words for a reader.
        duration: The time; None where it cannot be known (products without PRI).
        big_loss: Number of the six big losses (1–6) the node is, if it is one.
        children: The parts, which sum to the node.
    """

    name: str
    label: str
    duration: timedelta | None
    big_loss: int | None = None
    children: tuple[LossNode, ...] = ()

    def find(self, name: str) -> LossNode | None:
        """Return the node ``name`` in this subtree."""
        if self.name == name:
            return self
        for child in self.children:
            found = child.find(name)
            if found is not None:
                return found
        return None

    def walk(self) -> Iterable[LossNode]:
        """Yield this node and all below it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


def loss_tree(model: TimeModel) -> LossNode:
    """Split a window's calendar time into the six big losses (Nakajima) on the ISO time model.

    ::

        all time
        ├── not scheduled                       schedule loss (TEEP only)
        ├── no data / unmapped                  not interpretable
        └── POT
            ├── PDOT                            planned stops
            └── PBT
                ├── 1 breakdowns: failures, other unplanned stops (ADET − failures), no order (ADOT)
                ├── 2 setup and adjustments (AUST)
                └── APT
                    ├── 3 idling and minor stops (short stops kept in APT)
                    ├── 4 reduced speed (APT − minor stops − Σ PRI·PQ)
                    └── net production time Σ PRI·PQ
                        ├── 5 process defects Σ PRI·(SQ + RQ) after startup
                        ├── 6 reduced yield (startup rejects)
                        └── fully productive time Σ PRI·GQ

    The performance and quality nodes are None when a product lacks a PRI. Reduced speed is
    negative when effectiveness exceeds 100 % (bad master data, reported as a finding).
    """
    priced = model.unpriced == 0
    ideal = model.ideal if priced else None
    defects = (
        model.ideal - model.ideal_good - model.ideal_startup
        if priced and ideal is not None
        else None
    )
    speed = model.apt - model.minor_stops - model.ideal if priced else None
    quality = (
        LossNode(
            "net_production",
            "net production time (Σ PRI·PQ)",
            ideal,
            children=(
                LossNode("quality.defects", "process defects", defects, 5),
                LossNode(
                    "quality.startup",
                    "reduced yield (startup rejects)",
                    model.ideal_startup if priced else None,
                    6,
                ),
                LossNode(
                    "fully_productive",
                    "fully productive time (Σ PRI·GQ)",
                    model.ideal_good if priced else None,
                ),
            ),
        ),
    )
    apt = LossNode(
        "apt",
        "actual production time (APT)",
        model.apt,
        children=(
            LossNode("performance.minor_stops", "idling and minor stops", model.minor_stops, 3),
            LossNode("performance.speed", "reduced speed", speed, 4),
            *quality,
        ),
    )
    breakdowns = LossNode(
        "availability.breakdowns",
        "equipment failure and unplanned stops",
        model.adet + model.adot,
        1,
        (
            LossNode("availability.failures", "failures", model.failure),
            LossNode("availability.delays", "other delays (ADET)", model.adet - model.failure),
            LossNode("availability.no_order", "no order (ADOT)", model.adot),
        ),
    )
    pbt = LossNode(
        "pbt",
        "planned busy time (PBT)",
        model.pbt,
        children=(
            breakdowns,
            LossNode("availability.setup", "setup and adjustments (AUST)", model.aust, 2),
            apt,
        ),
    )
    return LossNode(
        "all_time",
        "all time",
        model.all_time,
        children=(
            LossNode("schedule", "not scheduled", model.not_scheduled),
            LossNode("unknown", "no data or unmapped", model.no_data + model.unmapped),
            LossNode(
                "pot",
                "planned operation time (POT)",
                model.pot,
                children=(LossNode("planned", "planned down time (PDOT)", model.pdot), pbt),
            ),
        ),
    )


@dataclass(frozen=True, slots=True)
class ParetoRow:
    """One cause of lost time, summed over the rows asked for.

    Attributes:
        code: State code (or ``break``/``no_shift`` from the calendar).
        reason: Reason, if any.
        element: The time element the time counts in.
        external: The cause lies up- or downstream (starved, blocked): not this unit's fault.
        failure: A failure state.
        duration: Lost time.
        occurrences: Stops that began in the rows.
        share: Share of all lost time in the Pareto.
        cumulative: Running share, largest cause first.
    """

    code: str
    reason: str | None
    element: Element
    external: bool
    failure: bool
    duration: timedelta
    occurrences: int
    share: float
    cumulative: float


DOWNTIME: Final = frozenset({Element.ADET, Element.ADOT, Element.AUST})
"""The elements of the downtime Pareto by default: availability losses."""


def downtime_pareto(
    table: TimeModelTable,
    *,
    elements: frozenset[Element] = DOWNTIME,
    minor_stops: bool = False,
    external: bool | None = None,
) -> list[ParetoRow]:
    """Rank the causes of lost time in a table by duration, largest first.

    Args:
        table: The rows to rank over (select rows first for one machine or window).
        elements: Which elements count as lost time (default: ADET, ADOT, AUST).
        minor_stops: Also rank the short stops kept in APT (performance loss).
        external: True: only stops caused up- or downstream; False: only the unit's own; None: all.
    """
    b = table.breakdown
    if len(b) == 0:
        return []
    wanted = np.array([e in elements for e in ELEMENTS])[b.element] & ~b.short
    if minor_stops:
        wanted |= b.short
    if external is not None:
        wanted &= b.external == external
    sel = np.flatnonzero(wanted)
    groups: dict[tuple[int, int, int, bool, bool], list[int]] = {}
    for i in sel:
        key = (
            int(b.code[i]),
            int(b.reason[i]),
            int(b.element[i]),
            bool(b.external[i]),
            bool(b.failure[i]),
        )
        sums = groups.setdefault(key, [0, 0])
        sums[0] += int(b.duration[i])
        sums[1] += int(b.occurrences[i])
    ranked = sorted(groups.items(), key=lambda kv: (-kv[1][0], kv[0]))
    lost = sum(v[0] for _, v in ranked)
    out: list[ParetoRow] = []
    running = 0
    for (code, reason, element, ext, fail), (duration, occurrences) in ranked:
        running += duration
        out.append(
            ParetoRow(
                b.codes[code],
                b.reasons[reason] if reason >= 0 else None,
                ELEMENTS[element],
                ext,
                fail,
                timedelta(microseconds=duration),
                occurrences,
                duration / lost if lost else 0.0,
                running / lost if lost else 0.0,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class BenchmarkRow:
    """One site in the cross-plant benchmark: same definitions, summed, side by side.

    Attributes:
        site: ``enterprise/site``.
        window: The range compared.
        model: The site's summed time model.
        kpis: Its KPIs.
        completeness: Share of the range covered by interpretable data.
        rank: 1 for the highest OEE; None when the site's OEE is undefined.
    """

    site: str
    window: Window
    model: TimeModel
    kpis: Kpis
    completeness: float | None
    rank: int | None


def benchmark(table: TimeModelTable) -> list[BenchmarkRow]:
    """Compare sites: sum each site's machines over all windows; rank by OEE, best first.

    Sites in different time zones are compared over their own calendars' windows, each summed
    from its own machines — the same definitions everywhere, no averaged ratios.
    """
    sites = by_level(table, Level.SITE)
    rows = []
    for i, path in enumerate(sites.paths):
        mine = sites.row_path == i
        if not mine.any():
            continue
        window = covering([sites.windows[int(w)] for w in np.unique(sites.row_window[mine])])
        model = sites.sum_rows(mine)
        rows.append((path, window, model, kpis(model)))
    rows.sort(key=lambda r: (r[3].oee is None, -(r[3].oee or 0.0), r[0]))
    return [
        BenchmarkRow(path, window, model, k, model.completeness, n if k.oee is not None else None)
        for n, (path, window, model, k) in enumerate(rows, start=1)
    ]
