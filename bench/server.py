"""Run ``werk serve`` as a subprocess on 127.0.0.1 for the HTTP measurements, and stop it."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A ``werk serve`` process on a private port with its own admin key.

    Use as a context manager: entering starts it and waits for ``/api/v1/health``; leaving
    stops it with SIGTERM (SIGKILL if it does not go within its grace period).
    """

    def __init__(self, store_url: str, data_dir: Path, log: Path) -> None:
        self.store_url = store_url
        self.data_dir = data_dir
        self.log = log
        self.port = free_port()
        self.key = secrets.token_urlsafe(24)
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header of the admin key."""
        return {"Authorization": f"Bearer {self.key}"}

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until its health check answers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "WERK_STORE_URL": self.store_url,
            "WERK_ADMIN_KEY": self.key,
            "WERK_PORT": str(self.port),
            "WERK_HOST": "127.0.0.1",
            "WERK_DATA_DIR": str(self.data_dir),
            # No access log: InfluxDB's is off too, and a line per request is not ingest work.
            "WERK_LOG_LEVEL": "warning",
        }
        with self.log.open("ab") as out:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "werk.cli", "serve"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_healthy(self._process, timeout)
        except BaseException:
            self.stop()  # never leave a server behind, whatever went wrong while waiting
            raise

    def _wait_healthy(self, process: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.url, timeout=5.0) as client:
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"werk serve exited with {process.returncode}; see {self.log}:\n"
                        + self.log.read_text(errors="replace")[-2000:]
                    )
                try:
                    if client.get("/api/v1/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise RuntimeError(f"werk serve did not answer within {timeout:.0f} s; see {self.log}")

    def stop(self, grace: float = 20.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``grace`` seconds)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
