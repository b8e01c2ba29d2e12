"""The server killed with SIGKILL between receiving and committing: a retry stores exactly once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.test_ingest_api import ARROW, arrow, sample_table

ADMIN = "crash-admin-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A ``werk serve`` process."""

    def __init__(self, store_url: str, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.store_url = store_url
        self.data_dir = data_dir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "WERK_ADMIN_KEY": ADMIN,
            "WERK_STORE_URL": self.store_url,
            "WERK_DATA_DIR": str(self.data_dir),
            "WERK_PORT": str(self.port),
            "WERK_LOG_LEVEL": "warning",
        }
        log = self.data_dir / "server.log"
        with log.open("ab") as out:  # the child keeps its own handle
            self.process = subprocess.Popen(
                [sys.executable, "-m", "werk.cli", "serve"], env=env, stdout=out, stderr=out
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                raise AssertionError(log.read_text())
            time.sleep(0.1)
        raise AssertionError("server did not come up")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(f"duckdb:///{tmp_path / 'werk.duckdb'}", tmp_path)
    yield srv
    srv.stop()


def post(url: str, key: str, body: bytes) -> int:
    response = httpx.post(
        f"{url}/api/v1/ingest",
        content=body,
        headers={
            "Authorization": f"Bearer {ADMIN}",
            "Content-Type": ARROW,
            "Idempotency-Key": key,
        },
        timeout=30,
    )
    return response.status_code


@pytest.mark.slow
def test_sigkill_mid_ingest_then_retry_stores_each_batch_once(server: Server) -> None:
    batches = {f"plant-a:{i}": arrow(sample_table(50_000, series=500)) for i in range(12)}
    server.start()
    acked: set[str] = set()

    def send() -> None:
        for key, body in batches.items():
            try:
                if post(server.url, key, body) == 200:
                    acked.add(key)
            except httpx.TransportError:
                return

    sender = threading.Thread(target=send)
    sender.start()
    deadline = time.monotonic() + 30
    while len(acked) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()  # mid-stream: some batches acknowledged, one in flight, the rest never sent
    sender.join()
    assert 3 <= len(acked) < len(batches)

    server.start()
    # the edge retries everything it holds: acknowledged ones too (it may have missed the ack)
    for key, body in batches.items():
        assert post(server.url, key, body) == 200
    server.stop()

    from werk.store import open_store

    store = open_store(server.store_url)
    try:
        info = store.info()
        assert info.samples == 50_000 * len(batches)
        assert info.batches == len(batches)
    finally:
        store.close()
