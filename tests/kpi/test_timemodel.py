"""The time model: precedence, overlaps, unmapped codes, micro-stops, failures, counts, PRI."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from tests.kpi.plant import PRESS, T0, Log, window
from werk.errors import InvalidInput
from werk.kpi import (
    DEFAULT_MAPPING,
    Break,
    CodeRange,
    Element,
    Granularity,
    MappingOverride,
    MappingTable,
    PlanSource,
    PlantCalendar,
    ReasonEntry,
    Shift,
    StateRule,
    TimeModel,
    downtime_pareto,
    ideal_cycles,
    kpi_findings,
    kpis,
    results,
    time_models,
)
from werk.samples import events_to_batch

MIN = timedelta(minutes=1)
PRI = ideal_cycles({"A": timedelta(seconds=30), None: timedelta(seconds=30)})


def assert_partition(model: TimeModel) -> None:
    assert model.not_scheduled + model.no_data + model.unmapped + model.pot == model.all_time
    assert model.pot == model.pdot + model.pbt
    assert model.pbt == model.apt + model.aust + model.adet + model.adot


def one(log: Log, minutes: float = 60, **options: object) -> TimeModel:
    table = time_models(log.events, [window(T0, minutes)], **options)  # type: ignore[arg-type]
    model = table.model(0)
    assert_partition(model)
    return model


def test_time_before_the_first_state_and_after_the_horizon_is_no_data() -> None:
    log = Log().state(10, "executing").state(30, "failure")
    model = one(log, until=T0 + 40 * MIN)
    assert model.no_data == 10 * MIN + 20 * MIN
    assert (model.apt, model.adet) == (20 * MIN, 10 * MIN)
    assert model.completeness == pytest.approx(30 / 60)
    assert model.failures == 1
    assert model.restored == 0


def test_the_state_in_force_before_the_window_is_carried_in() -> None:
    log = Log().state(-500, "setup").state(30, "executing")
    model = one(log)
    assert (model.aust, model.apt, model.no_data) == (30 * MIN, 30 * MIN, timedelta(0))


def test_unmapped_codes_are_counted_and_reported() -> None:
    log = Log().state(0, "executing").state(20, "E-4711", "hydraulics").state(35, None)
    table = time_models(log.events, [window(T0, 60)])
    model = table.model(0)
    assert_partition(model)
    assert model.unmapped == 40 * MIN
    assert model.completeness == pytest.approx(20 / 60)
    found = {f.detail["code"]: f.detail["seconds"] for f in table.findings if f.detail}
    assert found == {"E-4711": 900.0, "(none)": 1500.0}
    assert all(f.key == "mapping.unmapped_code" and f.path == PRESS for f in table.findings)


def test_mapping_overrides_per_site_and_type() -> None:
    machine_type = {"cnc": "cnc", "press": "press"}
    cleaning = StateRule(Element.PDOT, note="this plant plans cleaning")
    table = MappingTable(
        DEFAULT_MAPPING,
        types={"press": MappingOverride(codes={"E-4711": StateRule(Element.ADET, failure=True)})},
        sites={"acme/berlin": MappingOverride(ranges=(CodeRange(110_000, 130_000, cleaning),))},
    )
    press = table.for_machine(PRESS, machine_type["press"])
    assert press.rule("E-4711") == StateRule(Element.ADET, failure=True)
    assert press.rule("110000") == cleaning
    assert table.for_machine("acme/austin/a/l/m", "cnc").rule("110000") == StateRule(Element.AUST)
    log = Log().state(0, "E-4711").state(10, "115000").state(20, "executing")
    model = one(log, mapping=lambda p: table.for_machine(p, "press"))
    assert (model.adet, model.failure, model.pdot) == (10 * MIN, 10 * MIN, 10 * MIN)


def test_opc_machinery_and_umh_codes() -> None:
    log = (
        Log()
        .state(0, "Executing/Processing")
        .state(10, "NotExecuting/Setup")
        .state(20, "OutOfService")
        .state(25, "180017")  # UMH equipment failure, sub-reason 17
        .state(30, "Executing/Maintenance")
        .state(35, "170000")
        .state(40, "NotAvailable")
        .state(50, "10000")
    )
    model = one(log)
    assert model.apt == 20 * MIN
    assert model.aust == 10 * MIN
    assert model.adet == model.failure == 10 * MIN
    assert model.failures == 1  # touching failure states are one failure event
    assert model.pdot == 5 * MIN
    assert model.adot == 5 * MIN
    assert model.no_data == 10 * MIN


@pytest.mark.parametrize(
    ("stop", "element"),
    [(timedelta(seconds=90), Element.APT), (timedelta(seconds=150), Element.ADET)],
)
def test_micro_stops_below_the_threshold_stay_in_production_time(
    stop: timedelta, element: Element
) -> None:
    minutes = stop / MIN
    log = Log().state(0, "executing").state(10, "micro_stop").state(10 + minutes, "executing")
    model = one(log)
    if element is Element.APT:
        assert (model.apt, model.minor_stops, model.adet) == (60 * MIN, stop, timedelta(0))
    else:
        assert (model.adet, model.minor_stops) == (stop, timedelta(0))


def test_a_micro_stop_run_is_judged_as_a_whole_across_windows() -> None:
    # 90 s + 60 s of consecutive micro-stop events straddling a window boundary: 150 s > 120 s.
    log = Log().state(0, "executing").state(58.5, "micro_stop").state(60, "micro_stop")
    log.state(61, "executing")
    table = time_models(log.events, [window(T0, 60, "a"), window(T0 + 60 * MIN, 60, "b")])
    first, second = table.model(0), table.model(1)
    assert first.adet == 90 * timedelta(seconds=1)
    assert second.adet == MIN
    pareto = downtime_pareto(table)
    assert [(r.code, r.occurrences) for r in pareto] == [("micro_stop", 1)]


def test_the_micro_stop_threshold_is_data() -> None:
    strict = DEFAULT_MAPPING.overlay(MappingOverride(micro_stop=timedelta(0)))
    log = Log().state(0, "executing").state(10, "micro_stop").state(11, "executing")
    assert one(log, mapping=strict).adet == MIN
    assert one(log).adet == timedelta(0)


def test_overlapping_reason_entries_never_double_count() -> None:
    # The machine says failure 10–40; the MES logs overlapping entries: a changeover 5–30, a
    # break 20–25, and a second failure record 15–50 — negative availability elsewhere (OEE-
    # Designer #9), here every minute lands exactly once.
    log = Log().state(0, "executing").state(10, "failure", "hydraulics").state(40, "executing")
    entries = [
        ReasonEntry(PRESS, T0 + 5 * MIN, T0 + 30 * MIN, "setup", "changeover"),
        ReasonEntry(PRESS, T0 + 20 * MIN, T0 + 25 * MIN, "break", "lunch"),
        ReasonEntry(PRESS, T0 + 15 * MIN, T0 + 50 * MIN, "failure", "valve"),
    ]
    table = time_models(log.events, [window(T0, 60)], entries=entries)
    model = table.model(0)
    assert_partition(model)
    # Precedence: APT > PDOT > ADET > AUST. Production 0–10 and 50–60 (machine says executing
    # 40–60, but the failure entry claims 40–50: production outranks it).
    assert model.apt == 30 * MIN
    assert model.pdot == 5 * MIN
    assert model.adet == 25 * MIN
    assert model.aust == timedelta(0)
    reasons = {(r.code, r.reason): r.duration for r in downtime_pareto(table)}
    # Equal elements go to the more specific source: the manual failure record 15–40 (minus
    # the break), the machine's own record 10–15.
    assert reasons == {("failure", "valve"): 20 * MIN, ("failure", "hydraulics"): 5 * MIN}


def test_reason_only_entries_classify_stops_later() -> None:
    log = Log().state(0, "executing").state(10, "failure").state(40, "executing")
    entries = [
        ReasonEntry(PRESS, T0 + 10 * MIN, T0 + 25 * MIN, reason="tool breakage"),
        ReasonEntry(PRESS, T0 + 20 * MIN, T0 + 40 * MIN, reason="waiting for fitter"),
    ]
    table = time_models(log.events, [window(T0, 60)], entries=entries)
    assert table.model(0).adet == 30 * MIN
    reasons = {r.reason: r.duration for r in downtime_pareto(table)}
    assert reasons == {"tool breakage": 10 * MIN, "waiting for fitter": 20 * MIN}


def test_same_instant_events_resolve_by_precedence_not_by_order() -> None:
    a = Log().state(0, "executing").state(10, "failure").state(10, "executing")
    b = Log().state(0, "executing").state(10, "executing").state(10, "failure")
    assert one(a) == one(b)
    assert one(a).apt == 60 * MIN


def calendar_with_break() -> PlantCalendar:
    # 07:00–15:00 Berlin = 06:00–14:00 UTC on 2026-03-02, a break 08:00–08:30 local.
    return PlantCalendar(
        "Europe/Berlin",
        (Shift("early", time(7), time(15), breaks=(Break(time(8), time(8, 30)),)),),
    )


def test_a_failure_during_a_planned_break_is_no_availability_loss() -> None:
    calendar = calendar_with_break()
    log = Log().state(0, "executing").state(50, "failure").state(100, "executing")
    model = one(log, 480, calendar=calendar)
    assert model.pdot == 30 * MIN
    assert model.adet == 20 * MIN
    assert model.failures == 1
    assert model.restoration == 50 * MIN


def test_a_break_overrun_is_unplanned_when_the_calendar_decides() -> None:
    calendar = calendar_with_break()
    log = Log().state(0, "executing").state(60, "break").state(100, "executing")
    trusting = one(log, 480, calendar=calendar)
    assert (trusting.pdot, trusting.adet) == (40 * MIN, timedelta(0))
    strict = one(log, 480, calendar=calendar, plan=PlanSource.CALENDAR)
    assert (strict.pdot, strict.adet) == (30 * MIN, 10 * MIN)
    states_only = one(log, 480, calendar=calendar, plan=PlanSource.STATES)
    assert states_only.pdot == 40 * MIN


def test_production_outside_the_plan_is_production_and_reported() -> None:
    calendar = calendar_with_break()
    log = Log().state(-60, "executing").state(0, "executing")
    table = time_models(
        log.events, [window(T0 - 60 * MIN, 60 * 10)], calendar=calendar, until=T0 + 9 * 60 * MIN
    )
    model = table.model(0)
    assert_partition(model)
    assert model.outside_plan == 60 * MIN + 30 * MIN + 60 * MIN  # before, break, after
    assert model.not_scheduled == timedelta(0)
    assert any(f.key == "calendar.production_outside_plan" for f in table.findings)


def test_no_shift_time_is_not_scheduled() -> None:
    log = Log().state(0, "executing").state(30, "no_shift")
    model = one(log)
    assert model.not_scheduled == 30 * MIN
    assert kpis(model).utilization == pytest.approx(0.5)


def test_counts_go_to_the_window_of_their_timestamp_and_products_carry_over() -> None:
    log = (
        Log()
        .product(-5, "A")
        .state(0, "executing")
        .count(30, good=10)
        .count(59.99, good=5, scrap=1)
        .count(60, good=7)
        .product(70, "B")
        .count(80, good=3, rework=1)
    )
    table = time_models(
        log.events,
        [window(T0, 60, "a"), window(T0 + 60 * MIN, 60, "b")],
        ideal=ideal_cycles({"A": timedelta(seconds=30)}),
    )
    a, b = table.model(0), table.model(1)
    assert (a.pq, a.gq, a.sq) == (16, 15, 1)
    assert a.ideal == 16 * timedelta(seconds=30)
    assert (b.pq, b.gq, b.rq, b.unpriced) == (11, 10, 1, 4)
    assert kpis(b).effectiveness is None
    missing = [f for f in table.findings if f.key == "master_data.missing_ideal_cycle_time"]
    assert [(f.window, f.detail) for f in missing] == [("b", {"products": "B"})]


def test_effectiveness_over_100_percent_is_a_master_data_warning() -> None:
    log = Log().state(0, "executing").count(30, good=200)
    table = time_models(log.events, [window(T0, 60)], ideal=PRI)
    (result,) = results(table)
    assert result.kpis.effectiveness == pytest.approx(200 * 30 / 3600)
    keys = [f.key for f in result.findings]
    assert keys == ["master_data.effectiveness_over_100"]
    assert kpi_findings(TimeModel()) == []


def test_scrap_corrections_and_negative_quantities() -> None:
    log = Log().state(0, "executing").count(10, good=100).count(20, good=-5, scrap=5)
    model = one(log, ideal=PRI)
    assert (model.pq, model.gq, model.sq) == (100, 95, 5)
    bad = Log().state(0, "executing").count(10, good=3).count(20, good=-5, scrap=5)
    table = time_models(bad.events, [window(T0, 60)], ideal=PRI)
    k = kpis(table.model(0))
    assert k.quality_ratio is None
    assert k.scrap_ratio is None
    assert k.oee is None
    assert [f.key for f in table.findings] == ["counts.negative_quantity"]


def test_undefined_kpis_are_none() -> None:
    k = kpis(TimeModel())
    assert all(value is None for value in k.as_dict().values())
    idle = kpis(TimeModel(all_time=60 * MIN, adot=60 * MIN))
    assert idle.availability == 0.0
    assert idle.effectiveness is None
    assert idle.quality_ratio is None
    assert idle.oee is None
    assert idle.mtbf is None
    assert idle.mttr is None


def test_failure_events_merge_within_the_merge_gap() -> None:
    log = (
        Log()
        .state(0, "executing")
        .state(10, "failure")
        .state(12, "executing")
        .state(12.5, "failure")
        .state(20, "executing")
    )
    assert one(log).failures == 2
    merging = DEFAULT_MAPPING.overlay(MappingOverride(failure_merge=MIN))
    merged = one(log, mapping=merging)
    assert merged.failures == 1
    assert merged.restoration == 10 * MIN
    assert merged.failure == 9.5 * MIN


def test_startup_rejects_follow_a_setup() -> None:
    log = (
        Log()
        .state(0, "setup")
        .state(10, "executing")
        .count(12, good=5, scrap=3, product="A")
        .count(40, good=5, scrap=2, product="A")
    )
    model = one(log, ideal=PRI, startup=5 * MIN)
    assert model.startup_rejects == 3
    assert model.ideal_startup == 3 * timedelta(seconds=30)


def test_arrow_tables_and_events_give_the_same_result() -> None:
    log = Log().state(0, "executing").state(10, "failure").count(5, good=3, product="A")
    batch = events_to_batch(log.events)
    w = [window(T0, 60)]
    assert time_models(batch, w).model(0) == time_models(log.events, w).model(0)


def test_machines_without_events_are_all_no_data() -> None:
    table = time_models([], [window(T0, 60)], paths=[PRESS])
    assert table.model(0).no_data == 60 * MIN


def test_bad_windows_and_entries_are_refused() -> None:
    w = window(T0, 60)
    with pytest.raises(InvalidInput):
        time_models([], [w, w])
    with pytest.raises(InvalidInput):
        time_models([], [])
    with pytest.raises(InvalidInput):
        time_models([], [w], entries=[ReasonEntry(PRESS, T0 + MIN, T0)])


def test_windows_from_the_calendar() -> None:
    calendar = calendar_with_break()
    start = datetime(2026, 3, 2, tzinfo=UTC)
    windows = calendar.windows(Granularity.SHIFT, start, start + timedelta(days=1), gaps=True)
    # A machine that does not know the break idles through it: the calendar's PDOT wins.
    log = Log().state(-400, "no_shift").state(0, "executing").state(60, "no_order")
    log.state(90, "executing").state(480, "no_shift")
    table = time_models(log.events, windows, calendar=calendar, until=start + timedelta(days=1))
    by_label = {w.label: m for _, w, m in table.rows()}
    early = by_label["2026-03-02 early"]
    assert (early.apt, early.pdot) == (450 * MIN, 30 * MIN)
    gaps = [m for label, m in by_label.items() if "no shift" in label]
    assert all(m.not_scheduled == m.all_time for m in gaps)


@pytest.mark.parametrize(
    ("tz", "night_of", "hours"),
    [
        ("Europe/Berlin", "2026-03-28", 7),
        ("Europe/Berlin", "2026-10-24", 9),
        ("America/Chicago", "2026-03-07", 7),
        ("America/Chicago", "2026-10-31", 9),
    ],
)
def test_a_dst_night_shift_has_its_real_length_in_the_time_model(
    tz: str, night_of: str, hours: int
) -> None:
    every_day = frozenset(range(7))
    calendar = PlantCalendar(
        tz,
        (
            Shift("day", time(6), time(22), every_day),
            Shift("night", time(22), time(6), every_day, (Break(time(2), time(2, 30)),)),
        ),
        day_start=time(6),
    )
    day = calendar.day(datetime.fromisoformat(night_of).date())
    windows = calendar.windows(Granularity.SHIFT, day.start, day.end)
    log = Log(start=day.start).state(-1, "executing")
    table = time_models(log.events, windows, calendar=calendar, until=day.end)
    night = {w.shift: m for _, w, m in table.rows()}["night"]
    assert night.all_time == timedelta(hours=hours)
    # The machine runs through the break: production outranks the plan, and it is reported.
    assert night.apt == timedelta(hours=hours)
    assert night.outside_plan == 30 * MIN
    assert table.total().all_time == day.duration
