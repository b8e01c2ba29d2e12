"""The live stream: bounded drop-oldest queues, and a stream that ends when access is revoked."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pyarrow as pa
import pytest

from tests.api.test_crash import ADMIN, Server
from werk.api.hub import Hub, newest_per_series
from werk.client import Client, StreamMessage


def samples(path: str, values: list[float]) -> pa.Table:
    now = datetime.now(UTC)
    return pa.table(
        {
            "path": [path] * len(values),
            "signal": ["temp"] * len(values),
            "ts": pa.array([now] * len(values), pa.timestamp("ns", tz="UTC")),
            "value": values,
            "quality": pa.array([0] * len(values), pa.uint8()),
        }
    )


def test_newest_per_series_keeps_the_last_sample_of_each() -> None:
    t = pa.table(
        {
            "path": ["a/b", "a/b", "a/c", "a/b"],
            "signal": ["x", "x", "x", "y"],
            "ts": pa.array([2, 3, 1, 1], pa.int64()).cast(pa.timestamp("ns", tz="UTC")),
            "value": [1.0, 2.0, 3.0, 4.0],
        }
    )
    got = newest_per_series(t).to_pylist()
    assert [(r["path"], r["signal"], r["value"]) for r in got] == [
        ("a/b", "x", 2.0),
        ("a/b", "y", 4.0),
        ("a/c", "x", 3.0),
    ]


def test_a_slow_subscriber_drops_the_oldest_and_counts_them() -> None:
    hub = Hub(maxsize=3)
    mine = hub.subscribe("acme/plant")
    other = hub.subscribe("acme/elsewhere")
    for i in range(5):
        hub.publish_tables(samples("acme/plant/line/m1", [float(i)]), None)
    assert mine.take_dropped() == 2
    assert mine.take_dropped() == 0
    kept = [m.rows.column("value")[0].as_py() for m in mine._queue]
    assert kept == [2.0, 3.0, 4.0]  # the newest survive
    assert not other._queue  # nothing outside its prefix
    hub.unsubscribe(mine)
    hub.unsubscribe(other)
    assert hub.subscribers == 0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(f"duckdb:///{tmp_path / 'werk.duckdb'}", tmp_path)
    srv.start()
    yield srv
    srv.stop()


def test_revoking_the_key_ends_a_live_stream_within_five_seconds(server: Server) -> None:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    created = httpx.post(
        f"{server.url}/api/v1/keys", json={"name": "watcher", "role": "viewer"}, headers=admin
    )
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    got: list[StreamMessage] = []

    def listen() -> None:
        with Client(server.url, api_key=secret) as reader:
            got.extend(reader.stream("", snapshot=True, max_s=60))

    thread = threading.Thread(target=listen)
    thread.start()
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        time.sleep(0.05)
    assert got, "the stream did not open"
    revoked_at = time.monotonic()
    assert httpx.delete(f"{server.url}/api/v1/keys/watcher", headers=admin).status_code == 200
    thread.join(10)
    assert not thread.is_alive()
    assert time.monotonic() - revoked_at < 5
    assert got[-1].event == "end"
    assert "auth.revoked_key" in str(got[-1].data["codes"])
