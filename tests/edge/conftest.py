"""Fixtures for the edge tests: a real ``werk serve``, plant files, sample exports."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.api.test_crash import ADMIN, Server
from werk.samples import from_ns, to_ns

SITE = "acme/wob"
MACHINES = tuple(f"acme/wob/body/line-1/press-{i:02d}" for i in range(1, 5))
SIGNALS = ("spindle_temp", "motor_current")
T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)

Row = tuple[str, str, int, float]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A ``werk serve`` on DuckDB (not started)."""
    data = tmp_path / "server"
    data.mkdir()
    srv = Server(f"duckdb:///{data / 'werk.duckdb'}", data)
    yield srv
    srv.stop()


def write_plant(
    tmp: Path,
    url: str,
    *,
    budget_mb: float = 64,
    overflow: str = "drop_oldest",
    batch_max_rows: int = 5_000,
    extra: str = "",
) -> Path:
    """Write a plant file with one files source reading long CSV samples from tmp/drop."""
    (tmp / "drop").mkdir(exist_ok=True)
    plant = tmp / "plant.yaml"
    plant.write_text(
        f"""\
plant: {SITE}
edge: wob-1
uplink: {{url: "{url}", api_key_env: WERK_EDGE_KEY, batch_max_rows: {batch_max_rows},
         flush_interval_s: 0.2, timeout_s: 5, health_interval_s: 0.5}}
buffer: {{path: buffer.sqlite, disk_budget_mb: {budget_mb}, overflow: {overflow},
         backlog_rate: 10000000, live_window_s: 5}}
sources:
  - name: exports
    type: files
    folder: drop
    poll_interval_s: 0.1
    settle_s: 0
    formats:
      - pattern: "samples_*.csv"
        kind: samples
        columns: {{path: machine, signal: signal, ts: time, value: value}}
      - {{pattern: "counts_*.csv", kind: mes_counts}}
      - {{pattern: "downtime_*.csv", kind: mes_downtime}}
      - {{pattern: "orders_*.json", kind: mes_orders}}
{extra}""",
        encoding="utf-8",
    )
    return plant


def drop_samples(folder: Path, index: int, rows: int) -> list[Row]:
    """Write samples_<index>.csv atomically (.part then rename); return its rows."""
    out: list[Row] = []
    base = T0 + timedelta(hours=index)
    for i in range(rows):
        machine = MACHINES[i % len(MACHINES)]
        signal = SIGNALS[(i // len(MACHINES)) % len(SIGNALS)]
        ts = base + timedelta(milliseconds=i)
        out.append((machine, signal, to_ns(ts), float(index * 100_000 + i)))
    tmp = folder / f".samples_{index:04d}.csv.part"
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["machine", "signal", "time", "value"])
        for machine, signal, ns, value in out:
            text = from_ns(ns).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            writer.writerow([machine, signal, text, value])
    tmp.rename(folder / f"samples_{index:04d}.csv")
    return out


def stored(server: Server) -> list[Row]:
    """Every sample in the (stopped) server's store, ordered by path, signal, ts."""
    from werk.store import open_store

    store = open_store(server.store_url)
    try:
        table = store.range(SITE, T0 - timedelta(days=1), T0 + timedelta(days=30), descendants=True)
    finally:
        store.close()
    cols = table.to_pydict()
    return [
        (p, s, to_ns(t), v)
        for p, s, t, v in zip(cols["path"], cols["signal"], cols["ts"], cols["value"], strict=True)
    ]


def expected(rows: list[Row]) -> list[Row]:
    """Produced rows in the store's order."""
    return sorted(rows, key=lambda r: (r[0], r[1], r[2]))


def wait_for(what: Callable[[], bool], seconds: float = 30, message: str = "") -> None:
    """Poll ``what`` until it is true."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if what():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting: {message}")


__all__ = ["ADMIN", "Server"]
