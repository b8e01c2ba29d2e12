"""Run the benchmark's smoke mode so that it cannot rot: every row must come out, timings aside.

It drives everything the full run does (werk serve over HTTP on both backends, the DuckDB and
COPY peers, InfluxDB) at a tiny scale. Figures are never asserted; rows and row counts are.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from bench import report
from bench.__main__ import parse
from bench.report import Results
from bench.scale import SMOKE
from bench.suite import DEFAULT_PG_ADMIN_URL, Options, run, unique_name
from tests.conftest import unavailable

ROOT = Path(__file__).resolve().parents[2]


def _postgres_up() -> None:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        if sock.connect_ex(("127.0.0.1", 5432)) != 0:
            unavailable("PostgreSQL is not running on 127.0.0.1:5432")


def _influxdb_up() -> None:
    """Start the benchmark's private InfluxDB (installing it if missing), as make bench does."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "influxdb.sh")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        unavailable(f"InfluxDB could not be started: {done.stdout}{done.stderr}")


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Results:
    _postgres_up()
    _influxdb_up()
    options = Options(
        scale=SMOKE,
        work_dir=tmp_path_factory.mktemp("bench") / "run",
        pg_admin_url=os.environ.get("WERK_TEST_PG_URL", DEFAULT_PG_ADMIN_URL),
        pg_database=unique_name("werk_bench_smoke"),
        influx_database=unique_name("werk_bench_smoke"),
        console=Console(file=io.StringIO(), width=160),
    )
    return run(options)


pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_every_ingest_row(results: Results) -> None:
    got = {(row.target, row.batch) for row in results.ingest}
    want = {(t, b) for t in report.INGEST_TARGETS for b in SMOKE.batch_sizes}
    assert got == want
    for row in results.ingest:
        assert row.samples == row.batch * row.batches
        assert row.seconds > 0


def test_every_query_row_with_the_same_answer_everywhere(results: Results) -> None:
    names = results.query_names()
    assert len(names) == 3
    got = {(row.query, row.target) for row in results.queries}
    assert got == {(n, t) for n in names for t in report.QUERY_TARGETS}
    for name in names:
        counts = {row.rows for row in results.queries if row.query == name}
        assert len(counts) == 1, f"{name}: targets answered different row counts {counts}"
        assert counts.pop() > 0


def test_stores_hold_every_row_sent(results: Results) -> None:
    assert results.notes == []


def test_postgres_is_measured_interleaved_with_its_peer(results: Results) -> None:
    assert len(results.slices) == len(SMOKE.batch_sizes)
    for line, batch in zip(results.slices, SMOKE.batch_sizes, strict=True):
        assert line.startswith(f"{report.WERK_POSTGRES} ÷ {report.POSTGRES_COPY}, {batch:,}-")
        assert line.count("%") == min(SMOKE.slices, SMOKE.batches(SMOKE.batch_sizes.index(batch)))


def test_report_names_every_target(results: Results, tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    report.write_markdown(results, out)
    text = out.read_text()
    for target in (*report.INGEST_TARGETS, *report.QUERY_TARGETS):
        assert target in text
    assert "not measured" not in text
    for name in ("DuckDB", "PostgreSQL", "InfluxDB", "Python"):
        assert name in results.machine.versions
    console = Console(file=io.StringIO(), width=160)
    report.render(results, console)


def test_command_line_defaults_to_full_scale() -> None:
    args = parse([])
    assert not args.smoke
    assert args.compression == "zstd"
    assert parse(["--smoke"]).smoke


def test_simulator_sections(results: Results, tmp_path: Path) -> None:
    by_title = {s.title: s for s in results.sections}
    history = by_title["Simulator history mode (issue 3)"]
    servers = by_title["Simulator silo servers at 1 Hz (issue 3)"]
    assert len(history.rows) == 2
    assert [row[0] for row in servers.rows] == ["opcua", "modbus", "sparkplug", "mqtt_json"]
    for row in servers.rows:
        assert float(row[6].replace(",", "")) > 0, f"{row[0]}: the client received nothing"
    out = tmp_path / "RESULTS.md"
    report.write_markdown(results, out)
    assert "## Simulator silo servers at 1 Hz (issue 3)" in out.read_text()
