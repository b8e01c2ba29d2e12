"""Recomputation: a late event touches exactly the windows whose KPIs it changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.kpi.plant import PRESS, Log, three_shifts
from werk.errors import InvalidInput
from werk.kpi import (
    DEFAULT_MAPPING,
    Granularity,
    MappingOverride,
    StateMapping,
    Timeline,
    TimeModelTable,
    event_span,
    ideal_cycles,
    impact,
    results,
    revise,
    time_models,
)
from werk.samples import Event, EventKind

CALENDAR = three_shifts("Europe/Berlin")
MONDAY = CALENDAR.day(date(2026, 3, 2)).start  # 06:00 local
END = CALENDAR.day(date(2026, 3, 4)).end
WINDOWS = CALENDAR.windows(Granularity.SHIFT, MONDAY, END, gaps=True)
PRI = ideal_cycles({"A": timedelta(seconds=40)})
MIN = timedelta(minutes=1)


def base_log() -> Log:
    log = Log(start=MONDAY).product(-10, "A").state(-10, "executing")
    for hour in range(0, 3 * 24, 3):
        minute = hour * 60
        log.state(minute + 37, "failure", "jam").state(minute + 49, "executing")
        log.state(minute + 100, "micro_stop").state(minute + 101.5, "executing")
        log.count(minute + 20, good=30, scrap=1)
    return log


def compute(events: list[Event], mapping: StateMapping = DEFAULT_MAPPING) -> TimeModelTable:
    return time_models(
        events,
        WINDOWS,
        calendar=CALENDAR,
        ideal=PRI,
        until=END,
        paths=[PRESS],
        mapping=mapping,
        startup=10 * MIN,
    )


def changed(before: TimeModelTable, after: TimeModelTable) -> set[str]:
    out = set()
    for i in range(len(before)):
        if before.model(i) != after.model(i) or _breakdown(before, i) != _breakdown(after, i):
            out.add(before.window(i).label)
    return out


def _breakdown(table: TimeModelTable, row: int) -> list[tuple[int, int, str, int, int]]:
    b = table.breakdown
    return sorted(
        (
            int(b.element[k]),
            int(b.source[k]),
            b.codes[int(b.code[k])],
            int(b.duration[k]),
            int(b.occurrences[k]),
        )
        for k in range(len(b))
        if int(b.row[k]) == row
    )


@pytest.mark.parametrize("hours_in", [1, 7.9, 9, 17, 23.5, 30])
def test_late_scrap_touches_exactly_its_shift(hours_in: float) -> None:
    log = base_log()
    before = compute(log.events)
    made = MONDAY + timedelta(hours=hours_in)
    late = Event(PRESS, made, EventKind.COUNT, product="A", good=-4, scrap=4)
    after = compute([*log.events, late])
    touched = impact(CALENDAR, late, by=[Granularity.SHIFT])
    assert changed(before, after) == {w.label for w in touched}
    (shift,) = touched
    assert shift.contains(made)
    # And at every granularity: one window each, the ones containing the production time.
    everything = impact(CALENDAR, late)
    assert [w.by for w in everything] == [
        Granularity.SHIFT,
        Granularity.DAY,
        Granularity.WEEK,
        Granularity.MONTH,
    ]
    assert all(w.contains(made) for w in everything)


def test_only_the_touched_results_get_a_new_version() -> None:
    log = base_log()
    old = results(compute(log.events))
    late = Event(PRESS, MONDAY + timedelta(hours=9), EventKind.COUNT, good=-2, scrap=2)
    new = results(compute([*log.events, late]))
    revised = [revise(o, n) for o, n in zip(old, new, strict=True)]
    bumped = {r.window.label for r in revised if r.version == 2}
    assert bumped == {w.label for w in impact(CALENDAR, late, by=[Granularity.SHIFT])}
    assert all(r.version == 1 for r in revised if r.window.label not in bumped)
    assert revise(None, new[0]).version == 1
    final = replace(new[0], final=True)
    assert revise(old[0], final).final


@st.composite
def late_state(draw: st.DrawFn) -> tuple[list[Event], Event, StateMapping]:
    codes = ["executing", "micro_stop", "failure", "setup", "starved", "break", "X-1"]
    events = []
    minute = draw(st.integers(-30, 30))
    for _ in range(draw(st.integers(0, 30))):
        events.append(
            Event(PRESS, MONDAY + minute * MIN, EventKind.STATE, draw(st.sampled_from(codes)))
        )
        minute += draw(st.sampled_from([1, 2, 3, 30, 200, 500]))
    at = MONDAY + draw(st.integers(-20, 2 * 24 * 60)) * MIN
    events.append(Event(PRESS, at, EventKind.COUNT, product="A", good=5, scrap=1))
    events.append(Event(PRESS, at + 3 * MIN, EventKind.COUNT, product="A", good=3))
    late = Event(PRESS, at, EventKind.STATE, draw(st.sampled_from(codes)))
    merge = draw(st.sampled_from([timedelta(0), 5 * MIN]))
    return events, late, DEFAULT_MAPPING.overlay(MappingOverride(failure_merge=merge))


@settings(max_examples=120, deadline=None)
@given(late_state())
def test_a_late_state_event_changes_nothing_outside_its_impact(
    case: tuple[list[Event], Event, StateMapping],
) -> None:
    events, late, mapping = case
    before = compute(events, mapping)
    after = compute([*events, late], mapping)
    timeline = Timeline.of(events)
    touched = impact(
        CALENDAR,
        late,
        timeline=timeline,
        mapping=mapping,
        by=[Granularity.SHIFT],
        until=END,
        startup=10 * MIN,
    )
    assert changed(before, after) <= {w.label for w in touched}


def test_a_late_state_event_between_two_changes_touches_only_its_span() -> None:
    log = base_log()
    timeline = Timeline.of(log.events)
    # A 30-min failure reported late inside a long run of production on Monday's late shift.
    late = Event(PRESS, MONDAY + timedelta(hours=10, minutes=5), EventKind.STATE, "failure")
    recovered = Event(PRESS, MONDAY + timedelta(hours=10, minutes=35), EventKind.STATE, "executing")
    start, end = event_span(late, timeline)
    assert start == MONDAY + timedelta(hours=9, minutes=49)  # the production run it interrupts
    assert end == MONDAY + timedelta(hours=10, minutes=40)  # the next change
    before = compute(log.events)
    after = compute([*log.events, late, recovered])
    touched = impact(CALENDAR, late, timeline=timeline, by=[Granularity.SHIFT])
    assert changed(before, after) == {w.label for w in touched} == {"2026-03-02 late"}


def test_a_state_that_holds_to_the_horizon_needs_the_horizon() -> None:
    last = Event(PRESS, END - MIN, EventKind.STATE, "failure")
    with pytest.raises(InvalidInput):
        impact(CALENDAR, last, timeline=Timeline.of(base_log().events))
    windows = impact(
        CALENDAR, last, timeline=Timeline.of(base_log().events), until=END, by=[Granularity.DAY]
    )
    assert [w.label for w in windows] == ["2026-03-04"]


def test_order_and_product_events_touch_until_the_next_one() -> None:
    log = Log(start=MONDAY).product(0, "A").product(600, "B")
    late = Event(PRESS, MONDAY + 60 * MIN, EventKind.PRODUCT, "C")
    start, end = event_span(late, Timeline.of(log.events, EventKind.PRODUCT))
    assert (start, end) == (MONDAY + 60 * MIN, MONDAY + 600 * MIN)
    alarm = Event(PRESS, MONDAY, EventKind.ALARM, "A-1", active=True)
    assert event_span(alarm) == (MONDAY, MONDAY)
    assert impact(CALENDAR, alarm) == []


def test_timeline_of_events() -> None:
    t = datetime(2026, 3, 2, tzinfo=UTC)
    events = [
        Event(PRESS, t + MIN, EventKind.STATE, "b"),
        Event(PRESS, t, EventKind.STATE, "a"),
        Event(PRESS, t, EventKind.COUNT, good=1),
    ]
    assert Timeline.of(events) == Timeline((t, t + MIN), ("a", "b"))
