"""Keep the time models of settled windows between queries: :class:`Settled`.

A shift that ended more than the engine's ``settle`` ago is *final*: late data may still arrive,
but the ingest path then re-derives exactly the windows it touches
(:meth:`werk.kpi.engine.KpiEngine.recompute`), which forgets them here. So a dashboard asking
for "OEE by shift, last week" every few seconds needs the store and the time-model computation
only for the windows still running; the others are taken from here.

What is kept is one piece of :class:`~werk.kpi.table.TimeModelTable` per (site, machines,
window): the rows of those machines in that window, exactly as :func:`time_models` computed
them, so pieces and freshly computed windows are stacked into the table a cold computation
gives. A piece is used only with the asset model it was computed under, and for at most ``ttl``:
writes this process does not see (another API process, an ingest worker on the message bus,
samples that move a site's data horizon) are picked up by then.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import numpy as np

from werk.assets.model import AssetModel
from werk.kpi.calendar import Granularity, Window
from werk.kpi.model import Finding
from werk.kpi.table import Breakdown, TimeModelTable

PieceKey = tuple[str, tuple[str, ...], Granularity, datetime, datetime]
"""Site, machines, granularity, window start and end."""


class Settled:
    """Time-model pieces of final windows, per (site, machines, window).

    Args:
        ttl: How long a piece is used at most.
        limit: Pieces kept before the expired ones are dropped.
    """

    def __init__(self, ttl: timedelta, limit: int = 100_000) -> None:
        self.ttl_s = ttl.total_seconds()
        self.limit = limit
        self._pieces: dict[PieceKey, tuple[float, AssetModel, TimeModelTable]] = {}
        self._by_path: dict[str, set[PieceKey]] = {}
        self._lock = threading.Lock()
        self.hits = 0

    def __len__(self) -> int:
        return len(self._pieces)

    def get(
        self, site: str, paths: tuple[str, ...], window: Window, model: AssetModel
    ) -> TimeModelTable | None:
        """Return the kept piece of ``window``, if it is young enough and of ``model``."""
        with self._lock:
            found = self._pieces.get((site, paths, window.by, window.start, window.end))
        if found is None or found[1] is not model or time.monotonic() - found[0] > self.ttl_s:
            return None
        self.hits += 1
        return found[2]

    def keep(
        self,
        site: str,
        paths: tuple[str, ...],
        model: AssetModel,
        table: TimeModelTable,
        final: Callable[[Window], bool],
    ) -> None:
        """Keep a piece of every final window of a freshly computed ``table``."""
        now = time.monotonic()
        wanted = [k for k, w in enumerate(table.windows) if final(w)]
        pieces = {
            (site, paths, piece.windows[0].by, piece.windows[0].start, piece.windows[0].end): (
                now,
                model,
                piece,
            )
            for piece in split_windows(table, wanted)
        }
        if not pieces:
            return
        with self._lock:
            self._pieces.update(pieces)
            for path in paths:
                self._by_path.setdefault(path, set()).update(pieces)
            if len(self._pieces) > self.limit:
                old = now - self.ttl_s
                for key in [k for k, v in self._pieces.items() if v[0] < old]:
                    self._drop(key)

    def forget(self, path: str, since: datetime) -> None:
        """Drop every piece holding machine ``path`` in a window ending after ``since``.

        Data of ``path`` at ``since`` changed: a state holds until the next one, so every later
        window may have moved.
        """
        with self._lock:
            for key in [k for k in self._by_path.get(path, ()) if k[4] > since]:
                self._drop(key)

    def _drop(self, key: PieceKey) -> None:
        self._pieces.pop(key, None)
        for path in key[1]:
            keys = self._by_path.get(path)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_path[path]


def split_windows(table: TimeModelTable, windows: Sequence[int]) -> list[TimeModelTable]:
    """Return one table per window index of ``windows``: its rows, breakdown and findings.

    One pass over the rows, the breakdown and the findings (a site-month by shift is ~90 windows
    of 13,000 rows and as many findings: selecting window by window costs more than computing).
    """
    if not windows:
        return []
    n_w = len(table.windows)
    order = np.argsort(table.row_window, kind="stable")
    counts = np.bincount(table.row_window, minlength=n_w)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    position = np.empty(len(table), np.int64)
    position[order] = np.arange(len(table)) - bounds[table.row_window[order]]
    b = table.breakdown
    b_window = table.row_window[b.row] if len(b) else np.zeros(0, np.int64)
    b_order = np.argsort(b_window, kind="stable")
    b_bounds = np.concatenate([[0], np.cumsum(np.bincount(b_window, minlength=n_w))])
    found: dict[str | None, list[Finding]] = {}
    for f in table.findings:
        found.setdefault(f.window, []).append(f)
    out = []
    for k in windows:
        rows = order[bounds[k] : bounds[k + 1]]
        entries = b_order[b_bounds[k] : b_bounds[k + 1]]
        window = table.windows[k]
        breakdown = Breakdown(
            position[b.row[entries]],
            b.element[entries],
            b.source[entries],
            b.code[entries],
            b.reason[entries],
            b.failure[entries],
            b.external[entries],
            b.short[entries],
            b.duration[entries],
            b.occurrences[entries],
            b.codes,
            b.reasons,
        )
        out.append(
            TimeModelTable(
                table.paths,
                (window,),
                table.row_path[rows],
                np.zeros(len(rows), np.int64),
                table.times[rows],
                table.counts[rows],
                breakdown,
                tuple(found.get(window.label, ())),
            )
        )
    return out
