"""Summarise a part of the fleet for one dashboard view: ``GET /overview?path=``.

One call answers a whole view — the fleet, a site, an area or a line: for each child (sites of
the fleet, areas of a site, lines of an area, machines of a line) its OEE today and this week
(each site's own day and week, in its own time zone), machine states, active alarms and data
freshness; plus every machine under the path with its current state. Each part passes the read
door as its own kind of read (KPIs, events, latest values), so a viewer who may see the values
but not the KPIs of a site gets the rest of the view.

KPI figures are cached for a few seconds: a wall of browsers refreshing the fleet view costs the
store one KPI computation per site and interval, not one per browser. Identical views requested
at the same time (same path, same scopes) share one computation of the rest
(:mod:`werk.api.flights`); each request still passes the door and is audited on its own.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from fastapi import APIRouter, Query, Request, Response

from werk.api.auth import Door, Reader
from werk.api.flights import Answer, flights
from werk.api.params import parse_path
from werk.api.routes.assets import current_assets
from werk.api.routes.kpi import engine
from werk.api.tables import dumps
from werk.assets.model import AssetModel, Instance
from werk.errors import NotFound
from werk.kpi.calendar import Granularity
from werk.kpi.engine import KpiEngine
from werk.kpi.oee import kpis
from werk.sharing.door import Decision, ReadDoor, ReadKind, ReadRequest, Scope
from werk.sharing.principal import Principal
from werk.store import Store

router = APIRouter(tags=["overview"])

LEVELS: Final = ("enterprise", "site", "area", "line", "machine")
STATE_LOOKBACK: Final = timedelta(days=1)
ALARM_LOOKBACK: Final = timedelta(days=7)
STALE_AFTER: Final = timedelta(minutes=5)
KPI_CACHE_S: Final = 15.0
KPI_NAMES: Final = ("oee", "availability", "effectiveness", "quality_ratio")
"""ISO 22400 names: effectiveness is the performance factor, quality_ratio the quality one."""


@dataclass(frozen=True, slots=True)
class Tree:
    """The machines under a path and how they group into the view's children."""

    path: str
    machines: tuple[str, ...]
    types: dict[str, str]
    site_tz: dict[str, str]

    def child_of(self, machine: str) -> str:
        """Return the child of the view's path that ``machine`` lies under."""
        depth = 2 if not self.path else self.path.count("/") + 2
        return "/".join(machine.split("/")[:depth])

    def children(self) -> list[str]:
        """Return the children of the view's path, sorted."""
        return sorted({self.child_of(m) for m in self.machines})

    def tz(self, path: str) -> str:
        """Return the time zone of the site ``path`` lies in (UTC when unknown)."""
        return self.site_tz.get("/".join(path.split("/")[:2]), "UTC")


def modelled(model: AssetModel, path: str) -> tuple[Instance, ...]:
    """Return the machines the asset model knows under ``path`` (all for the fleet)."""
    if not path:
        return tuple(model.instances)
    return tuple(model.under(path)) if model.knows(path) else ()


def tree_of(model: AssetModel, series: pa.Table, path: str) -> Tree:
    """Return the machines under ``path``: from the asset model, else from the stored series."""
    site_tz = {s.path: s.tz for s in model.sites}
    instances = modelled(model, path)
    if instances:
        machines = tuple(sorted(i.path for i in instances))
        types = {i.path: i.type for i in instances}
    else:  # no asset model loaded yet: the paths that have data still make a tree
        machines = tuple(sorted(set(series.column("path").to_pylist())))
        types = {}
    return Tree(path, machines, types, site_tz)


def _level(path: str) -> str:
    return LEVELS[min(path.count("/"), len(LEVELS) - 1)] if path else "fleet"


def _allowed(
    door: ReadDoor, principal: Principal, request: ReadRequest
) -> tuple[Decision, Scope] | None:
    decision = door.decide(principal, request)
    if not decision.permitted or decision.scope is None:
        door.record(decision, None)
        return None
    return decision, decision.scope


def _local_starts(tz: str, now: datetime) -> tuple[datetime, datetime]:
    """Return the start of today and of this week (Monday) in ``tz``, as UTC."""
    local = now.astimezone(ZoneInfo(tz))
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    week = day - timedelta(days=day.weekday())
    # rebuild through the zone so a DST change between Monday and today is honoured
    week = datetime(week.year, week.month, week.day, tzinfo=ZoneInfo(tz))
    return day.astimezone(UTC), week.astimezone(UTC)


def _kpi_values(model: Any) -> dict[str, float | None]:
    values = kpis(model).as_dict()
    out: dict[str, float | None] = {}
    for name in KPI_NAMES:
        v = values.get(name)
        out[name] = None if v is None or math.isnan(v) else float(v)
    completeness = model.completeness
    out["completeness"] = None if completeness is None else float(completeness)
    return out


def site_kpis(
    kpi: KpiEngine, tree: Tree, site: str, now: datetime
) -> dict[str, dict[str, dict[str, float | None]]]:
    """Return ``{child: {"today": {...}, "week": {...}}}`` for the children in one site."""
    tz = tree.tz(site)
    today, week = _local_starts(tz, now)
    scope_path = tree.path if tree.path.startswith(site) else site
    table = kpi.table(scope_path, week, now, Granularity.DAY)
    grouped = table.regroup(tree.child_of, lambda w: w)
    today_rows = np.array([w.end > today for w in grouped.windows], dtype=bool)[grouped.row_window]
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for index, child in enumerate(grouped.paths):
        mine = grouped.row_path == index
        out[child] = {
            "today": _kpi_values(grouped.sum_rows(mine & today_rows)),
            "week": _kpi_values(grouped.sum_rows(mine)),
        }
    return out


class KpiCache:
    """KPI figures of a view's children, kept ``KPI_CACHE_S`` seconds per (site, path)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}

    def get(self, kpi: KpiEngine, tree: Tree, site: str, now: datetime) -> dict[str, Any]:
        """Return cached figures, computing them when missing or older than the TTL."""
        key = (site, tree.path)
        hit = self._entries.get(key)
        if hit is not None and time.monotonic() - hit[0] < KPI_CACHE_S:
            return hit[1]
        try:
            value: dict[str, Any] = site_kpis(kpi, tree, site, now)
        except NotFound:
            value = {}
        self._entries[key] = (time.monotonic(), value)
        return value


def _cache(request: Request) -> KpiCache:
    state = request.app.state
    found: KpiCache | None = getattr(state, "overview_cache", None)
    if found is None:
        found = KpiCache()
        state.overview_cache = found
    return found


def current_states(store: Store, path: str, machines: tuple[str, ...], now: datetime) -> pa.Table:
    """Return the newest state event of each machine (looking back further for quiet ones)."""
    table = store.events(path, now - STATE_LOOKBACK, now + timedelta(seconds=1), kinds=["state"])
    newest = _last_per(table, ["path"])
    missing = set(machines) - set(newest.column("path").to_pylist())
    if missing:
        older = store.events(path, now - ALARM_LOOKBACK, now - STATE_LOOKBACK, kinds=["state"])
        older = older.filter(pc.is_in(older.column("path"), pa.array(sorted(missing), pa.string())))
        newest = pa.concat_tables([_last_per(older, ["path"]), newest])
    return newest


def _last_per(table: pa.Table, keys: list[str]) -> pa.Table:
    """Return the last row (by ts) of each group of ``keys``."""
    if table.num_rows == 0:
        return table
    indexed = table.append_column("_i", pa.array(np.arange(table.num_rows)))
    last = indexed.group_by(keys, use_threads=False).aggregate([("_i", "max")])
    return table.take(last.column("_i_max"))


def active_alarms(store: Store, path: str, now: datetime) -> pa.Table:
    """Return the alarms raised and not cleared (last event per machine and code is active)."""
    table = store.events(path, now - ALARM_LOOKBACK, now + timedelta(seconds=1), kinds=["alarm"])
    table = table.filter(pc.is_valid(table.column("code")))
    last = _last_per(table, ["path", "code"])
    return last.filter(pc.fill_null(last.column("active"), False))


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def summarise(
    store: Store,
    kpi: KpiEngine,
    cache: KpiCache,
    tree: Tree,
    scopes: dict[str, Scope | None],
    now: datetime,
) -> dict[str, Any]:
    """Build the overview answer (blocking: run it in a thread)."""
    ev_scope, latest_scope, kpi_scope = scopes["events"], scopes["latest"], scopes["kpi"]
    machines = [m for m in tree.machines if scopes["assets"] is None or scopes["assets"].allows(m)]
    children = sorted({tree.child_of(m) for m in machines})
    states: dict[str, tuple[str, str | None, datetime]] = {}
    alarms: list[dict[str, Any]] = []
    if ev_scope is not None:
        for row in ev_scope.filter(
            current_states(store, tree.path, tree.machines, now)
        ).to_pylist():
            states[row["path"]] = (row["code"] or "unknown", row["reason"], row["ts"])
        for row in ev_scope.filter(active_alarms(store, tree.path, now)).to_pylist():
            alarms.append({"path": row["path"], "code": row["code"], "since": _iso(row["ts"])})
        alarms.sort(key=lambda a: a["since"] or "", reverse=True)
    fresh: dict[str, tuple[datetime | None, int, int]] = {}
    if latest_scope is not None:
        latest = latest_scope.filter(store.latest(tree.path or None, None))
        stale_before = now - STALE_AFTER
        for path, ts in zip(
            latest.column("path").to_pylist(), latest.column("ts").to_pylist(), strict=True
        ):
            last, n, stale = fresh.get(path, (None, 0, 0))
            fresh[path] = (
                ts if last is None or ts > last else last,
                n + 1,
                stale + (ts < stale_before),
            )
    figures: dict[str, Any] = {}
    if kpi_scope is not None:
        for site in sorted({m.split("/")[0] + "/" + m.split("/")[1] for m in machines}):
            figures.update(cache.get(kpi, tree, site, now))
    child_rows = []
    for child in children:
        mine = [m for m in machines if tree.child_of(m) == child]
        counts: dict[str, int] = {}
        for m in mine:
            code = states.get(m, ("unknown", None, now))[0]
            counts[code] = counts.get(code, 0) + 1
        lasts = [t for t in (fresh.get(m, (None, 0, 0))[0] for m in mine) if t is not None]
        last = max(lasts) if lasts else None
        child_rows.append(
            {
                "path": child,
                "name": child.rsplit("/", 1)[-1],
                "level": _level(child),
                "tz": tree.tz(child),
                "machines": len(mine),
                "states": counts,
                "alarms": sum(1 for a in alarms if a["path"] in mine),
                "oee_today": figures.get(child, {}).get("today"),
                "oee_week": figures.get(child, {}).get("week"),
                "last_data": _iso(last),
                "age_s": None if last is None else (now - last).total_seconds(),
                "series": sum(fresh[m][1] for m in mine if m in fresh),
                "stale": sum(fresh[m][2] for m in mine if m in fresh),
            }
        )
    machine_rows = []
    for m in machines:
        code, reason, since = states.get(m, ("unknown", None, now))
        since_text = _iso(since) if m in states else None
        last = fresh.get(m, (None, 0, 0))[0]
        machine_rows.append(
            {
                "path": m,
                "name": m.rsplit("/", 1)[-1],
                "type": tree.types.get(m),
                "state": code,
                "reason": reason,
                "since": since_text,
                "alarms": [a["code"] for a in alarms if a["path"] == m],
                "last_data": _iso(last),
            }
        )
    totals: dict[str, int] = {}
    for m in machines:
        code = states.get(m, ("unknown", None, now))[0]
        totals[code] = totals.get(code, 0) + 1
    return {
        "path": tree.path,
        "level": _level(tree.path),
        "tz": tree.tz(tree.path) if tree.path.count("/") >= 1 else None,
        "generated_at": _iso(now),
        "states": totals,
        "children": child_rows,
        "machines": machine_rows,
        "alarms": alarms[:200],
        "kpis_visible": kpi_scope is not None,
    }


@router.get("/overview", operation_id="overview", summary="One dashboard view of the fleet")
async def overview(
    request: Request,
    principal: Reader,
    door: Door,
    path: Annotated[
        str | None, Query(description="Fleet (empty), enterprise, site, area or line path.")
    ] = None,
) -> Response:
    """Summarise the children of ``path``: OEE today and this week, states, alarms, freshness."""
    the_path = parse_path(path) or ""
    now = datetime.now(UTC)
    assets_decision, assets_scope = door.check(principal, ReadRequest(ReadKind.ASSETS, the_path))
    store: Store = request.app.state.store
    model = current_assets(request)
    # the stored series make the tree only where no asset model does (a read of every series)
    series = (
        pa.table({"path": pa.array([], pa.string())})
        if modelled(model, the_path)
        else await asyncio.to_thread(store.series, the_path or None)
    )
    tree = tree_of(model, assets_scope.filter(series), the_path)
    if the_path and not tree.machines:
        raise NotFound(f"no machines under {the_path}", key="overview.not_found", path=the_path)
    decisions: list[Decision] = [assets_decision]
    scopes: dict[str, Scope | None] = {"assets": assets_scope}
    for name, kind, start in (
        ("events", ReadKind.EVENTS, now - ALARM_LOOKBACK),
        ("latest", ReadKind.LATEST, None),
        ("kpi", ReadKind.KPI, now - timedelta(days=8)),
    ):
        found = _allowed(door, principal, ReadRequest(kind, the_path, None, start, now))
        scopes[name] = None if found is None else found[1]
        if found is not None:
            decisions.append(found[0])
    kpi, cache = engine(request), _cache(request)

    def answer() -> Answer:
        # the time of the computation: passengers that joined later still arrived before it
        body = summarise(store, kpi, cache, tree, scopes, datetime.now(UTC))
        return Answer(dumps(body), "application/json", len(body["machines"]))

    key = ("overview", the_path, id(model), tree.machines, tuple(scopes.items()))
    done = await flights(request).run(key, answer)
    for decision in decisions:
        door.record(decision, done.rows)
    return done.response()
