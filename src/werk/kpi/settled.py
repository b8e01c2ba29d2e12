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
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np

from werk.assets.model import AssetModel
from werk.kpi.calendar import Granularity, Window
from werk.kpi.table import TimeModelTable

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
        pieces = {}
        for index, window in enumerate(table.windows):
            if not final(window):
                continue
            piece = table.select(table.row_window == index)
            piece = replace(piece, windows=(window,), row_window=np.zeros(len(piece), np.int64))
            pieces[(site, paths, window.by, window.start, window.end)] = (now, model, piece)
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
