"""Measure the edge's store-and-forward path: buffer + uplink into a real ``werk serve``.

Readings (50,000-row sample batches, as a busy agent coalesces them) go through
:class:`werk.edge.buffer.Buffer` (Arrow IPC with zstd, SQLite WAL, synchronous=FULL) and
:class:`werk.edge.uplink.Uplink` (acknowledged POSTs with idempotency keys, two in flight) into a
``werk serve`` on DuckDB; the clock stops when the buffer is empty, i.e. when the last batch is
committed by the server and deleted on the edge. Measured beside, in the same run and on the same
batches: the same bodies POSTed straight to the server with no buffer (the cost of durability is
the ratio), and the raw SQLite insert rate of the encoded bodies (what the disk can take).
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa

from bench.report import Section
from bench.server import Server
from werk.connectors.base import READINGS_SAMPLE_SCHEMA, Readings
from werk.edge.buffer import Buffer, encode
from werk.edge.plant import UplinkConfig
from werk.edge.uplink import ARROW_STREAM, Uplink
from werk.samples import UTC_NS, to_ns

ROWS = 50_000


def _readings(batches: int, series: int = 1_000) -> list[Readings]:
    """Build sample batches: ``series`` series, one sample per series and second."""
    t0 = to_ns(datetime.now(UTC) - timedelta(hours=2))
    paths = np.array([f"acme/wob/body/line-{i % 10}/m-{i // 10:03d}" for i in range(series)])
    empty = Readings.of().events
    out = []
    for b in range(batches):
        idx = np.arange(b * ROWS, (b + 1) * ROWS)
        samples = pa.RecordBatch.from_arrays(
            [
                pa.array(paths[idx % series]),
                pa.array(np.full(ROWS, "temp")),
                pa.array(t0 + (idx // series) * 1_000_000_000).cast(UTC_NS),
                pa.array(np.sin(idx / 100.0)),
                pa.array(np.zeros(ROWS, np.uint8)),
                pa.nulls(ROWS, pa.uint32()),
            ],
            schema=READINGS_SAMPLE_SCHEMA,
        )
        out.append(Readings(samples, empty))
    return out


async def _through_edge(server: Server, readings: list[Readings], folder: Path) -> float:
    buffer = Buffer(folder / "buffer.sqlite", budget_bytes=1 << 34, live_window_s=3600)
    config = UplinkConfig(url=server.url, timeout_s=120, flush_interval_s=0.05)
    wake = asyncio.Event()
    async with Uplink(config, edge="bench", buffer=buffer, key=server.key) as uplink:
        start = time.perf_counter()
        sender = asyncio.create_task(uplink.run(wake))
        for r in readings:
            await asyncio.to_thread(buffer.put, [r], max_rows=ROWS)
            wake.set()
        while buffer.stats().batches:  # noqa: ASYNC110 - the buffer is polled, as status does
            await asyncio.sleep(0.01)
        seconds = time.perf_counter() - start
        sender.cancel()
    buffer.close()
    return seconds


def _direct(server: Server, readings: list[Readings]) -> float:
    start = time.perf_counter()
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=120) as client:
        for i, r in enumerate(readings):
            response = client.post(
                "/api/v1/ingest",
                content=encode(r.samples, "zstd"),
                headers={"Content-Type": ARROW_STREAM, "Idempotency-Key": f"direct:{i}"},
            )
            response.raise_for_status()
    return time.perf_counter() - start


def _sqlite_insert(readings: list[Readings], folder: Path) -> float:
    bodies = [encode(r.samples, "zstd") for r in readings]
    db = sqlite3.connect(folder / "raw.sqlite", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE b (seq INTEGER PRIMARY KEY, body BLOB)")
    start = time.perf_counter()
    for body in bodies:
        db.execute("INSERT INTO b (body) VALUES (?)", (body,))
    seconds = time.perf_counter() - start
    db.close()
    return seconds


def sections(*, smoke: bool, pg_admin_url: str) -> list[Section]:
    """Return the edge section: samples/s through buffer + uplink beside its peers."""
    batches = 4 if smoke else 40
    readings = _readings(batches)
    total = batches * ROWS
    with tempfile.TemporaryDirectory(prefix="werk-bench-edge-") as tmp:
        folder = Path(tmp)
        with Server(f"duckdb:///{folder / 'werk.duckdb'}", folder, folder / "server.log") as srv:
            edge_s = asyncio.run(_through_edge(srv, readings, folder))
            # different time range for the peer so it stores as much, not duplicates
            direct_s = _direct(srv, _readings(batches, series=1_001))
        raw_s = _sqlite_insert(readings, folder)
    rows = [
        [
            "buffer + uplink → werk HTTP → DuckDB",
            f"{total:,}",
            f"{edge_s:.2f}",
            f"{total / edge_s:,.0f}",
            "1.00",
        ],
        [
            "direct POST (no buffer) → werk HTTP → DuckDB",
            f"{total:,}",
            f"{direct_s:.2f}",
            f"{total / direct_s:,.0f}",
            f"{direct_s / edge_s:.2f}",
        ],
        [
            "SQLite insert of the encoded bodies (WAL, FULL)",
            f"{total:,}",
            f"{raw_s:.2f}",
            f"{total / raw_s:,.0f}",
            f"{raw_s / edge_s:.2f}",
        ],
    ]
    return [
        Section(
            title="Edge: buffer + uplink",
            header=["path", "samples", "seconds", "samples/s", "time vs edge"],
            rows=rows,
            notes=[
                f"{batches} batches of {ROWS:,} samples; target buffer + uplink ≥ 500k samples/s",
                "edge: put into the SQLite buffer (zstd Arrow IPC, synchronous=FULL) while the "
                "uplink sends two batches in flight, clock stops when the last one is acked",
            ],
        )
    ]
