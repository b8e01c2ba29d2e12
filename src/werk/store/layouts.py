"""Remember string columns seen before, so that a repeated batch layout skips per-row work.

An edge sends its point table batch after batch: the ``path`` and ``signal`` columns of one edge's
batches repeat exactly, and a fleet of edges (or one edge cutting a big point table into several
batches) repeats a handful of layouts in turn. Hashing every (path, signal) row to resolve series
ids, or matching every distinct path against the path grammar, costs tens of nanoseconds a row;
recognising a column seen before costs a dictionary look-up on a few sampled values and one
``memcmp`` of its buffers (~0.1 ms for 100k rows).

:class:`LayoutMemo` keeps what was derived from a column (or a pair of columns) under that column,
least recently used first out, bounded by layouts and by rows. A hit is always confirmed by full
equality, so a memo is never wrong, only sometimes empty.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Final, Generic, TypeVar

import pyarrow as pa

V = TypeVar("V")

LAYOUTS: Final = 64
"""Layouts a memo keeps by default."""
ROWS: Final = 1_000_000
"""Rows (summed over its layouts) a memo keeps by default."""


def one_array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Return a column as one array: its only chunk as it is (``combine_chunks`` would copy
    even that one), several chunks concatenated."""
    if isinstance(column, pa.ChunkedArray):
        return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    return column


def fingerprint(column: pa.Array) -> Hashable:
    """Return a cheap key of a string column: its length, null count and a few sampled values.

    Equal columns have equal fingerprints; different columns usually differ in one of them, and
    when they do not, the memo's equality check tells them apart.
    """
    n = len(column)
    if n == 0:
        return (0,)
    picks = (0, n // 3, n // 2, (2 * n) // 3, n - 1)
    return (n, column.null_count, *(column[i].as_py() for i in picks))


class LayoutMemo(Generic[V]):
    """Values derived from string columns, keyed by the columns themselves (thread-safe).

    Args:
        layouts: Most columns (or column pairs) kept.
        rows: Most rows kept over all layouts; a layout longer than this is not kept.
    """

    def __init__(self, layouts: int = LAYOUTS, rows: int = ROWS) -> None:
        self._layouts = layouts
        self._rows = rows
        self._held = 0
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, list[tuple[tuple[pa.Array, ...], V]]] = OrderedDict()

    @staticmethod
    def _key(columns: tuple[pa.Array, ...]) -> Hashable:
        return tuple(fingerprint(c) for c in columns)

    def get(self, *columns: pa.Array | pa.ChunkedArray) -> V | None:
        """Return the value kept for exactly these columns, or None."""
        flat = tuple(one_array(c) for c in columns)
        key = self._key(flat)
        with self._lock:
            candidates = self._entries.get(key)
            if candidates is None:
                return None
            self._entries.move_to_end(key)
            candidates = list(candidates)
        for kept, value in candidates:
            if all(a.equals(b) for a, b in zip(kept, flat, strict=True)):
                return value
        return None

    def put(self, value: V, *columns: pa.Array | pa.ChunkedArray) -> None:
        """Keep ``value`` for these columns; the least recently used go beyond the bounds."""
        flat = tuple(one_array(c) for c in columns)
        rows = len(flat[0]) if flat else 0
        if rows > self._rows:
            return
        key = self._key(flat)
        with self._lock:
            entry = self._entries.setdefault(key, [])
            entry.append((flat, value))
            self._entries.move_to_end(key)
            self._held += rows
            while self._held > self._rows or len(self._entries) > self._layouts:
                _, dropped = self._entries.popitem(last=False)
                self._held -= sum(len(cols[0]) for cols, _ in dropped)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()
            self._held = 0

    def __len__(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._entries.values())
