"""werk.client and ``werk export parquet`` against a live ``werk serve`` with a day of history."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from tests.api.test_crash import ADMIN, Server
from tests.web.live import Live, load
from werk.client import Client, StreamMessage, to_pandas, to_polars
from werk.errors import AuthError, InvalidInput, NotFound

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("client")
    server = Server(f"duckdb:///{folder / 'werk.duckdb'}", folder)
    server.start()
    try:
        yield load(server, folder)
    finally:
        server.stop()


@pytest.fixture
def werk(live: Live) -> Iterator[Client]:
    with Client(live.url, api_key=ADMIN) as client:
        yield client


def test_reads_arrive_as_arrow_and_convert_to_frames(werk: Client, live: Live) -> None:
    machine = live.machines[0]
    latest = werk.latest(machine)
    assert latest.num_rows >= 3
    assert latest.schema.field("ts").type == pa.timestamp("ns", tz="UTC")
    assert latest.schema.field("path").type == pa.dictionary(pa.int32(), pa.string())
    trend = werk.range(machine, live.start, live.end, bucket="1m")
    assert trend.num_rows > 1000
    assert to_polars(trend).height == trend.num_rows
    assert len(to_pandas(latest)) == latest.num_rows
    signals = werk.signals(machine)
    assert set(signals.column_names) >= {"signal", "unit", "value"}


def test_events_are_paged_without_loss_or_repeats(werk: Client, live: Live) -> None:
    site = live.sites[0]
    whole = werk.events(site, live.start, live.end, page_size=100_000)
    paged = werk.events(site, live.start, live.end, page_size=97)
    assert whole.num_rows > 300
    assert paged.num_rows == whole.num_rows
    assert paged.to_pylist() == whole.to_pylist()


def test_kpi_table_and_errors_by_key(werk: Client, live: Live) -> None:
    kpis = werk.kpi(live.sites[0], live.start, live.end, by="shift", kpis=["oee"])
    assert kpis.num_rows >= 1
    assert all(v is None or 0 <= v <= 1 for v in kpis.column("oee").to_pylist())
    with pytest.raises(NotFound) as missing:
        werk.kpi("autowerk/nowhere", "-1d")
    assert missing.value.key == "kpi.unknown_path"
    with pytest.raises(InvalidInput) as bad:
        werk.range(live.machines[0], "yesterday")
    assert bad.value.key == "request.invalid_time"
    with Client(live.url, api_key="wrong") as stranger, pytest.raises(AuthError):
        stranger.latest()


def test_ingest_then_stream_sees_the_committed_value(werk: Client, live: Live) -> None:
    machine = live.machines[1]
    got: list[StreamMessage] = []

    def listen() -> None:
        with Client(live.url, api_key=ADMIN) as reader:
            for message in reader.stream(machine, snapshot=True, max_s=20):
                got.append(message)
                if message.event == "sample":
                    return

    thread = threading.Thread(target=listen)
    thread.start()
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        time.sleep(0.05)
    assert got
    assert got[0].event == "latest"
    now = datetime.now(UTC)
    batch = pa.table(
        {
            "path": [machine],
            "signal": ["probe"],
            "ts": pa.array([now], pa.timestamp("ns", tz="UTC")),
            "value": [42.5],
            "quality": pa.array([0], pa.uint8()),
        }
    )
    assert werk.ingest(batch, key="client-test:1")["samples"] == 1
    thread.join(15)
    assert got[-1].event == "sample"
    rows = got[-1].data["rows"]
    assert isinstance(rows, list)
    assert rows[0]["signal"] == "probe"
    assert rows[0]["value"] == 42.5


def test_export_parquet_is_a_hive_lake_duckdb_reads(live: Live, tmp_path: Path) -> None:
    out = tmp_path / "lake"
    end = live.start + timedelta(hours=30)  # spans two UTC days
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "werk.cli",
            "export",
            "parquet",
            "--out",
            str(out),
            "--from",
            live.start.isoformat(),
            "--to",
            end.isoformat(),
            "--json",
        ],
        env={"WERK_URL": live.url, "WERK_API_KEY": ADMIN, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    relation = duckdb.sql(
        f"SELECT site, count(*) AS n, count(DISTINCT day) AS days FROM "
        f"read_parquet('{out}/**/*.parquet', hive_partitioning=true) GROUP BY site ORDER BY site"
    )
    assert relation is not None
    lake = relation.fetchall()
    assert [row[0] for row in lake] == sorted(s.split("/")[1] for s in live.sites)
    with Client(live.url, api_key=ADMIN) as werk:  # raw samples, BAD quality included
        direct = werk.range(live.sites[0], live.start, end, descendants=True)
    assert lake[0][1] == direct.num_rows
