"""Hold time models of many units and windows as columns, and regroup them by summing.

A :class:`TimeModelTable` is what :func:`werk.kpi.timemodel.time_models` returns: one row per
(unit, window), durations as int64 microseconds and quantities as int64 in two matrices, plus the
:class:`Breakdown` of stop time by state code and reason (for loss trees and Paretos) and the
findings. Roll-ups are :meth:`TimeModelTable.regroup`: rows are summed into groups, column by
column — never a ratio averaged.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final, TypeVar

import numpy as np
import numpy.typing as npt

from werk.kpi.calendar import Window
from werk.kpi.mapping import PRECEDENCE, Element, Source
from werk.kpi.model import COUNT_FIELDS, TIME_FIELDS, Finding, TimeModel

I64 = npt.NDArray[np.int64]
ELEMENTS: Final[tuple[Element, ...]] = PRECEDENCE
"""Element codes in the breakdown are indexes into this tuple."""
SOURCES: Final[tuple[Source, ...]] = (Source.CALENDAR, Source.MACHINE, Source.MANUAL)
"""Source codes in the breakdown are indexes into this tuple."""

K = TypeVar("K", bound=Hashable)


def group_ids(keys: Sequence[K]) -> tuple[list[K], I64]:
    """Return the distinct keys in first-seen order and each input's group index."""
    index: dict[K, int] = {}
    ids = np.fromiter((index.setdefault(k, len(index)) for k in keys), np.int64, len(keys))
    return list(index), ids


@dataclass(frozen=True)
class Breakdown:
    """Stop and planned time by (row, element, code, reason), as columns.

    Attributes:
        row: Row of the table the time belongs to.
        element: Index into :data:`ELEMENTS`.
        source: Index into :data:`SOURCES`: who said so.
        code: Index into ``codes``: the state code (``no_shift``/``break``... for the calendar).
        reason: Index into ``reasons``, -1 for none.
        failure: Time of a failure state.
        external: Time whose cause is up- or downstream.
        short: Minor stop kept in APT.
        duration: Microseconds.
        occurrences: Stops that began in this row (a stop across two windows counts once).
        codes: The code strings.
        reasons: The reason strings.
    """

    row: I64
    element: I64
    source: I64
    code: I64
    reason: I64
    failure: npt.NDArray[np.bool_]
    external: npt.NDArray[np.bool_]
    short: npt.NDArray[np.bool_]
    duration: I64
    occurrences: I64
    codes: tuple[str, ...]
    reasons: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.row)

    @staticmethod
    def empty() -> Breakdown:
        """Return a breakdown without entries."""
        z = np.zeros(0, np.int64)
        b = np.zeros(0, np.bool_)
        return Breakdown(z, z, z, z, z, b, b, b, z, z, (), ())

    def regroup(self, row_map: I64) -> Breakdown:
        """Move every entry to row ``row_map[row]`` and sum entries that then coincide."""
        if len(self.row) == 0:
            return self
        return Breakdown.build(
            [
                row_map[self.row],
                self.element,
                self.source,
                self.code,
                self.reason,
                self.failure.astype(np.int64),
                self.external.astype(np.int64),
                self.short.astype(np.int64),
            ],
            self.duration,
            self.occurrences,
            self.codes,
            self.reasons,
        )

    @staticmethod
    def build(
        cols: Sequence[I64],
        duration: I64,
        occurrences: I64,
        codes: tuple[str, ...],
        reasons: tuple[str, ...],
    ) -> Breakdown:
        """Group entries given as (row, element, source, code, reason, failure, external, short)
        columns, summing duration and occurrences."""
        if len(cols[0]) == 0:
            return Breakdown.empty()._replace_strings(codes, reasons)
        keys, inverse = group_rows(cols)
        n = len(keys)
        return Breakdown(
            keys[:, 0].copy(),
            keys[:, 1].copy(),
            keys[:, 2].copy(),
            keys[:, 3].copy(),
            keys[:, 4].copy(),
            keys[:, 5].astype(np.bool_),
            keys[:, 6].astype(np.bool_),
            keys[:, 7].astype(np.bool_),
            _sum(inverse, duration, n),
            _sum(inverse, occurrences, n),
            codes,
            reasons,
        )

    def _replace_strings(self, codes: tuple[str, ...], reasons: tuple[str, ...]) -> Breakdown:
        return Breakdown(
            self.row,
            self.element,
            self.source,
            self.code,
            self.reason,
            self.failure,
            self.external,
            self.short,
            self.duration,
            self.occurrences,
            codes,
            reasons,
        )

    def reason_of(self, i: int) -> str | None:
        """Return the reason string of entry ``i``."""
        r = int(self.reason[i])
        return self.reasons[r] if r >= 0 else None


def unique_inverse(key: I64) -> tuple[I64, I64]:
    """Return the sorted distinct values of ``key`` and each element's index among them.

    A stable sort and a cumulative sum: on large int64 keys this is several times faster than
    ``np.unique(..., return_inverse=True)``, which hashes.
    """
    if len(key) == 0:
        return key[:0].copy(), np.zeros(0, np.int64)
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    new = np.empty(len(key), np.bool_)
    new[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    inverse = np.empty(len(key), np.int64)
    inverse[order] = np.cumsum(new) - 1
    return ordered[new], inverse


def group_rows(cols: Sequence[I64]) -> tuple[I64, I64]:
    """Group rows of integer columns: return the distinct rows (``k × len(cols)``) and each
    input row's group, like ``np.unique(axis=0)`` but through one int64 key when it fits."""
    n = len(cols[0]) if cols else 0
    if n == 0:
        return np.zeros((0, len(cols)), np.int64), np.zeros(0, np.int64)
    low = [int(c.min()) for c in cols]
    radix = [int(c.max()) - lo + 1 for c, lo in zip(cols, low, strict=True)]
    size = 1
    for r in radix:
        size *= r
    if size < 2**62:
        key = np.zeros(n, np.int64)
        for c, lo, r in zip(cols, low, radix, strict=True):
            key = key * r + (c - lo)
        uniq, inverse = unique_inverse(key)
        out = np.empty((len(uniq), len(cols)), np.int64)
        rest = uniq.copy()
        for j in range(len(cols) - 1, -1, -1):
            out[:, j] = rest % radix[j] + low[j]
            rest //= radix[j]
        return out, inverse
    keys, inverse = np.unique(np.stack(cols, axis=1), axis=0, return_inverse=True)
    return keys.astype(np.int64), inverse.reshape(-1).astype(np.int64)


def _sum(groups: I64, values: I64, n: int) -> I64:
    # Float sums of integers are exact below 2**53 µs (285 years): plenty for any window.
    return np.rint(np.bincount(groups, weights=values.astype(np.float64), minlength=n)).astype(
        np.int64
    )


@dataclass(frozen=True)
class TimeModelTable:
    """Time models of units × windows as columns.

    Attributes:
        paths: The units (machines, or the groups of a roll-up).
        windows: The windows, in time order.
        row_path: Index into ``paths`` of each row.
        row_window: Index into ``windows`` of each row.
        times: ``rows × len(TIME_FIELDS)`` microseconds.
        counts: ``rows × len(COUNT_FIELDS)`` quantities.
        breakdown: Stop and planned time by code and reason.
        findings: What the reader must know about the inputs, each naming path and window.
    """

    paths: tuple[str, ...]
    windows: tuple[Window, ...]
    row_path: I64
    row_window: I64
    times: I64
    counts: I64
    breakdown: Breakdown = field(default_factory=Breakdown.empty)
    findings: tuple[Finding, ...] = ()

    def __len__(self) -> int:
        return len(self.row_path)

    def model(self, row: int) -> TimeModel:
        """Return the time model of one row."""
        t = self.times[row]
        c = self.counts[row]
        values: dict[str, timedelta | int] = {
            name: timedelta(microseconds=int(t[i])) for i, name in enumerate(TIME_FIELDS)
        }
        values.update({name: int(c[i]) for i, name in enumerate(COUNT_FIELDS)})
        return TimeModel(**values)  # type: ignore[arg-type]

    def path(self, row: int) -> str:
        """Return the unit of one row."""
        return self.paths[int(self.row_path[row])]

    def window(self, row: int) -> Window:
        """Return the window of one row."""
        return self.windows[int(self.row_window[row])]

    def rows(self) -> Iterator[tuple[str, Window, TimeModel]]:
        """Yield ``(path, window, model)`` for every row."""
        for i in range(len(self)):
            yield self.path(i), self.window(i), self.model(i)

    def find(self, path: str, window: Window) -> int:
        """Return the row of ``path`` and ``window``.

        Raises:
            KeyError: when the table has no such row.
        """
        p = self.paths.index(path)
        w = self.windows.index(window)
        hits = np.flatnonzero((self.row_path == p) & (self.row_window == w))
        if len(hits) == 0:
            raise KeyError((path, window.label))
        return int(hits[0])

    def findings_of(self, row: int) -> tuple[Finding, ...]:
        """Return the findings about one row."""
        path, label = self.path(row), self.window(row).label
        return tuple(f for f in self.findings if f.path == path and f.window == label)

    def total(self) -> TimeModel:
        """Return the sum of all rows."""
        values: dict[str, timedelta | int] = {
            name: timedelta(microseconds=int(v))
            for name, v in zip(TIME_FIELDS, self.times.sum(axis=0), strict=True)
        }
        values.update(
            {name: int(v) for name, v in zip(COUNT_FIELDS, self.counts.sum(axis=0), strict=True)}
        )
        return TimeModel(**values)  # type: ignore[arg-type]

    def sum_rows(self, rows: npt.NDArray[np.bool_] | I64) -> TimeModel:
        """Return the sum of some rows (a mask or indexes)."""
        return self.select(rows).total()

    def column(self, name: str) -> I64:
        """Return one field (``apt``, ``pq``...) of every row."""
        if name in TIME_FIELDS:
            return self.times[:, TIME_FIELDS.index(name)]
        return self.counts[:, COUNT_FIELDS.index(name)]

    def regroup(
        self,
        path_of: Callable[[str], str],
        window_of: Callable[[Window], Window],
    ) -> TimeModelTable:
        """Sum rows into groups: row ``(p, w)`` goes to ``(path_of(p), window_of(w))``.

        This is every roll-up: machines into lines (``path_of`` cuts the path), shifts into days
        (``window_of`` finds the day), or both. Findings move with their rows.
        """
        new_paths, path_ids = group_ids([path_of(p) for p in self.paths])
        new_windows_unsorted, window_ids = group_ids([window_of(w) for w in self.windows])
        order = sorted(
            range(len(new_windows_unsorted)), key=lambda i: new_windows_unsorted[i].start
        )
        rank = np.empty(len(order), np.int64)
        rank[np.asarray(order, np.int64)] = np.arange(len(order))
        new_windows = [new_windows_unsorted[i] for i in order]
        window_ids = rank[window_ids] if len(order) else window_ids
        gp = path_ids[self.row_path]
        gw = window_ids[self.row_window]
        n_w = len(new_windows)
        key = gp * max(n_w, 1) + gw
        uniq, inverse = unique_inverse(key)
        n = len(uniq)
        times = np.stack([_sum(inverse, self.times[:, j], n) for j in range(len(TIME_FIELDS))], 1)
        counts = np.stack(
            [_sum(inverse, self.counts[:, j], n) for j in range(len(COUNT_FIELDS))], 1
        )
        if n == 0:
            times = np.zeros((0, len(TIME_FIELDS)), np.int64)
            counts = np.zeros((0, len(COUNT_FIELDS)), np.int64)
        label_map: dict[str | None, str | None] = {
            w.label: window_of(w).label for w in self.windows
        }
        path_map: dict[str | None, str | None] = {p: path_of(p) for p in self.paths}
        path_map[None] = label_map[None] = None
        findings = tuple(
            Finding(
                f.key,
                f.message,
                path_map[f.path] if f.path in path_map else path_of(f.path),  # type: ignore[arg-type]
                label_map.get(f.window, f.window),
                f.detail,
            )
            for f in self.findings
        )
        return TimeModelTable(
            tuple(new_paths),
            tuple(new_windows),
            (uniq // max(n_w, 1)).astype(np.int64),
            (uniq % max(n_w, 1)).astype(np.int64),
            times,
            counts,
            self.breakdown.regroup(inverse),
            findings,
        )

    def select(self, rows: npt.NDArray[np.bool_] | I64) -> TimeModelTable:
        """Return a table of some rows (a mask or indexes); paths and windows are kept."""
        index = np.flatnonzero(rows) if rows.dtype == np.bool_ else rows.astype(np.int64)
        remap = np.full(len(self), -1, np.int64)
        remap[index] = np.arange(len(index))
        keep = remap[self.breakdown.row] >= 0 if len(self.breakdown) else np.zeros(0, np.bool_)
        b = self.breakdown
        breakdown = Breakdown(
            remap[b.row[keep]],
            b.element[keep],
            b.source[keep],
            b.code[keep],
            b.reason[keep],
            b.failure[keep],
            b.external[keep],
            b.short[keep],
            b.duration[keep],
            b.occurrences[keep],
            b.codes,
            b.reasons,
        )
        wanted = {(self.path(int(i)), self.window(int(i)).label) for i in index}
        return TimeModelTable(
            self.paths,
            self.windows,
            self.row_path[index],
            self.row_window[index],
            self.times[index],
            self.counts[index],
            breakdown,
            tuple(f for f in self.findings if (f.path, f.window) in wanted),
        )


def concat(tables: Sequence[TimeModelTable]) -> TimeModelTable:
    """Stack tables (for example one per site, each cut by its own calendar) into one."""
    paths, path_ids = group_ids([p for t in tables for p in t.paths])
    windows, window_ids = group_ids([w for t in tables for w in t.windows])
    order = sorted(range(len(windows)), key=lambda i: (windows[i].start, windows[i].end))
    rank = np.empty(len(order), np.int64)
    rank[np.asarray(order, np.int64)] = np.arange(len(order))
    codes, code_ids = group_ids([c for t in tables for c in t.breakdown.codes])
    reasons, reason_ids = group_ids([r for t in tables for r in t.breakdown.reasons])
    parts: list[tuple[I64, I64, Breakdown]] = []
    p0 = w0 = c0 = r0 = rows0 = 0
    for t in tables:
        pid = path_ids[p0 : p0 + len(t.paths)]
        wid = rank[window_ids[w0 : w0 + len(t.windows)]] if len(t.windows) else window_ids[:0]
        cid = np.r_[code_ids[c0 : c0 + len(t.breakdown.codes)], -1]
        rid = np.r_[reason_ids[r0 : r0 + len(t.breakdown.reasons)], -1]
        b = t.breakdown
        parts.append(
            (
                pid[t.row_path],
                wid[t.row_window],
                Breakdown(
                    b.row + rows0,
                    b.element,
                    b.source,
                    cid[b.code],
                    rid[b.reason],
                    b.failure,
                    b.external,
                    b.short,
                    b.duration,
                    b.occurrences,
                    (),
                    (),
                ),
            )
        )
        p0, w0 = p0 + len(t.paths), w0 + len(t.windows)
        c0, r0 = c0 + len(t.breakdown.codes), r0 + len(t.breakdown.reasons)
        rows0 += len(t)

    def cat(values: list[I64]) -> I64:
        return np.concatenate(values) if values else np.zeros(0, np.int64)

    def flags(values: list[npt.NDArray[np.bool_]]) -> npt.NDArray[np.bool_]:
        return np.concatenate(values) if values else np.zeros(0, np.bool_)

    bs = [p[2] for p in parts]
    breakdown = Breakdown(
        cat([b.row for b in bs]),
        cat([b.element for b in bs]),
        cat([b.source for b in bs]),
        cat([b.code for b in bs]),
        cat([b.reason for b in bs]),
        flags([b.failure for b in bs]),
        flags([b.external for b in bs]),
        flags([b.short for b in bs]),
        cat([b.duration for b in bs]),
        cat([b.occurrences for b in bs]),
        tuple(codes),
        tuple(reasons),
    )
    return TimeModelTable(
        tuple(paths),
        tuple(windows[i] for i in order),
        cat([p[0] for p in parts]),
        cat([p[1] for p in parts]),
        np.concatenate([t.times for t in tables])
        if tables
        else np.zeros((0, len(TIME_FIELDS)), np.int64),
        np.concatenate([t.counts for t in tables])
        if tables
        else np.zeros((0, len(COUNT_FIELDS)), np.int64),
        breakdown,
        tuple(f for t in tables for f in t.findings),
    )
