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
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Final

import numpy as np
import pyarrow as pa

from werk.errors import InvalidInput
from werk.kpi.calendar import PlantCalendar, Window
from werk.kpi.columns import (
    EMPTY,
    I64,
    Bools,
    EventColumns,
    as_table,
    bins,
    latest,
    pair_lookup,
)
from werk.kpi.intervals import span_us, to_us
from werk.kpi.layers import (
    ELEMENT_INDEX,
    PRIORITY,
    Axis,
    ReasonEntry,
    Rules,
    StringIds,
    calendar_layer,
    manual_layer,
    order_layer,
    state_layer,
)
from werk.kpi.mapping import (
    DEFAULT_MAPPING,
    SOURCE_RANK,
    Element,
    PlanSource,
    StateMapping,
)
from werk.kpi.model import COUNT_FIELDS, TIME_FIELDS, Finding
from werk.kpi.table import ELEMENTS, SOURCES, Breakdown, TimeModelTable
from werk.samples import Event, EventKind

IdealCycle = Callable[[str, str | None], timedelta | None]
"""Planned run time per item (PRI) of a product on a machine: ``(path, product) → PRI``."""

MappingOf = Callable[[str], StateMapping]
"""The state mapping of the machine at a path."""

__all__ = ["IdealCycle", "MappingOf", "ReasonEntry", "ideal_cycles", "time_models"]

_T: Final = {name: i for i, name in enumerate(TIME_FIELDS)}
_C: Final = {name: i for i, name in enumerate(COUNT_FIELDS)}
_POT: Final = np.array(
    [e not in (Element.NOT_SCHEDULED, Element.NO_DATA, Element.UNMAPPED) for e in ELEMENTS]
)
_ELEMENT_COLUMN: Final = np.array([_T[e.value] for e in ELEMENTS], np.int64)


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

    ev = EventColumns(as_table(events), paths, {e.path for e in entries})
    machines, position = ev.machines, ev.position
    n_m = len(machines)

    axis = Axis(windows, n_m)
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
    rules = Rules(maps, plan)
    codes, reasons = StringIds(), StringIds()
    findings: list[Finding] = []

    states = state_layer(
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
        calendar_layer(calendar, plan, machines, axis, codes, reasons),
        machine_layer,
        manual_layer(entries, position, axis, map_ids, rules, codes, reasons, coded=True),
    )
    notes = manual_layer(entries, position, axis, map_ids, rules, codes, reasons, coded=False)
    orders = order_layer(ev, horizon, axis)

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
        prio[k, hit] = PRIORITY[layer.element[idx[k, hit]]] + SOURCE_RANK[SOURCES[k]]
    winner = np.argmax(prio, axis=0) if n else EMPTY
    claimed = prio.max(axis=0) >= 0 if n else np.zeros(0, np.bool_)
    element = np.full(n, ELEMENT_INDEX[Element.NO_DATA], np.int64)
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
    apt = element == ELEMENT_INDEX[Element.APT]
    adet = element == ELEMENT_INDEX[Element.ADET]
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
    times = bins(np.concatenate(flat), np.concatenate(weight), n_rows * n_t).reshape(n_rows, n_t)
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


def _failure_counts(
    failures: tuple[I64, I64, Bools, I64], axis: Axis, times: I64, counts: I64
) -> None:
    """Count failure events in the window where they start; their TTR when they ended."""
    start, end, open_, m = failures
    w, ok = axis.row(m, start)
    w, ttr, closed = w[ok], (end - start)[ok], ~open_[ok]
    n_rows = len(counts)
    counts[:, _C["failures"]] += np.bincount(w, minlength=n_rows)
    counts[:, _C["restored"]] += np.bincount(w[closed], minlength=n_rows)
    times[:, _T["restoration"]] += bins(w[closed], ttr[closed], n_rows)


def _quantities(
    ev: EventColumns,
    axis: Axis,
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
        j = latest(ev.machine[announced], ev.ts[announced], m, t, axis.lo - 1, axis.hi)
        named = as_product[ev.code[announced]][np.maximum(j, 0)] if len(announced) else j
        product = np.where((product < 0) & (j >= 0), named, product)

    # PRI per (machine, product), looked up once per distinct pair.
    names: list[str | None] = [*prod_names, None]

    def pri_us(i: int, j: int) -> int:
        found = ideal(machines[i], names[j])
        return span_us(found) if found is not None and found > timedelta(0) else -1

    pri = pair_lookup(m, product, len(machines), len(prod_names), pri_us)
    product = np.where(product < 0, len(prod_names), product)
    priced = pri >= 0
    n_rows = len(counts)
    for name, values in (("pq", pq), ("gq", good), ("sq", scrap), ("rq", rework)):
        counts[:, _C[name]] += bins(w, values, n_rows)
    counts[:, _C["unpriced"]] += bins(w[~priced], pq[~priced], n_rows)
    times[:, _T["ideal"]] += bins(w[priced], (pri * pq)[priced], n_rows)
    times[:, _T["ideal_good"]] += bins(w[priced], (pri * good)[priced], n_rows)
    if startup is not None and len(setup_ends[0]):
        sm, se = setup_ends
        j = latest(sm, se, m, t, axis.lo - span_us(startup) - 1, axis.hi)
        jj = np.maximum(j, 0)
        recent = (j >= 0) & (t - se[jj] < span_us(startup))
        rejects = scrap + rework
        counts[:, _C["startup_rejects"]] += bins(w[recent], rejects[recent], n_rows)
        both = recent & priced
        times[:, _T["ideal_startup"]] += bins(w[both], (pri * rejects)[both], n_rows)
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

    for i in np.flatnonzero(breakdown.element == ELEMENT_INDEX[Element.UNMAPPED]):
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
    outside = times[:, _T["outside_plan"]]
    rows = np.flatnonzero(outside > 0)
    # One per machine and window of a site-month can be thousands: plain Python values.
    for row, micros in zip(rows.tolist(), outside[rows].tolist(), strict=True):
        seconds = micros / 1e6
        findings.append(
            Finding(
                "calendar.production_outside_plan",
                f"the machine produced for {seconds:g} s where the calendar planned no production",
                machines[row // n_w],
                windows[row % n_w].label,
                {"seconds": seconds},
            )
        )
