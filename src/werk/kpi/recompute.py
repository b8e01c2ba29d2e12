"""Find exactly the windows a late or corrected event touches, and version recomputed results.

Late data is normal on a shop floor: scrap found at end-of-line inspection hours after the parts
were made, downtime reasons entered at the end of a shift, an edge that reconnects after a night
offline. Each of them changes the KPIs of the windows it touches — and only those — which the
engine then re-derives (platforms.md §4 item 1; standards.md §3.5 "late quality").

What an event touches:

* a ``count`` event (a scrap correction carries the ``ts`` of production): the window containing
  its ``ts``;
* an ``order`` or ``product`` event: from its ``ts`` to the machine's next event of that kind
  (AOET; the product of counts that name none);
* a ``state`` event at ``ts``: the state it interrupts and the one it starts, including the whole
  runs they belong to (a micro-stop run that gets shorter or longer may cross the threshold), the
  failure event it changes (whose TTR counts where the failure began), and with a startup window,
  the counts right after a setup it ends. Pass the machine's known state changes as a
  :class:`Timeline`; a state that holds to the end needs the data horizon ``until``.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from werk.errors import InvalidInput
from werk.kpi.calendar import Granularity, PlantCalendar, Window
from werk.kpi.mapping import DEFAULT_MAPPING, Element, StateMapping, StateRule
from werk.kpi.oee import KpiResult
from werk.samples import Event, EventKind, utc

ALL: Final = (Granularity.SHIFT, Granularity.DAY, Granularity.WEEK, Granularity.MONTH)
"""Every calendar granularity."""


@dataclass(frozen=True, slots=True)
class Timeline:
    """The known events of one kind (state, order or product) of one machine, in time order.

    Attributes:
        ts: When each event happened (aware).
        codes: The code of each event.
    """

    ts: tuple[datetime, ...]
    codes: tuple[str | None, ...]

    @staticmethod
    def of(events: Iterable[Event], kind: EventKind = EventKind.STATE) -> Timeline:
        """Return the timeline of the events of ``kind`` among ``events`` (one machine's)."""
        chosen = sorted((utc(e.ts), e.code) for e in events if e.kind is kind)
        return Timeline(tuple(t for t, _ in chosen), tuple(c for _, c in chosen))


def _run_bounds(keys: Sequence[object], i: int) -> tuple[int, int]:
    """Return the first and last index of the run of equal keys around ``i``."""
    first = last = i
    while first > 0 and keys[first - 1] == keys[i]:
        first -= 1
    while last + 1 < len(keys) and keys[last + 1] == keys[i]:
        last += 1
    return first, last


def state_span(
    event: Event,
    timeline: Timeline,
    mapping: StateMapping = DEFAULT_MAPPING,
    *,
    startup: timedelta | None = None,
) -> tuple[datetime, datetime | None]:
    """Return the span ``[start, end)`` whose time model a state event at ``event.ts`` changes.

    ``end`` is None when the change lasts until the machine's data horizon.
    """
    ts = utc(event.ts)
    times, codes = timeline.ts, timeline.codes
    rules: list[StateRule | None] = [mapping.rule(c) for c in codes]
    new = mapping.rule(event.code)
    gap = mapping.failure_merge
    failing = [_is_failure(r) for r in rules]

    def chain_start(i: int) -> int:
        # A failure event spans touching failure states and gaps up to failure_merge (§3.5).
        while True:
            while i > 0 and failing[i - 1]:
                i -= 1
            j = i - 1
            while j >= 0 and not failing[j]:
                j -= 1
            if j < 0 or times[i] - times[j + 1] > gap:
                return i
            i = j

    p = bisect.bisect_right(times, ts) - 1  # the state the event interrupts
    n = p + 1  # the next known change
    start = ts
    if p >= 0:
        # The run it interrupts gets shorter: a micro-stop may cross the threshold.
        start = min(start, times[_run_bounds(rules, p)[0]])
        if failing[p]:
            # The failure gets shorter: its TTR counts where it began.
            start = min(start, times[chain_start(p)])
        elif _is_failure(new):
            last = max((j for j in range(p + 1) if failing[j]), default=-1)
            if last >= 0 and ts - times[last + 1] <= gap:
                start = min(start, times[chain_start(last)])
    end: datetime | None = None
    if n < len(times):
        end = times[n]
        if rules[n] == new or (p >= 0 and rules[n] == rules[p]):
            # The next run merges with the new state or is cut off from the old one.
            last_of_run = _run_bounds(rules, n)[1]
            end = times[last_of_run + 1] if last_of_run + 1 < len(times) else None
    if end is not None and (_is_failure(new) or (p >= 0 and failing[p])):
        # The next failure may join the new one or split from the interrupted one: its start
        # (where it is counted) moves.
        following = next((j for j in range(n, len(times)) if failing[j]), None)
        if following is not None and times[following] <= times[n] + gap:
            end = max(end, times[following] + timedelta(microseconds=1))
    if (
        end is not None
        and startup is not None
        and (_is_setup(new) or (p >= 0 and _is_setup(rules[p])))
    ):
        # Counts within the startup window after a setup end are startup rejects.
        end = end + startup
    return start, end


def _is_failure(rule: StateRule | None) -> bool:
    return rule is not None and rule.failure


def _is_setup(rule: StateRule | None) -> bool:
    return rule is not None and rule.element is Element.AUST


def event_span(
    event: Event,
    timeline: Timeline | None = None,
    mapping: StateMapping = DEFAULT_MAPPING,
    *,
    startup: timedelta | None = None,
) -> tuple[datetime, datetime | None]:
    """Return the span ``[start, end)`` an event changes (``end`` None: up to the horizon)."""
    ts = utc(event.ts)
    if event.kind is EventKind.COUNT:
        return ts, ts + timedelta(microseconds=1)
    if event.kind is EventKind.STATE:
        return state_span(event, timeline or Timeline((), ()), mapping, startup=startup)
    if event.kind in (EventKind.ORDER, EventKind.PRODUCT):
        later = [t for t in (timeline.ts if timeline else ()) if t > ts]
        return ts, min(later) if later else None
    return ts, ts  # alarms do not enter the time model


def windows_between(
    calendar: PlantCalendar,
    start: datetime,
    end: datetime,
    by: Iterable[Granularity] = ALL,
    *,
    gaps: bool = True,
) -> list[Window]:
    """Return the windows of each granularity that overlap ``[start, end)``."""
    out: list[Window] = []
    for granularity in by:
        out.extend(calendar.windows(granularity, start, end, gaps=gaps))
    return out


def impact(
    calendar: PlantCalendar,
    event: Event,
    *,
    timeline: Timeline | None = None,
    mapping: StateMapping = DEFAULT_MAPPING,
    by: Iterable[Granularity] = ALL,
    until: datetime | None = None,
    startup: timedelta | None = None,
    gaps: bool = True,
) -> list[Window]:
    """Return exactly the windows whose KPIs a late or corrected ``event`` changes.

    Args:
        calendar: The plant calendar that cuts the windows.
        event: The late event (a scrap correction carries the ``ts`` of production).
        timeline: The machine's known events of the event's kind (state, order, product).
        mapping: The machine's state mapping (runs, micro-stops and failures depend on it).
        by: The granularities to return windows of.
        until: The data horizon, for a change that lasts until it.
        startup: The startup window the time models use.
        gaps: Also return gap windows between shifts (when the engine keeps them).

    Raises:
        InvalidInput: when the change lasts until the horizon and ``until`` is not given.
    """
    start, end = event_span(event, timeline, mapping, startup=startup)
    if end is None:
        if until is None:
            raise InvalidInput(
                f"a {event.kind} event at {event.ts.isoformat()} holds until the data horizon; "
                "pass until",
                field="until",
            )
        end = max(utc(until), start + timedelta(microseconds=1))
    return windows_between(calendar, start, end, by, gaps=gaps)


def revise(previous: KpiResult | None, current: KpiResult) -> KpiResult:
    """Return ``current`` versioned against the ``previous`` result of the same window.

    The version goes up by one when the time model or the findings changed; a recomputation that
    changes nothing keeps the previous version (only ``final`` may move on).
    """
    if previous is None:
        return replace(current, version=1)
    if previous.model == current.model and previous.findings == current.findings:
        return replace(previous, final=current.final)
    return replace(current, version=previous.version + 1)
