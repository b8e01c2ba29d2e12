"""Roll-ups over the asset tree and the calendar, loss trees, Paretos and the benchmark."""

from __future__ import annotations

from datetime import date, time, timedelta

import numpy as np
import pytest

from tests.kpi.plant import T0, Log, synthetic_site, three_shifts, window
from werk.assets import Level
from werk.kpi import (
    Element,
    Granularity,
    PlantCalendar,
    Shift,
    TimeModelTable,
    ancestor,
    benchmark,
    by_level,
    by_period,
    concat,
    downtime_pareto,
    ideal_cycles,
    kpi_columns,
    kpis,
    loss_tree,
    results,
    time_models,
)

PRI = ideal_cycles({"A": timedelta(seconds=50), "B": timedelta(seconds=55)})
MIN = timedelta(minutes=1)


def site_month(tz: str, site: str, machines: int = 12) -> tuple[PlantCalendar, TimeModelTable]:
    calendar = three_shifts(tz)
    events, paths = synthetic_site(machines, date(2026, 3, 1), 31, site=site)
    first = calendar.day(date(2026, 3, 1)).start
    last = calendar.day(date(2026, 3, 31)).end
    shifts = calendar.windows(Granularity.SHIFT, first, last, gaps=True)
    table = time_models(events, shifts, calendar=calendar, ideal=PRI, paths=paths)
    return calendar, table


def test_shifts_roll_up_into_days_weeks_and_months_exactly() -> None:
    calendar, table = site_month("Europe/Berlin", "acme/berlin")
    days = by_period(table, calendar, Granularity.DAY)
    assert len(days.windows) == 31
    assert {w.duration for w in days.windows} == {
        timedelta(hours=23),
        timedelta(hours=24),
    }
    # The same events cut directly into days give the same time models.
    events, paths = synthetic_site(12, date(2026, 3, 1), 31, site="acme/berlin")
    direct = time_models(
        events, list(days.windows), calendar=calendar, ideal=PRI, paths=list(paths)
    )
    assert np.array_equal(direct.times, days.times)
    assert np.array_equal(direct.counts, days.counts)
    months = by_period(days, calendar, Granularity.MONTH)
    assert [w.label for w in months.windows] == ["2026-03"]
    assert np.array_equal(months.times.sum(axis=0), table.times.sum(axis=0))
    weeks = by_period(table, calendar, Granularity.WEEK)
    assert weeks.windows[0].label == "2026-W09"
    # Ratios are never averaged: the month's OEE is the OEE of the summed model.
    site = by_level(months, Level.SITE)
    (row,) = list(site.rows())
    assert kpis(row[2]) == kpis(table.total())
    mean_of_machines = np.nanmean(kpi_columns(months)["oee"])
    assert kpis(row[2]).oee != pytest.approx(mean_of_machines, abs=1e-12)


def test_asset_levels() -> None:
    path = "acme/berlin/body/line-1/cell-2/robot-07"
    assert ancestor(path, Level.ENTERPRISE) == "acme"
    assert ancestor(path, Level.SITE) == "acme/berlin"
    assert ancestor(path, Level.AREA) == "acme/berlin/body"
    assert ancestor(path, Level.PRODUCTION_LINE) == "acme/berlin/body/line-1"
    assert ancestor(path, Level.WORK_CELL) == "acme/berlin/body/line-1/cell-2"
    _, table = site_month("Europe/Berlin", "acme/berlin", machines=20)
    lines = by_level(table, Level.PRODUCTION_LINE)
    assert lines.paths == ("acme/berlin/area-0/line-0", "acme/berlin/area-0/line-1")
    enterprise = by_level(lines, Level.ENTERPRISE)
    assert np.array_equal(enterprise.times.sum(axis=0), table.times.sum(axis=0))


def test_loss_tree_nodes_sum_to_their_parent() -> None:
    _, table = site_month("Europe/Berlin", "acme/berlin", machines=3)
    tree = loss_tree(table.total())
    for node in tree.walk():
        if node.children:
            parts = [c.duration for c in node.children]
            assert node.duration is not None
            assert None not in parts
            assert sum((p for p in parts if p is not None), timedelta(0)) == node.duration
    assert tree.duration == table.total().all_time


def test_loss_tree_without_pri_leaves_performance_unknown() -> None:
    log = Log().state(0, "executing").count(10, good=5, product="Z")
    tree = loss_tree(time_models(log.events, [window(T0, 60)]).model(0))
    speed = tree.find("performance.speed")
    assert speed is not None
    assert speed.duration is None
    assert tree.find("nowhere") is None


def test_downtime_pareto_ranks_causes_and_keeps_victims_apart() -> None:
    log = (
        Log()
        .state(0, "executing")
        .state(5, "failure", "hydraulics")
        .state(25, "executing")
        .state(30, "starved")
        .state(45, "executing")
        .state(47, "micro_stop")
        .state(48, "executing")
        .state(50, "failure", "hydraulics")
        .state(55, "setup", "changeover")
        .state(58, "executing")
    )
    table = time_models(log.events, [window(T0, 60)])
    rows = downtime_pareto(table)
    assert [(r.code, r.reason, r.duration, r.occurrences) for r in rows] == [
        ("failure", "hydraulics", 25 * MIN, 2),
        ("starved", None, 15 * MIN, 1),
        ("setup", "changeover", 3 * MIN, 1),
    ]
    assert rows[0].share == pytest.approx(25 / 43)
    assert rows[-1].cumulative == pytest.approx(1.0)
    assert rows[1].external
    assert rows[1].element is Element.ADET
    own = downtime_pareto(table, external=False)
    assert "starved" not in {r.code for r in own}
    with_minor = downtime_pareto(table, minor_stops=True)
    assert ("micro_stop", MIN) in {(r.code, r.duration) for r in with_minor}
    planned = downtime_pareto(table, elements=frozenset({Element.PDOT}))
    assert planned == []


def test_benchmark_compares_sites_in_their_own_time_zones() -> None:
    _berlin_cal, berlin = site_month("Europe/Berlin", "acme/berlin", machines=4)
    chicago_cal = three_shifts("America/Chicago")
    events, paths = synthetic_site(4, date(2026, 3, 1), 31, seed=9, site="acme/chicago")
    first = chicago_cal.day(date(2026, 3, 1)).start
    last = chicago_cal.day(date(2026, 3, 31)).end
    chicago = time_models(
        events,
        chicago_cal.windows(Granularity.DAY, first, last),
        calendar=chicago_cal,
        ideal=PRI,
        paths=paths,
    )
    both = concat([berlin, chicago])
    rows = benchmark(both)
    assert [r.site for r in sorted(rows, key=lambda r: r.site)] == ["acme/berlin", "acme/chicago"]
    assert [r.rank for r in rows] == [1, 2]
    assert rows[0].kpis.oee is not None
    assert rows[1].kpis.oee is not None
    assert rows[0].kpis.oee >= rows[1].kpis.oee
    for r in rows:
        mine = [i for i in range(len(both)) if both.path(i).startswith(r.site + "/")]
        assert r.model == both.sum_rows(np.array(mine, np.int64))
        # Each site over its own March: 31 days less the spring-forward hour.
        assert r.window.end - r.window.start == timedelta(days=31) - timedelta(hours=1)
        assert r.completeness is not None
        assert r.completeness > 0.99


def test_results_carry_window_model_findings_and_finality() -> None:
    calendar = PlantCalendar("UTC", (Shift("day", time(6), time(14)),))
    log = Log().state(0, "executing").state(10, "weird").count(20, good=5, product="A")
    windows = calendar.windows(Granularity.SHIFT, T0, T0 + timedelta(hours=8))
    table = time_models(log.events, windows, calendar=calendar, ideal=PRI)
    (result,) = results(table, watermark=T0 + timedelta(hours=9), settle=timedelta(hours=2))
    assert result.window == windows[0]
    assert result.path == table.paths[0]
    assert not result.final
    assert [f.key for f in result.findings] == ["mapping.unmapped_code"]
    assert result.completeness == pytest.approx(10 / 480)
    (later,) = results(table, watermark=T0 + timedelta(hours=10))
    assert later.final
