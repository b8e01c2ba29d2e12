"""Lay a site's weekly shift pattern onto real days in its time zone, in UTC.

Shifts, breaks and maintenance windows are wall-clock times in the plant's IANA zone. A window's
end is computed on the wall clock too, so the night shift 22:00–06:00 across the spring DST change
lasts 7 hours and across the autumn change 9 hours; a local day is 23 or 25 hours long. Holidays
cancel the shifts that start on them.

The engine reads :meth:`SiteCalendar.segments`: a gap-free cover of time where each segment is
either available (``state`` None) or a calendar state (no shift, break, planned maintenance) that
overrides what machines do. Precedence: maintenance > break > shift > holiday > no shift.
"""

from __future__ import annotations

import itertools
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from werk.samples import to_ns
from werk.sim.view import MachineState

_DAY = timedelta(days=1)


class WindowKind(StrEnum):
    """What a calendar window is."""

    SHIFT = "shift"
    BREAK = "break"
    MAINTENANCE = "maintenance"
    HOLIDAY = "holiday"


_PRIORITY = {
    WindowKind.HOLIDAY: 1,
    WindowKind.SHIFT: 2,
    WindowKind.BREAK: 3,
    WindowKind.MAINTENANCE: 4,
}
_STATE: dict[int, MachineState | None] = {
    0: MachineState.NO_SHIFT,
    1: MachineState.NO_SHIFT,
    2: None,
    3: MachineState.BREAK,
    4: MachineState.PLANNED_MAINTENANCE,
}


@dataclass(frozen=True, slots=True)
class BreakPattern:
    """A break: its offset from the start of its shift and its length, on the wall clock."""

    name: str
    offset: timedelta
    length: timedelta


@dataclass(frozen=True, slots=True)
class ShiftPattern:
    """A shift on some weekdays (0 = Monday), from a wall-clock start for a wall-clock length."""

    name: str
    start: time
    length: timedelta
    weekdays: frozenset[int]
    breaks: tuple[BreakPattern, ...] = ()


@dataclass(frozen=True, slots=True)
class MaintenancePattern:
    """A weekly planned-maintenance window."""

    name: str
    start: time
    length: timedelta
    weekdays: frozenset[int]


@dataclass(frozen=True, slots=True)
class CalendarWindow:
    """One shift, break, maintenance window or holiday on a real day, in UTC.

    Attributes:
        kind: Shift, break, maintenance or holiday.
        name: The shift's (or break's, window's) name; ``holiday`` for holidays.
        local_date: The plant-local date the window belongs to (a shift's date is its start's).
        start: Start, aware UTC.
        end: End (exclusive), aware UTC.
        shift: For a break, the shift it belongs to; else the window's own name.
    """

    kind: WindowKind
    name: str
    local_date: date
    start: datetime
    end: datetime
    shift: str

    @property
    def label(self) -> str:
        """Plant-local label, e.g. ``2026-03-29 night``."""
        return f"{self.local_date.isoformat()} {self.name}"


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of time with one calendar state (None: available for production)."""

    start_ms: int
    end_ms: int
    state: MachineState | None
    reason: str | None


def _ms(ts: datetime) -> int:
    return to_ns(ts) // 1_000_000


class SiteCalendar:
    """A site's shift calendar: weekly patterns, holidays and maintenance in its time zone."""

    def __init__(
        self,
        tz: str,
        shifts: Sequence[ShiftPattern],
        *,
        holidays: Iterable[date] = (),
        maintenance: Sequence[MaintenancePattern] = (),
    ) -> None:
        self.tz = tz
        self.zone = zoneinfo.ZoneInfo(tz)
        self.shifts = tuple(shifts)
        self.holidays = frozenset(holidays)
        self.maintenance = tuple(maintenance)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SiteCalendar):
            return NotImplemented
        return (self.tz, self.shifts, self.holidays, self.maintenance) == (
            other.tz,
            other.shifts,
            other.holidays,
            other.maintenance,
        )

    def __hash__(self) -> int:
        return hash((self.tz, self.shifts, self.holidays, self.maintenance))

    def _utc(self, day: date, at: time, plus: timedelta = timedelta(0)) -> datetime:
        # Aware + timedelta is wall-clock arithmetic in Python; converting afterwards gives the
        # real instant, which is what makes DST nights 7 or 9 hours long.
        return (datetime.combine(day, at, tzinfo=self.zone) + plus).astimezone(UTC)

    def windows(self, start: datetime, end: datetime) -> list[CalendarWindow]:
        """Return every window overlapping ``[start, end)``, ordered by start."""
        first = start.astimezone(self.zone).date() - 2 * _DAY
        last = end.astimezone(self.zone).date() + _DAY
        out: list[CalendarWindow] = []
        day = first
        while day <= last:
            weekday = day.weekday()
            if day in self.holidays:
                out.append(
                    CalendarWindow(
                        WindowKind.HOLIDAY,
                        "holiday",
                        day,
                        self._utc(day, time(0)),
                        self._utc(day + _DAY, time(0)),
                        "holiday",
                    )
                )
            else:
                for shift in self.shifts:
                    if weekday not in shift.weekdays:
                        continue
                    out.append(
                        CalendarWindow(
                            WindowKind.SHIFT,
                            shift.name,
                            day,
                            self._utc(day, shift.start),
                            self._utc(day, shift.start, shift.length),
                            shift.name,
                        )
                    )
                    for brk in shift.breaks:
                        out.append(
                            CalendarWindow(
                                WindowKind.BREAK,
                                brk.name,
                                day,
                                self._utc(day, shift.start, brk.offset),
                                self._utc(day, shift.start, brk.offset + brk.length),
                                shift.name,
                            )
                        )
            for window in self.maintenance:
                if weekday in window.weekdays:
                    out.append(
                        CalendarWindow(
                            WindowKind.MAINTENANCE,
                            window.name,
                            day,
                            self._utc(day, window.start),
                            self._utc(day, window.start, window.length),
                            window.name,
                        )
                    )
            day += _DAY
        kept = [w for w in out if w.end > start and w.start < end and w.end > w.start]
        kept.sort(key=lambda w: (w.start, _PRIORITY[w.kind]))
        return kept

    def segments(self, start_ms: int, end_ms: int) -> list[Segment]:
        """Return a gap-free cover of ``[start_ms, end_ms)`` (ms since the epoch, UTC)."""
        start = datetime.fromtimestamp(start_ms / 1000, tz=UTC)
        end = datetime.fromtimestamp(end_ms / 1000, tz=UTC)
        spans = [
            (_ms(w.start), _ms(w.end), _PRIORITY[w.kind], w.name)
            for w in self.windows(start - timedelta(seconds=1), end + timedelta(seconds=1))
        ]
        points = sorted({start_ms, end_ms, *(p for s in spans for p in s[:2])})
        points = [p for p in points if start_ms <= p <= end_ms]
        out: list[Segment] = []
        for a, b in itertools.pairwise(points):
            best, reason = 0, None
            for s0, s1, priority, name in spans:
                if s0 <= a and b <= s1 and priority > best:
                    best, reason = priority, name
            state = _STATE[best]
            if best in (0, 2):
                reason = None
            if out and out[-1].state == state and out[-1].reason == reason:
                out[-1] = Segment(out[-1].start_ms, b, state, reason)
            else:
                out.append(Segment(a, b, state, reason))
        return out
