"""``werk demo`` starts the whole platform: history, live silos, one edge per site, a login.

One run of the real command (a day of coarse history, then live, with the embedded MQTT broker
a fresh machine gets) is watched from outside, the way a person would: the server answers, the
``demo`` login works, live values of every site arrive through that site's edge agent, every edge
reports its health, and after a Ctrl-C no process of the demo is left.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.api.test_crash import free_port
from werk.store import open_store

SITES = ("berlin", "chicago", "shanghai")  # OPC UA, Modbus TCP, Sparkplug B


def _wait_for(output: Path, text: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in output.read_text(errors="replace"):
        assert process.poll() is None, output.read_text(errors="replace")
        assert time.monotonic() < deadline, output.read_text(errors="replace")
        time.sleep(0.3)


def _demo_processes(folder: Path) -> list[str]:
    """Command lines of running processes that name the demo folder (children of the demo)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().split(") ", 1)[1][:1]
        except OSError:
            continue
        if str(folder) in cmdline and state != "Z":
            found.append(f"{proc.name}: {cmdline}")
    return found


def _latest_by_site(client: httpx.Client) -> dict[str, datetime]:
    rows = client.get("/api/v1/latest", params={"path": "autowerk"}).raise_for_status().json()
    newest: dict[str, datetime] = {}
    for row in rows["rows"]:
        site = row["path"].split("/")[1]
        ts = datetime.fromisoformat(row["ts"])
        newest[site] = max(ts, newest.get(site, ts))
    return newest


@pytest.mark.slow
def test_demo_runs_history_live_edges_and_login(tmp_path: Path) -> None:
    port = free_port()
    folder = tmp_path / "demo"
    output = tmp_path / "demo.out"
    started = datetime.now(UTC)
    with output.open("wb") as out:
        demo = subprocess.Popen(
            [
                sys.executable, "-m", "werk.cli", "demo", "--days", "1", "--sample-period", "60",
                "--port", str(port), "--data-dir", str(folder), "--embedded-broker",
                "--stop-after-s", "240",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "200"},
        )  # fmt: skip
    try:
        _wait_for(output, "werk is running", demo, timeout_s=120)
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/api/v1/health").status_code == 200

        user, password = (folder / "login").read_text().split()
        assert user == "demo"
        assert password in output.read_text()
        wrong = httpx.post(f"{url}/api/v1/auth/login", json={"user": "demo", "password": "x" * 12})
        assert wrong.status_code == 401
        login = httpx.post(f"{url}/api/v1/auth/login", json={"user": user, "password": password})
        assert login.status_code == 200, login.text
        token = login.json()["token"]

        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
            deadline = time.monotonic() + 90  # live values come once a sample period (60 s)
            newest = _latest_by_site(client)
            while not all(newest.get(s, started) > started for s in SITES):
                assert time.monotonic() < deadline, (newest, output.read_text())
                time.sleep(1)
                newest = _latest_by_site(client)
            benchmark = client.get(
                "/api/v1/kpi/benchmark", params={"path": "autowerk", "from": "-1d", "to": "now"}
            )  # the fleet's asset model was registered: the history yields KPIs for every site
            assert benchmark.status_code == 200, benchmark.text
            assert {r["site"] for r in benchmark.json()["rows"]} == {f"autowerk/{s}" for s in SITES}
            edges = client.get("/api/v1/edge").raise_for_status().json()["edges"]
            assert {e["edge"] for e in edges} >= set(SITES)
    finally:
        demo.send_signal(signal.SIGINT)  # Ctrl-C, also when a check above failed
        try:
            demo.wait(timeout=90)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait(10)
            raise
    text = output.read_text()
    assert demo.returncode == 0, text
    assert "stopped" in text
    assert _demo_processes(folder) == []
    for site in SITES:  # every edge stopped cleanly: its buffer was delivered or kept on disk
        assert (folder / "edges" / site / "buffer.sqlite").exists()
        assert "Traceback" not in (folder / "logs" / f"edge-{site}.log").read_text()

    history = json.loads((folder / "history.json").read_text())
    store = open_store(f"duckdb:///{folder / 'werk.duckdb'}")
    try:
        info = store.info()
        assert info.samples > history["samples"] > 0  # the history, and live samples on top
        assert info.events >= history["events"] > 0
    finally:
        store.close()


def test_demo_names_the_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "werk.cli", "demo", "--port", str(port), "--no-live",
             "--data-dir", str(tmp_path / "demo")],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "COLUMNS": "200"},
        )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"port {port}" in result.stderr
    assert not (tmp_path / "demo").exists()  # refused before anything was made
