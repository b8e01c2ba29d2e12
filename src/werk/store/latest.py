"""Keep the newest sample of every series in blocks of series: the layout and its merge rules.

The store answers ``latest()`` from a table maintained on every write. One row per series would
make a 100k-series batch update 100k rows, which on PostgreSQL costs several times the COPY of the
samples themselves. Instead one row holds a *block* of :data:`BLOCK` consecutive series ids
(``block = series_id // BLOCK``, ``slot = series_id % BLOCK``), its payload the newest ``ts``,
``value`` and ``quality`` of each slot as three little-endian arrays. A write reads the blocks its
series fall in, merges in numpy and writes back the blocks that changed: ~100 rows for 100k
series. Reading the newest value of 100k series is reading ~100 rows.

Each block row carries a ``version``, raised by one on every update. A process keeps the blocks it
has seen in a :class:`BlockCache`; a write or read first asks the database for the versions of
its blocks (a few bytes a row, and on a write the row locks) and fetches the payload only of the
blocks changed by someone else since. A single writer so moves 1.7 MB less per 100k-series batch.

Merge rules: a sample replaces the stored one when its ``ts`` is equal or newer (an older sample
arriving late never does); within one batch the newest sample of a series wins, and of samples
with equal ``ts`` the later row. Any quality is kept: ``latest`` reports what the device said last,
BAD included. An empty slot has ``ts`` = int64 minimum.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

BLOCK: Final = 1024
"""Series per block row: 17 KiB per block."""

_SHIFT: Final = BLOCK.bit_length() - 1
assert 1 << _SHIFT == BLOCK, "BLOCK must be a power of two"

SLOT_LAYOUTS: Final = 64
"""Id arrays whose slots :class:`Pending` keeps."""
SLOT_ROWS: Final = 1_000_000
"""Ids (summed over the arrays) whose slots :class:`Pending` keeps."""

EMPTY: Final = int(np.iinfo(np.int64).min)
"""``ts`` of a slot that has no sample yet."""

BLOCK_DTYPE: Final = np.dtype(
    [("ts", "<i8", (BLOCK,)), ("value", "<f8", (BLOCK,)), ("quality", "u1", (BLOCK,))]
)

Int64Array = npt.NDArray[np.int64]


class OutsideBlocks(ValueError):
    """A series whose block is not among the blocks at hand."""


def empty_block() -> bytes:
    """Return the payload of a block with no samples."""
    block = np.zeros(1, dtype=BLOCK_DTYPE)
    block["ts"] = EMPTY
    return block.tobytes()


def blocks_of(series_ids: Int64Array) -> Int64Array:
    """Return the sorted distinct blocks that ``series_ids`` fall in."""
    if not len(series_ids):
        return np.zeros(0, dtype=np.int64)
    # Block numbers are small and dense: counting beats sorting 100k ids.
    return np.flatnonzero(np.bincount(series_ids >> _SHIFT)).astype(np.int64)


class BlockCache:
    """Payloads of latest blocks by (block, version), shared by the threads of a process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._blocks: dict[int, tuple[int, bytes]] = {}

    def get(self, block: int, version: int) -> bytes | None:
        """Return the payload of ``block`` at ``version`` if it is cached."""
        entry = self._blocks.get(block)
        return entry[1] if entry is not None and entry[0] == version else None

    def current(self, blocks: Sequence[int]) -> list[tuple[int, bytes]] | None:
        """Return (version, payload) of every block in ``blocks``, or None if one is unknown."""
        entries = self._blocks
        try:
            return [entries[b] for b in blocks]
        except KeyError:
            return None

    def put(self, items: Iterable[tuple[int, int, bytes]]) -> None:
        """Remember (block, version, payload) of committed blocks; a newer version wins."""
        with self._lock:
            for block, version, payload in items:
                entry = self._blocks.get(block)
                if entry is None or entry[0] <= version:
                    self._blocks[block] = (version, payload)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._blocks.clear()


@dataclass(frozen=True, slots=True)
class Slots:
    """Where a batch's series lie in a set of blocks: what :meth:`Blocks.merge` works out first."""

    flat: Int64Array
    """Index of each series' slot in the flattened (blocks × BLOCK) arrays."""
    distinct: bool
    """No slot twice."""
    rows: Int64Array
    """The distinct blocks (indices into the blocks' ids) the series fall in."""


@dataclass
class Blocks:
    """Some latest blocks, decoded: ``ts``, ``value`` and ``quality`` of shape (blocks, BLOCK)."""

    ids: Int64Array
    ts: Int64Array
    value: npt.NDArray[np.float64]
    quality: npt.NDArray[np.uint8]
    versions: Int64Array
    """Version of each block as read (-1: no row in the database)."""
    _row_of: Int64Array | None = field(default=None, repr=False, compare=False)
    """Row of each block number (-1: not here), built on first use; ``ids`` never change."""

    @classmethod
    def empty(cls, wanted: Int64Array) -> Blocks:
        """Return blocks ``wanted`` (sorted) with no samples, not in the database (version -1)."""
        n = len(wanted)
        return cls(
            np.asarray(wanted, dtype=np.int64),
            np.full((n, BLOCK), EMPTY, dtype=np.int64),
            np.zeros((n, BLOCK), dtype=np.float64),
            np.zeros((n, BLOCK), dtype=np.uint8),
            np.full(n, -1, dtype=np.int64),
        )

    @classmethod
    def assemble(
        cls,
        wanted: Int64Array,
        found: Sequence[int],
        versions: Sequence[int],
        payloads: Sequence[bytes],
    ) -> Blocks:
        """Return blocks ``wanted`` (sorted): ``found`` (with their versions and payloads)
        decoded, the rest empty."""
        n = len(wanted)
        if len(found) == n:
            # Every block has a row (the usual case): decode in place of filling defaults.
            raw = np.frombuffer(b"".join(payloads), dtype=BLOCK_DTYPE)
            return cls(
                np.asarray(wanted, dtype=np.int64),
                raw["ts"].copy(),
                raw["value"].copy(),
                raw["quality"].copy(),
                np.asarray(versions, dtype=np.int64),
            )
        blocks = cls.empty(wanted)
        if len(found):
            rows = np.searchsorted(blocks.ids, np.asarray(found, dtype=np.int64))
            raw = np.frombuffer(b"".join(payloads), dtype=BLOCK_DTYPE)
            blocks.ts[rows] = raw["ts"]
            blocks.value[rows] = raw["value"]
            blocks.quality[rows] = raw["quality"]
            blocks.versions[rows] = np.asarray(versions, dtype=np.int64)
        return blocks

    def payload(self, row: int) -> bytes:
        """Encode block ``row`` (an index into :attr:`ids`) back to its payload."""
        out = np.empty(1, dtype=BLOCK_DTYPE)
        out["ts"][0] = self.ts[row]
        out["value"][0] = self.value[row]
        out["quality"][0] = self.quality[row]
        return out.tobytes()

    def _rows(self, series_ids: Int64Array) -> Int64Array:
        """Return the row of each series' block, -1 where the block is not here."""
        row_of = self._row_of
        if row_of is None:
            # A lookup table from block number to row: block numbers are small.
            row_of = np.full(int(self.ids[-1]) + 2 if len(self.ids) else 1, -1, dtype=np.int64)
            row_of[self.ids] = np.arange(len(self.ids))
            self._row_of = row_of
        rows: Int64Array = row_of[np.minimum(series_ids >> _SHIFT, len(row_of) - 1)]
        return rows

    def subset(self, rows: Int64Array) -> Blocks:
        """Return a copy of blocks ``rows`` (indices into :attr:`ids`, ascending)."""
        return Blocks(
            self.ids[rows],
            self.ts[rows],
            self.value[rows],
            self.quality[rows],
            self.versions[rows],
        )

    def _flat(self, series_ids: Int64Array) -> Int64Array:
        """Return the index of each series' slot in the flattened (blocks × BLOCK) arrays."""
        rows = self._rows(series_ids)
        if len(rows) and int(rows.min()) < 0:
            raise OutsideBlocks("series outside the loaded blocks")
        flat: Int64Array = (rows << _SHIFT) | (series_ids & (BLOCK - 1))
        return flat

    def slots(self, series_ids: Int64Array) -> Slots:
        """Return where ``series_ids`` lie in these blocks (valid while :attr:`ids` is)."""
        flat = self._flat(series_ids)
        return Slots(flat, _distinct(flat, self.ts.size), _rows_of(flat, len(self.ids)))

    def merge(
        self,
        series_ids: Int64Array,
        ts: Int64Array,
        value: npt.NDArray[np.float64],
        quality: npt.NDArray[np.uint8],
        slots: Slots | None = None,
    ) -> Int64Array:
        """Merge a batch into the blocks; return indices (into :attr:`ids`) of changed blocks.

        ``slots``: :meth:`slots` of ``series_ids``, if the caller kept them from before."""
        if not len(series_ids):
            return np.zeros(0, dtype=np.int64)
        if slots is None:
            flat = self._flat(series_ids)
            distinct = _distinct(flat, self.ts.size)
        else:
            flat, distinct = slots.flat, slots.distinct
        ts_flat = self.ts.reshape(-1)
        if distinct:
            # One sample per series (the usual batch): no grouping needed.
            newer = ts >= ts_flat[flat]
            if newer.all():
                ts_flat[flat] = ts
                self.value.reshape(-1)[flat] = value
                self.quality.reshape(-1)[flat] = quality
                return slots.rows if slots is not None else _rows_of(flat, len(self.ids))
            target, new_ts = flat[newer], ts[newer]
            new_value, new_quality = value[newer], quality[newer]
        else:
            # Sort by slot, then ts; lexsort is stable, so of equal ts the later row comes last,
            # and the last row of each slot is the one to keep.
            order = np.lexsort((ts, flat))
            ends = np.ones(len(order), dtype=bool)
            ends[:-1] = flat[order][1:] != flat[order][:-1]
            pick = order[ends]
            pick = pick[ts[pick] >= ts_flat[flat[pick]]]
            target, new_ts, new_value, new_quality = (
                flat[pick],
                ts[pick],
                value[pick],
                quality[pick],
            )
        ts_flat[target] = new_ts
        self.value.reshape(-1)[target] = new_value
        self.quality.reshape(-1)[target] = new_quality
        return _rows_of(target, len(self.ids))

    def overlay(self, other: Blocks) -> Int64Array:
        """Merge ``other``'s samples into these blocks where they are as new or newer (the
        merge rule); blocks of ``other`` not here are ignored. Return indices of changed blocks."""
        if not len(other.ids) or not len(self.ids):
            return np.zeros(0, dtype=np.int64)
        mine = np.searchsorted(self.ids, other.ids)
        mine = np.minimum(mine, len(self.ids) - 1)
        common = self.ids[mine] == other.ids
        rows, theirs = mine[common], np.flatnonzero(common)
        if not len(rows):
            return np.zeros(0, dtype=np.int64)
        new_ts = other.ts[theirs]
        take = (new_ts != EMPTY) & (new_ts >= self.ts[rows])
        if not take.any():
            return np.zeros(0, dtype=np.int64)
        ts, value, quality = self.ts[rows], self.value[rows], self.quality[rows]
        ts[take] = new_ts[take]
        value[take] = other.value[theirs][take]
        quality[take] = other.quality[theirs][take]
        self.ts[rows], self.value[rows], self.quality[rows] = ts, value, quality
        changed: Int64Array = rows[take.any(axis=1)].astype(np.int64)
        return changed

    def widen(self, wanted: Int64Array) -> Blocks:
        """Return these blocks plus empty ones for the ids of ``wanted`` not here (sorted)."""
        union = np.union1d(self.ids, np.asarray(wanted, dtype=np.int64))
        if len(union) == len(self.ids):
            return self
        out = Blocks.empty(union)
        rows = np.searchsorted(union, self.ids)
        out.ts[rows], out.value[rows], out.quality[rows] = self.ts, self.value, self.quality
        out.versions[rows] = self.versions
        return out

    def gather(
        self, series_ids: Int64Array
    ) -> tuple[npt.NDArray[np.bool_], Int64Array, npt.NDArray[np.float64], npt.NDArray[np.uint8]]:
        """Return (has a sample, ts, value, quality) of each series."""
        flat = self._flat(series_ids)
        ts = self.ts.reshape(-1)[flat]
        return (
            ts != EMPTY,
            ts,
            self.value.reshape(-1)[flat],
            self.quality.reshape(-1)[flat],
        )

    def clear_before(self, series_ids: Int64Array, cutoffs: Int64Array) -> Int64Array:
        """Empty the slots of ``series_ids`` whose sample is older than its cutoff; return the
        indices of changed blocks."""
        if not len(series_ids):
            return np.zeros(0, dtype=np.int64)
        flat = self._flat(series_ids)
        ts_flat = self.ts.reshape(-1)
        old = (ts_flat[flat] != EMPTY) & (ts_flat[flat] < cutoffs)
        ts_flat[flat[old]] = EMPTY
        return _rows_of(flat[old], len(self.ids))


def _distinct(flat: Int64Array, size: int) -> bool:
    """Whether no slot index repeats (``size``: slots in all)."""
    if len(flat) < 2:
        return True
    step = np.diff(flat)
    if bool((step > 0).all()):  # an edge's point table, in id order: no counting needed
        return True
    return int(np.bincount(flat, minlength=size).max()) <= 1


def _rows_of(flat: Int64Array, blocks: int) -> Int64Array:
    """Return the distinct block rows that flat slot indices fall in."""
    return np.flatnonzero(np.bincount(flat >> _SHIFT, minlength=blocks)).astype(np.int64)


class Pending:
    """Newest samples of committed batches not yet merged into the stored blocks.

    A store that merges latest blocks behind its writes (PostgreSQL, see
    :mod:`werk.store.postgres`) keeps them here between merges: writes add, reads lay them over
    the stored blocks, and a merge takes them (they stay visible to reads until the merge has
    committed, and come back if it fails). Adding and merging follow the merge rule, so merging
    the same samples twice changes nothing.

    The blocks held here keep their layout (every block a write has touched) from one merge to
    the next, so that adding a batch is a scatter into arrays that are already there, not a copy
    of everything pending into wider ones; a merge takes only the blocks written since the last.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._blocks = Blocks.empty(np.zeros(0, dtype=np.int64))
        self._touched = np.zeros(0, dtype=bool)
        """Per row of ``_blocks``: written since the last take."""
        self._keys: list[str] = []
        self._slots: OrderedDict[int, tuple[Int64Array, Int64Array, Slots]] = OrderedDict()
        """Slots of read-only id arrays seen before (a layout's ids, shared by its batches),
        by ``id()`` of the array: (the array, the blocks' ids they were found in, the slots)."""
        self._inflight: Blocks | None = None
        self.since: float | None = None
        """``time.monotonic()`` of the oldest sample not yet taken (None: nothing pending)."""

    def __len__(self) -> int:
        return len(self._keys)

    def add(
        self,
        key: str,
        series_ids: Int64Array,
        ts: Int64Array,
        value: npt.NDArray[np.float64],
        quality: npt.NDArray[np.uint8],
        now: float,
    ) -> None:
        """Add a committed batch's samples (its key is cleared from the database on merge)."""
        with self._lock:
            try:
                changed = self._blocks.merge(
                    series_ids, ts, value, quality, self._slots_of(series_ids)
                )
            except OutsideBlocks:  # raised before anything changed
                self._widen(blocks_of(series_ids))
                changed = self._blocks.merge(
                    series_ids, ts, value, quality, self._slots_of(series_ids)
                )
            self._touched[changed] = True
            self._keys.append(key)
            if self.since is None:
                self.since = now

    def _slots_of(self, series_ids: Int64Array) -> Slots | None:
        """The slots of ``series_ids`` in the pending blocks, kept for read-only id arrays (the
        ids of a repeated layout, see :mod:`werk.store.layouts`): working them out again was
        two thirds of adding a 10k-sample batch. None: the merge works them out itself.

        Raises:
            OutsideBlocks: a series lies outside the pending blocks.
        """
        if series_ids.flags.writeable or not len(series_ids):
            return None
        key = id(series_ids)
        kept = self._slots.get(key)
        if kept is not None and kept[0] is series_ids and kept[1] is self._blocks.ids:
            self._slots.move_to_end(key)
            return kept[2]
        slots = self._blocks.slots(series_ids)
        self._slots[key] = (series_ids, self._blocks.ids, slots)
        self._slots.move_to_end(key)
        held = sum(len(ids) for ids, _, _ in self._slots.values())
        while len(self._slots) > SLOT_LAYOUTS or held > SLOT_ROWS:
            _, (dropped, _, _) = self._slots.popitem(last=False)
            held -= len(dropped)
        return slots

    def _widen(self, wanted: Int64Array) -> None:
        wider = self._blocks.widen(wanted)
        touched = np.zeros(len(wider.ids), dtype=bool)
        touched[np.searchsorted(wider.ids, self._blocks.ids)] = self._touched
        self._blocks, self._touched = wider, touched

    def take(self) -> tuple[Blocks, list[str]]:
        """Return everything pending and its batch keys for a merge; call :meth:`merged` or
        :meth:`failed` after it. Reads still see what was taken until then."""
        with self._lock:
            taken = self._blocks.subset(np.flatnonzero(self._touched))
            keys = self._keys
            self._inflight = taken
            self._blocks = Blocks.empty(self._blocks.ids)
            self._touched = np.zeros(len(self._blocks.ids), dtype=bool)
            self._keys, self.since = [], None
            return taken, keys

    def merged(self) -> None:
        """The merge of what was taken has committed (and the block cache holds it)."""
        with self._lock:
            self._inflight = None

    def failed(self, blocks: Blocks, keys: list[str], since: float) -> None:
        """The merge of what was taken failed: pending again; newer samples added meanwhile
        still win."""
        with self._lock:
            self._widen(blocks.ids)
            merged = blocks.widen(self._blocks.ids)
            merged.overlay(self._blocks)
            self._blocks, self._inflight = merged, None
            self._touched = (merged.ts != EMPTY).any(axis=1)
            self._keys = keys + self._keys
            self.since = since if self.since is None else min(since, self.since)

    def snapshot(self, block_ids: Int64Array) -> Blocks | None:
        """Return a copy of what is pending (taken or not) in ``block_ids``, or None if nothing.

        A read takes the snapshot *before* it reads the stored blocks: whatever a merge clears
        from here after the snapshot was committed before, so the read finds it stored."""
        with self._lock:
            parts = [b for b in (self._inflight, self._blocks) if b is not None and len(b.ids)]
            if not parts:
                return None
            out = Blocks.empty(np.asarray(block_ids, dtype=np.int64))
            for part in parts:  # in-flight first: what was added since is as new or newer
                out.overlay(part)
            return out
