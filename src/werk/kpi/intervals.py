"""Hold half-open time intervals on the microsecond axis and resolve their overlaps.

Inside :mod:`werk.kpi` instants are integers: microseconds since the Unix epoch, UTC. Integers add
exactly (a year of shifts summed in any order gives the same total), convert to ``timedelta``
without rounding, and vectorise with numpy. Event timestamps (nanoseconds) are floored to
microseconds, the resolution of ``datetime``.

This module is for the small interval sets (calendars, manual downtime entries); the bulk of a
machine's states is resolved vectorised in :mod:`werk.kpi.timemodel`.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Final, Generic, NamedTuple, TypeVar

from werk.samples import utc

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
US_PER_S: Final = 1_000_000

T = TypeVar("T")


def to_us(ts: datetime) -> int:
    """Return microseconds since the epoch of an aware datetime (naive ones are refused)."""
    delta = utc(ts) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * US_PER_S + delta.microseconds


def from_us(us: int) -> datetime:
    """Return the aware UTC datetime of microseconds since the epoch."""
    return EPOCH + timedelta(microseconds=us)


def span_us(duration: timedelta) -> int:
    """Return a duration in whole microseconds."""
    return (duration.days * 86_400 + duration.seconds) * US_PER_S + duration.microseconds


class Span(NamedTuple, Generic[T]):
    """A half-open interval ``[start, end)`` in microseconds with what it holds."""

    start: int
    end: int
    value: T


class Claim(NamedTuple, Generic[T]):
    """An interval that claims time with a priority; the highest claim wins an instant."""

    start: int
    end: int
    priority: int
    value: T


def resolve(claims: Sequence[Claim[T]]) -> list[Span[T]]:
    """Resolve overlapping claims into disjoint spans: each instant goes to the highest claim.

    Ties go to the claim that comes later in ``claims`` (the later entry corrects the earlier).
    Adjacent spans of the same claim are merged; empty and inverted claims are ignored. Time no
    claim covers is left out.
    """
    live = [(c, i) for i, c in enumerate(claims) if c.end > c.start]
    if not live:
        return []
    bounds = sorted({c.start for c, _ in live} | {c.end for c, _ in live})
    by_start = sorted(live, key=lambda ci: ci[0].start)
    heap: list[tuple[int, int, int]] = []  # (-priority, -order, end)
    out: list[Span[T]] = []
    owner: list[int] = []
    j = 0
    for left, right in pairwise(bounds):
        while j < len(by_start) and by_start[j][0].start <= left:
            claim, order = by_start[j]
            heapq.heappush(heap, (-claim.priority, -order, claim.end))
            j += 1
        while heap and heap[0][2] <= left:
            heapq.heappop(heap)
        if not heap:
            continue
        order = -heap[0][1]
        if out and owner[-1] == order and out[-1].end == left:
            out[-1] = Span(out[-1].start, right, out[-1].value)
        else:
            out.append(Span(left, right, claims[order].value))
            owner.append(order)
    return out


def complement(spans: Iterable[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """Return the parts of ``[start, end)`` that no span covers (spans sorted, disjoint)."""
    out: list[tuple[int, int]] = []
    cursor = start
    for s, e in spans:
        if e <= cursor or s >= end:
            continue
        if s > cursor:
            out.append((cursor, s))
        cursor = max(cursor, e)
    if cursor < end:
        out.append((cursor, end))
    return out


def intersect(
    spans: Sequence[tuple[int, int]], limits: Sequence[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Return the intersection of two sorted lists of disjoint intervals."""
    out: list[tuple[int, int]] = []
    i = j = 0
    while i < len(spans) and j < len(limits):
        s = max(spans[i][0], limits[j][0])
        e = min(spans[i][1], limits[j][1])
        if s < e:
            out.append((s, e))
        if spans[i][1] <= limits[j][1]:
            i += 1
        else:
            j += 1
    return out
