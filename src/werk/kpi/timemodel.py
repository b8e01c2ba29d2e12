"""Derive ISO 22400-2 time models of machines over calendar windows from their events.

:func:`time_models` takes the events of any number of machines (an Arrow table with
:data:`werk.samples.EVENT_SCHEMA` columns, or :class:`~werk.samples.Event` objects) and a list of
windows, and returns one time model per machine and window (a :class:`TimeModelTable`).

How time is attributed (standards.md §3.5):

* A ``state`` event holds from its ``ts`` until the machine's next state event, or until the data
  horizon ``until``; before a machine's first state event and after the horizon nothing is known
  (*no data*). Give the state in force at the first window's start (the last state event before
  it) or that time counts as no data.
* Three layers may claim the same instant: the calendar (no shift, holiday, break, planned
  maintenance), the machine's states, and manual entries (:class:`ReasonEntry`: MES downtime
  records, supervisor classifications, which may overlap each other). Each instant goes to the
  claim whose element ranks highest in :data:`werk.kpi.mapping.PRECEDENCE`, then to the more
  specific source, then to the later entry — so no instant is counted twice and none is lost.
  Entries without a code only set the reason of whatever time they cover ("classify later").
* A stop whose rule is ``short`` (micro-stop) stays in APT as a minor stop when its whole run —
  consecutive events of the same rule, across window boundaries — lasts less than the mapping's
  micro-stop threshold.
* Intervals are clipped at window boundaries; a stop across two shifts is split between them but
  counts as one occurrence, in the window where it began.
* ``count`` events are deltas (``good``, ``scrap``, ``rework``) attributed to the window that
  contains their ``ts`` (the time of production, also for a late scrap finding). Scrap found later
  among parts already counted good is reported as ``good = -n, scrap = +n``, which keeps PQ; a
  count event with ``scrap = +n`` alone adds ``n`` produced parts. A count without a product takes
  the machine's product from the latest ``product`` event.
* PRI (planned run time per item) is looked up per machine and product; parts of a product without
  a PRI are ``unpriced`` and make effectiveness undefined rather than wrong.
* A failure event is a run of failure states (merged across gaps shorter than the mapping's
  ``failure_merge``); it counts in the window where it starts, its TTR when it ended before the
  horizon.
* ``order`` events with a code book that order on the machine until the next order event (an empty
  code ends it): AOET is the booked time within POT.

Everything runs as numpy over all machines at once: each machine's time is shifted onto its own
stretch of one axis, so one sort and a few binary searches classify every instant of every machine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from werk.errors import InvalidInput
from werk.kpi.calendar import PlantCalendar, Window
from werk.kpi.intervals import Claim, resolve, span_us, to_us
from werk.kpi.mapping import (
    DEFAULT_MAPPING,
    RANK,
    SOURCE_RANK,
    Element,
    PlanSource,
    StateMapping,
    StateRule,
)
from werk.kpi.model import COUNT_FIELDS, TIME_FIELDS, Finding
from werk.kpi.table import ELEMENTS, SOURCES, Breakdown, TimeModelTable
from werk.samples import Event, EventKind, events_to_batch

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

IdealCycle = Callable[[str, str | None], timedelta | None]
"""Planned run time per item (PRI) of a product on a machine: ``(path, product) → PRI``."""

MappingOf = Callable[[str], StateMapping]
"""The state mapping of the machine at a path."""

_EL: Final = {e: i for i, e in enumerate(ELEMENTS)}
_T: Final = {name: i for i, name in enumerate(TIME_FIELDS)}
_C: Final = {name: i for i, name in enumerate(COUNT_FIELDS)}
_PRIORITY: Final = np.array([RANK[e] * 4 for e in ELEMENTS], np.int64)
_POT: Final = np.array(
    [e not in (Element.NOT_SCHEDULED, Element.NO_DATA, Element.UNMAPPED) for e in ELEMENTS]
)
_ELEMENT_COLUMN: Final = np.array([_T[e.value] for e in ELEMENTS], np.int64)
_CALENDAR_ELEMENT: Final = {
    "no_shift": Element.NOT_SCHEDULED,
    "holiday": Element.NOT_SCHEDULED,
    "break": Element.PDOT,
    "planned_maintenance": Element.PDOT,
}
_EMPTY: Final = np.zeros(0, np.int64)


@dataclass(frozen=True, slots=True)
class ReasonEntry:
    """A manually entered or MES-reported interval: a state, a reason, or both.

    Attributes:
        path: The machine.
        start: Start (aware).
        end: End (aware).
        code: A state code, mapped like the machine's own; None for an entry that only gives the
            reason of whatever time it covers.
        reason: Reason code or text.
    """

    path: str
    start: datetime
    end: datetime
    code: str | None = None
    reason: str | None = None


def ideal_cycles(
    by_product: Mapping[str | None, timedelta],
    by_machine: Mapping[tuple[str, str | None], timedelta] | None = None,
) -> IdealCycle:
    """Return a PRI lookup: ``by_machine[(path, product)]``, else ``by_product[product]``.

    The product ``None`` is the PRI of counts that name no product.
    """
    machine_table = by_machine or {}

    def lookup(path: str, product: str | None) -> timedelta | None:
        found = machine_table.get((path, product))
        return found if found is not None else by_product.get(product)

    return lookup


def _no_pri(path: str, product: str | None) -> timedelta | None:
    return None


@dataclass(frozen=True, slots=True)
class _Layer:
    """Disjoint intervals sorted on the global axis, with per-interval attributes."""

    start: I64
    end: I64
    element: I64
    code: I64
    reason: I64
    identity: I64
    failure: Bools
    external: Bools
    short: Bools

    @staticmethod
    def of(start: I64, end: I64, **columns: I64 | Bools) -> _Layer:
        n = len(start)
        zeros = np.zeros(n, np.int64)
        flags = np.zeros(n, np.bool_)
        return _Layer(
            start,
            end,
            np.asarray(columns.get("element", zeros), np.int64),
            np.asarray(columns.get("code", zeros), np.int64),
            np.asarray(columns.get("reason", zeros - 1), np.int64),
            np.asarray(columns.get("identity", np.arange(n, dtype=np.int64)), np.int64),
            np.asarray(columns.get("failure", flags), np.bool_),
            np.asarray(columns.get("external", flags), np.bool_),
            np.asarray(columns.get("short", flags), np.bool_),
        )

    def cover(self, at: I64) -> I64:
        """Return for each instant the index of the interval covering it, or -1."""
        if len(self.start) == 0:
            return np.full(len(at), -1, np.int64)
        idx = np.searchsorted(self.start, at, side="right") - 1
        ok = (idx >= 0) & (at < self.end[np.maximum(idx, 0)])
        return np.where(ok, idx, -1).astype(np.int64)


class _Strings:
    """An id table for strings (codes, reasons) shared by all layers."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def id(self, text: str | None) -> int:
        if text is None:
            return -1
        return self.ids.setdefault(text, len(self.ids))

    def ids_of(self, texts: Sequence[str], used: I64) -> I64:
        """Return the ids of ``texts[used]`` (-1 stays -1), registering only the texts used."""
        present = np.zeros(len(texts) + 1, np.bool_)
        present[used] = True
        table = np.full(len(texts) + 1, -1, np.int64)
        for k in np.flatnonzero(present[:-1]):
            table[k] = self.id(texts[int(k)])
        return table[used]

    def strings(self) -> tuple[str, ...]:
        return tuple(self.ids)


class _Rules:
    """State rules of (mapping, code) pairs, classified under the plan source."""

    def __init__(self, maps: list[StateMapping], plan: PlanSource) -> None:
        self.maps, self.plan = maps, plan
        self.ids: dict[tuple[int, str | None], int] = {}
        self.rows: list[tuple[Element, bool, bool, bool]] = []

    def id(self, map_no: int, code: str | None) -> int:
        key = (map_no, code)
        found = self.ids.get(key)
        if found is None:
            self.rows.append(_classify(self.maps[map_no].rule(code), self.plan))
            found = self.ids[key] = len(self.rows) - 1
        return found

    def elements(self) -> I64:
        return np.array([_EL[r[0]] for r in self.rows] + [0], np.int64)

    def flags(self, n: int) -> Bools:
        return np.array([r[n] for r in self.rows] + [False], np.bool_)


def _classify(rule: StateRule | None, plan: PlanSource) -> tuple[Element, bool, bool, bool]:
    """Return (element, failure, external, short) of a rule under a plan source."""
    if rule is None:
        return Element.UNMAPPED, False, False, False
    element = rule.element
    if (
        plan is PlanSource.CALENDAR
        and element in (Element.PDOT, Element.NOT_SCHEDULED)
        and rule.overrun is not None
    ):
        # §3.5: a planned stop beyond its plan is unplanned; inside the plan the calendar's own
        # PDOT / not-scheduled claim outranks the overrun element anyway.
        element = rule.overrun
    return element, rule.failure, rule.external, rule.short


def _strings(values: pa.Array | pa.ChunkedArray) -> tuple[I64, list[str]]:
    """Dictionary-encode strings: indexes (-1 for null) and the distinct values."""
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    if sum(len(c) for c in chunks) == 0:
        return np.zeros(0, np.int64), []
    # Encoding the chunked column keeps one dictionary across chunks and copies no strings.
    encoded = pc.dictionary_encode(pa.chunked_array(chunks, chunks[0].type))
    parts = [c for c in encoded.chunks if len(c)]
    dictionary = parts[0].dictionary
    if not all(c.dictionary.equals(dictionary) for c in parts[1:]):
        return _strings(pa.chunked_array(chunks, chunks[0].type).combine_chunks())
    indices = pa.concat_arrays([c.indices for c in parts])
    if indices.null_count:
        indices = pc.fill_null(indices, -1)
    idx = np.asarray(indices.to_numpy(zero_copy_only=False), np.int64)
    return idx, [str(v) for v in dictionary.to_pylist()]


def _ints(values: pa.ChunkedArray | pa.Array) -> I64:
    return np.asarray(pc.fill_null(values, 0).to_numpy(zero_copy_only=False), np.int64).reshape(-1)


def _as_table(events: pa.Table | pa.RecordBatch | Sequence[Event]) -> pa.Table:
    if isinstance(events, pa.Table):
        return events
    if isinstance(events, pa.RecordBatch):
        return pa.Table.from_batches([events])
    return pa.Table.from_batches([events_to_batch(list(events))])


def _column(table: pa.Table, name: str) -> pa.ChunkedArray:
    if name in table.column_names:
        return table.column(name)
    kind = pa.string() if name in ("path", "kind", "code", "reason", "product") else pa.int64()
    return pa.chunked_array([pa.nulls(table.num_rows, kind)], kind)


class _Events:
    """The event table as numpy columns, strings dictionary-encoded once for all rows."""

    def __init__(self, table: pa.Table, paths: Sequence[str] | None, extra: set[str]) -> None:
        path_idx, path_names = _strings(_column(table, "path"))
        self.machines = (
            sorted(set(path_names) | extra) if paths is None else list(dict.fromkeys(paths))
        )
        self.position = {p: i for i, p in enumerate(self.machines)}
        lookup = [self.position.get(p, -1) for p in path_names]
        self.machine = np.array([*lookup, -1], np.int64)[path_idx]
        self.ts = _ints(table.column("ts").cast(pa.int64())) // 1000 if table.num_rows else _EMPTY
        self.kind, self.kind_names = _strings(_column(table, "kind"))
        self.code, self.code_names = _strings(_column(table, "code"))
        self.reason, self.reason_names = _strings(_column(table, "reason"))
        self.product, self.product_names = _strings(_column(table, "product"))
        self.table = table

    def rows(self, kind: EventKind) -> I64:
        """Return the rows of one kind that belong to the machines computed."""
        if kind.value not in self.kind_names:
            return _EMPTY
        mine = (self.kind == self.kind_names.index(kind.value)) & (self.machine >= 0)
        return np.flatnonzero(mine)

    def ints(self, name: str, rows: I64) -> I64:
        """Return an integer column (nulls as 0) at some rows."""
        if name not in self.table.column_names:
            return np.zeros(len(rows), np.int64)
        return _ints(self.table.column(name))[rows]


def _pair_lookup(a: I64, b: I64, n_a: int, n_b: int, value: Callable[[int, int], int]) -> I64:
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


def _bins(index: I64, weights: I64, n: int) -> I64:
    # bincount sums in float64: exact for integer microseconds below 2**53 (285 years).
    if len(index) == 0:
        return np.zeros(n, np.int64)
    return np.rint(np.bincount(index, weights=weights.astype(np.float64), minlength=n)).astype(
        np.int64
    )


def _sorted_by(machine: I64, ts: I64, tie: I64) -> I64:
    """Return the order that sorts rows by machine, time, then ``tie``."""
    if len(ts) > 1:
        dm, dt = np.diff(machine), np.diff(ts)
        if not bool(np.all((dm > 0) | ((dm == 0) & (dt > 0)))):
            return np.lexsort((tie, ts, machine)).astype(np.int64)
    return np.arange(len(ts), dtype=np.int64)


def _latest(m_a: I64, t_a: I64, m_q: I64, t_q: I64, floor: int, ceil: int) -> I64:
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


def _runs(machine: I64, key: I64, start: I64, end: I64) -> I64:
    """Return a run id per interval: a run is consecutive, touching intervals of one key."""
    brk = np.ones(len(key), np.bool_)
    brk[1:] = (machine[1:] != machine[:-1]) | (key[1:] != key[:-1]) | (start[1:] != end[:-1])
    return np.cumsum(brk) - 1


def _follow(machine: I64, ts: I64, horizon: I64) -> tuple[I64, Bools]:
    """Return each row's end (the machine's next row, at most the horizon) and whether that end
    is the horizon rather than a next row (rows sorted by machine and time)."""
    same = np.zeros(len(ts), np.bool_)
    same[:-1] = machine[1:] == machine[:-1]
    hz = horizon[machine]
    nxt = np.where(same, np.roll(ts, -1), hz)
    return np.minimum(nxt, hz), ~same | (nxt > hz)


class _Axis:
    """The global axis: machine ``m``'s time ``t`` in ``[lo, hi)`` sits at ``t - lo + m·span``."""

    def __init__(self, windows: Sequence[Window], n_machines: int) -> None:
        self.w_start = np.array([to_us(w.start) for w in windows], np.int64)
        self.w_end = np.array([to_us(w.end) for w in windows], np.int64)
        self.lo, self.hi = int(self.w_start[0]), int(self.w_end.max())
        self.span = self.hi - self.lo
        self.n_w = len(windows)
        self.offset = np.arange(n_machines, dtype=np.int64) * self.span - self.lo
        self.g_start = (self.w_start[None, :] + self.offset[:, None]).reshape(-1)
        self.g_end = (self.w_end[None, :] + self.offset[:, None]).reshape(-1)

    def clip(self, m: I64, start: I64, end: I64) -> tuple[I64, I64, Bools]:
        """Clip intervals to the windows' range and move them onto the axis."""
        s, e = np.maximum(start, self.lo), np.minimum(end, self.hi)
        return s + self.offset[m], e + self.offset[m], e > s

    def row(self, m: I64, t: I64) -> tuple[I64, Bools]:
        """Return the row (machine × window) of instants and whether they fall in a window."""
        w = np.searchsorted(self.w_start, t, side="right") - 1
        ok = (w >= 0) & (t < self.w_end[np.maximum(w, 0)])
        return m * self.n_w + w, ok


def time_models(
    events: pa.Table | pa.RecordBatch | Sequence[Event],
    windows: Sequence[Window],
    *,
    mapping: StateMapping | MappingOf = DEFAULT_MAPPING,
    ideal: IdealCycle | None = None,
    calendar: PlantCalendar | None = None,
    plan: PlanSource = PlanSource.EITHER,
    until: datetime | Mapping[str, datetime] | None = None,
    entries: Sequence[ReasonEntry] = (),
    paths: Sequence[str] | None = None,
    startup: timedelta | None = None,
) -> TimeModelTable:
    """Compute the time model of every machine in every window.

    Args:
        events: State, count, order and product events of the machines (other kinds are ignored).
            Include the last state event before the first window.
        windows: Disjoint windows in time order (for example ``calendar.windows(...)``).
        mapping: The state mapping, or a function giving each machine's mapping.
        ideal: PRI per machine and product (:func:`ideal_cycles`); without it effectiveness is
            undefined.
        calendar: The plant calendar, whose no-shift, holiday, break and maintenance time is the
            planned layer (unless ``plan`` is :attr:`PlanSource.STATES`).
        plan: Who decides what is planned (:class:`PlanSource`).
        until: Data horizon: states hold at most until here (one instant or one per machine);
            default: the end of the last window.
        entries: Manual or MES reason entries, which may overlap.
        paths: The machines to compute (default: every path in ``events`` and ``entries``).
        startup: Scrap and rework made within this time after a setup ends are startup rejects
            (six big losses, no. 6); None: none are.

    Raises:
        InvalidInput: when windows overlap or are out of order, or an entry ends before it starts.
    """
    if not windows:
        raise InvalidInput("no windows to compute", field="windows")
    for a, b in pairwise(windows):
        if b.start < a.end:
            raise InvalidInput(
                f"windows {a.label} and {b.label} overlap or are out of order", field="windows"
            )
    for e in entries:
        if to_us(e.end) < to_us(e.start):
            raise InvalidInput(f"entry for {e.path} ends before it starts", field="entries")

    ev = _Events(_as_table(events), paths, {e.path for e in entries})
    machines, position = ev.machines, ev.position
    n_m = len(machines)

    axis = _Axis(windows, n_m)
    mapping_of = _fixed(mapping) if isinstance(mapping, StateMapping) else mapping
    maps: list[StateMapping] = []
    map_ids = np.array([_index_of(maps, mapping_of(p)) for p in machines] + [0], np.int64)[:n_m]
    if not maps:
        maps.append(DEFAULT_MAPPING)
    horizon = np.full(n_m + 1, axis.hi, np.int64)
    if isinstance(until, datetime):
        horizon[:] = to_us(until)
    elif until is not None:
        for p, moment in until.items():
            if p in position:
                horizon[position[p]] = to_us(moment)
    rules = _Rules(maps, plan)
    codes, reasons = _Strings(), _Strings()
    findings: list[Finding] = []

    states = _machine_states(
        ev,
        map_ids,
        maps,
        horizon,
        rules,
        codes,
        reasons,
        axis,
        findings,
    )
    machine_layer, failures, setup_ends = states
    layers = (
        _calendar_layer(calendar, plan, machines, axis, codes, reasons),
        machine_layer,
        _manual_layer(entries, position, axis, map_ids, rules, codes, reasons, coded=True),
    )
    notes = _manual_layer(entries, position, axis, map_ids, rules, codes, reasons, coded=False)
    orders = _orders(ev, horizon, axis)

    # Segmentation: cut the axis at every boundary of every layer and window.
    bounds = np.sort(
        np.concatenate(
            [x for layer in (*layers, notes, orders) for x in (layer.start, layer.end)]
            + [axis.g_start, axis.g_end]
        )
    )
    bounds = bounds[np.r_[True, bounds[1:] != bounds[:-1]]]
    seg, dur = bounds[:-1], np.diff(bounds)
    win = np.searchsorted(axis.g_start, seg, side="right") - 1
    inside = (win >= 0) & (seg < axis.g_end[np.maximum(win, 0)])
    seg, dur, win = seg[inside], dur[inside], win[inside]
    n = len(seg)

    # Precedence: the highest (element, source) claim wins each segment.
    idx = np.stack([layer.cover(seg) for layer in layers])
    prio = np.full((len(layers), n), -1, np.int64)
    for k, layer in enumerate(layers):
        hit = idx[k] >= 0
        prio[k, hit] = _PRIORITY[layer.element[idx[k, hit]]] + SOURCE_RANK[SOURCES[k]]
    winner = np.argmax(prio, axis=0) if n else _EMPTY
    claimed = prio.max(axis=0) >= 0 if n else np.zeros(0, np.bool_)
    element = np.full(n, _EL[Element.NO_DATA], np.int64)
    code = np.full(n, -1, np.int64)
    reason = np.full(n, -1, np.int64)
    identity = np.full(n, -1, np.int64)
    failure = np.zeros(n, np.bool_)
    external = np.zeros(n, np.bool_)
    short = np.zeros(n, np.bool_)
    for k, layer in enumerate(layers):
        sel = claimed & (winner == k)
        j = idx[k, sel]
        element[sel], code[sel], reason[sel] = layer.element[j], layer.code[j], layer.reason[j]
        identity[sel] = layer.identity[j]
        failure[sel], external[sel], short[sel] = (
            layer.failure[j],
            layer.external[j],
            layer.short[j],
        )
    note = notes.cover(seg)
    noted = note >= 0
    reason[noted] = notes.reason[note[noted]]

    # Time columns.
    n_rows, n_t = n_m * axis.n_w, len(TIME_FIELDS)
    apt = element == _EL[Element.APT]
    adet = element == _EL[Element.ADET]
    flat, weight = [win * n_t + _ELEMENT_COLUMN[element]], [dur]
    for mask, name in (
        (apt & short, "minor_stops"),
        (adet & failure, "failure"),
        (adet & external, "external"),
        (apt & (idx[0] >= 0), "outside_plan"),
        (_POT[element] & (orders.cover(seg) >= 0), "aoet"),
    ):
        flat.append(win[mask] * n_t + _T[name])
        weight.append(dur[mask])
    times = _bins(np.concatenate(flat), np.concatenate(weight), n_rows * n_t).reshape(n_rows, n_t)
    times[:, _T["all_time"]] = np.tile(axis.w_end - axis.w_start, n_m)
    counts = np.zeros((n_rows, len(COUNT_FIELDS)), np.int64)

    _failure_counts(failures, axis, times, counts)
    _quantities(
        ev,
        axis,
        ideal or _no_pri,
        startup,
        setup_ends,
        times,
        counts,
        findings,
        windows,
    )
    stop = (~apt | short) & claimed
    breakdown = Breakdown.build(
        [
            x[stop]
            for x in (
                win,
                element,
                winner,
                code,
                reason,
                failure.astype(np.int64),
                external.astype(np.int64),
                short.astype(np.int64),
            )
        ],
        dur[stop],
        _first_of(identity, winner, claimed)[stop],
        codes.strings(),
        reasons.strings(),
    )
    _row_findings(breakdown, times, counts, machines, windows, findings)
    return TimeModelTable(
        tuple(machines),
        tuple(windows),
        np.repeat(np.arange(n_m, dtype=np.int64), axis.n_w),
        np.tile(np.arange(axis.n_w, dtype=np.int64), n_m),
        times,
        counts,
        breakdown,
        tuple(findings),
    )


def _fixed(mapping: StateMapping) -> MappingOf:
    def mapping_of(_path: str) -> StateMapping:
        return mapping

    return mapping_of


def _index_of(items: list[StateMapping], item: StateMapping) -> int:
    for i, known in enumerate(items):
        if known is item:
            return i
    items.append(item)
    return len(items) - 1


def _first_of(identity: I64, source: I64, claimed: Bools) -> I64:
    """Mark the first segment of each winning interval: where its occurrence is counted."""
    out = np.zeros(len(identity), np.int64)
    sel = np.flatnonzero(claimed)
    if len(sel):
        key = source[sel] * (int(identity.max()) + 2) + identity[sel] + 1
        # Segments are in time order, so a stable sort puts each interval's first one first.
        order = np.argsort(key, kind="stable")
        ordered = key[order]
        first = order[np.r_[True, ordered[1:] != ordered[:-1]]]
        out[sel[first]] = 1
    return out


def _machine_states(
    ev: _Events,
    map_ids: I64,
    maps: list[StateMapping],
    horizon: I64,
    rules: _Rules,
    codes: _Strings,
    reasons: _Strings,
    axis: _Axis,
    findings: list[Finding],
) -> tuple[_Layer, tuple[I64, I64, Bools, I64], tuple[I64, I64]]:
    """Build the machine layer from state events; also its failure events and setup ends."""
    rows = ev.rows(EventKind.STATE)
    machines = ev.machines
    m, t = ev.machine[rows], ev.ts[rows]
    code_idx, reason_idx = ev.code[rows], ev.reason[rows]
    code_names, reason_names = ev.code_names, ev.reason_names
    null = len(code_names)
    names: list[str | None] = [*code_names, None]
    rule_of = _pair_lookup(
        map_ids[m], code_idx, len(maps), null, lambda i, j: rules.id(i, names[j])
    )
    code_idx = np.where(code_idx < 0, null, code_idx)
    el_of = rules.elements()
    fail_of, ext_of, short_of = (rules.flags(k) for k in (1, 2, 3))
    order = _sorted_by(m, t, _PRIORITY[el_of[rule_of]])
    m, t, rule_of, code_idx, reason_idx = (x[order] for x in (m, t, rule_of, code_idx, reason_idx))
    end, open_ = _follow(m, t, horizon)
    late = t >= horizon[m]
    for k in sorted(set(m[late].tolist())):
        count = int((m[late] == k).sum())
        findings.append(
            Finding(
                "input.after_horizon",
                f"{count} state events after the data horizon ignored",
                machines[int(k)],
                None,
                {"events": count},
            )
        )
    keep = end > t
    m, start, end, open_ = m[keep], t[keep], end[keep], open_[keep]
    rule_of, code_idx, reason_idx = rule_of[keep], code_idx[keep], reason_idx[keep]

    # §3.5 micro-stops: a short stop whose whole run lasts less than the threshold stays in APT.
    runs = _runs(m, rule_of, start, end)
    first = np.flatnonzero(np.r_[True, runs[1:] != runs[:-1]]) if len(runs) else _EMPTY
    run_len = np.add.reduceat(end - start, first) if len(runs) else _EMPTY
    threshold = np.array([span_us(x.micro_stop) for x in maps], np.int64)[map_ids[m]]
    short = short_of[rule_of] & (run_len[runs] < threshold)
    element = np.where(short, _EL[Element.APT], el_of[rule_of])
    failure = fail_of[rule_of] & ~short
    external = ext_of[rule_of] & ~short
    identity = _runs(m, code_idx * (len(reason_names) + 1) + reason_idx, start, end)

    gs, ge, ok = axis.clip(m, start, end)
    layer = _Layer.of(
        gs[ok],
        ge[ok],
        element=element[ok],
        code=codes.ids_of([*code_names, "(none)"], code_idx[ok]),
        reason=reasons.ids_of(reason_names, reason_idx[ok]),
        identity=identity[ok],
        failure=failure[ok],
        external=external[ok],
        short=short[ok],
    )
    return (
        layer,
        _failure_events(m, start, end, open_, failure, map_ids, maps),
        _setup_ends(m, start, end, element),
    )


def _failure_events(
    m: I64,
    start: I64,
    end: I64,
    open_: Bools,
    failure: Bools,
    map_ids: I64,
    maps: list[StateMapping],
) -> tuple[I64, I64, Bools, I64]:
    """Merge failure intervals into failure events (§3.5: repeated alarms are one event)."""
    f = np.flatnonzero(failure)
    if len(f) == 0:
        return _EMPTY, _EMPTY, np.zeros(0, np.bool_), _EMPTY
    fm, fs, fe, fo = m[f], start[f], end[f], open_[f]
    merge = np.array([span_us(x.failure_merge) for x in maps], np.int64)[map_ids[fm]]
    brk = np.ones(len(f), np.bool_)
    brk[1:] = (fm[1:] != fm[:-1]) | (fs[1:] - fe[:-1] > merge[1:])
    first = np.flatnonzero(brk)
    last = np.r_[first[1:] - 1, len(f) - 1]
    return fs[first], np.maximum.reduceat(fe, first), fo[last], fm[first]


def _failure_counts(
    failures: tuple[I64, I64, Bools, I64], axis: _Axis, times: I64, counts: I64
) -> None:
    """Count failure events in the window where they start; their TTR when they ended."""
    start, end, open_, m = failures
    w, ok = axis.row(m, start)
    w, ttr, closed = w[ok], (end - start)[ok], ~open_[ok]
    n_rows = len(counts)
    counts[:, _C["failures"]] += np.bincount(w, minlength=n_rows)
    counts[:, _C["restored"]] += np.bincount(w[closed], minlength=n_rows)
    times[:, _T["restoration"]] += _bins(w[closed], ttr[closed], n_rows)


def _setup_ends(m: I64, start: I64, end: I64, element: I64) -> tuple[I64, I64]:
    """Return (machine, end) of every setup run."""
    aust = element == _EL[Element.AUST]
    if not aust.any():
        return _EMPTY, _EMPTY
    runs = _runs(m, aust.astype(np.int64), start, end)
    sel = np.flatnonzero(aust)
    last = np.r_[np.flatnonzero(np.diff(runs[sel]) != 0), len(sel) - 1]
    return m[sel][last], end[sel][last]


def _calendar_layer(
    calendar: PlantCalendar | None,
    plan: PlanSource,
    machines: list[str],
    axis: _Axis,
    codes: _Strings,
    reasons: _Strings,
) -> _Layer:
    """Build the planned layer: the calendar's no-shift, holiday, break and maintenance time."""
    if calendar is None or plan is PlanSource.STATES or not machines:
        return _Layer.of(_EMPTY, _EMPTY)
    # Machines under the same maintenance windows share one planned layer.
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, p in enumerate(machines):
        key = tuple(k for k, w in enumerate(calendar.maintenance) if w.applies_to(p))
        groups.setdefault(key, []).append(i)
    cols: list[list[I64]] = [[], [], [], [], [], []]
    for members in groups.values():
        path = machines[members[0]]
        spans = calendar.planned_us(axis.lo, axis.hi, path)
        mem = np.array(members, np.int64)
        base = (
            np.array([x[0] for x in spans], np.int64),
            np.array([x[1] for x in spans], np.int64),
            np.array([_EL[_CALENDAR_ELEMENT[x[2]]] for x in spans], np.int64),
            np.array([codes.id(x[2]) for x in spans], np.int64),
            np.array([reasons.id(calendar.reason_of(x[2], x[0], path)) for x in spans], np.int64),
        )
        cols[0].append(np.repeat(mem, len(spans)))
        for k, column in enumerate(base):
            cols[k + 1].append(np.tile(column, len(mem)))
    m, s, e, el, cd, rs = (np.concatenate(c) for c in cols)
    s, e = s + axis.offset[m], e + axis.offset[m]
    order = np.argsort(s, kind="stable")
    return _Layer.of(s[order], e[order], element=el[order], code=cd[order], reason=rs[order])


def _manual_layer(
    entries: Sequence[ReasonEntry],
    position: Mapping[str, int],
    axis: _Axis,
    map_ids: I64,
    rules: _Rules,
    codes: _Strings,
    reasons: _Strings,
    *,
    coded: bool,
) -> _Layer:
    """Resolve manual entries: coded ones by precedence, reason-only ones by order (later wins)."""
    claims: list[Claim[int]] = []
    rule_of: dict[int, int] = {}
    for n, e in enumerate(entries):
        m = position.get(e.path)
        if m is None or (e.code is not None) != coded:
            continue
        s = max(to_us(e.start), axis.lo) + int(axis.offset[m])
        t = min(to_us(e.end), axis.hi) + int(axis.offset[m])
        priority = 0
        if e.code is not None:
            rule_of[n] = rules.id(int(map_ids[m]), e.code)
            priority = RANK[rules.rows[rule_of[n]][0]]
        claims.append(Claim(s, t, priority, n))
    # The machines' stretches of the axis are disjoint, so one resolution serves them all.
    spans = resolve(claims)
    which = [x.value for x in spans]
    rows = [rules.rows[rule_of[n]] if coded else (Element.APT, False, False, False) for n in which]
    return _Layer.of(
        np.array([x.start for x in spans], np.int64),
        np.array([x.end for x in spans], np.int64),
        element=np.array([_EL[r[0]] for r in rows], np.int64),
        code=np.array([codes.id(entries[n].code) for n in which], np.int64),
        reason=np.array([reasons.id(entries[n].reason) for n in which], np.int64),
        identity=np.array(which, np.int64),
        failure=np.array([r[1] for r in rows], np.bool_),
        external=np.array([r[2] for r in rows], np.bool_),
    )


def _orders(ev: _Events, horizon: I64, axis: _Axis) -> _Layer:
    """Build the booked-order layer from order events (an empty or null code ends an order)."""
    rows = ev.rows(EventKind.ORDER)
    m, t, code_idx = ev.machine[rows], ev.ts[rows], ev.code[rows]
    order = _sorted_by(m, t, np.arange(len(t), dtype=np.int64))
    m, t, code_idx = m[order], t[order], code_idx[order]
    booked = np.array([bool(x) for x in ev.code_names] + [False], np.bool_)[code_idx]
    end, _ = _follow(m, t, horizon)
    s, e, ok = axis.clip(m, t, end)
    ok &= booked
    return _Layer.of(s[ok], e[ok])


def _quantities(
    ev: _Events,
    axis: _Axis,
    ideal: IdealCycle,
    startup: timedelta | None,
    setup_ends: tuple[I64, I64],
    times: I64,
    counts: I64,
    findings: list[Finding],
    windows: Sequence[Window],
) -> None:
    """Add PQ, GQ, SQ, RQ and the PRI-weighted times of count events to their windows."""
    rows = ev.rows(EventKind.COUNT)
    w, ok = axis.row(ev.machine[rows], ev.ts[rows])
    rows, w = rows[ok], w[ok]
    if len(rows) == 0:
        return
    machines = ev.machines
    m, t = ev.machine[rows], ev.ts[rows]
    good, scrap, rework = (ev.ints(c, rows) for c in ("good", "scrap", "rework"))
    pq = good + scrap + rework

    # Product: the count's own, else the machine's latest product event (whose code names it).
    product = ev.product[rows]
    prod_names = list(ev.product_names)
    if (product < 0).any():
        announced = ev.rows(EventKind.PRODUCT)
        index = {name: i for i, name in enumerate(prod_names)}
        as_product = np.array(
            [index.setdefault(c, len(index)) for c in ev.code_names] + [-1], np.int64
        )
        prod_names = list(index)
        j = _latest(ev.machine[announced], ev.ts[announced], m, t, axis.lo - 1, axis.hi)
        named = as_product[ev.code[announced]][np.maximum(j, 0)] if len(announced) else j
        product = np.where((product < 0) & (j >= 0), named, product)

    # PRI per (machine, product), looked up once per distinct pair.
    names: list[str | None] = [*prod_names, None]

    def pri_us(i: int, j: int) -> int:
        found = ideal(machines[i], names[j])
        return span_us(found) if found is not None and found > timedelta(0) else -1

    pri = _pair_lookup(m, product, len(machines), len(prod_names), pri_us)
    product = np.where(product < 0, len(prod_names), product)
    priced = pri >= 0
    n_rows = len(counts)
    for name, values in (("pq", pq), ("gq", good), ("sq", scrap), ("rq", rework)):
        counts[:, _C[name]] += _bins(w, values, n_rows)
    counts[:, _C["unpriced"]] += _bins(w[~priced], pq[~priced], n_rows)
    times[:, _T["ideal"]] += _bins(w[priced], (pri * pq)[priced], n_rows)
    times[:, _T["ideal_good"]] += _bins(w[priced], (pri * good)[priced], n_rows)
    if startup is not None and len(setup_ends[0]):
        sm, se = setup_ends
        j = _latest(sm, se, m, t, axis.lo - span_us(startup) - 1, axis.hi)
        jj = np.maximum(j, 0)
        recent = (j >= 0) & (t - se[jj] < span_us(startup))
        rejects = scrap + rework
        counts[:, _C["startup_rejects"]] += _bins(w[recent], rejects[recent], n_rows)
        both = recent & priced
        times[:, _T["ideal_startup"]] += _bins(w[both], (pri * rejects)[both], n_rows)
    missing = ~priced & (pq != 0)
    by_row: dict[int, set[str]] = {}
    for r, p in zip(w[missing], product[missing], strict=True):
        by_row.setdefault(int(r), set()).add(names[int(p)] or "(none)")
    for r, products in sorted(by_row.items()):
        listed = ", ".join(sorted(products))
        findings.append(
            Finding(
                "master_data.missing_ideal_cycle_time",
                f"no planned run time per item for {listed}: effectiveness undefined",
                machines[r // axis.n_w],
                windows[r % axis.n_w].label,
                {"products": listed},
            )
        )


def _row_findings(
    breakdown: Breakdown,
    times: I64,
    counts: I64,
    machines: list[str],
    windows: Sequence[Window],
    findings: list[Finding],
) -> None:
    """Report unmapped codes, negative quantities and production outside the plan."""
    n_w = len(windows)

    def where(row: int) -> tuple[str, str]:
        return machines[row // n_w], windows[row % n_w].label

    for i in np.flatnonzero(breakdown.element == _EL[Element.UNMAPPED]):
        code = breakdown.codes[int(breakdown.code[i])]
        seconds = int(breakdown.duration[i]) / 1e6
        findings.append(
            Finding(
                "mapping.unmapped_code",
                f"state code {code!r} has no mapping: {seconds:g} s counted as unmapped time",
                *where(int(breakdown.row[i])),
                {"code": code, "seconds": seconds},
            )
        )
    for r in np.flatnonzero((counts[:, :4] < 0).any(axis=1)):
        q = {name: int(counts[r, _C[name]]) for name in ("pq", "gq", "sq", "rq")}
        findings.append(
            Finding(
                "counts.negative_quantity",
                f"corrections leave negative quantities {q}: quality KPIs undefined",
                *where(int(r)),
                dict(q),
            )
        )
    for r in np.flatnonzero(times[:, _T["outside_plan"]] > 0):
        seconds = int(times[r, _T["outside_plan"]]) / 1e6
        findings.append(
            Finding(
                "calendar.production_outside_plan",
                f"the machine produced for {seconds:g} s where the calendar planned no production",
                *where(int(r)),
                {"seconds": seconds},
            )
        )
