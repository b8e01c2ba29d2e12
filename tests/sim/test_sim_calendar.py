"""Shift calendars follow the wall clock: DST days have 23 or 25 hours of shifts."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from werk.samples import to_ns
from werk.sim.calendar import (
    BreakPattern,
    CalendarWindow,
    MaintenancePattern,
    ShiftPattern,
    SiteCalendar,
    WindowKind,
)
from werk.sim.view import MachineState

EVERY_DAY = frozenset(range(7))
BERLIN = ZoneInfo("Europe/Berlin")


def _three_shifts(
    holidays: Sequence[date] = (), maintenance: Sequence[MaintenancePattern] = ()
) -> SiteCalendar:
    lunch = BreakPattern("lunch", timedelta(hours=4), timedelta(minutes=30))
    return SiteCalendar(
        "Europe/Berlin",
        [
            ShiftPattern("early", time(6), timedelta(hours=8), EVERY_DAY, (lunch,)),
            ShiftPattern("late", time(14), timedelta(hours=8), EVERY_DAY),
            ShiftPattern("night", time(22), timedelta(hours=8), EVERY_DAY),
        ],
        holidays=holidays,
        maintenance=maintenance,
    )


def _local_day(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=BERLIN).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=BERLIN).astimezone(UTC)
    return start, end


def _shift_time_in(windows: list[CalendarWindow], start: datetime, end: datetime) -> timedelta:
    total = timedelta(0)
    for w in windows:
        if w.kind is WindowKind.SHIFT:
            total += max(timedelta(0), min(w.end, end) - max(w.start, start))
    return total


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25), (date(2026, 6, 1), 24)],
)
def test_a_24_7_pattern_covers_the_whole_local_day(day: date, hours: int) -> None:
    calendar = _three_shifts()
    start, end = _local_day(day)
    assert end - start == timedelta(hours=hours)
    assert _shift_time_in(calendar.windows(start, end), start, end) == timedelta(hours=hours)


@pytest.mark.parametrize(
    ("night_of", "hours"), [(date(2026, 3, 28), 7), (date(2026, 10, 24), 9), (date(2026, 6, 1), 8)]
)
def test_the_night_shift_across_a_dst_change_is_shorter_or_longer(
    night_of: date, hours: int
) -> None:
    calendar = _three_shifts()
    start, end = _local_day(night_of)
    nights = [
        w
        for w in calendar.windows(start, end + timedelta(days=1))
        if w.name == "night" and w.local_date == night_of
    ]
    assert len(nights) == 1
    assert nights[0].end - nights[0].start == timedelta(hours=hours)
    assert nights[0].label == f"{night_of.isoformat()} night"
    assert nights[0].end.astimezone(BERLIN).time() == time(6)


def test_day_shifts_keep_their_length_on_a_dst_day() -> None:
    calendar = SiteCalendar(
        "Europe/Berlin",
        [
            ShiftPattern("early", time(6), timedelta(hours=8), EVERY_DAY),
            ShiftPattern("late", time(14), timedelta(hours=8), EVERY_DAY),
        ],
    )
    start, end = _local_day(date(2026, 3, 29))
    assert _shift_time_in(calendar.windows(start, end), start, end) == timedelta(hours=16)


def test_holidays_cancel_the_shifts_that_start_on_them() -> None:
    holiday = date(2026, 5, 1)
    calendar = _three_shifts(holidays=[holiday])
    start, end = _local_day(holiday)
    windows = calendar.windows(start, end)
    assert not [w for w in windows if w.kind is WindowKind.SHIFT and w.local_date == holiday]
    # The night shift begun the evening before still runs into the holiday.
    assert _shift_time_in(windows, start, end) == timedelta(hours=6)
    segments = calendar.segments(to_ns(start) // 10**6, to_ns(end) // 10**6)
    assert segments[-1].state is MachineState.NO_SHIFT
    assert segments[-1].reason == "holiday"


def test_segments_cover_time_without_gaps_and_put_maintenance_first() -> None:
    calendar = _three_shifts(
        maintenance=[MaintenancePattern("weekly", time(12), timedelta(hours=2), frozenset({0}))]
    )
    start, end = _local_day(date(2026, 3, 2))  # a Monday
    a, b = to_ns(start) // 10**6, to_ns(end) // 10**6
    segments = calendar.segments(a, b)
    assert segments[0].start_ms == a
    assert segments[-1].end_ms == b
    assert all(x.end_ms == y.start_ms for x, y in itertools.pairwise(segments))
    assert all(x.state != y.state or x.reason != y.reason for x, y in itertools.pairwise(segments))
    by_state = {(s.state, s.reason): s for s in segments}
    maintenance = by_state[(MachineState.PLANNED_MAINTENANCE, "weekly")]
    assert maintenance.end_ms - maintenance.start_ms == 2 * 3_600_000
    lunch = by_state[(MachineState.BREAK, "lunch")]
    assert lunch.end_ms - lunch.start_ms == 30 * 60_000
