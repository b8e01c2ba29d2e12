"""Run the whole benchmark: each target gets a fresh store, the same rows, the same clients.

Order of a run: generate the rows once; DuckDB append; werk over HTTP into DuckDB (ingest,
history, queries over HTTP, then on the store directly); PostgreSQL: werk over HTTP and the
direct COPY, interleaved (below), then werk's history and queries; InfluxDB (ingest, history,
queries). Fresh state for each (a new DuckDB file, a new PostgreSQL database, a new InfluxDB
database), all dropped at the end.

The PostgreSQL target is judged as a share of the COPY peer, so the two are measured side by
side: each ingest phase is cut into ``Scale.slices`` slices, and werk and the peer take turns
slice by slice (who goes first alternates), each slice after a checkpoint and a short settle.
Measured one after the other, minutes apart, the share moved by ±15 points between runs on this
shared 2-core machine, because the machine's speed drifts; interleaved, the drift falls on both.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import pyarrow as pa
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bench import query as q
from bench import report, sections
from bench.data import Batch, Phase, Workload
from bench.influx import DEFAULT_URL, Influx, LineProtocol
from bench.ingest import IngestRow, Payload, WerkHttp, Writer, drive, werk_payloads
from bench.machine import Machine
from bench.peers import DuckDBAppend, PostgresCopy
from bench.report import Results
from bench.scale import Scale
from bench.server import Server
from werk.store import open_store

T = TypeVar("T")
Encoder = Callable[[Sequence[Batch], int], list[Payload[Any]]]

HISTORY_SEQ = 1_000_000_000
"""First batch sequence number of the history (above any phase's)."""

DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass(slots=True)
class Options:
    """How to run: sizes, where to keep files, which services to use."""

    scale: Scale
    work_dir: Path
    pg_admin_url: str = DEFAULT_PG_ADMIN_URL
    pg_database: str = "werk_bench"
    influx_url: str = DEFAULT_URL
    influx_database: str = "werk_bench"
    compression: str = "zstd"
    console: Console = field(default_factory=Console)


@dataclass(slots=True)
class Rows:
    """The run's batches, generated once and handed to every target."""

    warmup: list[Batch]
    phases: list[tuple[Phase, list[Batch]]]
    history: list[Batch]


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


class Runner:
    """One run's state: options, workload, rows, the progress display and the results."""

    def __init__(self, options: Options, progress: Progress) -> None:
        self.options = options
        self.scale = options.scale
        self.progress = progress
        self.console = progress.console
        self.workload = Workload.build(options.scale)
        self.rows = self._generate()
        self.machine = Machine.describe()
        self.results = Results(
            scale=options.scale,
            machine=self.machine,
            compression=options.compression,
            series=self.workload.series.count,
            history_samples=self.workload.history.samples(self.workload.series),
        )
        self.queries = q.queries(self.workload)

    # -- rows --------------------------------------------------------------------------------
    def _generate(self) -> Rows:
        w = self.workload
        total = 1 + sum(p.count for p in w.phases) + w.history.count(w.series)
        task = self.progress.add_task("generating rows", total=total)

        def tick(batch: Batch) -> Batch:
            self.progress.advance(task)
            return batch

        rows = Rows(
            warmup=[tick(b) for b in w.warmup.batches(w.series)],
            phases=[(p, [tick(b) for b in p.batches(w.series)]) for p in w.phases],
            history=[tick(b) for b in w.history.batches(w.series)],
        )
        self.progress.remove_task(task)
        return rows

    # -- measuring ----------------------------------------------------------------------------
    def _ingest(
        self,
        target: str,
        connect: Callable[[], AbstractContextManager[Writer[T]]],
        encode: Callable[[Sequence[Batch], int], list[Payload[T]]],
        *,
        history: bool,
    ) -> None:
        """Warm up, then time every phase, then (untimed, reported) load the history."""
        self._phases([(target, connect, encode)], slices=1)
        if history:
            self._ingest_history(target, connect, encode)

    def _drive(
        self,
        payloads: Sequence[Payload[T]],
        connect: Callable[[], AbstractContextManager[Writer[T]]],
        label: str,
    ) -> float:
        """:func:`drive` with the run's clients and progress display."""
        return drive(
            payloads, connect, clients=self.scale.clients, progress=self.progress, label=label
        )

    def _ingest_history(
        self,
        target: str,
        connect: Callable[[], AbstractContextManager[Writer[T]]],
        encode: Callable[[Sequence[Batch], int], list[Payload[T]]],
    ) -> None:
        """Load the history (untimed for the targets, reported as a set-up figure)."""
        system = "werk" if target.startswith("werk") else "peer"
        payloads = encode(self.rows.history, HISTORY_SEQ)
        seconds = self._drive(payloads, connect, f"{target} · history")
        samples = sum(b.rows for b in self.rows.history)
        self.results.loads.append(
            IngestRow(target, system, self.scale.history_batch, len(payloads), samples, seconds)
        )

    def _phases(
        self,
        targets: Sequence[tuple[str, Callable[[], AbstractContextManager[Writer[Any]]], Encoder]],
        *,
        slices: int,
        before_slice: Callable[[], None] | None = None,
    ) -> None:
        """Warm every target up, then time every phase; with several targets and slices, slice
        by slice, the targets taking turns (the first of a slice alternates). A target's rate is
        its phase's samples over the sum of its slices' seconds; with two targets the share of
        the first in each slice goes to ``results.slices``."""
        seq = dict.fromkeys((t for t, _, _ in targets), 0)
        for target, connect, encode in targets:
            warm = encode(self.rows.warmup, seq[target])
            seq[target] += len(warm)
            self._drive(warm, connect, f"{target} · warm-up")
        for phase, batches in self.rows.phases:
            cut = max(1, min(slices, len(batches)))
            parts = [batches[i::cut] for i in range(cut)]
            seconds = dict.fromkeys(seq, 0.0)
            shares: list[float] = []
            for index, part in enumerate(parts):
                order = targets if index % 2 == 0 else list(reversed(targets))
                took: dict[str, float] = {}
                for target, connect, encode in order:
                    payloads = encode(part, seq[target])
                    seq[target] += len(payloads)
                    if before_slice is not None:
                        before_slice()
                    label = f"{target} · {phase.size:,}/batch"
                    if cut > 1:
                        label += f" · slice {index + 1}/{cut}"
                    took[target] = self._drive(payloads, connect, label)
                    seconds[target] += took[target]
                if len(targets) == 2:  # the first target's rate over the second's
                    first, second = targets[0][0], targets[1][0]
                    shares.append(took[second] / took[first] if took[first] > 0 else 0.0)
            for target, _, _ in targets:
                system = "werk" if target.startswith("werk") else "peer"
                row = IngestRow(
                    target, system, phase.size, len(batches), phase.samples, seconds[target]
                )
                self.results.ingest.append(row)
                self.console.print(
                    f"{target}, {phase.size:,}/batch: {row.rate:,.0f} samples/s", highlight=False
                )
            if shares:
                self.results.slices.append(
                    f"{targets[0][0]} ÷ {targets[1][0]}, {phase.size:,}-sample batches: "
                    + ", ".join(f"{share:.0%}" for share in shares)
                )

    def _werk_encode(self, batches: Sequence[Batch], seq: int) -> list[Payload[bytes]]:
        return werk_payloads(
            batches, edge="bench", first_seq=seq, compression=self.options.compression
        )

    @staticmethod
    def _raw_encode(batches: Sequence[Batch], seq: int) -> list[Payload[pa.Table]]:
        return [Payload(b.raw, b.rows, f"bench:{seq + i}") for i, b in enumerate(batches)]

    def duckdb_peer(self) -> None:
        """The direct DuckDB append."""
        peer = DuckDBAppend(self.options.work_dir / "peer.duckdb")
        try:
            self._ingest(report.DUCKDB_APPEND, peer.connect, self._raw_encode, history=False)
            self._check_count(report.DUCKDB_APPEND, peer.count(), history=False)
        finally:
            peer.close()

    def werk(
        self,
        target: str,
        store_url: str,
        store_label: str,
        http_label: str,
        peer: PostgresCopy | None = None,
    ) -> None:
        """werk over HTTP: ingest (interleaved with ``peer`` if given), history, queries over
        HTTP, then on the store directly."""
        name = "duckdb" if "duckdb" in store_url else "postgres"
        if name == "postgres":
            checkpoint(store_url)
        log = self.options.work_dir / f"werk-{name}.log"
        with Server(store_url, self.options.work_dir / f"data-{name}", log) as server:
            door = WerkHttp(server.url, server.headers)
            if peer is None:
                self._ingest(target, door.connect, self._werk_encode, history=True)
            else:

                def settle() -> None:
                    time.sleep(self.scale.settle_s)  # the merger ends what the last slice left
                    checkpoint(store_url)

                self._phases(
                    [
                        (target, door.connect, self._werk_encode),
                        (report.POSTGRES_COPY, peer.connect, self._raw_encode),
                    ],
                    slices=self.scale.slices,
                    before_slice=settle,
                )
                self._ingest_history(target, door.connect, self._werk_encode)
            with httpx.Client(base_url=server.url, headers=server.headers, timeout=600.0) as client:
                askers = [(query, q.over_http(client, query)) for query in self.queries]
                self.results.queries += q.measure(
                    http_label, askers, self.scale.query_runs, self.progress
                )
        store = open_store(store_url, migrate=False)
        try:
            info = store.info()
            expected = self._expected(history=True)
            if info.samples != expected:
                self.results.notes.append(
                    f"{target}: the store holds {info.samples:,} samples, expected {expected:,}"
                )
            askers = [(query, q.on_store(store, query)) for query in self.queries]
            self.results.queries += q.measure(
                store_label, askers, self.scale.query_runs, self.progress
            )
        finally:
            store.close()

    def postgres(self, url: str) -> None:
        """werk over HTTP into PostgreSQL and the direct binary COPY, ingest interleaved."""
        peer = PostgresCopy(url)
        try:
            self.werk(
                report.WERK_POSTGRES,
                url,
                report.Q_POSTGRES_STORE,
                report.Q_POSTGRES_HTTP,
                peer=peer,
            )
            self._check_count(report.POSTGRES_COPY, peer.count(), history=False)
        finally:
            peer.drop()

    def influx(self) -> None:
        """InfluxDB over HTTP with line protocol: ingest, history, queries."""
        options = self.options
        with Influx(options.influx_url, options.influx_database) as influx:
            if not influx.available():
                raise RuntimeError(
                    f"InfluxDB does not answer at {options.influx_url}; run "
                    "`bash scripts/influxdb.sh` first (make bench does)"
                )
            self.machine.versions["InfluxDB"] = influx.version()
            influx.recreate()
            try:
                lines = LineProtocol(self.workload.series)

                def encode(batches: Sequence[Batch], seq: int) -> list[Payload[bytes]]:
                    return [
                        Payload(lines.encode(b), b.rows, f"bench:{seq + i}")
                        for i, b in enumerate(batches)
                    ]

                @contextmanager
                def connect() -> Iterator[Writer[bytes]]:
                    with Influx(options.influx_url, options.influx_database) as own:
                        yield lambda payload: own.write(payload.body)

                self._ingest(report.INFLUXDB, connect, encode, history=True)
                self._check_count(report.INFLUXDB, influx.count(), history=True)
                askers = [(query, q.on_influx(influx, query)) for query in self.queries]
                self.results.queries += q.measure(
                    report.Q_INFLUXDB, askers, self.scale.query_runs, self.progress
                )
            finally:
                influx.drop()

    # -- checks ------------------------------------------------------------------------------
    def _expected(self, *, history: bool) -> int:
        rows = sum(b.rows for b in self.rows.warmup)
        rows += sum(b.rows for _, batches in self.rows.phases for b in batches)
        if history:
            rows += sum(b.rows for b in self.rows.history)
        return rows

    def _check_count(self, target: str, stored: int, *, history: bool) -> None:
        expected = self._expected(history=history)
        if stored != expected:
            self.results.notes.append(f"{target}: stored {stored:,} rows, expected {expected:,}")


def checkpoint(url: str) -> None:
    """Write out what the previous PostgreSQL target left dirty, so that each target starts
    from the same state: without it the checkpoint of the peer's millions of rows (and the full
    page images after it) fell into werk's timed phases, which run next."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


@contextmanager
def postgres_database(admin_url: str, name: str) -> Iterator[tuple[str, str]]:
    """Create a fresh database ``name`` (dropping a leftover one); yield its URL and the
    server's version; drop it afterwards."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
        version = conn.execute("SHOW server_version").fetchone()
    base = admin_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}", str(version[0]) if version else "?"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(options: Options) -> Results:
    """Run every measurement of ``options.scale``; return the results (not yet rendered)."""
    started = time.perf_counter()
    work = options.work_dir
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    with _progress(options.console) as progress:
        runner = Runner(options, progress)
        runner.duckdb_peer()
        runner.werk(
            report.WERK_DUCKDB,
            f"duckdb:///{(work / 'werk.duckdb').resolve()}",
            report.Q_DUCKDB_STORE,
            report.Q_DUCKDB_HTTP,
        )
        with postgres_database(options.pg_admin_url, options.pg_database) as (url, version):
            runner.machine.versions["PostgreSQL"] = version
            runner.postgres(url)
        runner.influx()
    shutil.rmtree(work, ignore_errors=True)
    runner.results.sections += sections.collect(
        smoke=options.scale.name == "smoke", pg_admin_url=options.pg_admin_url
    )
    runner.machine.finish()
    runner.results.seconds = time.perf_counter() - started
    return runner.results


def unique_name(prefix: str) -> str:
    """A database name no other run uses (for concurrent smoke runs)."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"
