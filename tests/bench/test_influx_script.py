"""scripts/influxdb.sh replaces an instance whose directory was deleted under it, even when the
probe database it creates already exists in that instance's memory."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "influxdb.sh"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _script(port: int, state: Path, *args: str) -> str:
    env = {**os.environ, "WERK_BENCH_INFLUX_PORT": str(port), "WERK_BENCH_INFLUX_DIR": str(state)}
    done = subprocess.run(
        ["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _create(port: int, name: str) -> str:
    data = urllib.parse.urlencode({"q": f"CREATE DATABASE {name}"}).encode()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/query", data, timeout=10) as r:
        return str(r.read().decode())


@pytest.mark.slow
def test_an_instance_whose_directory_is_gone_is_restarted(tmp_path: Path) -> None:
    port = _free_port()
    first, second = tmp_path / "first", tmp_path / "second"
    try:
        assert "started" in _script(port, first)
        assert "up on" in _script(port, first)  # writable: left alone (its probe ran once)
        shutil.rmtree(first)  # a removed checkout: the instance still answers /ping
        out = _script(port, second)
        assert "cannot write" in out, out
        assert '"error"' not in _create(port, "werk_after")
        assert (second / "meta").is_dir()
    finally:
        _script(port, second, "stop")
        # the first instance's pid file went with its directory: stop it by its command line
        subprocess.run(["pkill", "-f", f"influxd -config {first}"], check=False)
