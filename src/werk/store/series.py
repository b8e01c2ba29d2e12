"""Resolve (path, signal) pairs to series ids in memory, without per-row Python.

Both stores keep the series registry in the database and a copy of (id, path, signal) here. A
write resolves its batch against the copy: DuckDB's vectorised ``hash(path, signal)`` gives a
64-bit key per row, an open-addressing hash table in numpy maps keys to positions, and the paths
and signals at those positions are compared with the batch to rule out hash collisions. Pairs
not found are registered by the store in bulk and added here after their transaction commits.

Edges send the same point table batch after batch, so the (path, signal) columns of recent batch
layouts are remembered with their ids (:class:`werk.store.layouts.LayoutMemo`): a layout seen
before resolves with a dictionary look-up and two buffer comparisons.

Series ids never change once given, so the copy is never wrong, only incomplete; the stores add
what other processes registered before reads that need it: everything above :attr:`synced_id`,
the highest id read back from the registry. (Ids this process registers itself are added at once
but do not move ``synced_id``: another process may have committed lower ids meanwhile.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Final

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from werk.store.layouts import LayoutMemo, one_array

Int64Array = npt.NDArray[np.int64]
Hasher = Callable[[pa.Array, pa.Array], npt.NDArray[np.uint64]]
"""Hash (path, signal) columns to one uint64 per row."""

_EMPTY: Final = -1
_SELECTIONS: Final = 64
"""Selections (prefix, signals) remembered until the next series is added."""


def normalise_prefix(prefix: str | None) -> str:
    """Return ``prefix`` without surrounding slashes and white space; '' means everything."""
    return (prefix or "").strip().strip("/")


def under(paths: pa.Array | pa.ChunkedArray, prefix: str) -> pa.Array | pa.ChunkedArray:
    """Return a boolean mask: path equals ``prefix`` or lies below it (segment-wise; the prefix
    is normalised first, '' is everything).

    Dictionary-encoded paths are tested once per distinct path.
    """
    prefix = normalise_prefix(prefix)
    if not prefix:
        return pa.array(np.ones(len(paths), dtype=bool))
    if isinstance(paths, pa.ChunkedArray):
        return pa.chunked_array([under(chunk, prefix) for chunk in paths.chunks], pa.bool_())
    if pa.types.is_dictionary(paths.type):
        return under(paths.dictionary, prefix).take(paths.indices)
    return pc.or_(pc.equal(paths, prefix), pc.starts_with(paths, prefix + "/"))


class _HashTable:
    """Map uint64 keys to int64 values with linear probing, all operations vectorised."""

    def __init__(self, capacity: int) -> None:
        self.mask = capacity - 1
        self.keys = np.zeros(capacity, dtype=np.uint64)
        self.values = np.full(capacity, _EMPTY, dtype=np.int64)

    def lookup(self, keys: npt.NDArray[np.uint64]) -> Int64Array:
        slot = (keys & np.uint64(self.mask)).astype(np.int64)
        # First probe for every key at once: at a load factor of 1/4 nearly all end here.
        values = self.values[slot]
        hit = self.keys[slot] == keys
        out = np.where(hit, values, _EMPTY)
        pending = np.flatnonzero(~hit & (values != _EMPTY))
        slot = slot[pending]
        while len(pending):
            slot = (slot + 1) & self.mask
            values = self.values[slot]
            hit = (values != _EMPTY) & (self.keys[slot] == keys[pending])
            out[pending[hit]] = values[hit]
            go_on = ~hit & (values != _EMPTY)
            pending, slot = pending[go_on], slot[go_on]
        return out

    def insert(self, keys: npt.NDArray[np.uint64], values: Int64Array) -> None:
        """Insert distinct keys that are not in the table yet."""
        slot = (keys & np.uint64(self.mask)).astype(np.int64)
        pending = np.arange(len(keys))
        while len(pending):
            at = slot[pending]
            free = self.values[at] == _EMPTY
            # Of several keys probing the same free slot, the first takes it.
            taken, first = np.unique(at[free], return_index=True)
            winners = pending[free][first]
            self.keys[taken] = keys[winners]
            self.values[taken] = values[winners]
            done = np.zeros(len(keys), dtype=bool)
            done[winners] = True
            pending = pending[~done[pending]]
            slot[pending] = (slot[pending] + 1) & self.mask


def _encoded(names: pa.Array) -> pa.Array:
    """Return ``names`` as a ``dictionary<int32, string>`` array."""
    return pc.dictionary_encode(names)  # int32 indices: NAME_CODES


def _used(codes: npt.NDArray[np.int32], names: pa.Array) -> pa.DictionaryArray:
    """Return ``codes`` into ``names`` as a dictionary array holding only the names used."""
    used = np.zeros(len(names), dtype=bool)
    used[codes] = True
    if not used.all():
        keep = np.flatnonzero(used)
        remap = np.cumsum(used, dtype=np.int32) - 1
        codes, names = remap[codes], names.take(pa.array(keep))
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), names)


class _SortedCodes:
    """Paths and signals in (path, signal) order as codes, for dictionary arrays of any run.

    Paths are sorted, so the distinct paths of a run are a run of the distinct paths: a slice of
    codes less the run's first code indexes a slice of them, at no cost. Signals are coded
    against all distinct signal names, of which a run keeps those it uses.
    """

    def __init__(
        self,
        path_codes: npt.NDArray[np.int32],
        distinct_paths: pa.Array,
        signal_codes: npt.NDArray[np.int32],
        signal_names: pa.Array,
    ) -> None:
        self.path_codes = path_codes
        self.distinct_paths = distinct_paths
        self.signal_codes = signal_codes
        self.signal_names = signal_names

    @classmethod
    def of(cls, paths: pa.Array, signals: pa.Array) -> _SortedCodes:
        """Code ``paths`` (sorted) and ``signals``."""
        n = len(paths)
        starts = np.ones(n, dtype=bool)
        if n > 1:
            changed = pc.not_equal(paths.slice(1), paths.slice(0, n - 1))
            starts[1:] = np.asarray(changed.to_numpy(zero_copy_only=False), dtype=bool)
        path_codes = np.cumsum(starts, dtype=np.int32) - 1
        coded = _encoded(signals)
        return cls(
            path_codes,
            paths.filter(pa.array(starts)),
            np.asarray(coded.indices.to_numpy(zero_copy_only=False), dtype=np.int32),
            coded.dictionary,
        )

    def slice(self, start: int, n: int) -> tuple[pa.Array, pa.Array]:
        """Return dictionary-encoded paths and signals of sorted positions ``start:start+n``."""
        codes = self.path_codes[start : start + n]
        first = int(codes[0])
        paths = pa.DictionaryArray.from_arrays(
            pa.array(codes - first, pa.int32()),
            self.distinct_paths.slice(first, int(codes[-1]) - first + 1),
        )
        return paths, _used(self.signal_codes[start : start + n], self.signal_names)


class SeriesIndex:
    """The known series: ids, paths, signals, and a hash index over (path, signal).

    Thread-safe: one lock guards changes and lookups; tables handed out are immutable.
    """

    def __init__(self, hasher: Hasher | None = None) -> None:
        """Create an empty index; ``hasher`` replaces DuckDB's hash (tests force collisions)."""
        self._lock = threading.RLock()
        self._hasher = duckdb.connect(":memory:")
        self._hash_pairs = hasher
        self.ids: Int64Array = np.zeros(0, dtype=np.int64)
        self.paths: pa.Array = pa.array([], pa.string())
        self.signals: pa.Array = pa.array([], pa.string())
        self._position: Int64Array = np.zeros(0, dtype=np.int64)  # by id; -1 unknown
        self._table = _HashTable(1024)
        self._collisions: dict[tuple[str, str], int] = {}
        self._order: Int64Array | None = None
        self._rank: Int64Array | None = None
        self._sorted: tuple[pa.Array, pa.Array] | None = None
        self._coded: _SortedCodes | None = None
        self._selections: dict[tuple[str, tuple[str, ...] | None, bool], Int64Array] = {}
        self._memo: LayoutMemo[Int64Array] = LayoutMemo()
        self.synced_id = 0
        """Every series with an id up to this one has been read from the registry."""

    def close(self) -> None:
        """Release the hashing connection."""
        self._hasher.close()

    @property
    def max_id(self) -> int:
        """Largest id known, 0 if none."""
        return int(self.ids.max()) if len(self.ids) else 0

    def __len__(self) -> int:
        return len(self.ids)

    def _hash(self, paths: pa.Array, signals: pa.Array) -> npt.NDArray[np.uint64]:
        if self._hash_pairs is not None:
            return np.asarray(self._hash_pairs(paths, signals), dtype=np.uint64)
        pairs = pa.table({"path": paths, "signal": signals})
        with self._lock:
            # A registered table and a plain query: the relation API measured ~3 ms a call
            # whatever the size, this ~0.7 ms.
            self._hasher.register("werk_pairs", pairs)
            try:
                hashed = self._hasher.execute("SELECT hash(path, signal) FROM werk_pairs")
                column = hashed.fetchnumpy()
            finally:
                self._hasher.unregister("werk_pairs")
        return np.asarray(next(iter(column.values())), dtype=np.uint64)

    def add(self, ids: Int64Array, paths: pa.Array, signals: pa.Array) -> None:
        """Add series read from or written to the database; ids already known are skipped."""
        ids = np.asarray(ids, dtype=np.int64)
        paths = _flat(paths)
        signals = _flat(signals)
        with self._lock:
            known = self.position(ids) >= 0
            if known.any():
                keep = pa.array(~known)
                ids, paths, signals = ids[~known], paths.filter(keep), signals.filter(keep)
            if not len(ids):
                return
            base = len(self.ids)
            self.ids = np.concatenate([self.ids, ids])
            self.paths = pa.concat_arrays([self.paths, paths])
            self.signals = pa.concat_arrays([self.signals, signals])
            top = int(ids.max()) + 1
            if top > len(self._position):
                grown = np.full(max(top, 2 * len(self._position)), _EMPTY, dtype=np.int64)
                grown[: len(self._position)] = self._position
                self._position = grown
            positions = np.arange(base, base + len(ids), dtype=np.int64)
            self._position[ids] = positions
            self._order = self._rank = self._sorted = self._coded = None
            self._selections = {}
            keys = self._hash(paths, signals)
            if 2 * len(self.ids) > len(self._table.keys):
                self._rebuild()
            else:
                self._index(keys, positions)

    def _rebuild(self) -> None:
        capacity = 1024
        while capacity < 4 * len(self.ids):
            capacity *= 2
        self._table = _HashTable(capacity)
        self._collisions = {}
        self._index(self._hash(self.paths, self.signals), np.arange(len(self.ids), dtype=np.int64))

    def _index(self, keys: npt.NDArray[np.uint64], positions: Int64Array) -> None:
        # A key already in the table, or twice in this lot, belongs to a different pair with the
        # same 64-bit hash: such pairs are kept in a plain dict instead.
        clash = self._table.lookup(keys) != _EMPTY
        _, first = np.unique(keys, return_index=True)
        repeated = np.ones(len(keys), dtype=bool)
        repeated[first] = False
        clash |= repeated
        for i in np.flatnonzero(clash):
            pair = (self.paths[int(positions[i])].as_py(), self.signals[int(positions[i])].as_py())
            self._collisions[pair] = int(positions[i])
        self._table.insert(keys[~clash], positions[~clash])

    def position(self, ids: Int64Array) -> Int64Array:
        """Return the position of each id in :attr:`ids` (-1 for unknown ids)."""
        ids = np.asarray(ids, dtype=np.int64)
        out = np.full(len(ids), _EMPTY, dtype=np.int64)
        inside = (ids >= 0) & (ids < len(self._position))
        out[inside] = self._position[ids[inside]]
        return out

    def resolve(
        self, paths: pa.Array | pa.ChunkedArray, signals: pa.Array | pa.ChunkedArray
    ) -> Int64Array:
        """Return the id of each (path, signal) row, -1 where the pair is not known."""
        paths = _flat(paths)
        signals = _flat(signals)
        with self._lock:
            remembered = self._memo.get(paths, signals)
            if remembered is not None:
                return remembered
            found = self._table.lookup(self._hash(paths, signals))
            hit = found != _EMPTY
            if hit.any():
                # Rule out hash collisions: the pair at the position must be the pair asked for.
                at = pa.array(np.where(hit, found, 0))
                same = pc.and_(
                    pc.equal(self.paths.take(at), paths), pc.equal(self.signals.take(at), signals)
                )
                hit &= np.asarray(same.to_numpy(zero_copy_only=False), dtype=bool)
            if self._collisions and not hit.all():
                for i in np.flatnonzero(~hit):
                    where = self._collisions.get((paths[int(i)].as_py(), signals[int(i)].as_py()))
                    if where is not None:
                        found[i], hit[i] = where, True
            ids = np.full(len(found), _EMPTY, dtype=np.int64)
            ids[hit] = self.ids[found[hit]]
            if hit.all():
                # Shared by every later batch of this layout: nobody may change it in place.
                ids.setflags(write=False)
                self._memo.put(ids, paths, signals)
            return ids

    def order(self) -> Int64Array:
        """Return the positions of all series sorted by path, then signal."""
        with self._lock:
            if self._order is None:
                table = pa.table({"path": self.paths, "signal": self.signals})
                self._order = np.asarray(
                    pc.sort_indices(table, [("path", "ascending"), ("signal", "ascending")]),
                    dtype=np.int64,
                )
            return self._order

    def names_of(
        self, positions: Int64Array, *, dictionary: bool = False
    ) -> tuple[pa.Array, pa.Array]:
        """Return the paths and signals of the series at ``positions``; with ``dictionary`` as
        ``dictionary<int32, string>`` arrays whose dictionaries hold only the names used.

        A selection of a whole subtree is one run of the (path, signal) order: it is sliced out
        of a sorted copy of the names, kept until the next series is added, instead of gathering
        100k strings on every call. Dictionary-encoded, such a run is sliced out of codes kept
        the same way: the 100k series of a fleet repeat 10k paths and a few signal names.
        """
        with self._lock:
            order = self.order()
            n = len(positions)
            if n:
                if self._rank is None or self._sorted is None:
                    rank = np.empty_like(order)
                    rank[order] = np.arange(len(order), dtype=np.int64)
                    at = pa.array(order)
                    self._rank, self._sorted = rank, (self.paths.take(at), self.signals.take(at))
                start = int(self._rank[int(positions[0])])
                if start + n <= len(order) and np.array_equal(order[start : start + n], positions):
                    paths, signals = self._sorted
                    if not dictionary:
                        return paths.slice(start, n), signals.slice(start, n)
                    if self._coded is None:
                        self._coded = _SortedCodes.of(paths, signals)
                    return self._coded.slice(start, n)
            at = pa.array(np.asarray(positions, dtype=np.int64))
            paths, signals = self.paths.take(at), self.signals.take(at)
            if dictionary:
                return _encoded(paths), _encoded(signals)
            return paths, signals

    def select(
        self, prefix: str | None, signals: list[str] | None = None, *, exact: bool = False
    ) -> Int64Array:
        """Return positions of the series at ``prefix`` (and below, unless ``exact``) with one of
        ``signals`` (all if None), sorted by path, then signal."""
        prefix = normalise_prefix(prefix)
        key = (prefix, tuple(signals) if signals else None, exact)
        with self._lock:
            order = self.order()
            paths, names = self.paths, self.signals
            selections = self._selections
            if key in selections:
                return selections[key]
        if not prefix and not signals:
            return order
        mask = np.ones(len(order), dtype=bool)
        if prefix:
            match = pc.equal(paths, prefix) if exact else under(paths, prefix)
            mask &= np.asarray(match.to_numpy(zero_copy_only=False), dtype=bool)
        if signals:
            wanted = pc.is_in(names, value_set=pa.array(signals, pa.string()))
            mask &= np.asarray(wanted.to_numpy(zero_copy_only=False), dtype=bool)
        selected = order[mask[order]]
        selected.setflags(write=False)
        # Dashboards ask the same few paths again and again; a new series empties this.
        if len(selections) >= _SELECTIONS:
            selections.pop(next(iter(selections)))
        selections[key] = selected
        return selected


def _flat(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    column = one_array(column)
    if column.type != pa.string():
        column = column.cast(pa.string())
    return column
