"""Compute time buckets aligned to local midnight in an IANA time zone; parse bucket strings.

Both store backends take their bucket boundaries from :func:`bucket_edges`, so a downsampled read
gives the same buckets on DuckDB and PostgreSQL. The rules:

* A bucket is ``1 s`` to ``7 d`` wide, a whole number of seconds; a bucket over one day is a whole
  number of days.
* Buckets of less than a day start at local wall-clock times ``00:00 + k·width`` of every local
  day. A width that does not divide 24 h gives a shorter last bucket, cut at the next local
  midnight: every day starts afresh.
* Buckets of ``n`` whole days start at local midnight of every ``n``-th day counted from Monday
  1970-01-05, so ``7d`` buckets are weeks starting Monday and ``1d`` buckets are local days.
* Wall-clock times map to UTC through the zone: a time that exists twice (the repeated hour when
  clocks go back) starts a bucket at both instants; a time that does not exist (the hour skipped
  when clocks go forward) starts its bucket at the instant the clocks jump. So a day bucket on a
  DST change day is 23 or 25 hours long, an ``8h`` bucket holding the change is 7 or 9 hours
  long, and ``1h`` buckets stay one hour long.

Edges are computed in integer seconds (zone offsets are whole seconds) and returned as
nanoseconds since the epoch, the unit the stores keep timestamps in.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

from werk.errors import InvalidInput

NS: Final = 1_000_000_000
DAY: Final = 86_400
MIN_BUCKET: Final = timedelta(seconds=1)
MAX_BUCKET: Final = timedelta(days=7)
MAX_BUCKETS: Final = 200_000
"""Most buckets one query may produce; more is refused rather than computed."""

MONDAY_EPOCH_DAY: Final = 4
"""1970-01-05, the first Monday after the epoch, as days since 1970-01-01."""

_MIN: Final = int(np.iinfo(np.int64).min)
_FIXED_UTC: Final = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "Etc/GMT", "GMT", "UCT", "Zulu"})
# Nanosecond int64 timestamps cover 1677-09-21 to 2262-04-11; keep two weeks clear of both ends
# so that edges computed beyond the range still fit.
_LIMIT_NS: Final = (_MIN + 14 * 86_400 * 1_000_000_000, -_MIN - 1 - 14 * 86_400 * 1_000_000_000)
_UNITS: Final = {"s": 1, "m": 60, "h": 3_600, "d": DAY, "w": 7 * DAY}
_BUCKET: Final = re.compile(r"(\d{1,9})([smhdw])")

Int64Array = npt.NDArray[np.int64]


def parse_bucket(text: str) -> timedelta:
    """Parse a bucket width such as ``1s``, ``30s``, ``15m``, ``1h``, ``1d`` or ``1w``.

    Raises:
        InvalidInput: the text is not a number followed by one of s, m, h, d, w, or the width is
            outside 1 s to 1 w (``field="bucket"``).
    """
    match = _BUCKET.fullmatch(text.strip())
    if match is None:
        raise InvalidInput(
            f"bucket {text!r} is not a width: write a number and a unit s, m, h, d or w, "
            "e.g. 30s, 15m, 1h, 1d, 1w",
            key="input.invalid_bucket",
            field="bucket",
        )
    width = timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    check_bucket(width)
    return width


def format_bucket(width: timedelta) -> str:
    """Return the shortest bucket string for ``width`` (the inverse of :func:`parse_bucket`)."""
    seconds = check_bucket(width)
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def check_bucket(width: timedelta) -> int:
    """Return ``width`` in whole seconds if it is a valid bucket width.

    Raises:
        InvalidInput: the width is under 1 s, over 7 d, not whole seconds, or over a day and not
            whole days (``field="bucket"``).
    """
    if width < MIN_BUCKET or width > MAX_BUCKET:
        raise InvalidInput(
            f"bucket {width} is outside the allowed range 1s to 1w",
            key="input.invalid_bucket",
            field="bucket",
        )
    if width.microseconds:
        raise InvalidInput(
            f"bucket {width} is not a whole number of seconds",
            key="input.invalid_bucket",
            field="bucket",
        )
    seconds = int(width.total_seconds())
    if seconds > DAY and seconds % DAY:
        raise InvalidInput(
            f"bucket {width} is longer than a day but not a whole number of days",
            key="input.invalid_bucket",
            field="bucket",
        )
    return seconds


def zone(name: str) -> ZoneInfo:
    """Return the IANA time zone called ``name``.

    Raises:
        InvalidInput: there is no such zone (``field="tz"``).
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(
            f"time zone {name!r} is not an IANA zone name such as Europe/Berlin or UTC",
            key="input.invalid_tz",
            field="tz",
        ) from exc


def _offset(tz: ZoneInfo, t: int) -> int:
    offset = datetime.fromtimestamp(t, tz=tz).utcoffset()
    assert offset is not None  # a ZoneInfo always knows its offset
    return int(offset.total_seconds())


def _segments(tz: ZoneInfo, lo: int, hi: int) -> tuple[Int64Array, Int64Array]:
    """Return the UTC offset segments of ``tz`` over ``[lo, hi]`` (epoch seconds).

    Segment ``i`` starts at ``starts[i]`` (the first at -inf, written as the int64 minimum) and has
    offset ``offsets[i]``. Offsets are sampled daily and each change is located to the second by
    bisection; zones change offset at most a few times a year, never twice within a day.
    """
    if tz.key in _FIXED_UTC:
        return np.asarray([_MIN], np.int64), np.asarray([0], np.int64)
    probes = [*range(lo, hi, DAY), hi]
    offsets = [_offset(tz, t) for t in probes]
    starts = [_MIN]
    found = [offsets[0]]
    for i in range(1, len(probes)):
        if offsets[i] == offsets[i - 1]:
            continue
        # Bisect to the second: offset(left) is the old offset, offset(right) the new one.
        left, right = probes[i - 1], probes[i]
        while right - left > 1:
            mid = (left + right) // 2
            if _offset(tz, mid) == offsets[i - 1]:
                left = mid
            else:
                right = mid
        starts.append(right)
        found.append(offsets[i])
    return np.asarray(starts, np.int64), np.asarray(found, np.int64)


def _to_utc(walls: Int64Array, starts: Int64Array, offsets: Int64Array) -> Int64Array:
    """Map local wall-clock seconds to the UTC instants at which they occur.

    A repeated wall time gives both instants; a skipped one gives the instant of the jump.
    """
    big = np.iinfo(np.int64).max
    # Local (wall) time at which each segment starts; segment 0 starts at -inf.
    local_starts = starts.copy()
    local_starts[1:] += offsets[1:]
    ends = np.append(starts[1:], big)  # UTC end of each segment
    seg = np.searchsorted(local_starts, walls, side="right") - 1
    first = walls - offsets[seg]
    exists = first < ends[seg]
    out = [first[exists]]
    # Skipped wall time (clocks went forward): start at the jump itself.
    out.append(ends[seg[~exists]])
    # Repeated wall time (clocks went back): it also occurred in the previous segment.
    prev = np.maximum(seg - 1, 0)
    again = (seg > 0) & (walls - offsets[prev] < starts[seg])
    out.append(walls[again] - offsets[prev[again]])
    return np.concatenate(out)


def bucket_edges(
    start_ns: int,
    end_ns: int,
    width: timedelta,
    tz: str = "UTC",
    *,
    max_buckets: int = MAX_BUCKETS,
) -> Int64Array:
    """Return the edges of the buckets that cover ``[start_ns, end_ns)``, in ns since the epoch.

    The result ``e`` has ``n + 1`` strictly increasing edges for ``n`` buckets
    ``[e[i], e[i + 1])`` with ``e[0] <= start_ns`` and ``e[n] >= end_ns``: the first bucket may
    begin before ``start_ns`` and the last may end after ``end_ns``. An empty range has no buckets
    (one edge).

    Raises:
        InvalidInput: the width is not a valid bucket (``field="bucket"``), the zone is unknown
            (``field="tz"``), ``end_ns < start_ns`` (``field="end"``), or the range needs more
            than ``max_buckets`` buckets (``field="bucket"``).
    """
    seconds = check_bucket(width)
    tzinfo = zone(tz)
    if end_ns < start_ns:
        raise InvalidInput("the end of a range lies before its start", field="end")
    for name, value in (("start", start_ns), ("end", end_ns)):
        if not _LIMIT_NS[0] <= value <= _LIMIT_NS[1]:
            raise InvalidInput(
                f"{name} lies outside the years 1678 to 2261 that nanosecond timestamps cover",
                field=name,
            )
    lo = start_ns // NS
    hi = -(-end_ns // NS)
    # Refuse before allocating: the exact count (known only later) is at most this plus one
    # bucket per local day.
    if (hi - lo) // seconds > max_buckets:
        raise _too_many((hi - lo) // seconds, max_buckets)
    # Offsets are found a little beyond the range; walls are generated only where an edge just
    # before the start or just after the end can lie: one bucket plus twice the largest offset
    # swing (a DST gap or a zone changing sides of the date line) away from the range.
    starts, offsets = _segments(tzinfo, lo - 2 * DAY - seconds, hi + 2 * DAY + seconds)
    low_off, high_off = int(offsets.min()), int(offsets.max())
    slack = seconds + 2 * (high_off - low_off) + 3_600
    walls = _walls(lo + low_off - slack, hi + high_off + slack, seconds)
    mapped = np.sort(_to_utc(walls, starts, offsets), kind="stable")
    keep = np.ones(len(mapped), dtype=bool)
    keep[1:] = mapped[1:] != mapped[:-1]
    edges = mapped[keep] * NS
    first = int(np.searchsorted(edges, start_ns, side="right")) - 1
    last = int(np.searchsorted(edges, end_ns, side="left"))
    if first < 0 or last >= len(edges):  # pragma: no cover - the margin makes this impossible
        raise AssertionError("bucket edges do not cover the range")
    if start_ns == end_ns:
        return edges[first : first + 1]
    out = edges[first : last + 1]
    if len(out) - 1 > max_buckets:
        raise _too_many(len(out) - 1, max_buckets)
    return out


def _walls(lo: int, hi: int, seconds: int) -> Int64Array:
    """Return the local wall-clock bucket starts (seconds) in ``[lo, hi]``, in order."""
    if seconds >= DAY:
        days = np.arange(lo // DAY, hi // DAY + 1, dtype=np.int64)
        starts: Int64Array = days[(days - MONDAY_EPOCH_DAY) % (seconds // DAY) == 0] * DAY
        return starts
    # Enumerate (day, step) pairs by one running index j: day = j // per_day, step = j % per_day,
    # so a day's last bucket is cut at midnight and the next day starts afresh.
    per_day = -(-DAY // seconds)

    def index(t: int) -> int:
        return (t // DAY) * per_day + min((t % DAY) // seconds, per_day - 1)

    j = np.arange(index(lo), index(hi) + 1, dtype=np.int64)
    return (j // per_day) * DAY + (j % per_day) * seconds


def _too_many(count: int, max_buckets: int) -> InvalidInput:
    return InvalidInput(
        f"the range needs about {count} buckets; at most {max_buckets} are allowed: "
        "use a wider bucket or a shorter range",
        key="input.too_many_buckets",
        field="bucket",
    )
