"""Compute KPIs of any asset over any range from the store: the I/O shell over the pure KPI core.

:class:`KpiEngine` answers "OEE of this line, by shift, last week" like this:

1. the asset model names the machines under the path and their sites; each site's calendar
   (:func:`plant_calendar`) cuts the shift/day/week/month windows in plant time;
2. events are read from the store per site from ``lookback`` before the first window (so the state
   in force at its start is known; a machine silent for longer gets its last state from a wider
   read) to ``lookahead`` after the last (so a failure that ends after the window still gets its
   time to restoration) — count events summed by the store per bucket when every window edge is
   a bucket edge (:meth:`~werk.store.Store.count_sums`: a month of counts is millions of rows,
   their sums per shift a few thousand) — and the data horizon is
   ``min(now, last end + lookahead)`` or, for a site with sampled signals, ``silence`` after its
   newest sample or event, so a history that stops is missing data afterwards, not its last
   state held until now;
3. :func:`~werk.kpi.timemodel.time_models` computes each machine's time model per window, with
   its type's and site's state mapping and its ideal cycle times (instance, else type);
4. machines are summed into the path (never averaging ratios); the results are versioned against
   what was materialised before (:mod:`werk.kpi.materialised`: machine windows kept as row
   digests, result objects built only when asked): the version goes up only when a value changed.

Late data: :meth:`KpiEngine.recompute` takes late or corrected events, finds exactly the windows
they touch (:func:`~werk.kpi.recompute.impact`), re-derives those machine windows from the store
and moves every materialised roll-up above them by the difference (time models are additive, so
``new line = old line − old machine + new machine`` is exact). :meth:`KpiEngine.recompute_table`
is the ingest path's door to it: only events at or before the end of a materialised window that
has ended are late, and only ended windows are re-derived.

A window is *final* when it ended more than ``settle`` ago and no recomputation is pending.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from werk.assets.model import AssetModel, Instance, SiteSpec
from werk.assets.paths import is_under
from werk.errors import InvalidInput, NotFound
from werk.kpi.calendar import (
    Break,
    Granularity,
    Holiday,
    Maintenance,
    PlantCalendar,
    Shift,
    Window,
    span,
)
from werk.kpi.intervals import to_us
from werk.kpi.mapping import DEFAULT_MAPPING, MappingTable, StateMapping, override_from_dict
from werk.kpi.materialised import Key, Materialised
from werk.kpi.model import TimeModel
from werk.kpi.oee import KpiResult, kpi_findings, kpis
from werk.kpi.recompute import Timeline, impact, windows_between
from werk.kpi.rollup import BenchmarkRow, LossNode, ParetoRow, benchmark, downtime_pareto, loss_tree
from werk.kpi.settled import Settled
from werk.kpi.table import TimeModelTable, concat
from werk.kpi.timemodel import time_models
from werk.samples import EVENT_SCHEMA, Event, EventKind, from_ns, utc
from werk.store import Store

KINDS: Final = ["state", "count", "order", "product"]
"""The event kinds that enter time models."""

_MARGIN = timedelta(days=40)
_EXACT_IMPACT_MAX = 500
"""Events of one machine in one recomputation above which impacts are not traced one by one."""


def plant_calendar(site: SiteSpec, start: datetime, end: datetime) -> PlantCalendar:
    """Return the KPI calendar of a site, with weekly maintenance laid out over ``[start, end)``.

    Weekly maintenance is laid onto real days as the simulator does: its end is its start plus
    its length on the wall clock (a window across a DST change is an hour longer or shorter).
    """
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(site.tz)
    windows: list[Maintenance] = [
        Maintenance(utc(m.start), utc(m.end), m.scope, m.name) for m in site.maintenance
    ]
    if site.weekly_maintenance:
        day = utc(start).astimezone(zone).date() - timedelta(days=8)
        last = utc(end).astimezone(zone).date() + timedelta(days=1)
        while day <= last:
            for m in site.weekly_maintenance:
                if day.weekday() in m.days:
                    local = datetime.combine(day, m.start, tzinfo=zone)
                    windows.append(
                        Maintenance(
                            local.astimezone(UTC),
                            (local + m.length).astimezone(UTC),
                            m.scope,
                            m.name,
                        )
                    )
            day += timedelta(days=1)
    return PlantCalendar(
        site.tz,
        tuple(
            Shift(
                s.name,
                s.start,
                s.end,
                s.days,
                tuple(Break(b.start, b.end, b.name) for b in s.breaks),
            )
            for s in site.shifts
        ),
        tuple(Holiday(d) for d in site.holidays),
        tuple(windows),
        site.day_start,
    )


def bucket_step(
    windows: Sequence[Window], least: timedelta = timedelta(minutes=1)
) -> timedelta | None:
    """Return the longest step from the first window's start that has every window edge on a
    step boundary (shifts: usually hours), or None when it is shorter than ``least``."""
    origin = to_us(windows[0].start)
    step = 0
    for w in windows:
        step = math.gcd(step, to_us(w.start) - origin, to_us(w.end) - origin)
    if step == 0 or step < least // timedelta(microseconds=1):
        return None
    return timedelta(microseconds=step)


def mapping_table(assets: AssetModel) -> MappingTable:
    """Return the state mappings of an asset model: default, per type version, per site."""
    return MappingTable(
        DEFAULT_MAPPING,
        types={
            t.key: override_from_dict(t.state_mapping, where=f"type {t.key}")
            for t in assets.types
            if t.state_mapping is not None
        },
        sites={
            s.path: override_from_dict(s.state_mapping, where=f"site {s.path}")
            for s in assets.sites
            if s.state_mapping is not None
        },
    )


def _diff(a: TimeModel, b: TimeModel) -> TimeModel:
    """Return ``a − b`` element by element (time models are additive)."""
    return TimeModel(**{f.name: getattr(a, f.name) - getattr(b, f.name) for f in fields(a)})


@dataclass(frozen=True, slots=True)
class Revision:
    """A materialised result that a recomputation re-derived.

    Attributes:
        path: The unit.
        window: The window.
        before: Its version before.
        after: Its version after (equal when nothing changed).
    """

    path: str
    window: Window
    before: int
    after: int

    @property
    def changed(self) -> bool:
        """Whether a value changed."""
        return self.after != self.before


@dataclass(frozen=True, slots=True)
class Losses:
    """Where the time of a unit over a range went.

    Attributes:
        path: The unit.
        window: The range.
        model: Its summed time model.
        tree: The loss tree (six big losses on the ISO time model).
        pareto: Downtime by cause, largest first.
    """

    path: str
    window: Window
    model: TimeModel
    tree: LossNode
    pareto: list[ParetoRow]


def _now() -> datetime:
    return datetime.now(UTC)


class KpiEngine:
    """Compute, materialise and recompute KPIs from a store and an asset model.

    Args:
        store: Where the events are.
        assets: The asset model (or a function returning the current one).
        settle: How long after its end a window may still receive late data.
        clock: The current time (tests pass the end of a simulated span).
        lookback: How far before a range events are read for the state in force at its start.
        lookahead: How far after a range events are read for failures that end after it.
        silence: How long after a sampled site's newest data its states still hold (the data
            horizon of a site whose data stopped; see :meth:`_watermark`).
        sum_counts: Let the store sum count events per bucket (the same result from far fewer
            rows); off, every count event is read.
        final_ttl: How long the time models of final windows are reused between queries
            (:class:`~werk.kpi.settled.Settled`; late data this process ingests drops them at
            once); zero computes every window of every query.
    """

    def __init__(
        self,
        store: Store,
        assets: AssetModel | Callable[[], AssetModel],
        *,
        settle: timedelta = timedelta(hours=24),
        clock: Callable[[], datetime] = _now,
        lookback: timedelta = timedelta(days=1),
        lookahead: timedelta = timedelta(hours=4),
        silence: timedelta = timedelta(minutes=15),
        sum_counts: bool = True,
        final_ttl: timedelta = timedelta(minutes=1),
    ) -> None:
        self.store = store
        self._assets = assets
        self.settle = settle
        self.clock = clock
        self.lookback = lookback
        self.lookahead = lookahead
        self.silence = silence
        self.sum_counts = sum_counts
        self._pending: set[Key] = set()
        self._results = Materialised(self._is_final)
        self._settled = Settled(final_ttl)

    # -- the asset model -------------------------------------------------------------------------

    @property
    def assets(self) -> AssetModel:
        """The current asset model."""
        return self._assets() if callable(self._assets) else self._assets

    def machines(self, path: str) -> dict[str, list[Instance]]:
        """Return the machines at or under ``path``, by site path.

        Raises:
            NotFound: the asset model knows nothing at ``path``.
        """
        model = self.assets
        if not model.knows(path):
            raise NotFound(f"no asset at {path}", key="kpi.unknown_path", path=path, field="path")
        out: dict[str, list[Instance]] = {}
        for inst in model.under(path):
            out.setdefault(model.site(inst.path).path, []).append(inst)
        return out

    # -- computing -------------------------------------------------------------------------------

    def _horizon(self, end: datetime) -> datetime:
        return min(utc(self.clock()), utc(end) + self.lookahead)

    def _watermark(self, site: SiteSpec, events: pa.Table, until: datetime) -> datetime:
        """Return the data horizon of a site: ``until``, or where its data stops.

        A site whose signals are sampled (samples arrive all the time, in every state) has data
        up to its newest sample or event; ``silence`` after that nothing is known any more, so a
        history that ends (an edge gone quiet, a loaded backfill) shows as missing data — not as
        the last state held until now. A site without samples keeps ``until``: its events alone
        cannot tell a quiet machine from a silent edge.
        """
        samples = self.store.latest(site.path)
        if samples.num_rows == 0:
            return until
        newest = pc.max(samples["ts"]).as_py()
        if events.num_rows:
            newest = max(newest, pc.max(events["ts"]).as_py())
        return min(until, utc(newest) + self.silence)

    def _events(
        self, prefix: str, windows: Sequence[Window], until: datetime, paths: Sequence[str]
    ) -> pa.Table:
        """Read the events of the machines, including each one's last state before the first
        window; counts summed by the store per bucket when every window edge is a bucket edge."""
        start = windows[0].start
        first = utc(start) - self.lookback
        step = bucket_step(windows) if self.sum_counts else None
        if step is None:
            table = self.store.events(prefix, first, until, kinds=KINDS)
        else:
            # A count is attributed to the window holding its ts and to its product (its own, or
            # the product event in force at its ts): a bucket's sum at its last ts lands in the
            # same window with the same product, so the time models are exactly the same (and
            # the newest count's time, which the data horizon needs, is kept).
            table = pa.concat_tables(
                [
                    self.store.events(
                        prefix, first, until, kinds=[k for k in KINDS if k != "count"]
                    ),
                    self.store.count_sums(prefix, start, until, origin=start, step=step),
                ]
            ).cast(EVENT_SCHEMA)
        wanted = set(paths)
        states = table.filter(
            pc.and_(
                pc.equal(table["kind"], "state"), pc.less_equal(table["ts"], pa.scalar(utc(start)))
            )
        )
        missing = wanted - set(states["path"].to_pylist())
        extra: list[pa.Table] = []
        reach = self.lookback
        while missing and reach < timedelta(days=400):
            reach *= 8
            older = self.store.events(prefix, utc(start) - reach, first, kinds=["state"])
            older = older.filter(pc.is_in(older["path"], pa.array(sorted(missing), pa.string())))
            for p in sorted(missing):
                mine = older.filter(pc.equal(older["path"], p))
                if mine.num_rows:
                    extra.append(mine.slice(mine.num_rows - 1, 1))
                    missing.discard(p)
        if extra:
            table = pa.concat_tables([*extra, table]).cast(EVENT_SCHEMA)
        return table

    def _site_table(
        self,
        site: SiteSpec,
        machines: Sequence[Instance],
        by: Granularity,
        start: datetime,
        end: datetime,
    ) -> TimeModelTable | None:
        calendar = plant_calendar(site, start - _MARGIN, end + _MARGIN)
        windows = (
            [span(calendar, start, end)]
            if by is Granularity.RANGE
            else calendar.windows(by, start, end)
        )
        if not windows:
            return None
        if by is Granularity.RANGE or not self._settled.ttl_s:
            return self._table(site, machines, calendar, windows)
        return self._settled_table(site, machines, calendar, windows)

    def _final_window(self, paths: Sequence[str], window: Window, now: datetime) -> bool:
        if window.end + self.settle > now:
            return False
        pending = self._pending
        return not pending or not any((p, window.by, window.label) in pending for p in paths)

    def _settled_table(
        self,
        site: SiteSpec,
        machines: Sequence[Instance],
        calendar: PlantCalendar,
        windows: Sequence[Window],
    ) -> TimeModelTable:
        """Return the table of ``windows``: final ones kept from earlier queries, others computed.

        The windows still computed are computed with the horizon of the whole range, as a cold
        computation of every window would be; rows are stacked in its order (machine-major).
        """
        model = self.assets
        paths = tuple(i.path for i in machines)
        now = utc(self.clock())
        kept: list[TimeModelTable] = []
        missing: list[Window] = []
        for w in windows:
            piece = (
                self._settled.get(site.path, paths, w, model)
                if self._final_window(paths, w, now)
                else None
            )
            if piece is None:
                missing.append(w)
            else:
                kept.append(piece)
        if not kept:
            table = self._table(site, machines, calendar, windows)
        else:
            if missing:
                kept.append(self._table(site, machines, calendar, missing, horizon=windows[-1].end))
            joined = concat(kept)
            return joined.select(np.lexsort((joined.row_window, joined.row_path)))
        self._settled.keep(
            site.path, paths, model, table, lambda w: self._final_window(paths, w, now)
        )
        return table

    def _table(
        self,
        site: SiteSpec,
        machines: Sequence[Instance],
        calendar: PlantCalendar,
        windows: Sequence[Window],
        horizon: datetime | None = None,
    ) -> TimeModelTable:
        """Compute the machines' time models in ``windows``; ``horizon``: the end of the range
        they belong to when they are only part of it (default: the last window's end)."""
        model = self.assets
        mappings = mapping_table(model)
        types = {i.path: f"{i.type}@{i.version}" for i in machines}
        paths = [i.path for i in machines]
        until = self._horizon(horizon or windows[-1].end)
        prefix = paths[0] if len(paths) == 1 else site.path
        events = self._events(prefix, windows, max(until, windows[-1].end), paths)
        until = self._watermark(site, events, until)

        def mapping_of(path: str) -> StateMapping:
            return mappings.for_machine(path, types.get(path))

        return time_models(
            events,
            windows,
            mapping=mapping_of,
            ideal=model.ideal_cycle,
            calendar=calendar,
            until=until,
            paths=paths,
        )

    def table(self, path: str, start: datetime, end: datetime, by: Granularity) -> TimeModelTable:
        """Return the time model of every machine under ``path`` in every window of the range."""
        if not utc(start) < utc(end):
            raise InvalidInput(
                "the range must end after it starts", key="kpi.invalid_range", field="to"
            )
        model = self.assets
        tables = []
        for site_path, machines in self.machines(path).items():
            t = self._site_table(model.site(site_path), machines, by, start, end)
            if t is not None:
                tables.append(t)
        if not tables:
            raise NotFound(
                f"no machines under {path}", key="kpi.no_machines", path=path, field="path"
            )
        return concat(tables)

    def results(
        self, path: str, start: datetime, end: datetime, by: Granularity = Granularity.SHIFT
    ) -> list[KpiResult]:
        """Return the KPIs of ``path`` (all machines under it summed) per window of the range.

        Results are materialised, with machine-level ones; versions go up only when a value
        changed since the last computation.
        """
        table = self.table(path, start, end, by)
        if len(table.paths) == 1 and table.paths[0] == path:
            return self._results.revise_table(table, build=True)
        self._results.revise_table(table, build=False)
        return self._rollup(path, table)

    def machine_results(
        self, path: str, start: datetime, end: datetime, by: Granularity = Granularity.SHIFT
    ) -> list[KpiResult]:
        """Return the KPIs of each machine under ``path`` per window (materialised, versioned)."""
        return self._results.revise_table(self.table(path, start, end, by), build=True)

    def _rollup(self, path: str, table: TimeModelTable) -> list[KpiResult]:
        # Sites in other zones have their own window of the same label: one row per label.
        spans: dict[str, Window] = {}
        for w in table.windows:
            old = spans.get(w.label)
            spans[w.label] = (
                w
                if old is None
                else replace(old, start=min(old.start, w.start), end=max(old.end, w.end))
            )
        rolled = table.regroup(lambda _: path, lambda w: spans[w.label])
        results = self._results.revise_table(rolled, build=True)
        return sorted(results, key=lambda r: (r.window.start, r.window.label))

    def _is_final(self, key: Key, window: Window) -> bool:
        return window.end + self.settle <= utc(self.clock()) and key not in self._pending

    def losses(self, path: str, start: datetime, end: datetime) -> Losses:
        """Return the loss tree and downtime Pareto of ``path`` over the range."""
        table = self.table(path, start, end, Granularity.RANGE)
        model = table.total()
        window = Window(
            utc(start), utc(end), Granularity.RANGE, utc(start).date(), table.windows[0].label
        )
        return Losses(path, window, model, loss_tree(model), downtime_pareto(table))

    def benchmark(self, path: str, start: datetime, end: datetime) -> list[BenchmarkRow]:
        """Compare the sites under ``path`` over the range, each in its own plant time."""
        return benchmark(self.table(path, start, end, Granularity.RANGE))

    # -- late data -------------------------------------------------------------------------------

    def recompute(
        self,
        events: Iterable[Event],
        by: Sequence[Granularity] | None = None,
        *,
        ended_only: bool = False,
    ) -> list[Revision]:
        """Re-derive exactly the materialised windows that late or corrected events touch.

        The events must already be in the store. Machine results of the touched windows are
        recomputed from the store; every materialised roll-up above them moves by the change.
        ``by`` defaults to every granularity materialised so far (shift when none is);
        ``ended_only`` leaves windows that have not ended yet alone.

        Returns:
            One revision per materialised result re-derived (machines and roll-ups).
        """
        model = self.assets
        now = utc(self.clock())
        if by is None:
            by = sorted(self._results.granularities(), key=list(Granularity).index) or [
                Granularity.SHIFT
            ]
        touched: dict[tuple[str, Granularity], dict[str, Window]] = {}
        by_path: dict[str, list[Event]] = {}
        for e in events:
            if e.kind.value in KINDS:
                by_path.setdefault(e.path, []).append(e)
        mappings = mapping_table(model)
        for path, mine in sorted(by_path.items()):
            if not self._results.has_path(path):
                continue  # nothing of this machine materialised: the next query computes fresh
            try:
                inst = model.instance(path)
            except NotFound:
                continue  # a machine the asset model does not know has no KPIs
            site = model.site(path)
            lo, hi = min(utc(e.ts) for e in mine), max(utc(e.ts) for e in mine)
            calendar = plant_calendar(site, lo - _MARGIN, hi + _MARGIN)
            mapping = mappings.for_machine(path, f"{inst.type}@{inst.version}")
            for w in self._touched(path, mine, calendar, mapping, by, now, lo, hi):
                if (path, w.by, w.label) in self._results and not (ended_only and w.end > now):
                    touched.setdefault((path, w.by), {})[w.label] = w
        revisions: list[Revision] = []
        for (path, granularity), windows in sorted(touched.items(), key=lambda kv: kv[0]):
            keys = [(path, granularity, label) for label in windows]
            self._pending.update(keys)
            inst = model.instance(path)
            site = model.site(path)
            ordered = sorted(windows.values(), key=lambda w: w.start)
            self._settled.forget(path, ordered[0].start)
            calendar = plant_calendar(site, ordered[0].start - _MARGIN, ordered[-1].end + _MARGIN)
            table = self._table(site, [inst], calendar, ordered)
            self._pending.difference_update(keys)
            self._settled.forget(path, ordered[0].start)  # kept by a query meanwhile
            for i in range(len(table)):
                w, m = table.window(i), table.model(i)
                key = (path, granularity, w.label)
                old = self._results.get(key)
                found = tuple(table.findings_of(i)) + tuple(kpi_findings(m, path, w.label))
                new = self._results.revise(KpiResult(path, w, m, kpis(m), found))
                revisions.append(Revision(path, w, old.version if old else 0, new.version))
                if old is None or new.version == old.version:
                    continue
                delta = _diff(new.model, old.model)
                for (p, g, label), entry in self._results.items():
                    if g is granularity and label == w.label and p != path and is_under(path, p):
                        moved = entry.model + delta
                        before = entry.version
                        after = self._results.revise(
                            KpiResult(p, entry.window, moved, kpis(moved), entry.findings)
                        )
                        revisions.append(Revision(p, entry.window, before, after.version))
        return revisions

    def _touched(
        self,
        path: str,
        events: list[Event],
        calendar: PlantCalendar,
        mapping: StateMapping,
        by: Sequence[Granularity],
        now: datetime,
        lo: datetime,
        hi: datetime,
    ) -> list[Window]:
        """Return the windows the events of one machine touch (one store read per kind)."""
        if len(events) > _EXACT_IMPACT_MAX:
            # A backfill (an edge back after a night offline): exact spans would cost a timeline
            # pass per event; every window from the first event's day to now is re-derived, and
            # versions still move only where a value changed.
            start = lo - self.lookback
            return windows_between(calendar, start, max(now, hi), by, gaps=False)
        known: dict[EventKind, list[Event]] = {}
        for kind in {e.kind for e in events} - {EventKind.COUNT}:
            around = self.store.events(
                path, lo - self.lookback, hi + self.lookback, kinds=[kind.value]
            )
            known[kind] = [x for x in _events_of(around) if x.path == path]
        out: list[Window] = []
        for e in events:
            timeline = None
            if e.kind in known:
                # Its span is what the timeline without it and with it differ by.
                timeline = Timeline.of([x for x in known[e.kind] if x != e], e.kind)
            out += impact(
                calendar, e, timeline=timeline, mapping=mapping, by=by, until=now, gaps=False
            )
        return out

    def has_materialised(self) -> bool:
        """Tell whether any result was materialised (only then can late data revise one)."""
        return len(self._results) > 0

    def keeps_windows(self) -> bool:
        """Tell whether time models of final windows are kept (late data must drop them)."""
        return len(self._settled) > 0

    def recompute_table(self, table: pa.Table) -> list[Revision]:
        """Re-derive the materialised windows that a committed batch of late events touches.

        For the ingest path, so it stays cheap: only events of machines with materialised
        windows that have ended, and only those events at or before the end of such a window,
        are late; only ended windows are re-derived. Events of the windows still running need
        nothing: every query derives an open window afresh (and versions it then).
        """
        if table.num_rows and len(self._settled):
            # Any event, late or not, drops the kept windows from its time on (cheap: a live
            # event lies after every final window; a backfilled one drops what it may move).
            first = table.group_by("path", use_threads=False).aggregate([("ts", "min")])
            stamps = pc.cast(first["ts_min"], pa.int64()).to_pylist()
            for path, ns in zip(first["path"].to_pylist(), stamps, strict=True):
                if path is not None and ns is not None:
                    self._settled.forget(path, from_ns(ns))
        if not self.has_materialised() or table.num_rows == 0:
            return []
        now = utc(self.clock())
        paths = [p for p in pc.unique(table["path"]).to_pylist() if p is not None]
        ended = {p: self._results.ended_until(p, now) for p in paths}
        closed = {p: e for p, e in ended.items() if e is not None}
        if not closed:
            return []
        wanted = pa.array(list(closed), pa.string())
        limit = np.array([to_us(e) * 1000 for e in closed.values()] + [0], np.int64)
        where = pc.fill_null(pc.index_in(table["path"], value_set=wanted), len(closed))
        ts = table["ts"].cast(pa.int64()).to_numpy()
        late = ts < limit[np.asarray(where.to_numpy(), np.int64)]
        late &= np.isin(table["kind"].to_numpy(zero_copy_only=False), KINDS)
        if not late.any():
            return []
        return self.recompute(_events_of(table.filter(pa.array(late))), ended_only=True)

    def materialised(self, path: str, by: Granularity) -> list[KpiResult]:
        """Return the materialised results of ``path`` at granularity ``by``, in time order."""
        return self._results.of(path, by)


def _events_of(table: pa.Table) -> list[Event]:
    from werk.samples import batch_to_events

    return batch_to_events(table)


def parse_by(value: str) -> Granularity:
    """Parse a ``by`` parameter: shift, day, week or month.

    Raises:
        InvalidInput: naming the field ``by``.
    """
    try:
        by = Granularity(value)
    except ValueError:
        by = None
    if by is None or by is Granularity.RANGE:
        raise InvalidInput(
            f"by={value!r} is not one of shift, day, week, month", key="kpi.invalid_by", field="by"
        )
    return by


__all__ = [
    "KINDS",
    "KpiEngine",
    "Losses",
    "Revision",
    "mapping_table",
    "parse_by",
    "plant_calendar",
]
