"""Render a run's figures: rich tables on the terminal and ``bench/RESULTS.md``.

Throughput is reported in samples per second and as ratios to the peers measured in the same
run; the issue's targets are checked from those ratios, never asserted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from rich.console import Console
from rich.table import Table

from bench.ingest import IngestRow
from bench.machine import Machine
from bench.query import QueryRow
from bench.scale import Scale

WERK_DUCKDB: Final = "werk HTTP → DuckDB"
WERK_POSTGRES: Final = "werk HTTP → PostgreSQL"
DUCKDB_APPEND: Final = "DuckDB append (direct)"
POSTGRES_COPY: Final = "PostgreSQL binary COPY (direct)"
INFLUXDB: Final = "InfluxDB 1.x line protocol"
INGEST_TARGETS: Final = (WERK_DUCKDB, DUCKDB_APPEND, WERK_POSTGRES, POSTGRES_COPY, INFLUXDB)

Q_DUCKDB_STORE: Final = "werk DuckDB store"
Q_DUCKDB_HTTP: Final = "werk DuckDB HTTP"
Q_POSTGRES_STORE: Final = "werk PostgreSQL store"
Q_POSTGRES_HTTP: Final = "werk PostgreSQL HTTP"
Q_INFLUXDB: Final = "InfluxDB 1.x"
QUERY_TARGETS: Final = (
    Q_DUCKDB_STORE,
    Q_DUCKDB_HTTP,
    Q_POSTGRES_STORE,
    Q_POSTGRES_HTTP,
    Q_INFLUXDB,
)


@dataclass(frozen=True, slots=True)
class Target:
    """One of the issue's goals and what this run measured for it."""

    name: str
    measured: str
    goal: str
    met: bool | None
    """None when a figure it needs is missing."""


@dataclass(frozen=True, slots=True)
class Section:
    """A table another part of werk adds to the run (simulator, KPIs...), with its notes."""

    title: str
    header: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Results:
    """Everything one run measured."""

    scale: Scale
    machine: Machine
    compression: str
    series: int
    history_samples: int
    ingest: list[IngestRow] = field(default_factory=list)
    queries: list[QueryRow] = field(default_factory=list)
    loads: list[IngestRow] = field(default_factory=list)
    """The history load (untimed set-up for the queries, reported for the record)."""
    notes: list[str] = field(default_factory=list)
    """What went wrong in the run (rows missing from a store); none in a good run."""
    slices: list[str] = field(default_factory=list)
    """Per-slice shares of the interleaved PostgreSQL ingest, one line per batch size."""
    sections: list[Section] = field(default_factory=list)
    seconds: float = 0.0

    def rate(self, target: str, batch: int) -> float | None:
        """Samples/s of ``target`` with batches of ``batch``, if measured."""
        for row in self.ingest:
            if row.target == target and row.batch == batch:
                return row.rate
        return None

    def latency(self, query: str, target: str) -> QueryRow | None:
        """The measured latency of ``query`` on ``target``, if measured."""
        for row in self.queries:
            if row.query == query and row.target == target:
                return row
        return None

    def targets(self) -> list[Target]:
        """The issue's targets, checked against this run."""
        big = max(self.scale.batch_sizes)
        out = []
        duck = self.rate(WERK_DUCKDB, big)
        out.append(
            Target(
                f"HTTP ingest into DuckDB, {big:,}-sample batches",
                _rate(duck),
                "≥ 2 M samples/s",
                None if duck is None else duck >= 2_000_000,
            )
        )
        influx = self.rate(INFLUXDB, big)
        ratio = duck / influx if duck and influx else None
        out.append(
            Target(
                f"… ÷ InfluxDB, {big:,}-sample batches",
                "—" if ratio is None else f"{ratio:.1f}×",
                "≥ 4×",
                None if ratio is None else ratio >= 4,
            )
        )
        for batch in self.scale.batch_sizes:
            pg, copy = self.rate(WERK_POSTGRES, batch), self.rate(POSTGRES_COPY, batch)
            share = pg / copy if pg and copy else None
            out.append(
                Target(
                    f"HTTP ingest into PostgreSQL ÷ raw COPY, {batch:,}-sample batches",
                    "—" if share is None else f"{share:.0%}",
                    "≥ 70 %",
                    None if share is None else share >= 0.7,
                )
            )
        latest = next((q.query for q in self.queries if q.query.startswith("latest")), None)
        for target in (Q_DUCKDB_STORE, Q_DUCKDB_HTTP, Q_POSTGRES_STORE, Q_POSTGRES_HTTP):
            row = self.latency(latest, target) if latest else None
            out.append(
                Target(
                    f"latest for {self.series:,} series, {target}",
                    "—" if row is None else f"{row.median_ms:.1f} ms",
                    "< 20 ms",
                    None if row is None else row.median_ms < 20,
                )
            )
        return out

    def query_names(self) -> list[str]:
        """Queries in the order they ran."""
        return list(dict.fromkeys(q.query for q in self.queries))


def _rate(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 1_000_000:
        return f"{value / 1_000_000:.2f} M/s"
    return f"{value / 1_000:.0f} k/s"


def _ms(row: QueryRow | None) -> str:
    if row is None:
        return "—"
    return f"{row.median_ms:.1f} ms" if row.median_ms < 100 else f"{row.median_ms:.0f} ms"


def _met(value: bool | None) -> str:
    return {True: "yes", False: "NO", None: "not measured"}[value]


def ingest_rows(results: Results) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the ingest table."""
    header = ["target", "batch", "batches", "samples", "seconds", "samples/s", "× InfluxDB"]
    cells = []
    for row in sorted(results.ingest, key=lambda r: (r.batch, INGEST_TARGETS.index(r.target))):
        influx = results.rate(INFLUXDB, row.batch)
        cells.append(
            [
                row.target,
                f"{row.batch:,}",
                f"{row.batches:,}",
                f"{row.samples:,}",
                f"{row.seconds:.2f}",
                _rate(row.rate),
                f"{row.rate / influx:.1f}" if influx else "—",
            ]
        )
    return header, cells


def query_rows(results: Results) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the query table (median latency per target)."""
    targets = [t for t in QUERY_TARGETS if any(q.target == t for q in results.queries)]
    header = ["query", "rows", *targets]
    cells = []
    for name in results.query_names():
        counts = {q.rows for q in results.queries if q.query == name}
        rows = ", ".join(f"{c:,}" for c in sorted(counts))
        if len(counts) > 1:
            rows += " (differ!)"
        cells.append([name, rows, *(_ms(results.latency(name, t)) for t in targets)])
    return header, cells


def target_rows(results: Results) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the targets table."""
    return (
        ["target", "measured", "goal", "met"],
        [[t.name, t.measured, t.goal, _met(t.met)] for t in results.targets()],
    )


def _rich(title: str, header: Sequence[str], cells: Sequence[Sequence[str]]) -> Table:
    table = Table(title=title, title_justify="left")
    for index, name in enumerate(header):
        table.add_column(name, justify="left" if index == 0 else "right")
    for row in cells:
        table.add_row(*row)
    return table


def _markdown(header: Sequence[str], cells: Sequence[Sequence[str]]) -> list[str]:
    aligns = ["---"] + ["--:"] * (len(header) - 1)
    return [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(aligns) + " |",
        *("| " + " | ".join(row) + " |" for row in cells),
    ]


def workload_lines(results: Results) -> list[str]:
    """What the run moved, in words."""
    s = results.scale
    return [
        f"scale: {s.name}; {results.series:,} series "
        f"({s.sites} sites × {s.areas} areas × {s.lines} lines × {s.machines} machines × "
        f"{s.signals} signals, plus the history line)",
        "ingest: "
        + "; ".join(
            f"{s.batches(i):,} batches of {size:,} samples" for i, size in enumerate(s.batch_sizes)
        )
        + f", {s.clients} concurrent client connections, Arrow IPC with {results.compression} "
        "buffers for werk, line protocol for InfluxDB; one untimed warm-up sweep over every "
        "series first (registers them everywhere)",
        f"history: {s.history_machines} machines × {s.history_signals} signals, "
        f"{s.history_days} days at {int(s.history_interval.total_seconds())} s "
        f"({results.history_samples:,} samples)",
        f"queries: median of {s.query_runs} runs after one warm-up (3 when a query has "
        "taken over 5 s in all)",
    ]


def render(results: Results, console: Console) -> None:
    """Print the run's tables."""
    console.print()
    for line in [*results.machine.lines(), *workload_lines(results)]:
        console.print(line, highlight=False)
    console.print(_rich("Ingest throughput", *ingest_rows(results)))
    for line in results.slices:
        console.print(f"interleaved: {line}", highlight=False)
    if results.loads:
        console.print(
            "history load (set-up): "
            + "; ".join(f"{r.target} {_rate(r.rate)}" for r in results.loads),
            highlight=False,
        )
    console.print(_rich("Query latency (median)", *query_rows(results)))
    console.print(_rich("Targets (issue 2)", *target_rows(results)))
    for note in results.notes:
        console.print(f"note: {note}", highlight=False)
    for section in results.sections:
        console.print(_rich(section.title, section.header, section.rows))
        for note in section.notes:
            console.print(f"  {note}", highlight=False)
    console.print(f"run took {results.seconds:.0f} s", highlight=False)


def write_markdown(results: Results, path: Path) -> None:
    """Write ``RESULTS.md``."""
    lines = [
        "# werk benchmark results",
        "",
        "Written by `make bench` (`python -m bench`). Every werk figure stands beside peers "
        "measured in the same run, on the same rows, on the same machine.",
        "",
        "## Machine",
        "",
        *(f"- {line}" for line in results.machine.lines()),
        "",
        "## Workload",
        "",
        *(f"- {line}" for line in workload_lines(results)),
        "",
        "## Ingest throughput",
        "",
        *_markdown(*ingest_rows(results)),
        "",
        "werk into PostgreSQL and the direct COPY take turns slice by slice (each phase in "
        f"{results.scale.slices} slices, a checkpoint before each), so that the machine's drift "
        "during the run falls on both. Share of each slice:",
        "",
        *(f"- {line}" for line in results.slices),
        "",
    ]
    if results.loads:
        lines += [
            "History load for the queries (set-up, batches of "
            f"{results.scale.history_batch:,}): "
            + "; ".join(f"{r.target} {_rate(r.rate)}" for r in results.loads)
            + ".",
            "",
        ]
    lines += [
        "## Query latency (median)",
        "",
        *_markdown(*query_rows(results)),
        "",
        "## Targets (issue 2)",
        "",
        *_markdown(*target_rows(results)),
        "",
        "## Method",
        "",
        "- werk runs as a `werk serve` subprocess on 127.0.0.1 (one uvicorn worker, access log "
        "off); each PostgreSQL run gets a fresh database, each DuckDB run a fresh file.",
        "- Payloads are encoded before the clock starts (Arrow IPC for werk, line protocol "
        "for InfluxDB), as a load generator would have them ready; the clock runs from the "
        "first request to the last acknowledgement. The raw COPY peer encodes inside the "
        "clock with werk's own encoder (`werk.store.pgcopy`), because werk's server does that "
        "work too.",
        "- The direct peers write resolved rows (series id, ts, value, quality) into a plain "
        "table: no HTTP, validation, series registry, idempotency ledger or latest values. "
        "They run the same number of concurrent writers as werk's clients.",
        "- InfluxDB 1.x (Debian's package) runs privately on 127.0.0.1 "
        "(`scripts/influxdb.sh`), measurement `samples`, tags `path` and `signal`, fields "
        "`value` (float) and `quality` (integer, written only when not GOOD: InfluxDB pays "
        "per field value), with `precision=ns`; its HTTP "
        "access log is off. Queries: `SELECT last(value) … GROUP BY *`, "
        "`SELECT mean(value) … GROUP BY time(…), path, signal fill(none)`; answers are JSON, "
        "parsed whole by the client; werk's HTTP answers are Arrow streams, decoded whole.",
        "",
    ]
    if results.notes:
        lines += ["## Notes", "", *(f"- {n}" for n in results.notes), ""]
    for section in results.sections:
        lines += [f"## {section.title}", "", *_markdown(section.header, section.rows), ""]
        lines += [*(f"- {n}" for n in section.notes), ""] if section.notes else []
    lines += [f"The run took {results.seconds:.0f} s.", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
