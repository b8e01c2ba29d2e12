"""Measure query latencies on the store, through the HTTP API (Arrow answers) and in InfluxDB.

Three queries, each run once untimed to warm caches and then ``runs`` times (only three when
a query takes seconds); the median is reported with the rows it answered (the same rows on
every target, checked by the report):

* latest value of every series (the fleet's 100k and the history line's);
* one series over one day in 1-minute averages;
* every signal of one line over 30 days in hourly averages.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import httpx
import pyarrow as pa
from rich.progress import Progress

from bench.data import ENTERPRISE, Workload
from bench.influx import MEASUREMENT, Influx, regex_literal
from werk.store import Agg, Store

ARROW_STREAM: Final = "application/vnd.apache.arrow.stream"


@dataclass(frozen=True, slots=True)
class Query:
    """One of the benchmark's queries, with everything each target needs to ask it."""

    name: str
    path: str
    signal: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    bucket: timedelta | None = None
    bucket_text: str = ""
    descendants: bool = False

    def span(self) -> tuple[datetime, datetime]:
        """The query's time window; only range queries have one."""
        if self.start is None or self.end is None:
            raise ValueError(f"query {self.name!r} has no time window")
        return self.start, self.end


@dataclass(frozen=True, slots=True)
class QueryRow:
    """The latency of one query on one target."""

    query: str
    target: str
    median_ms: float
    min_ms: float
    rows: int
    runs: int


def queries(workload: Workload) -> tuple[Query, Query, Query]:
    """The three queries of a run, pointed at its data."""
    series, history = workload.series, workload.history
    day_end = history.end
    return (
        Query(name=f"latest, {series.count:,} series", path=ENTERPRISE),
        Query(
            name="1 series, 1 day, 1-min avg",
            path=series.history_paths[0],
            signal=series.history_signals[0],
            start=day_end - timedelta(days=1),
            end=day_end,
            bucket=timedelta(minutes=1),
            bucket_text="1m",
        ),
        Query(
            name=(
                f"1 line ({len(series.history_paths) * len(series.history_signals)} series), "
                f"{history.days} days, 1-h avg"
            ),
            path=series.history_line,
            start=history.start,
            end=history.end,
            bucket=timedelta(hours=1),
            bucket_text="1h",
            descendants=True,
        ),
    )


SLOW_BUDGET_S: Final = 5.0
"""A query that has used this much time stops repeating after ``MIN_RUNS`` runs: a run of
seconds is measured well enough by three, and the full run has to fit in minutes."""
MIN_RUNS: Final = 3


def time_it(ask: Callable[[], int], runs: int) -> tuple[list[float], int]:
    """Run ``ask`` once untimed, then up to ``runs`` times; return the timings (ms) and rows."""
    rows = ask()
    samples: list[float] = []
    spent = 0.0
    while len(samples) < runs and not (len(samples) >= MIN_RUNS and spent > SLOW_BUDGET_S):
        start = time.perf_counter()
        rows = ask()
        elapsed = time.perf_counter() - start
        spent += elapsed
        samples.append(elapsed * 1000)
    return samples, rows


def on_store(store: Store, query: Query) -> Callable[[], int]:
    """Ask ``query`` of a store directly."""
    if query.bucket is None:
        return lambda: int(store.latest(query.path).num_rows)
    (start, end), bucket = query.span(), query.bucket
    signals = [query.signal] if query.signal else None

    def ask() -> int:
        table = store.range(
            query.path,
            start,
            end,
            signals=signals,
            descendants=query.descendants,
            bucket=bucket,
            agg=Agg.AVG,
        )
        return int(table.num_rows)

    return ask


def over_http(client: httpx.Client, query: Query) -> Callable[[], int]:
    """Ask ``query`` through the API, answered as an Arrow stream and decoded by the client."""
    if query.bucket is None:
        route, params = "/api/v1/latest", {"path": query.path}
    else:
        start, end = query.span()
        route = "/api/v1/range"
        params = {
            "path": query.path,
            "from": start.isoformat().replace("+00:00", "Z"),
            "to": end.isoformat().replace("+00:00", "Z"),
            "bucket": query.bucket_text,
            "agg": "avg",
        }
        if query.signal:
            params["signal"] = query.signal
        if query.descendants:
            params["descendants"] = "true"

    def ask() -> int:
        response = client.get(route, params=params, headers={"Accept": ARROW_STREAM})
        if response.status_code != 200:
            raise RuntimeError(f"{route} answered {response.status_code}: {response.text[:500]}")
        table: pa.Table = pa.ipc.open_stream(response.content).read_all()
        return int(table.num_rows)

    return ask


def _influx_time(ts: datetime) -> str:
    return "'" + ts.strftime("%Y-%m-%dT%H:%M:%SZ") + "'"


def influxql(query: Query) -> str:
    """The InfluxQL statement of ``query``."""
    if query.bucket is None:
        return f"SELECT last(value) FROM {MEASUREMENT} GROUP BY *"
    start, end = query.span()
    where = [f"time >= {_influx_time(start)}", f"time < {_influx_time(end)}"]
    if query.descendants:
        where.insert(0, f"path =~ {regex_literal(query.path)}")
    else:
        where.insert(0, f"path = '{query.path}'")
    if query.signal:
        where.insert(1, f"signal = '{query.signal}'")
    return (
        f"SELECT mean(value) FROM {MEASUREMENT} WHERE {' AND '.join(where)} "
        f"GROUP BY time({query.bucket_text}), path, signal fill(none)"
    )


def on_influx(influx: Influx, query: Query) -> Callable[[], int]:
    """Ask ``query`` of InfluxDB (JSON answer, parsed whole)."""
    statement = influxql(query)
    return lambda: influx.query(statement).rows


def measure(
    target: str,
    askers: list[tuple[Query, Callable[[], int]]],
    runs: int,
    progress: Progress | None = None,
) -> list[QueryRow]:
    """Time every query of one target."""
    task = progress.add_task(f"queries · {target}", total=len(askers)) if progress else None
    rows = []
    for query, ask in askers:
        timings, count = time_it(ask, runs)
        rows.append(
            QueryRow(
                query.name,
                target,
                statistics.median(timings),
                min(timings),
                count,
                len(timings),
            )
        )
        if progress is not None and task is not None:
            progress.advance(task)
    if progress is not None and task is not None:
        progress.remove_task(task)
    return rows
