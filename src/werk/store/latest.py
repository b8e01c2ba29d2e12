"""Keep the newest sample of every series in blocks of series: the layout and its merge rules.

The store answers ``latest()`` from a table maintained on every write. One row per series would
make a 100k-series batch update 100k rows, which on PostgreSQL costs several times the COPY of the
samples themselves. Instead one row holds a *block* of :data:`BLOCK` consecutive series ids
(``block = series_id // BLOCK``, ``slot = series_id % BLOCK``), its payload the newest ``ts``,
``value`` and ``quality`` of each slot as three little-endian arrays. A write reads the blocks its
series fall in, merges in numpy and writes back the blocks that changed: ~100 rows for 100k
series. Reading the newest value of 100k series is reading ~100 rows.

Merge rules: a sample replaces the stored one when its ``ts`` is equal or newer (an older sample
arriving late never does); within one batch the newest sample of a series wins, and of samples
with equal ``ts`` the later row. Any quality is kept: ``latest`` reports what the device said last,
BAD included. An empty slot has ``ts`` = int64 minimum.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

BLOCK: Final = 1024
"""Series per block row: 17 KiB per block."""

EMPTY: Final = int(np.iinfo(np.int64).min)
"""``ts`` of a slot that has no sample yet."""

BLOCK_DTYPE: Final = np.dtype(
    [("ts", "<i8", (BLOCK,)), ("value", "<f8", (BLOCK,)), ("quality", "u1", (BLOCK,))]
)

Int64Array = npt.NDArray[np.int64]


def empty_block() -> bytes:
    """Return the payload of a block with no samples."""
    block = np.zeros(1, dtype=BLOCK_DTYPE)
    block["ts"] = EMPTY
    return block.tobytes()


def blocks_of(series_ids: Int64Array) -> Int64Array:
    """Return the sorted distinct blocks that ``series_ids`` fall in."""
    return np.unique(series_ids // BLOCK)


@dataclass
class Blocks:
    """Some latest blocks, decoded: ``ts``, ``value`` and ``quality`` of shape (blocks, BLOCK)."""

    ids: Int64Array
    ts: Int64Array
    value: npt.NDArray[np.float64]
    quality: npt.NDArray[np.uint8]
    stored: npt.NDArray[np.bool_]
    """Whether each block has a row in the database yet (else it must be inserted)."""

    @classmethod
    def assemble(
        cls, wanted: Int64Array, found: Sequence[int], payloads: Sequence[bytes]
    ) -> Blocks:
        """Return blocks ``wanted`` (sorted): ``found`` (with their payloads) decoded, the rest
        empty."""
        n = len(wanted)
        blocks = cls(
            np.asarray(wanted, dtype=np.int64),
            np.full((n, BLOCK), EMPTY, dtype=np.int64),
            np.zeros((n, BLOCK), dtype=np.float64),
            np.zeros((n, BLOCK), dtype=np.uint8),
            np.zeros(n, dtype=bool),
        )
        if len(found):
            rows = np.searchsorted(blocks.ids, np.asarray(found, dtype=np.int64))
            raw = np.frombuffer(b"".join(payloads), dtype=BLOCK_DTYPE)
            blocks.ts[rows] = raw["ts"]
            blocks.value[rows] = raw["value"]
            blocks.quality[rows] = raw["quality"]
            blocks.stored[rows] = True
        return blocks

    def payload(self, row: int) -> bytes:
        """Encode block ``row`` (an index into :attr:`ids`) back to its payload."""
        out = np.empty(1, dtype=BLOCK_DTYPE)
        out["ts"][0] = self.ts[row]
        out["value"][0] = self.value[row]
        out["quality"][0] = self.quality[row]
        return out.tobytes()

    def _flat(self, series_ids: Int64Array) -> Int64Array:
        rows = np.searchsorted(self.ids, series_ids // BLOCK)
        if len(rows) and (
            rows.max() >= len(self.ids) or (self.ids[rows] != series_ids // BLOCK).any()
        ):
            raise ValueError("series outside the loaded blocks")
        return rows * BLOCK + series_ids % BLOCK

    def merge(
        self,
        series_ids: Int64Array,
        ts: Int64Array,
        value: npt.NDArray[np.float64],
        quality: npt.NDArray[np.uint8],
    ) -> Int64Array:
        """Merge a batch into the blocks; return indices (into :attr:`ids`) of changed blocks."""
        if not len(series_ids):
            return np.zeros(0, dtype=np.int64)
        flat = self._flat(series_ids)
        counts = np.bincount(flat, minlength=self.ts.size)
        if counts.max() <= 1:
            pick = np.arange(len(flat))
        else:
            # Sort by slot, then ts; lexsort is stable, so of equal ts the later row comes last,
            # and the last row of each slot is the one to keep.
            order = np.lexsort((ts, flat))
            ends = np.ones(len(order), dtype=bool)
            ends[:-1] = flat[order][1:] != flat[order][:-1]
            pick = order[ends]
        target = flat[pick]
        ts_flat = self.ts.reshape(-1)
        newer = ts[pick] >= ts_flat[target]
        target, pick = target[newer], pick[newer]
        ts_flat[target] = ts[pick]
        self.value.reshape(-1)[target] = value[pick]
        self.quality.reshape(-1)[target] = quality[pick]
        return np.unique(target // BLOCK)

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
        return np.unique(flat[old] // BLOCK)
