"""Golden cases from standards.md §3.3: the Vorne example and the two-product ISO example."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from tests.kpi.plant import T0, Log, window
from werk.kpi import (
    Break,
    Granularity,
    PlantCalendar,
    Shift,
    TimeModel,
    ideal_cycles,
    kpi_findings,
    kpis,
    loss_tree,
    time_models,
)

SECOND = timedelta(seconds=1)


def test_vorne_example_from_a_time_model() -> None:
    # 480-min shift, 60 min breaks, 47 min down, PRI 1 s, 19,271 made, 423 rejects.
    model = TimeModel(
        all_time=timedelta(minutes=480),
        pdot=timedelta(minutes=60),
        apt=timedelta(minutes=373),
        adet=timedelta(minutes=47),
        ideal=19_271 * SECOND,
        ideal_good=18_848 * SECOND,
        pq=19_271,
        gq=18_848,
        sq=423,
    )
    k = kpis(model)
    assert k.availability == pytest.approx(0.888095, abs=1e-6)
    assert k.effectiveness == pytest.approx(0.861081, abs=1e-6)
    assert k.quality_ratio == pytest.approx(0.978050, abs=1e-6)
    assert k.oee == pytest.approx(0.747937, abs=1e-6)
    assert k.oee == pytest.approx(18_848 / 25_200, rel=1e-12)


def test_vorne_example_from_events() -> None:
    log = (
        Log()
        .state(0, "executing")
        .state(120, "break")
        .state(180, "executing")
        .state(300, "failure", "hydraulics")
        .state(347, "executing")
        .count(400, good=18_848, scrap=423, product="A")
    )
    table = time_models(
        log.events, [window(T0, 480)], ideal=ideal_cycles({"A": timedelta(seconds=1)})
    )
    model = table.model(0)
    assert model.pbt == timedelta(minutes=420)
    assert model.apt == timedelta(minutes=373)
    k = kpis(model)
    assert k.oee == pytest.approx(0.747937, abs=1e-6)
    assert k.mttr == timedelta(minutes=47)
    assert model.failures == 1


def two_product_shift() -> tuple[Log, PlantCalendar]:
    # A 480-min shift with a 30-min calendar break: PBT 450 min. Setup 20, failure during the
    # order 25, no order 15: APT 390 min = 23,400 s.
    calendar = PlantCalendar(
        "Europe/Berlin",
        (Shift("early", time(7), time(15), breaks=(Break(time(11), time(11, 30)),)),),
    )
    log = (
        Log()  # T0 is 06:00 UTC = 07:00 Berlin
        .state(-60, "no_shift")
        .state(0, "setup")
        .order(0, "4711")
        .state(20, "executing")
        .count(100, good=194, scrap=4, rework=2, product="A")
        .state(200, "failure", "spindle")
        .state(225, "executing")
        .state(240, "break")  # the machine takes the calendar's break (11:00 Berlin)
        .state(270, "executing")
        .state(300, "executing")  # a repeated state is no new run
        .count(400, good=215, scrap=3, rework=2, product="B")
        .order(465, None)
        .state(465, "no_order")
        .state(480, "no_shift")
    )
    return log, calendar


def test_two_product_iso_example() -> None:
    log, calendar = two_product_shift()
    windows = calendar.windows(Granularity.SHIFT, T0, T0 + timedelta(hours=8))
    assert [w.label for w in windows] == ["2026-03-02 early"]
    table = time_models(
        log.events,
        windows,
        calendar=calendar,
        ideal=ideal_cycles({"A": timedelta(seconds=60), "B": timedelta(seconds=45)}),
    )
    model = table.model(0)
    assert model.pbt == timedelta(minutes=450)
    assert (model.aust, model.adet, model.adot) == (
        timedelta(minutes=20),
        timedelta(minutes=25),
        timedelta(minutes=15),
    )
    assert model.apt == timedelta(seconds=23_400)
    assert (model.pq, model.gq, model.sq, model.rq) == (420, 409, 7, 4)
    k = kpis(model)
    assert k.availability == pytest.approx(0.86667, abs=1e-5)
    assert k.effectiveness == pytest.approx((60 * 200 + 45 * 220) / 23_400, rel=1e-12)
    assert k.effectiveness == pytest.approx(0.93590, abs=1e-5)
    assert k.quality_ratio == pytest.approx(409 / 420, rel=1e-12)
    assert k.oee == pytest.approx(0.78987, abs=1e-5)
    assert k.oee_value_weighted == pytest.approx(0.78944, abs=1e-5)
    assert k.nee == pytest.approx(0.83037, abs=1e-5)
    assert k.utilization_efficiency == pytest.approx(0.89655, abs=1e-5)
    assert k.setup_rate == pytest.approx(20 / 410, rel=1e-12)
    assert k.scrap_ratio == pytest.approx(7 / 420, rel=1e-12)
    assert k.rework_ratio == pytest.approx(4 / 420, rel=1e-12)
    assert k.first_pass_yield == k.quality_ratio
    # The order was booked 07:00–14:45, inside planned operation time: AOET 465 min.
    assert model.aoet == timedelta(minutes=465)
    assert k.throughput_rate == pytest.approx(420 / (465 / 60), rel=1e-12)
    assert k.mtbf == timedelta(seconds=23_400)
    assert k.mttr == timedelta(minutes=25)
    assert kpi_findings(model) == []


def test_two_product_loss_tree_adds_up() -> None:
    log, calendar = two_product_shift()
    windows = calendar.windows(Granularity.SHIFT, T0, T0 + timedelta(hours=8))
    table = time_models(
        log.events,
        windows,
        calendar=calendar,
        ideal=ideal_cycles({"A": timedelta(seconds=60), "B": timedelta(seconds=45)}),
    )
    tree = loss_tree(table.model(0))
    for node in tree.walk():
        if node.children and node.duration is not None:
            parts = [c.duration for c in node.children]
            assert all(p is not None for p in parts)
            assert sum((p for p in parts if p is not None), timedelta(0)) == node.duration
    speed = tree.find("performance.speed")
    assert speed is not None
    assert speed.duration == timedelta(seconds=23_400 - 60 * 200 - 45 * 220)
    defects = tree.find("quality.defects")
    assert defects is not None
    assert defects.duration == timedelta(seconds=60 * 6 + 45 * 5)
    assert [n.big_loss for n in tree.walk() if n.big_loss] == [1, 2, 3, 4, 5, 6]
