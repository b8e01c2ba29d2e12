"""Compute ISO 22400-2 KPIs from events: calendars, time model, OEE, roll-ups, recomputation.

The pure core (no I/O): :mod:`~werk.kpi.calendar` cuts shift/day/week/month windows in plant time,
:mod:`~werk.kpi.mapping` says which time element each state code is, :mod:`~werk.kpi.timemodel`
turns events into time models (:mod:`~werk.kpi.model`, :mod:`~werk.kpi.table`; its array parts in
:mod:`~werk.kpi.columns` and :mod:`~werk.kpi.layers`),
:mod:`~werk.kpi.oee` computes the KPIs, :mod:`~werk.kpi.rollup` sums up the asset tree and the
calendar and builds loss trees, Paretos and benchmarks, :mod:`~werk.kpi.recompute` finds the windows
a late event touches, and :mod:`~werk.kpi.counter` turns PLC counter readings into deltas.
"""

from werk.kpi.calendar import (
    Break,
    Granularity,
    Holiday,
    Maintenance,
    PlannedTime,
    PlantCalendar,
    Shift,
    Window,
    covering,
    span,
)
from werk.kpi.counter import CounterDeltas, counter_deltas
from werk.kpi.mapping import (
    DEFAULT_MAPPING,
    PRECEDENCE,
    CodeRange,
    Element,
    MappingOverride,
    MappingTable,
    PlanSource,
    StateMapping,
    StateRule,
    override_from_dict,
)
from werk.kpi.model import Finding, TimeModel, total
from werk.kpi.oee import KpiResult, Kpis, kpi_columns, kpi_findings, kpis, results
from werk.kpi.recompute import Timeline, event_span, impact, revise
from werk.kpi.rollup import (
    BenchmarkRow,
    LossNode,
    ParetoRow,
    ancestor,
    benchmark,
    by_level,
    by_period,
    downtime_pareto,
    loss_tree,
    over_range,
)
from werk.kpi.table import Breakdown, TimeModelTable, concat
from werk.kpi.timemodel import ReasonEntry, ideal_cycles, time_models

__all__ = [
    "DEFAULT_MAPPING",
    "PRECEDENCE",
    "BenchmarkRow",
    "Break",
    "Breakdown",
    "CodeRange",
    "CounterDeltas",
    "Element",
    "Finding",
    "Granularity",
    "Holiday",
    "KpiResult",
    "Kpis",
    "LossNode",
    "Maintenance",
    "MappingOverride",
    "MappingTable",
    "ParetoRow",
    "PlanSource",
    "PlannedTime",
    "PlantCalendar",
    "ReasonEntry",
    "Shift",
    "StateMapping",
    "StateRule",
    "TimeModel",
    "TimeModelTable",
    "Timeline",
    "Window",
    "ancestor",
    "benchmark",
    "by_level",
    "by_period",
    "concat",
    "counter_deltas",
    "covering",
    "downtime_pareto",
    "event_span",
    "ideal_cycles",
    "impact",
    "kpi_columns",
    "kpi_findings",
    "kpis",
    "loss_tree",
    "over_range",
    "override_from_dict",
    "results",
    "revise",
    "span",
    "time_models",
    "total",
]
