"""Decode event tables into numpy columns, and the array primitives the time model is made of.

Strings (paths, kinds, codes, reasons, products) are dictionary-encoded once per table — on the
chunked column, so no string is copied — and everything after that is integer arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from werk.samples import Event, EventKind, events_to_batch

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
EMPTY: Final = np.zeros(0, np.int64)


def strings(values: pa.Array | pa.ChunkedArray) -> tuple[I64, list[str]]:
    """Dictionary-encode strings: indexes (-1 for null) and the distinct values."""
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    if sum(len(c) for c in chunks) == 0:
        return np.zeros(0, np.int64), []
    # Encoding the chunked column keeps one dictionary across chunks and copies no strings.
    encoded = pc.dictionary_encode(pa.chunked_array(chunks, chunks[0].type))
    parts = [c for c in encoded.chunks if len(c)]
    dictionary = parts[0].dictionary
    if not all(c.dictionary.equals(dictionary) for c in parts[1:]):
        return strings(pa.chunked_array(chunks, chunks[0].type).combine_chunks())
    indices = pa.concat_arrays([c.indices for c in parts])
    if indices.null_count:
        indices = pc.fill_null(indices, -1)
    idx = np.asarray(indices.to_numpy(zero_copy_only=False), np.int64)
    return idx, [str(v) for v in dictionary.to_pylist()]


def ints(values: pa.ChunkedArray | pa.Array) -> I64:
    """Return an integer Arrow column as int64, nulls as 0."""
    return np.asarray(pc.fill_null(values, 0).to_numpy(zero_copy_only=False), np.int64).reshape(-1)


def as_table(events: pa.Table | pa.RecordBatch | Sequence[Event]) -> pa.Table:
    """Return events (a table, a batch or Event objects) as an Arrow table."""
    if isinstance(events, pa.Table):
        return events
    if isinstance(events, pa.RecordBatch):
        return pa.Table.from_batches([events])
    return pa.Table.from_batches([events_to_batch(list(events))])


def column(table: pa.Table, name: str) -> pa.ChunkedArray:
    """Return a column of an event table, or an all-null one where it is absent."""
    if name in table.column_names:
        return table.column(name)
    kind = pa.string() if name in ("path", "kind", "code", "reason", "product") else pa.int64()
    return pa.chunked_array([pa.nulls(table.num_rows, kind)], kind)


class EventColumns:
    """The event table as numpy columns, strings dictionary-encoded once for all rows."""

    def __init__(self, table: pa.Table, paths: Sequence[str] | None, extra: set[str]) -> None:
        path_idx, path_names = strings(column(table, "path"))
        self.machines = (
            sorted(set(path_names) | extra) if paths is None else list(dict.fromkeys(paths))
        )
        self.position = {p: i for i, p in enumerate(self.machines)}
        lookup = [self.position.get(p, -1) for p in path_names]
        self.machine = np.array([*lookup, -1], np.int64)[path_idx]
        self.ts = ints(table.column("ts").cast(pa.int64())) // 1000 if table.num_rows else EMPTY
        self.kind, self.kind_names = strings(column(table, "kind"))
        self.code, self.code_names = strings(column(table, "code"))
        self.reason, self.reason_names = strings(column(table, "reason"))
        self.product, self.product_names = strings(column(table, "product"))
        self.table = table

    def rows(self, kind: EventKind) -> I64:
        """Return the rows of one kind that belong to the machines computed."""
        if kind.value not in self.kind_names:
            return EMPTY
        mine = (self.kind == self.kind_names.index(kind.value)) & (self.machine >= 0)
        return np.flatnonzero(mine)

    def ints(self, name: str, rows: I64) -> I64:
        """Return an integer column (nulls as 0) at some rows."""
        if name not in self.table.column_names:
            return np.zeros(len(rows), np.int64)
        return ints(self.table.column(name))[rows]


def pair_lookup(a: I64, b: I64, n_a: int, n_b: int, value: Callable[[int, int], int]) -> I64:
    """Return ``value(a, b)`` for each pair, calling ``value`` once per distinct pair.

    ``b`` may be -1 (a null), which is passed on as ``n_b``.
    """
    key = a * (n_b + 1) + np.where(b < 0, n_b, b)
    size = max(n_a, 1) * (n_b + 1)
    seen = np.zeros(size, np.bool_)
    seen[key] = True
    table = np.zeros(size, np.int64)
    for k in np.flatnonzero(seen):
        table[k] = value(int(k) // (n_b + 1), int(k) % (n_b + 1))
    return table[key]


def bins(index: I64, weights: I64, n: int) -> I64:
    """Sum integer ``weights`` into ``n`` bins by ``index``, exactly."""
    # bincount sums in float64: exact for integer microseconds below 2**53 (285 years).
    if len(index) == 0:
        return np.zeros(n, np.int64)
    return np.rint(np.bincount(index, weights=weights.astype(np.float64), minlength=n)).astype(
        np.int64
    )


def sorted_by(machine: I64, ts: I64, tie: I64) -> I64:
    """Return the order that sorts rows by machine, time, then ``tie``."""
    if len(ts) > 1:
        dm, dt = np.diff(machine), np.diff(ts)
        if not bool(np.all((dm > 0) | ((dm == 0) & (dt > 0)))):
            # Stores return events by time: a stable sort by machine alone (a radix sort) keeps
            # that order; only instants shared by two events of a machine need the tie as well.
            order = np.argsort(machine, kind="stable")
            m, t = machine[order], ts[order]
            if bool(np.all((np.diff(m) > 0) | ((np.diff(m) == 0) & (np.diff(t) > 0)))):
                return order.astype(np.int64)
            return np.lexsort((tie, ts, machine)).astype(np.int64)
    return np.arange(len(ts), dtype=np.int64)


def latest(m_a: I64, t_a: I64, m_q: I64, t_q: I64, floor: int, ceil: int) -> I64:
    """Return, per query ``(m_q, t_q)``, the index of the latest row of ``(m_a, t_a)`` of the same
    machine at or before ``t_q``, or -1. Rows before ``floor`` count as at ``floor`` (their order
    kept), so the keys stay small: queries must lie in ``[floor, ceil]``."""
    if len(m_a) == 0:
        return np.full(len(m_q), -1, np.int64)
    clipped = np.clip(t_a, floor, ceil)
    order = np.lexsort((t_a, clipped, m_a))
    stride = ceil - floor + 1
    keys = m_a[order] * stride + (clipped[order] - floor)
    j = np.searchsorted(keys, m_q * stride + (t_q - floor), side="right") - 1
    jj = np.maximum(j, 0)
    return np.where((j >= 0) & (m_a[order][jj] == m_q), order[jj], -1).astype(np.int64)


def run_ids(machine: I64, key: I64, start: I64, end: I64) -> I64:
    """Return a run id per interval: a run is consecutive, touching intervals of one key."""
    brk = np.ones(len(key), np.bool_)
    brk[1:] = (machine[1:] != machine[:-1]) | (key[1:] != key[:-1]) | (start[1:] != end[:-1])
    return np.cumsum(brk) - 1


def follow(machine: I64, ts: I64, horizon: I64) -> tuple[I64, Bools]:
    """Return each row's end (the machine's next row, at most the horizon) and whether that end
    is the horizon rather than a next row (rows sorted by machine and time)."""
    same = np.zeros(len(ts), np.bool_)
    same[:-1] = machine[1:] == machine[:-1]
    hz = horizon[machine]
    nxt = np.where(same, np.roll(ts, -1), hz)
    return np.minimum(nxt, hz), ~same | (nxt > hz)
