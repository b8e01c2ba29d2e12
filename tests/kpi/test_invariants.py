"""Hypothesis invariants: time partitions, bounded ratios, OEE = A × E × Q, additive roll-ups."""

from __future__ import annotations

import itertools
import math
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.kpi.plant import T0, window
from werk.assets import Level
from werk.kpi import (
    Granularity,
    ReasonEntry,
    TimeModel,
    Window,
    by_level,
    ideal_cycles,
    kpi_columns,
    kpis,
    over_range,
    time_models,
    total,
)
from werk.samples import Event, EventKind

SEC = timedelta(seconds=1)
LINE = "acme/berlin/body/line-1"
CODES = [
    "executing",
    "executing",
    "micro_stop",
    "failure",
    "setup",
    "starved",
    "no_order",
    "break",
    "no_shift",
    "planned_maintenance",
    "X-unmapped",
    "180000",
    "NotAvailable",
]
PRI = ideal_cycles({"A": 20 * SEC, "B": 45 * SEC})
HORIZON = 4 * 3600


@st.composite
def machine_events(draw: st.DrawFn, path: str) -> tuple[list[Event], list[ReasonEntry]]:
    events: list[Event] = []
    t = draw(st.integers(-600, 600))
    for _ in range(draw(st.integers(0, 25))):
        code: str | None = draw(st.sampled_from(CODES))
        reason = draw(st.sampled_from([None, "r1", "r2"]))
        events.append(Event(path, T0 + t * SEC, EventKind.STATE, code, reason))
        t += draw(st.integers(0, 1500))
    for _ in range(draw(st.integers(0, 12))):
        at = draw(st.integers(0, HORIZON - 1))
        product = draw(st.sampled_from(["A", "B", None]))
        good, scrap, rework = (draw(st.integers(0, 40)) for _ in range(3))
        events.append(
            Event(path, T0 + at * SEC, EventKind.COUNT, None, None, product, good, scrap, rework)
        )
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(-100, HORIZON))
        events.append(Event(path, T0 + at * SEC, EventKind.PRODUCT, draw(st.sampled_from("AB"))))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(-100, HORIZON))
        order = draw(st.sampled_from(["o-1", "o-2", None]))
        events.append(Event(path, T0 + at * SEC, EventKind.ORDER, order))
    entries = []
    for _ in range(draw(st.integers(0, 4))):
        a = draw(st.integers(-300, HORIZON))
        b = a + draw(st.integers(0, 3000))
        claim = draw(st.sampled_from([None, "failure", "setup", "break", "executing", "X-2"]))
        entries.append(ReasonEntry(path, T0 + a * SEC, T0 + b * SEC, claim, "manual"))
    return events, entries


@st.composite
def windows(draw: st.DrawFn) -> list[Window]:
    cuts = sorted(set(draw(st.lists(st.integers(1, HORIZON - 1), max_size=4))))
    bounds = [0, *cuts, HORIZON]
    return [
        window(T0 + a * SEC, (b - a) / 60, f"w{i}")
        for i, (a, b) in enumerate(itertools.pairwise(bounds))
    ]


@st.composite
def plant(draw: st.DrawFn) -> tuple[list[str], list[Event], list[ReasonEntry]]:
    n = draw(st.integers(1, 3))
    paths = [f"{LINE}/m-{i}" for i in range(n)]
    events: list[Event] = []
    entries: list[ReasonEntry] = []
    for p in paths:
        e, r = draw(machine_events(p))
        events.extend(e)
        entries.extend(r)
    return paths, draw(st.permutations(events)), entries


def check_partition(model: TimeModel) -> None:
    assert model.not_scheduled + model.no_data + model.unmapped + model.pot == model.all_time
    assert model.pot == model.pdot + model.pbt
    assert model.pbt == model.apt + model.aust + model.adet + model.adot
    for part in (model.not_scheduled, model.no_data, model.unmapped, model.pdot, model.apt):
        assert part >= timedelta(0)
    assert timedelta(0) <= model.minor_stops <= model.apt
    assert timedelta(0) <= model.outside_plan <= model.apt
    assert model.failure + model.external <= model.adet or model.failure <= model.adet
    assert model.aoet <= model.pot
    assert model.restored <= model.failures


def check_kpis(model: TimeModel) -> None:
    k = kpis(model)
    for ratio in (k.availability, k.quality_ratio, k.utilization, k.setup_rate):
        assert ratio is None or 0.0 <= ratio <= 1.0
    if None not in (k.availability, k.effectiveness, k.quality_ratio):
        assert k.availability is not None
        assert k.effectiveness is not None
        assert k.quality_ratio is not None
        assert k.oee is not None
        assert k.oee == pytest.approx(k.availability * k.effectiveness * k.quality_ratio)
    else:
        assert k.oee is None
    if model.pbt == timedelta(0):
        assert k.availability is None
        assert k.oee is None
    if model.pq == 0:
        assert k.quality_ratio is None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plant(), windows())
def test_every_instant_lands_once_and_ratios_stay_bounded(
    setup: tuple[list[str], list[Event], list[ReasonEntry]], cut: list[Window]
) -> None:
    paths, events, entries = setup
    table = time_models(
        events, cut, ideal=PRI, entries=entries, until=T0 + HORIZON * SEC, paths=paths
    )
    assert len(table) == len(paths) * len(cut)
    columns = kpi_columns(table)
    for row, (_, w, model) in enumerate(table.rows()):
        assert model.all_time == w.duration
        check_partition(model)
        check_kpis(model)
        # The vectorised KPIs are the same formulas as the scalar ones.
        for name, value in kpis(model).as_dict().items():
            column = float(columns[name][row])
            assert (value is None) == math.isnan(column)
            if value is not None:
                assert column == pytest.approx(value)
    assert int(table.breakdown.duration.sum()) <= int(table.times[:, 0].sum())


@settings(max_examples=100, deadline=None)
@given(plant(), windows())
def test_machines_are_independent_and_roll_up_by_summing(
    setup: tuple[list[str], list[Event], list[ReasonEntry]], cut: list[Window]
) -> None:
    paths, events, entries = setup
    options = {"ideal": PRI, "entries": entries, "until": T0 + HORIZON * SEC}
    events = events + [Event(p, T0, EventKind.ALARM) for p in paths]  # every machine known
    together = time_models(events, cut, **options)  # type: ignore[arg-type]
    alone = [
        time_models([e for e in events if e.path == p], cut, paths=[p], **options)  # type: ignore[arg-type]
        for p in paths
    ]
    for t in alone:
        for path, w, model in t.rows():
            assert together.model(together.find(path, w)) == model
    line = by_level(together, Level.PRODUCTION_LINE)
    assert line.paths == (LINE,)
    for i, w in enumerate(cut):
        summed = total([t.model(i) for t in alone])
        assert line.model(line.find(LINE, w)) == summed
        assert kpis(line.model(line.find(LINE, w))) == kpis(summed)
        check_kpis(summed)


@settings(max_examples=100, deadline=None)
@given(plant(), windows())
def test_windows_split_time_additively(
    setup: tuple[list[str], list[Event], list[ReasonEntry]], cut: list[Window]
) -> None:
    paths, events, entries = setup
    options = {"ideal": PRI, "entries": entries, "until": T0 + HORIZON * SEC, "paths": paths}
    whole = time_models(events, [window(T0, HORIZON / 60)], **options)  # type: ignore[arg-type]
    parts = over_range(time_models(events, cut, **options))  # type: ignore[arg-type]
    for i, p in enumerate(paths):
        assert parts.model(parts.find(p, parts.windows[0])) == whole.model(i)
    assert parts.windows[0].by is Granularity.RANGE
    assert int(parts.breakdown.occurrences.sum()) == int(whole.breakdown.occurrences.sum())
