"""Calendars: windows in plant time, DST days of 23 and 25 hours, shifts, breaks, holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

import pytest

from tests.kpi.plant import three_shifts
from werk.errors import ConfigError
from werk.kpi import (
    Break,
    Element,
    Granularity,
    Holiday,
    Maintenance,
    PlantCalendar,
    Shift,
)

HOUR = timedelta(hours=1)
ALL_WEEK = frozenset(range(7))


def every_day(tz: str, day_start: time = time(0)) -> PlantCalendar:
    return PlantCalendar(
        tz,
        (
            Shift("early", time(6), time(14), ALL_WEEK, (Break(time(10), time(10, 30)),)),
            Shift("late", time(14), time(22), ALL_WEEK),
            Shift("night", time(22), time(6), ALL_WEEK, (Break(time(2), time(2, 30)),)),
        ),
        day_start=day_start,
    )


@pytest.mark.parametrize(
    ("tz", "day", "hours"),
    [
        ("Europe/Berlin", date(2026, 3, 29), 23),
        ("Europe/Berlin", date(2026, 10, 25), 25),
        ("Europe/Berlin", date(2026, 3, 30), 24),
        ("America/Chicago", date(2026, 3, 8), 23),
        ("America/Chicago", date(2026, 11, 1), 25),
        ("America/Chicago", date(2026, 7, 1), 24),
        ("UTC", date(2026, 3, 29), 24),
    ],
)
def test_a_production_day_follows_dst(tz: str, day: date, hours: int) -> None:
    window = every_day(tz).day(day)
    assert window.duration == hours * HOUR
    assert window.label == day.isoformat()
    local = window.start.astimezone(every_day(tz).zone)
    assert (local.date(), local.time()) == (day, time(0))


@pytest.mark.parametrize(
    ("tz", "night_of", "hours"),
    [
        ("Europe/Berlin", date(2026, 3, 28), 7),
        ("Europe/Berlin", date(2026, 10, 24), 9),
        ("America/Chicago", date(2026, 3, 7), 7),
        ("America/Chicago", date(2026, 10, 31), 9),
        ("America/Chicago", date(2026, 10, 30), 8),
    ],
)
def test_a_night_shift_across_a_dst_change(tz: str, night_of: date, hours: int) -> None:
    calendar = every_day(tz, day_start=time(6))
    day = calendar.day(night_of)
    shifts = calendar.windows(Granularity.SHIFT, day.start, day.end)
    night = [w for w in shifts if w.shift == "night"]
    assert len(night) == 1
    assert night[0].duration == hours * HOUR
    assert night[0].label == f"{night_of.isoformat()} night"
    assert night[0].day == night_of
    # With day_start 06:00 the three shifts tile the production day, DST or not.
    assert [w.shift for w in shifts] == ["early", "late", "night"]
    assert sum((w.duration for w in shifts), timedelta(0)) == day.duration


@pytest.mark.parametrize("tz", ["Europe/Berlin", "America/Chicago"])
@pytest.mark.parametrize("day_start", [time(0), time(6)])
def test_shift_windows_with_gaps_partition_the_days(tz: str, day_start: time) -> None:
    calendar = three_shifts(tz, day_start=day_start)  # Monday to Friday only
    start = calendar.day(date(2026, 3, 1)).start
    end = calendar.day(date(2026, 3, 31)).end
    windows = calendar.windows(Granularity.SHIFT, start, end, gaps=True)
    for a, b in pairwise(windows):
        assert a.end == b.start
    days = calendar.windows(Granularity.DAY, start, end)
    assert len(days) == 31
    assert windows[0].start == days[0].start
    if day_start == time(0):
        # The Tuesday night shift crosses midnight, the production day start.
        assert windows[-1].label == "2026-03-31 night"
        assert windows[-1].end > days[-1].end
    else:
        assert windows[-1].end == days[-1].end
        # No shift crosses the production day start: every window lies in its day.
        for w in windows:
            d = calendar.day(w.day)
            assert d.start <= w.start
            assert w.end <= d.end
    gaps = [w for w in windows if w.shift is None]
    assert gaps
    assert all("no shift" in w.label for w in gaps)


def test_week_and_month_windows_are_in_plant_time() -> None:
    calendar = every_day("Europe/Berlin")
    week = calendar.week(date(2026, 3, 29))
    assert week.label == "2026-W13"
    assert week.day == date(2026, 3, 23)  # Monday
    assert week.duration == 7 * 24 * HOUR - HOUR
    assert week.start == datetime(2026, 3, 22, 23, tzinfo=UTC)
    march = calendar.month(date(2026, 3, 15))
    assert march.label == "2026-03"
    assert march.duration == 31 * 24 * HOUR - HOUR
    october = calendar.month(date(2026, 10, 2))
    assert october.duration == 31 * 24 * HOUR + HOUR
    weeks = calendar.windows(Granularity.WEEK, march.start, march.end)
    assert [w.label for w in weeks] == [f"2026-W{n:02d}" for n in range(9, 15)]
    assert calendar.windows(Granularity.MONTH, march.start, march.end) == [march]


def test_week_labels_follow_iso_years() -> None:
    calendar = every_day("Europe/Berlin")
    assert calendar.week(date(2027, 1, 1)).label == "2026-W53"
    assert calendar.week(date(2027, 1, 4)).label == "2027-W01"


def test_holidays_remove_the_shifts_of_their_day() -> None:
    calendar = PlantCalendar(
        "Europe/Berlin",
        every_day("Europe/Berlin").shifts,
        holidays=(Holiday(date(2026, 5, 1), "Labour Day"),),
    )
    day = calendar.day(date(2026, 5, 1))
    shifts = calendar.windows(Granularity.SHIFT, day.start, day.end)
    # Only the night shift of April 30 reaches into May 1.
    assert [w.label for w in shifts] == ["2026-04-30 night"]
    planned = calendar.planned(day.start, day.end)
    holiday = [p for p in planned if p.code == "holiday"]
    assert holiday
    assert holiday[0].reason == "Labour Day"
    assert all(p.element is Element.NOT_SCHEDULED for p in holiday)


def test_planned_layer_has_breaks_and_scoped_maintenance_inside_shifts() -> None:
    tz = "Europe/Berlin"
    base = three_shifts(tz)
    maintenance = Maintenance(
        datetime(2026, 3, 6, 20, tzinfo=UTC),  # Friday 21:00 local, into the weekend
        datetime(2026, 3, 7, 8, tzinfo=UTC),
        scope="acme/berlin/body/line-1",
        name="press overhaul",
    )
    calendar = PlantCalendar(tz, base.shifts, maintenance=(maintenance,), day_start=time(6))
    start, end = datetime(2026, 3, 6, 5, tzinfo=UTC), datetime(2026, 3, 7, 9, tzinfo=UTC)
    on_line = calendar.planned(start, end, "acme/berlin/body/line-1/press-01")
    elsewhere = calendar.planned(start, end, "acme/berlin/body/line-2/press-01")
    mine = [p for p in on_line if p.code == "planned_maintenance"]
    # Only the part inside shifts is PDOT: Friday 21:00 to Saturday 06:00 local.
    assert [(p.start, p.end, p.reason) for p in mine] == [
        (
            datetime(2026, 3, 6, 20, tzinfo=UTC),
            datetime(2026, 3, 7, 5, tzinfo=UTC),
            "press overhaul",
        )
    ]
    assert not [p for p in elsewhere if p.code == "planned_maintenance"]
    breaks = [p for p in elsewhere if p.code == "break"]
    assert [p.start.astimezone(calendar.zone).time() for p in breaks] == [
        time(10),
        time(18),
        time(2),
    ]
    no_shift = [p for p in elsewhere if p.code == "no_shift"]
    assert no_shift[-1].end == end
    assert no_shift[-1].start == datetime(2026, 3, 7, 5, tzinfo=UTC)


def test_window_at_finds_shifts_and_gaps() -> None:
    calendar = three_shifts("Europe/Berlin")
    saturday = datetime(2026, 3, 7, 12, tzinfo=UTC)
    gap = calendar.window_at(Granularity.SHIFT, saturday)
    assert gap is not None
    assert gap.shift is None
    assert gap.contains(saturday)
    assert calendar.window_at(Granularity.SHIFT, saturday, gaps=False) is None
    monday = datetime(2026, 3, 2, 12, tzinfo=UTC)  # 13:00 local
    early = calendar.window_at(Granularity.SHIFT, monday)
    assert early is not None
    assert early.label == "2026-03-02 early"
    day = calendar.window_at(Granularity.DAY, datetime(2026, 3, 2, 4, tzinfo=UTC))
    assert day is not None
    assert day.label == "2026-03-01"


def test_a_local_time_skipped_by_dst_moves_forward() -> None:
    calendar = PlantCalendar("Europe/Berlin", (Shift("odd", time(2, 30), time(10, 30), ALL_WEEK),))
    day = calendar.day(date(2026, 3, 29))
    (odd,) = calendar.windows(Granularity.SHIFT, day.start, day.end)
    assert odd.start == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST
    assert odd.duration == 7 * HOUR


def test_range_windows() -> None:
    calendar = every_day("Europe/Berlin")
    start, end = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)
    (whole,) = calendar.windows(Granularity.RANGE, start, end)
    assert (whole.start, whole.end, whole.by) == (start, end, Granularity.RANGE)
    assert calendar.windows(Granularity.DAY, end, start) == []


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: PlantCalendar("Mars/Olympus"), "tz"),
        (
            lambda: PlantCalendar(
                "UTC", (Shift("a", time(6), time(14)), Shift("b", time(13), time(20)))
            ),
            "shifts",
        ),
        (
            lambda: PlantCalendar(
                "UTC", (Shift("a", time(6), time(14), breaks=(Break(time(13), time(15)),)),)
            ),
            "breaks",
        ),
        (lambda: PlantCalendar("UTC", (Shift("a", time(6), time(14), frozenset({7})),)), "days"),
        (
            lambda: PlantCalendar(
                "UTC", (Shift("a", time(22), time(6)), Shift("b", time(5), time(8)))
            ),
            "shifts",
        ),
    ],
)
def test_impossible_calendars_are_refused(make: object, field: str) -> None:
    assert callable(make)
    with pytest.raises(ConfigError) as caught:
        make()
    assert caught.value.fields["field"] == field
