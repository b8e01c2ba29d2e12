"""Build the layers that claim time — calendar, machine states, manual entries, orders — as arrays.

Each layer is a set of disjoint intervals on one global axis (:class:`Axis`): machine ``m``'s time
sits on its own stretch, so the layers of all machines are sorted arrays searched in one go. The
time model (:mod:`werk.kpi.timemodel`) cuts the axis at every boundary and gives each piece to the
highest claim (:data:`werk.kpi.mapping.PRECEDENCE`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import numpy as np

from werk.kpi.calendar import PlantCalendar, Window
from werk.kpi.columns import (
    EMPTY,
    I64,
    Bools,
    EventColumns,
    follow,
    pair_lookup,
    run_ids,
    sorted_by,
)
from werk.kpi.intervals import Claim, resolve, span_us, to_us
from werk.kpi.mapping import RANK, Element, PlanSource, StateMapping, StateRule
from werk.kpi.model import Finding
from werk.kpi.table import ELEMENTS
from werk.samples import EventKind

ELEMENT_INDEX: Final = {e: i for i, e in enumerate(ELEMENTS)}
PRIORITY: Final = np.array([RANK[e] * 4 for e in ELEMENTS], np.int64)
"""Claim priority of each element index: precedence rank × 4, plus the source's rank 1–3."""
CALENDAR_ELEMENT: Final = {
    "no_shift": Element.NOT_SCHEDULED,
    "holiday": Element.NOT_SCHEDULED,
    "break": Element.PDOT,
    "planned_maintenance": Element.PDOT,
}


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


@dataclass(frozen=True, slots=True)
class Layer:
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
    def of(start: I64, end: I64, **columns: I64 | Bools) -> Layer:
        """Return a layer; columns not given take neutral defaults."""
        n = len(start)
        zeros = np.zeros(n, np.int64)
        flags = np.zeros(n, np.bool_)
        return Layer(
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


class StringIds:
    """An id table for strings (codes, reasons) shared by all layers."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def id(self, text: str | None) -> int:
        """Return the id of ``text`` (-1 for None), registering it when new."""
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
        """Return the registered strings in id order."""
        return tuple(self.ids)


class Rules:
    """State rules of (mapping, code) pairs, classified under the plan source."""

    def __init__(self, maps: list[StateMapping], plan: PlanSource) -> None:
        self.maps, self.plan = maps, plan
        self.ids: dict[tuple[int, str | None], int] = {}
        self.rows: list[tuple[Element, bool, bool, bool]] = []

    def id(self, map_no: int, code: str | None) -> int:
        """Return the rule id of ``code`` under mapping ``map_no``, classifying it when new."""
        key = (map_no, code)
        found = self.ids.get(key)
        if found is None:
            self.rows.append(classify(self.maps[map_no].rule(code), self.plan))
            found = self.ids[key] = len(self.rows) - 1
        return found

    def elements(self) -> I64:
        """Return the element index of every rule (one extra entry for index -1)."""
        return np.array([ELEMENT_INDEX[r[0]] for r in self.rows] + [0], np.int64)

    def flags(self, n: int) -> Bools:
        """Return flag ``n`` (1 failure, 2 external, 3 short) of every rule, plus one extra."""
        return np.array([r[n] for r in self.rows] + [False], np.bool_)


def classify(rule: StateRule | None, plan: PlanSource) -> tuple[Element, bool, bool, bool]:
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


class Axis:
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


def state_layer(
    ev: EventColumns,
    map_ids: I64,
    maps: list[StateMapping],
    horizon: I64,
    rules: Rules,
    codes: StringIds,
    reasons: StringIds,
    axis: Axis,
    findings: list[Finding],
) -> tuple[Layer, tuple[I64, I64, Bools, I64], tuple[I64, I64]]:
    """Build the machine layer from state events; also its failure events and setup ends."""
    rows = ev.rows(EventKind.STATE)
    machines = ev.machines
    m, t = ev.machine[rows], ev.ts[rows]
    code_idx, reason_idx = ev.code[rows], ev.reason[rows]
    code_names, reason_names = ev.code_names, ev.reason_names
    null = len(code_names)
    names: list[str | None] = [*code_names, None]
    rule_of = pair_lookup(map_ids[m], code_idx, len(maps), null, lambda i, j: rules.id(i, names[j]))
    code_idx = np.where(code_idx < 0, null, code_idx)
    el_of = rules.elements()
    fail_of, ext_of, short_of = (rules.flags(k) for k in (1, 2, 3))
    order = sorted_by(m, t, PRIORITY[el_of[rule_of]])
    m, t, rule_of, code_idx, reason_idx = (x[order] for x in (m, t, rule_of, code_idx, reason_idx))
    end, open_ = follow(m, t, horizon)
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
    runs = run_ids(m, rule_of, start, end)
    first = np.flatnonzero(np.r_[True, runs[1:] != runs[:-1]]) if len(runs) else EMPTY
    run_len = np.add.reduceat(end - start, first) if len(runs) else EMPTY
    threshold = np.array([span_us(x.micro_stop) for x in maps], np.int64)[map_ids[m]]
    short = short_of[rule_of] & (run_len[runs] < threshold)
    element = np.where(short, ELEMENT_INDEX[Element.APT], el_of[rule_of])
    failure = fail_of[rule_of] & ~short
    external = ext_of[rule_of] & ~short
    identity = run_ids(m, code_idx * (len(reason_names) + 1) + reason_idx, start, end)

    gs, ge, ok = axis.clip(m, start, end)
    layer = Layer.of(
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
        failure_events(m, start, end, open_, failure, map_ids, maps),
        setup_ends(m, start, end, element),
    )


def failure_events(
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
        return EMPTY, EMPTY, np.zeros(0, np.bool_), EMPTY
    fm, fs, fe, fo = m[f], start[f], end[f], open_[f]
    merge = np.array([span_us(x.failure_merge) for x in maps], np.int64)[map_ids[fm]]
    brk = np.ones(len(f), np.bool_)
    brk[1:] = (fm[1:] != fm[:-1]) | (fs[1:] - fe[:-1] > merge[1:])
    first = np.flatnonzero(brk)
    last = np.r_[first[1:] - 1, len(f) - 1]
    return fs[first], np.maximum.reduceat(fe, first), fo[last], fm[first]


def setup_ends(m: I64, start: I64, end: I64, element: I64) -> tuple[I64, I64]:
    """Return (machine, end) of every setup run."""
    aust = element == ELEMENT_INDEX[Element.AUST]
    if not aust.any():
        return EMPTY, EMPTY
    runs = run_ids(m, aust.astype(np.int64), start, end)
    sel = np.flatnonzero(aust)
    last = np.r_[np.flatnonzero(np.diff(runs[sel]) != 0), len(sel) - 1]
    return m[sel][last], end[sel][last]


def calendar_layer(
    calendar: PlantCalendar | None,
    plan: PlanSource,
    machines: list[str],
    axis: Axis,
    codes: StringIds,
    reasons: StringIds,
) -> Layer:
    """Build the planned layer: the calendar's no-shift, holiday, break and maintenance time."""
    if calendar is None or plan is PlanSource.STATES or not machines:
        return Layer.of(EMPTY, EMPTY)
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
            np.array([ELEMENT_INDEX[CALENDAR_ELEMENT[x[2]]] for x in spans], np.int64),
            np.array([codes.id(x[2]) for x in spans], np.int64),
            np.array([reasons.id(calendar.reason_of(x[2], x[0], path)) for x in spans], np.int64),
        )
        cols[0].append(np.repeat(mem, len(spans)))
        for k, column in enumerate(base):
            cols[k + 1].append(np.tile(column, len(mem)))
    m, s, e, el, cd, rs = (np.concatenate(c) for c in cols)
    s, e = s + axis.offset[m], e + axis.offset[m]
    order = np.argsort(s, kind="stable")
    return Layer.of(s[order], e[order], element=el[order], code=cd[order], reason=rs[order])


def manual_layer(
    entries: Sequence[ReasonEntry],
    position: Mapping[str, int],
    axis: Axis,
    map_ids: I64,
    rules: Rules,
    codes: StringIds,
    reasons: StringIds,
    *,
    coded: bool,
) -> Layer:
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
    return Layer.of(
        np.array([x.start for x in spans], np.int64),
        np.array([x.end for x in spans], np.int64),
        element=np.array([ELEMENT_INDEX[r[0]] for r in rows], np.int64),
        code=np.array([codes.id(entries[n].code) for n in which], np.int64),
        reason=np.array([reasons.id(entries[n].reason) for n in which], np.int64),
        identity=np.array(which, np.int64),
        failure=np.array([r[1] for r in rows], np.bool_),
        external=np.array([r[2] for r in rows], np.bool_),
    )


def order_layer(ev: EventColumns, horizon: I64, axis: Axis) -> Layer:
    """Build the booked-order layer from order events (an empty or null code ends an order)."""
    rows = ev.rows(EventKind.ORDER)
    m, t, code_idx = ev.machine[rows], ev.ts[rows], ev.code[rows]
    order = sorted_by(m, t, np.arange(len(t), dtype=np.int64))
    m, t, code_idx = m[order], t[order], code_idx[order]
    booked = np.array([bool(x) for x in ev.code_names] + [False], np.bool_)[code_idx]
    end, _ = follow(m, t, horizon)
    s, e, ok = axis.clip(m, t, end)
    ok &= booked
    return Layer.of(s[ok], e[ok])
