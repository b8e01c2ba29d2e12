"""Store and forward against a real ``werk serve``: outages, kills, budgets, bad values, SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.edge.conftest import (
    ADMIN,
    Row,
    Server,
    drop_samples,
    expected,
    stored,
    wait_for,
    write_plant,
)
from werk.edge.agent import Agent
from werk.edge.health import read_status
from werk.edge.plant import load_plant

pytestmark = pytest.mark.slow


def _status(tmp: Path) -> dict[str, object]:
    return read_status(tmp / "buffer.sqlite")


def _buffer(tmp: Path) -> dict[str, int]:
    buffer = _status(tmp)["buffer"]
    assert isinstance(buffer, dict)
    return buffer


def test_outage_then_recovery_loses_and_duplicates_nothing(server: Server, tmp_path: Path) -> None:
    plant = load_plant(write_plant(tmp_path, server.url))
    drop = tmp_path / "drop"
    produced: list[Row] = []

    async def scenario() -> None:
        await asyncio.to_thread(server.start)
        async with Agent(plant, key=ADMIN, shutdown_grace_s=20) as agent:
            for i in range(3):
                produced.extend(drop_samples(drop, i, 4_000))
            await _until(lambda: agent.uplink.state.sent_rows >= 12_000)
            await asyncio.to_thread(server.stop)  # the uplink is cut
            for i in range(3, 8):
                produced.extend(drop_samples(drop, i, 4_000))
            await _until(lambda: agent.buffer.stats().rows >= 20_000)
            assert agent.uplink.state.connected is False
            await asyncio.to_thread(server.start)  # restored
            await _until(lambda: agent.buffer.stats().rows == 0, 60)
            assert agent.uplink.state.connected is True

    asyncio.run(scenario())
    server.stop()
    assert stored(server) == expected(produced)


async def _until(check: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


def _agent(plant: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "WERK_EDGE_KEY": ADMIN, "WERK_LOG_LEVEL": "info"}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "werk.cli", "edge", "run", str(plant)],
            env=env,
            stdout=out,
            stderr=out,
        )


def test_sigkill_under_load_then_restart_stores_everything_once(
    server: Server, tmp_path: Path
) -> None:
    server.start()
    plant = write_plant(tmp_path, server.url, batch_max_rows=2_000)
    drop = tmp_path / "drop"
    produced: list[Row] = []
    for i in range(30):
        produced.extend(drop_samples(drop, i, 3_000))
    log = tmp_path / "agent.log"
    agent = _agent(plant, log)
    try:
        wait_for(
            lambda: (
                (tmp_path / "buffer.sqlite").exists() and _buffer(tmp_path)["acked_rows"] >= 6_000
            ),
            message="first deliveries",
        )
        agent.send_signal(signal.SIGKILL)  # mid-stream: files half read, batches in flight
        agent.wait(10)
        assert _buffer(tmp_path)["acked_rows"] < len(produced)
        agent = _agent(plant, log)
        ledger = drop / ".werk-files-exports.sqlite"

        def done() -> bool:
            import sqlite3

            with sqlite3.connect(ledger) as db:
                files = db.execute("SELECT count(*) FROM processed").fetchone()[0]
            return bool(files == 30 and _buffer(tmp_path)["batches"] == 0)

        wait_for(done, 60, "all files delivered after the restart")
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(30) == 0, log.read_text()
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait(10)
    server.stop()
    assert stored(server) == expected(produced)


def test_disk_budget_drops_oldest_and_counts_it(server: Server, tmp_path: Path) -> None:
    # the server never starts: everything stays in the buffer, which holds ~0.25 MB
    plant = load_plant(write_plant(tmp_path, server.url, budget_mb=0.25, batch_max_rows=2_000))
    drop = tmp_path / "drop"

    async def scenario() -> dict[str, int]:
        async with Agent(plant, key=ADMIN, shutdown_grace_s=0.5) as agent:
            for i in range(20):
                drop_samples(drop, i, 4_000)
            await _until(lambda: agent.buffer.stats().counters["stored_rows"] >= 80_000)
            stats = agent.buffer.stats()
            assert stats.bytes <= stats.budget_bytes
            return {"rows": stats.rows, **stats.counters}

    counts = asyncio.run(scenario())
    assert counts["dropped_rows"] > 0
    assert counts["dropped_batches"] > 0
    # every row is accounted for: still buffered or counted as dropped, none vanished
    assert counts["rows"] + counts["dropped_rows"] == 80_000
    status = _buffer(tmp_path)
    assert status["dropped_rows"] == counts["dropped_rows"]


def test_malformed_values_become_bad_quality_and_the_agent_goes_on(
    server: Server, tmp_path: Path
) -> None:
    server.start()
    plant = load_plant(write_plant(tmp_path, server.url))
    drop = tmp_path / "drop"
    (drop / "samples_bad.csv").write_text(
        "machine,signal,time,value\n"
        "acme/wob/body/line-1/press-01,spindle_temp,2026-03-02T06:00:00Z,1.5\n"
        "acme/wob/body/line-1/press-01,spindle_temp,2026-03-02T06:00:01Z,garbage\n"
        "acme/wob/body/line-1/press-01,spindle_temp,2026-03-02T06:00:02Z,nan\n"
        "acme/Wob/bad path,spindle_temp,2026-03-02T06:00:03Z,2.5\n"
        "acme/wob/body/line-1/press-01,spindle_temp,not a time,3.5\n"
        "acme/wob/body/line-1/press-01,spindle_temp,1980-01-01T00:00:00Z,4.5\n",
        encoding="utf-8",
    )

    async def scenario() -> dict[str, object]:
        async with Agent(plant, key=ADMIN) as agent:
            await _until(lambda: agent.uplink.state.sent_rows >= 3)
            produced = drop_samples(drop, 1, 100)  # still running and taking good files
            await _until(lambda: agent.uplink.state.sent_rows >= 103)
            assert len(produced) == 100
            return await agent.report(send=False)

    report = asyncio.run(scenario())
    sources = report["sources"]
    assert isinstance(sources, dict)
    assert sources["exports"]["bad_values"] == 4  # garbage, nan, bad path, bad time
    assert "line 5" in str(sources["exports"]["diagnostics"])
    agent = report["agent"]
    assert isinstance(agent, dict)
    assert agent["refused_rows"] == 1  # 1980 is before the platform's earliest time
    server.stop()
    rows = [r for r in stored(server) if r[2] < 1_772_431_203_000_000_000]
    assert [r[3] for r in rows[:1]] == [1.5]
    assert len(rows) == 3  # 1.5 good, garbage and nan kept as BAD (NaN)

    from werk.store import open_store

    store = open_store(server.store_url)
    try:
        assert not store.dead_letters()  # nothing the agent sent was refused
    finally:
        store.close()


def test_sigterm_flushes_and_reports_health(server: Server, tmp_path: Path) -> None:
    server.start()
    plant = write_plant(tmp_path, server.url)
    drop = tmp_path / "drop"
    produced = drop_samples(drop, 0, 5_000)
    log = tmp_path / "agent.log"
    agent = _agent(plant, log)
    try:
        wait_for(
            lambda: (
                (tmp_path / "buffer.sqlite").exists() and _buffer(tmp_path)["acked_rows"] == 5_000
            ),
            message="delivery",
        )

        def edges() -> list[dict[str, Any]]:
            answer = httpx.get(
                f"{server.url}/api/v1/edge", headers={"Authorization": f"Bearer {ADMIN}"}
            )
            found: list[dict[str, Any]] = answer.json()["edges"]
            return found

        # The agent reports on its own schedule: wait for a report made once the source ran.
        wait_for(
            lambda: any(
                e["report"]["sources"].get("exports", {}).get("connected") is True for e in edges()
            ),
            message="a health report with the source connected",
        )
        assert [e["edge"] for e in edges()] == ["wob-1"]
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(30) == 0, log.read_text()
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait(10)
    status = _status(tmp_path)
    assert status["agent"]["state"] == "stopped"  # type: ignore[index]
    server.stop()
    assert stored(server) == expected(produced)
