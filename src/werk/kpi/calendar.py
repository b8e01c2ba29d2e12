"""Describe a plant's working time and cut shift, day, week and month windows in plant time.

Shifts, breaks, holidays and the production day are defined in the plant's local time (an IANA
zone, DST included); windows come out as UTC intervals with local labels, as ARCHITECTURE.md asks
("store UTC; compute shifts, days and weeks in the plant's own time zone"). A production day that
contains a DST change is 23 or 25 hours long, and so is a night shift across the change
(platforms.md §3, items 8–10: day windows in UTC, fixed offsets and query-relative splits are what
users of other platforms fight).

Conventions:

* A *production day* ``D`` runs from ``day_start`` on ``D`` to ``day_start`` on ``D + 1`` (local).
  Every shift belongs to one production day and starts inside it: a shift whose start time is
  earlier than ``day_start`` starts on the next calendar date (with ``day_start`` 06:00, the
  ``00:00–06:00`` shift of production day Monday starts on Tuesday).
* ``Shift.days`` are weekdays of the production day (0 Monday … 6 Sunday); a holiday removes every
  shift of its production day.
* A shift whose end is not after its start crosses midnight; ``end == start`` is a 24-hour shift.
* A local time that does not exist (the hour skipped in spring) is read with the offset before the
  change, i.e. it moves forward by the gap; an ambiguous local time (the hour repeated in autumn)
  is its first occurrence.
* Weeks start on Monday (ISO 8601 weeks, labelled ``2026-W13``); months start on the 1st.
* Shift windows may include *gap* windows (``shift is None``) for the time between shifts, split at
  production-day boundaries, so that the shift windows of a day partition it and roll up exactly.
  That holds when no shift crosses ``day_start``; a calendar where one does cannot nest shifts in
  days, and its shift roll-ups follow the production day of the shift's start.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import cached_property
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from werk.errors import ConfigError
from werk.kpi.intervals import Claim, complement, from_us, intersect, resolve, to_us
from werk.kpi.mapping import Element
from werk.samples import utc

MINUTES_PER_DAY = 1440


class Granularity(StrEnum):
    """The calendar periods KPIs are computed and rolled up by."""

    SHIFT = "shift"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    RANGE = "range"
    """Any range, such as the months of a benchmark summed into one window."""


@dataclass(frozen=True, slots=True)
class Window:
    """A calendar window: a UTC interval ``[start, end)`` with its local label.

    Attributes:
        start: Start, aware UTC.
        end: End, aware UTC.
        by: The kind of window.
        day: The production day it belongs to (a week: its Monday; a month: its 1st).
        label: Local label: ``2026-03-29``, ``2026-03-29 night``, ``2026-W13``, ``2026-03``.
        shift: Shift name for a shift window; None for a day, week, month or a gap between shifts.
    """

    start: datetime
    end: datetime
    by: Granularity
    day: date
    label: str
    shift: str | None = None

    @property
    def duration(self) -> timedelta:
        """Length of the window (23 or 25 hours for a DST day)."""
        return self.end - self.start

    def contains(self, ts: datetime) -> bool:
        """Tell whether ``ts`` lies in ``[start, end)``."""
        return self.start <= utc(ts) < self.end


@dataclass(frozen=True, slots=True)
class Break:
    """A planned break inside a shift, in local wall-clock time (PDOT)."""

    start: time
    end: time
    name: str = "break"


@dataclass(frozen=True, slots=True)
class Shift:
    """A named shift in local wall-clock time, worked on some weekdays, with its breaks."""

    name: str
    start: time
    end: time
    days: frozenset[int] = frozenset(range(5))
    breaks: tuple[Break, ...] = ()

    @property
    def minutes(self) -> int:
        """Wall-clock length in minutes (a DST night changes the real length, not this)."""
        length = (_minute(self.end) - _minute(self.start)) % MINUTES_PER_DAY
        return length or MINUTES_PER_DAY


@dataclass(frozen=True, slots=True)
class Holiday:
    """A production day without shifts."""

    day: date
    name: str = "holiday"


@dataclass(frozen=True, slots=True)
class Maintenance:
    """A planned maintenance window (PDOT) for the assets under ``scope`` ("" is the whole plant).

    Only the part inside shifts is planned down time; outside shifts the time is not scheduled.
    """

    start: datetime
    end: datetime
    scope: str = ""
    name: str = "planned maintenance"

    def applies_to(self, path: str | None) -> bool:
        """Tell whether the window covers the asset at ``path`` (None: a plant-wide view)."""
        if not self.scope:
            return True
        return path is not None and (path == self.scope or path.startswith(self.scope + "/"))


@dataclass(frozen=True, slots=True)
class PlannedTime:
    """A stretch of time the calendar plans: not scheduled, or planned down time.

    Attributes:
        start: Start, aware UTC.
        end: End, aware UTC.
        element: :attr:`Element.NOT_SCHEDULED` or :attr:`Element.PDOT`.
        code: ``no_shift``, ``holiday``, ``break`` or ``planned_maintenance``.
        reason: The holiday's, break's or maintenance window's name.
    """

    start: datetime
    end: datetime
    element: Element
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class ShiftInstance:
    """One worked shift on one production day, in microseconds (UTC)."""

    start: int
    end: int
    shift: Shift
    day: date
    breaks: tuple[tuple[int, int, str], ...]


def _minute(t: time) -> int:
    return t.hour * 60 + t.minute


@dataclass(frozen=True)
class PlantCalendar:
    """A plant's working time: zone, shifts, holidays, planned maintenance and production day.

    Raises:
        ConfigError: for an unknown time zone, shifts that overlap, or a break outside its shift.
    """

    tz: str
    shifts: tuple[Shift, ...] = ()
    holidays: tuple[Holiday, ...] = ()
    maintenance: tuple[Maintenance, ...] = ()
    day_start: time = time(0)
    _holiday_names: dict[date, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"unknown time zone {self.tz!r}", field="tz") from None
        names = [s.name for s in self.shifts]
        if len(set(names)) != len(names):
            raise ConfigError(f"shift names repeat: {names}", field="shifts")
        for s in self.shifts:
            bad_days = sorted(d for d in s.days if d not in range(7))
            if bad_days:
                raise ConfigError(f"shift {s.name!r}: weekdays {bad_days} not in 0–6", field="days")
            for b in s.breaks:
                offset = (_minute(b.start) - _minute(s.start)) % MINUTES_PER_DAY
                length = (_minute(b.end) - _minute(b.start)) % MINUTES_PER_DAY
                if length == 0 or offset + length > s.minutes:
                    raise ConfigError(
                        f"shift {s.name!r}: break {b.name!r} {b.start}–{b.end} lies outside "
                        f"the shift {s.start}–{s.end}",
                        field="breaks",
                    )
        for m in self.maintenance:
            if not utc(m.start) < utc(m.end):
                raise ConfigError(f"maintenance {m.name!r} ends before it starts", field="end")
        self._check_overlaps()
        object.__setattr__(self, "_holiday_names", {h.day: h.name for h in self.holidays})

    def _check_overlaps(self) -> None:
        # Wall-clock minutes of one week, wrapping to the next Monday: shifts may not overlap.
        week = 7 * MINUTES_PER_DAY
        spans: list[tuple[int, int, str]] = []
        for s in self.shifts:
            for d in s.days:
                begin = d * MINUTES_PER_DAY + _minute(s.start)
                if _minute(s.start) < _minute(self.day_start):
                    begin += MINUTES_PER_DAY
                spans.extend(
                    (begin + k * week, begin + k * week + s.minutes, s.name) for k in (0, 1)
                )
        spans.sort()
        for (_, e1, n1), (s2, _, n2) in pairwise(spans):
            if s2 < e1:
                raise ConfigError(f"shifts {n1!r} and {n2!r} overlap", field="shifts")

    @cached_property
    def zone(self) -> ZoneInfo:
        """The plant's time zone."""
        return ZoneInfo(self.tz)

    # -- local time ----------------------------------------------------------------------------

    def local_us(self, local: datetime) -> int:
        """Return the UTC microseconds of a naive local wall-clock time (DST rules: see module)."""
        return to_us(local.replace(tzinfo=self.zone))

    def production_day(self, ts: datetime) -> date:
        """Return the production day that contains the instant ``ts``."""
        local = utc(ts).astimezone(self.zone)
        day = local.date()
        if local.replace(tzinfo=None) < datetime.combine(day, self.day_start):
            day -= timedelta(days=1)
        return day

    def day_start_us(self, day: date) -> int:
        """Return when production day ``day`` starts, in UTC microseconds."""
        return self.local_us(datetime.combine(day, self.day_start))

    # -- windows -------------------------------------------------------------------------------

    def day(self, day: date) -> Window:
        """Return the window of production day ``day``."""
        return Window(
            from_us(self.day_start_us(day)),
            from_us(self.day_start_us(day + timedelta(days=1))),
            Granularity.DAY,
            day,
            day.isoformat(),
        )

    def week(self, day: date) -> Window:
        """Return the window of the week (Monday start) that contains production day ``day``."""
        monday = day - timedelta(days=day.weekday())
        year, number, _ = monday.isocalendar()
        return Window(
            from_us(self.day_start_us(monday)),
            from_us(self.day_start_us(monday + timedelta(days=7))),
            Granularity.WEEK,
            monday,
            f"{year}-W{number:02d}",
        )

    def month(self, day: date) -> Window:
        """Return the window of the month that contains production day ``day``."""
        first = day.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return Window(
            from_us(self.day_start_us(first)),
            from_us(self.day_start_us(following)),
            Granularity.MONTH,
            first,
            f"{first.year}-{first.month:02d}",
        )

    def period(self, by: Granularity, day: date) -> Window:
        """Return the day, week or month window that contains production day ``day``."""
        if by is Granularity.DAY:
            return self.day(day)
        if by is Granularity.WEEK:
            return self.week(day)
        if by is Granularity.MONTH:
            return self.month(day)
        raise ValueError(f"{by} is not a period of a production day; use windows()")

    def _days(self, start: datetime, end: datetime) -> Iterator[date]:
        first = self.production_day(start)
        last = self.production_day(utc(end) - timedelta(microseconds=1))
        day = first
        while day <= last:
            yield day
            day += timedelta(days=1)

    def windows(
        self, by: Granularity, start: datetime, end: datetime, *, gaps: bool = False
    ) -> list[Window]:
        """Return the windows of kind ``by`` that overlap ``[start, end)``, in time order.

        Args:
            by: Shift, day, week or month.
            start: Start of the range (aware).
            end: End of the range (aware).
            gaps: For shifts: also return the gaps between shifts, so the windows partition the
                production days of the range (needed to roll shifts up into days exactly).
        """
        if not utc(start) < utc(end):
            return []
        if by is Granularity.SHIFT:
            return self.shift_windows(start, end, gaps=gaps)
        if by is Granularity.RANGE:
            return [span(self, start, end)]
        out: list[Window] = []
        for day in self._days(start, end):
            window = self.period(by, day)
            if not out or out[-1] != window:
                out.append(window)
        return out

    def shift_instances(self, first: date, last: date) -> list[ShiftInstance]:
        """Return the worked shifts of production days ``first`` … ``last``, in time order."""
        out: list[ShiftInstance] = []
        day = first
        while day <= last:
            if day not in self._holiday_names:
                for s in self.shifts:
                    if day.weekday() in s.days:
                        out.append(self._instance(s, day))
            day += timedelta(days=1)
        out.sort(key=lambda i: i.start)
        return out

    def _instance(self, s: Shift, day: date) -> ShiftInstance:
        begin = datetime.combine(day, s.start)
        if s.start < self.day_start:
            begin += timedelta(days=1)
        breaks = []
        for b in s.breaks:
            offset = (_minute(b.start) - _minute(s.start)) % MINUTES_PER_DAY
            length = (_minute(b.end) - _minute(b.start)) % MINUTES_PER_DAY
            b_start = begin + timedelta(minutes=offset)
            breaks.append(
                (self.local_us(b_start), self.local_us(b_start + timedelta(minutes=length)), b.name)
            )
        return ShiftInstance(
            self.local_us(begin),
            self.local_us(begin + timedelta(minutes=s.minutes)),
            s,
            day,
            tuple(breaks),
        )

    def shift_windows(self, start: datetime, end: datetime, *, gaps: bool = False) -> list[Window]:
        """Return the shift windows (and with ``gaps`` the gaps between them) over a range."""
        lo, hi = to_us(start), to_us(end)
        days = list(self._days(start, end))
        if not days:
            return []
        first, last = days[0], days[-1]
        instances = self.shift_instances(first - timedelta(days=1), last)
        out = [
            Window(
                from_us(i.start),
                from_us(i.end),
                Granularity.SHIFT,
                i.day,
                f"{i.day.isoformat()} {i.shift.name}",
                i.shift.name,
            )
            for i in instances
            if i.end > lo and i.start < hi
        ]
        if gaps:
            spans = [(i.start, i.end) for i in instances]
            day = first
            while day <= last:
                d0 = self.day_start_us(day)
                d1 = self.day_start_us(day + timedelta(days=1))
                for g0, g1 in complement(spans, d0, d1):
                    if g1 > lo and g0 < hi:
                        local = from_us(g0).astimezone(self.zone)
                        out.append(
                            Window(
                                from_us(g0),
                                from_us(g1),
                                Granularity.SHIFT,
                                day,
                                f"{day.isoformat()} no shift {local:%H:%M}",
                            )
                        )
                day += timedelta(days=1)
            out.sort(key=lambda w: w.start)
        return out

    def window_at(self, by: Granularity, ts: datetime, *, gaps: bool = True) -> Window | None:
        """Return the window of kind ``by`` that contains ``ts``.

        For shifts, a ``ts`` between shifts gives the gap window, or None when ``gaps`` is false.
        """
        if by is Granularity.RANGE:
            raise ValueError("a range has no window at an instant")
        if by is not Granularity.SHIFT:
            return self.period(by, self.production_day(ts))
        moment = utc(ts)
        for window in self.shift_windows(moment, moment + timedelta(microseconds=1), gaps=gaps):
            if window.contains(moment):
                return window
        return None

    # -- the planned layer ---------------------------------------------------------------------

    def planned_us(self, lo: int, hi: int, path: str | None = None) -> list[tuple[int, int, str]]:
        """Return the planned layer over ``[lo, hi)`` µs: disjoint ``(start, end, code)`` spans.

        Codes are ``no_shift``/``holiday`` (not scheduled) and ``break``/``planned_maintenance``
        (PDOT); the reason of each span is :meth:`reason_of` its code and start. Time inside a
        shift and outside its breaks and maintenance is not in the layer.
        """
        if lo >= hi:
            return []
        first = self.production_day(from_us(lo))
        last = self.production_day(from_us(hi - 1))
        instances = self.shift_instances(first - timedelta(days=1), last)
        worked = [(i.start, i.end) for i in instances]
        claims: list[Claim[str]] = [Claim(lo, hi, 0, "no_shift")]
        day = first
        while day <= last:
            if day in self._holiday_names:
                d0 = self.day_start_us(day)
                claims.append(Claim(d0, self.day_start_us(day + timedelta(days=1)), 1, "holiday"))
            day += timedelta(days=1)
        claims.extend(Claim(s, e, 2, "") for s, e in worked)
        joined: list[tuple[int, int]] = []  # back-to-back shifts as one span
        for s, e in worked:
            if joined and joined[-1][1] == s:
                joined[-1] = (joined[-1][0], e)
            else:
                joined.append((s, e))
        claims.extend(Claim(b0, b1, 3, "break") for i in instances for b0, b1, _ in i.breaks)
        for m in self.maintenance:
            if m.applies_to(path):
                window = [(max(to_us(m.start), lo), min(to_us(m.end), hi))]
                claims.extend(
                    Claim(s, e, 4, "planned_maintenance") for s, e in intersect(window, joined)
                )
        return [
            (max(s.start, lo), min(s.end, hi), s.value)
            for s in resolve(claims)
            if s.value and s.end > lo and s.start < hi
        ]

    def reason_of(self, code: str, start_us: int, path: str | None = None) -> str:
        """Return the name behind a planned span: the holiday's, break's or maintenance's."""
        moment = from_us(start_us)
        if code == "holiday":
            return self._holiday_names.get(self.production_day(moment), "holiday")
        if code == "planned_maintenance":
            for m in self.maintenance:
                if m.applies_to(path) and utc(m.start) <= moment < utc(m.end):
                    return m.name
        if code == "break":
            day = self.production_day(moment)
            for i in self.shift_instances(day - timedelta(days=1), day):
                for b0, b1, name in i.breaks:
                    if b0 <= start_us < b1:
                        return name
        return code.replace("_", " ")

    def planned(self, start: datetime, end: datetime, path: str | None = None) -> list[PlannedTime]:
        """Return what the calendar plans over ``[start, end)`` for the asset at ``path``."""
        out = []
        for s, e, code in self.planned_us(to_us(start), to_us(end), path):
            element = (
                Element.PDOT if code in ("break", "planned_maintenance") else Element.NOT_SCHEDULED
            )
            out.append(
                PlannedTime(from_us(s), from_us(e), element, code, self.reason_of(code, s, path))
            )
        return out


def span(calendar: PlantCalendar | None, start: datetime, end: datetime) -> Window:
    """Return a window for any range ``[start, end)``, labelled in plant time when known."""
    first, last = utc(start), utc(end)
    if calendar is not None:
        zone = calendar.zone
        day = calendar.production_day(first)
        label = f"{first.astimezone(zone):%Y-%m-%dT%H:%M}/{last.astimezone(zone):%Y-%m-%dT%H:%M}"
    else:
        day = first.date()
        label = f"{first:%Y-%m-%dT%H:%MZ}/{last:%Y-%m-%dT%H:%MZ}"
    return Window(first, last, Granularity.RANGE, day, label)


def covering(windows: Sequence[Window]) -> Window:
    """Return one range window from the earliest start to the latest end of ``windows``."""
    first = min(windows, key=lambda w: w.start)
    last = max(windows, key=lambda w: w.end)
    return Window(
        first.start, last.end, Granularity.RANGE, first.day, f"{first.label}..{last.label}"
    )
