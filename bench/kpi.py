"""Measure the KPI engine: OEE by shift of a machine-year, a site-day, a site-month, late events.

The site is 20 lines × 10 machines with a three-shift calendar in Europe/Berlin; events are a
plausible random mix of states (a change every ~8 minutes) and counts (every 5 minutes). werk runs
through :class:`~werk.kpi.engine.KpiEngine` on each store backend (reading state events and the
store's count sums per shift-aligned bucket, calendar in plant time, time models, roll-up,
versioning). The peer is the SQL a user would write by hand in
PostgreSQL for the same site-month: ``LEAD(ts)`` state durations, a ``CASE`` per state, counts
joined to ideal cycle times, per machine — without shifts, breaks, micro-stop runs, versions or
completeness, so it does less than werk and is a floor, not an equal.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
import pyarrow as pa

from bench.report import Section
from werk.assets.model import (
    AssetModel,
    BreakSpec,
    EquipmentType,
    Instance,
    ShiftSpec,
    SiteSpec,
)
from werk.kpi import Granularity
from werk.kpi.engine import KpiEngine
from werk.samples import EVENT_SCHEMA, UTC_NS, Event, EventKind
from werk.store import Store, open_store

SITE = "bench/plant"
CODES = np.array(["executing", "micro_stop", "failure", "setup", "starved", "no_order"], object)
WEIGHTS = np.array([0.55, 0.2, 0.05, 0.05, 0.1, 0.05])
MEAN_MINUTES = np.array([20.0, 1.0, 25.0, 15.0, 4.0, 10.0])
MONTH = date(2026, 3, 1)
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def paths(lines: int, machines: int) -> list[str]:
    """Machine paths of the bench site."""
    return [
        f"{SITE}/area-{line // 10}/line-{line:02d}/m-{m:02d}"
        for line in range(lines)
        for m in range(machines)
    ]


def assets(machine_paths: list[str]) -> AssetModel:
    """Three shifts with breaks, weekdays, Berlin; one type with two products."""
    brk = (BreakSpec("break", clock(10), clock(10, 30)),)
    shifts = (
        ShiftSpec("early", clock(6), clock(14), breaks=brk),
        ShiftSpec(
            "late", clock(14), clock(22), breaks=(BreakSpec("break", clock(18), clock(18, 30)),)
        ),
        ShiftSpec(
            "night", clock(22), clock(6), breaks=(BreakSpec("break", clock(2), clock(2, 30)),)
        ),
    )
    pri = {"A": timedelta(seconds=50), "B": timedelta(seconds=55)}
    return AssetModel(
        (SiteSpec(SITE, "Europe/Berlin", shifts),),
        (EquipmentType("cell", 1, (), pri),),
        tuple(Instance(p, "cell") for p in machine_paths),
    )


def events(
    machine_paths: list[str],
    first: date,
    days: int,
    seed: int = 7,
    *,
    margin: timedelta = timedelta(days=1),
    count_every: timedelta = timedelta(minutes=5),
) -> pa.Table:
    """Random but plausible events of the machines over ``days`` from ``first`` (UTC).

    State changes (random codes, exponential durations) and a count event every
    ``count_every`` (about one part a minute, 2.5 % scrap), from ``margin`` before the first
    day to ``margin`` after the last, so windows at the edges have a state to start from.
    """
    rng = np.random.default_rng(seed)
    start = datetime.combine(first, clock(0), tzinfo=UTC) - margin
    span_s = days * 86400 + 2 * int(margin.total_seconds())
    every_s = int(count_every.total_seconds())
    t0 = int(start.timestamp()) * 1_000_000_000
    parts = []
    for path in machine_paths:
        n = int(span_s / 60 / 8) + 10
        which = rng.choice(len(CODES), n, p=WEIGHTS)
        dur = rng.exponential(MEAN_MINUTES[which] * 60).astype(np.int64) + 1
        ts = np.cumsum(dur) - dur[0]
        keep = ts < span_s
        ts, which = ts[keep], which[keep]
        cts = np.arange(span_s // every_s, dtype=np.int64) * every_s + 17
        n_c = len(cts)
        per_count = every_s / 60  # about one part a minute
        good = rng.poisson(per_count, n_c)
        scrap = rng.poisson(per_count / 40, n_c)
        product = np.where(rng.random(n_c) < 0.5, "A", "B").astype(object)
        n_all = len(ts) + n_c
        parts.append(
            pa.table(
                {
                    "path": pa.array([path] * n_all, pa.string()),
                    "ts": pa.array(np.r_[ts, cts] * 1_000_000_000 + t0, pa.int64()).cast(UTC_NS),
                    "kind": pa.array(["state"] * len(ts) + ["count"] * n_c, pa.string()),
                    "code": pa.array(list(CODES[which]) + [None] * n_c, pa.string()),
                    "reason": pa.nulls(n_all, pa.string()),
                    "product": pa.array([None] * len(ts) + list(product), pa.string()),
                    "good": pa.array(np.r_[np.zeros(len(ts), np.int64), good], pa.int64()),
                    "scrap": pa.array(np.r_[np.zeros(len(ts), np.int64), scrap], pa.int64()),
                    "rework": pa.array(np.zeros(n_all, np.int64), pa.int64()),
                    "active": pa.nulls(n_all, pa.bool_()),
                },
                schema=EVENT_SCHEMA,
            )
        )
    table = pa.concat_tables(parts)
    return table.sort_by([("ts", "ascending"), ("path", "ascending")])


def load(store: Store, table: pa.Table, key: str) -> None:
    """Write ``table`` into the store in batches."""
    for i, batch in enumerate(table.to_batches(500_000)):
        store.write(f"{key}-{i}", events=pa.Table.from_batches([batch]))


def best(fn: Callable[[], object], repeat: int = 3) -> float:
    """Return the best wall time of ``repeat`` runs, in seconds."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


PEER_SQL = """
WITH s AS MATERIALIZED (
  SELECT path, ts, code,
         LEAD(ts) OVER (PARTITION BY path ORDER BY ts) AS nxt
  FROM events WHERE kind = 'state' AND path LIKE %(site)s AND ts >= %(lo)s AND ts < %(hi)s
), t AS MATERIALIZED (
  SELECT path,
    SUM(CASE WHEN code = 'executing' THEN LEAST(nxt, %(hi)s) - GREATEST(ts, %(lo)s) END) AS apt,
    SUM(CASE WHEN code <> 'executing' THEN LEAST(nxt, %(hi)s) - GREATEST(ts, %(lo)s) END) AS down
  FROM s WHERE nxt IS NOT NULL GROUP BY path
), c AS MATERIALIZED (
  SELECT path, SUM(good) AS good, SUM(good + scrap) AS total,
         SUM((good + scrap) * CASE product WHEN 'A' THEN 50 ELSE 55 END) AS ideal_s
  FROM events WHERE kind = 'count' AND path LIKE %(site)s AND ts >= %(lo)s AND ts < %(hi)s
  GROUP BY path
)
SELECT t.path, t.apt::float8 / NULLIF(t.apt + t.down, 0) AS availability,
       c.ideal_s * 1e9 / NULLIF(t.apt, 0) AS effectiveness,
       c.good::float8 / NULLIF(c.total, 0) AS quality
FROM t JOIN c USING (path)
"""


@contextmanager
def postgres(admin_url: str) -> Iterator[str | None]:
    """Yield the URL of a scratch PostgreSQL database (None when PostgreSQL is not there)."""
    try:
        import psycopg

        name = f"werk_kpi_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception:  # no server here: the peer column says so
        yield None
        return
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _measure(
    store: Store, model: AssetModel, machine: str, days: int, year: bool
) -> dict[str, float]:
    first = datetime.combine(MONTH, clock(0), tzinfo=UTC)
    end_month = first + timedelta(days=days)
    now = end_month + timedelta(days=2)
    out: dict[str, float] = {}
    line = machine.rsplit("/", 1)[0]
    if year:
        out["machine-year"] = best(
            lambda: KpiEngine(store, model, clock=lambda: now).results(
                machine, first - timedelta(days=365 - days), end_month, Granularity.SHIFT
            ),
            repeat=1,
        )
    out["site-day"] = best(
        lambda: KpiEngine(store, model, clock=lambda: now).results(
            SITE, first + timedelta(days=2), first + timedelta(days=3), Granularity.SHIFT
        )
    )
    out["site-month"] = best(
        lambda: KpiEngine(store, model, clock=lambda: now).results(
            SITE, first, end_month, Granularity.SHIFT
        )
    )
    engine = KpiEngine(store, model, clock=lambda: now)
    engine.results(SITE, first, end_month, Granularity.SHIFT)
    engine.results(line, first, end_month, Granularity.SHIFT)
    ts = first + timedelta(days=2, hours=9, minutes=7)
    late = Event(machine, ts, EventKind.COUNT, None, "eol", "A", good=-1, scrap=1)
    store.write(
        f"late-{uuid.uuid4().hex[:6]}",
        events=pa.Table.from_pylist(
            [
                {"path": machine, "ts": ts, "kind": "count", "code": None, "reason": "eol",
                 "product": "A", "good": -1, "scrap": 1, "rework": 0, "active": None}
            ],
            schema=EVENT_SCHEMA,
        ),
    )  # fmt: skip
    began = time.perf_counter()
    revisions = engine.recompute([late])
    out["late event"] = time.perf_counter() - began
    out["late changed"] = float(sum(r.changed for r in revisions))
    return out


def run(smoke: bool, pg_admin_url: str = DEFAULT_PG) -> list[list[str]]:
    """Measure; return rows ``[measurement, werk DuckDB, werk PostgreSQL, SQL peer PostgreSQL]``."""
    lines, per_line, days = (2, 5, 3) if smoke else (20, 10, 31)
    machine_paths = paths(lines, per_line)
    model = assets(machine_paths)
    table = events(machine_paths, MONTH, days)
    year_machine = machine_paths[0]
    year_days = 3 if smoke else 365
    year = events([year_machine], MONTH - timedelta(days=year_days - days), year_days, seed=11)
    year = year.filter(pa.compute.less(year["ts"], pa.scalar(table["ts"][0].as_py(), UTC_NS)))
    figures: dict[str, dict[str, float]] = {}
    peer: float | None = None
    with TemporaryDirectory() as tmp:
        urls = [("duckdb", f"duckdb:///{Path(tmp) / 'kpi.duckdb'}")]
        with postgres(pg_admin_url) as pg:
            if pg is not None:
                urls.append(("postgres", pg))
            for name, url in urls:
                store = open_store(url)
                try:
                    load(store, year, "year")
                    load(store, table, "site")
                    if name == "postgres":
                        # Statistics, as for the SQL peer below: autovacuum would gather them
                        # within a minute of a bulk load; the measurement should not race it.
                        import psycopg

                        with psycopg.connect(url, autocommit=True) as conn:
                            conn.execute("ANALYZE")
                    figures[name] = _measure(store, model, year_machine, days, year=True)
                finally:
                    store.close()
            if pg is not None:
                import psycopg

                lo = int(datetime.combine(MONTH, clock(0), tzinfo=UTC).timestamp() * 1e9)
                hi = lo + days * 86_400_000_000_000
                with psycopg.connect(pg, autocommit=True) as conn:
                    # What a user would do after a bulk load; without statistics the planner
                    # re-runs the count aggregate per machine (a nested loop), minutes not seconds.
                    conn.execute("ANALYZE events")
                    conn.execute("SET statement_timeout = '300s'")

                    def query() -> object:
                        return conn.execute(
                            PEER_SQL, {"site": f"{SITE}/%", "lo": lo, "hi": hi}
                        ).fetchall()

                    peer = best(query)
    events_month = table.num_rows
    rows = []
    labels = {
        "machine-year": f"OEE by shift, 1 machine, {year_days} days",
        "site-day": f"site ({lines}×{per_line} machines), 1 day by shift",
        "site-month": (
            f"site ({lines}×{per_line} machines), {days} days by shift ({events_month:,} events)"
        ),
        "late event": "recompute after 1 late scrap event",
    }
    for key, label in labels.items():
        row = [label]
        for name in ("duckdb", "postgres"):
            value = figures.get(name, {}).get(key)
            row.append("—" if value is None else f"{value * 1000:,.0f} ms")
        row.append(f"{peer * 1000:,.0f} ms" if key == "site-month" and peer is not None else "—")
        rows.append(row)
    changed = figures.get("duckdb", {}).get("late changed")
    rows.append(["results changed by the late event", f"{changed:.0f}" if changed else "—", "", ""])
    return rows


def section(*, smoke: bool, pg_admin_url: str = DEFAULT_PG) -> Section:
    """The KPI table of a bench run."""
    return Section(
        "KPI engine (ISO 22400, site calendar in plant time)",
        ["measurement", "werk · DuckDB", "werk · PostgreSQL", "hand-written SQL · PostgreSQL"],
        run(smoke, pg_admin_url),
        [
            "Targets: site-month < 1 s, late-event recomputation < 100 ms. Best of 3 "
            "(machine-year: 1 run); each run is a fresh engine reading from the store.",
            "The SQL peer computes availability/effectiveness/quality per machine for the month "
            "without calendar, breaks, micro-stop runs, versions or completeness: a floor.",
        ],
    )


def sections(*, smoke: bool, pg_admin_url: str = DEFAULT_PG) -> list[Section]:
    """The KPI benchmark as the suite's list of sections."""
    return [section(smoke=smoke, pg_admin_url=pg_admin_url)]
