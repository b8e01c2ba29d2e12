"""Bucket boundaries in a time zone: a slow zoneinfo reference, DST days, Hypothesis invariants."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from werk.errors import InvalidInput
from werk.samples import to_ns
from werk.store.buckets import (
    MAX_BUCKETS,
    bucket_edges,
    check_bucket,
    format_bucket,
    parse_bucket,
)

NS = 1_000_000_000
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",  # DST shifts by 30 minutes
    "Asia/Kolkata",  # +05:30, no DST
    "America/Sao_Paulo",  # had DST changes at midnight
    "Pacific/Apia",  # skipped 2011-12-30 entirely
]


def _instant(wall: datetime, tz: ZoneInfo) -> list[datetime]:
    """UTC instants at which local ``wall`` occurs; for a skipped time, the instant of the jump."""
    found = []
    for fold in (0, 1):
        u = wall.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        if u.astimezone(tz).replace(tzinfo=None) == wall:
            found.append(u)
    if found:
        return found
    # Skipped: the first instant whose local time is at or after ``wall``.
    lo = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    hi = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    lo, hi = min(lo, hi), max(lo, hi)
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return [hi.replace(microsecond=0)]


def reference_edges(start: datetime, end: datetime, width: timedelta, tz_name: str) -> list[int]:
    """Bucket edges the slow, obvious way: walk local days and wall-clock steps with zoneinfo."""
    tz = ZoneInfo(tz_name)
    seconds = int(width.total_seconds())
    first = (start.astimezone(tz) - width - timedelta(days=2)).date()
    last = (end.astimezone(tz) + width + timedelta(days=2)).date()
    walls: list[datetime] = []
    day = first
    while day <= last:
        midnight = datetime.combine(day, time())
        if seconds < 86_400:
            for k in range(math.ceil(86_400 / seconds)):
                walls.append(midnight + timedelta(seconds=k * seconds))
        elif (day - date(1970, 1, 5)).days % (seconds // 86_400) == 0:
            walls.append(midnight)
        day += timedelta(days=1)
    instants = sorted({to_ns(u) for w in walls for u in _instant(w, tz)})
    s, e = to_ns(start), to_ns(end)
    lo = max(i for i, x in enumerate(instants) if x <= s)
    hi = min(i for i, x in enumerate(instants) if x >= e)
    return instants[lo : hi + 1]


def edges_of(start: datetime, end: datetime, width: timedelta, tz: str) -> list[int]:
    return [int(x) for x in bucket_edges(to_ns(start), to_ns(end), width, tz)]


def local(ns: int, tz: str) -> datetime:
    return datetime.fromtimestamp(ns / NS, tz=ZoneInfo(tz))


# -- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "width"),
    [
        ("1s", timedelta(seconds=1)),
        ("30s", timedelta(seconds=30)),
        ("1m", timedelta(minutes=1)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        (" 8h ", timedelta(hours=8)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("7d", timedelta(weeks=1)),
    ],
)
def test_parse_bucket(text: str, width: timedelta) -> None:
    assert parse_bucket(text) == width
    assert parse_bucket(format_bucket(width)) == width


@pytest.mark.parametrize(
    "text", ["", "1", "m", "1.5h", "-1h", "1H", "1y", "0s", "2w", "36h", "1 h"]
)
def test_parse_bucket_refuses(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_bucket(text)
    assert caught.value.fields["field"] == "bucket"
    assert caught.value.message


def test_format_bucket() -> None:
    assert [format_bucket(parse_bucket(t)) for t in ("90s", "120s", "60m", "24h", "14d")[:4]] == [
        "90s",
        "2m",
        "1h",
        "1d",
    ]
    with pytest.raises(InvalidInput):
        check_bucket(timedelta(seconds=1, milliseconds=1))


# -- alignment ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "hours"),
    [("2026-03-29", 23), ("2026-10-25", 25), ("2026-07-01", 24)],
)
def test_berlin_day_bucket_length(day: str, hours: int) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    noon = datetime.fromisoformat(day).replace(hour=12, tzinfo=berlin)
    edges = edges_of(noon, noon + timedelta(minutes=1), timedelta(days=1), "Europe/Berlin")
    assert len(edges) == 2
    assert local(edges[0], "Europe/Berlin") == noon.replace(hour=0)
    assert (edges[1] - edges[0]) / NS / 3_600 == hours


def test_hour_buckets_on_dst_days_stay_one_hour() -> None:
    for day in ("2026-03-29", "2026-10-25"):
        start = datetime.fromisoformat(day).replace(tzinfo=ZoneInfo("Europe/Berlin"))
        edges = edges_of(start, start + timedelta(days=1), timedelta(hours=1), "Europe/Berlin")
        assert {b - a for a, b in pairwise(edges)} == {3_600 * NS}
        assert len(edges) - 1 == (23 if day.endswith("29") else 25)


def test_eight_hour_buckets_follow_the_wall_clock() -> None:
    berlin = "Europe/Berlin"
    start = datetime(2026, 3, 29, tzinfo=ZoneInfo(berlin))
    edges = edges_of(start, start + timedelta(hours=23), timedelta(hours=8), berlin)
    assert [local(e, berlin).hour for e in edges] == [0, 8, 16, 0]
    assert [(b - a) // (3_600 * NS) for a, b in pairwise(edges)] == [7, 8, 8]


def test_weeks_start_monday_and_buckets_may_start_before_the_range() -> None:
    start = datetime(2026, 3, 5, 15, tzinfo=UTC)  # a Thursday
    edges = edges_of(start, start + timedelta(days=20), timedelta(weeks=1), "Asia/Kolkata")
    days = [local(e, "Asia/Kolkata") for e in edges]
    assert all(d.weekday() == 0 and d.time() == time() for d in days)
    assert edges[0] < to_ns(start) < edges[1]


def test_minute_widths_that_do_not_divide_a_day_restart_at_midnight() -> None:
    start = datetime(2026, 1, 1, 23, 50, tzinfo=UTC)
    edges = edges_of(start, start + timedelta(minutes=20), timedelta(minutes=7), "UTC")
    assert [local(e, "UTC").strftime("%H:%M") for e in edges] == [
        "23:48",
        "23:55",  # cut short at midnight: 5 minutes
        "00:00",
        "00:07",
        "00:14",
    ]


def test_empty_range_and_limits() -> None:
    t = to_ns(datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC))
    assert len(bucket_edges(t, t, timedelta(minutes=1))) == 1
    with pytest.raises(InvalidInput) as caught:
        bucket_edges(0, 365 * 86_400 * NS, timedelta(seconds=1))
    assert caught.value.fields["field"] == "bucket"
    assert len(bucket_edges(0, MAX_BUCKETS * NS, timedelta(seconds=1))) == MAX_BUCKETS + 1
    with pytest.raises(InvalidInput) as end:
        bucket_edges(10, 5, timedelta(seconds=1))
    assert end.value.fields["field"] == "end"
    with pytest.raises(InvalidInput) as tz:
        bucket_edges(0, 10, timedelta(seconds=1), "Nowhere/City")
    assert tz.value.fields["field"] == "tz"


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize("width", ["1m", "15m", "1h", "7h", "8h", "1d", "2d", "1w"])
def test_matches_the_reference_around_transitions(tz: str, width: str) -> None:
    w = parse_bucket(width)
    days = 4 if w < timedelta(hours=1) else 40
    for center in (
        "2011-12-30",
        "2019-04-07",
        "2026-03-29",
        "2026-10-04",
        "2026-10-25",
        "2026-11-01",
    ):
        start = datetime.fromisoformat(center).replace(tzinfo=UTC) - timedelta(days=days / 2)
        end = start + timedelta(days=days, seconds=17)
        assert edges_of(start, end, w, tz) == reference_edges(start, end, w, tz), center


# -- invariants --------------------------------------------------------------------------------

INSTANTS = st.integers(
    min_value=to_ns(datetime(1990, 1, 1, tzinfo=UTC)),
    max_value=to_ns(datetime(2040, 1, 1, tzinfo=UTC)),
)
WIDTHS = st.sampled_from(["1s", "45s", "1m", "7m", "1h", "5h", "8h", "12h", "1d", "3d", "1w"])


@settings(max_examples=300, deadline=None)
@given(
    start=INSTANTS, span=st.integers(0, 40 * 86_400 * NS), width=WIDTHS, tz=st.sampled_from(ZONES)
)
def test_buckets_are_contiguous_and_cover_the_range(
    start: int, span: int, width: str, tz: str
) -> None:
    w = parse_bucket(width)
    span = min(span, int(w.total_seconds()) * NS * 5_000)
    end = start + span
    edges = [int(e) for e in bucket_edges(start, end, w, tz)]
    assert edges[0] <= start
    assert all(a < b for a, b in pairwise(edges))  # contiguous, no overlap, none empty
    if span:
        assert edges[-1] >= end
        assert edges[1] > start  # the first bucket holds the start
        assert edges[-2] < end  # the last bucket holds something of the range
        # No bucket is longer than its width plus the largest DST jump.
        assert max(b - a for a, b in pairwise(edges)) <= (w.total_seconds() + 2 * 3_600) * NS
    for e in edges:
        wall = local(e, tz)
        if w >= timedelta(days=1):
            # Local midnight, unless midnight was skipped (then the jump just after it).
            assert wall.time() == time() or wall.hour < 2
        if w == timedelta(weeks=1):
            assert wall.weekday() == 0
