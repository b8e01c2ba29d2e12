"""The README's five-minute tour, step by step, through the real CLI and a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.api.test_crash import Server


def werk(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "werk.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_tour(tmp_path: Path) -> None:
    store_url = f"duckdb:///{tmp_path / 'werk.duckdb'}"
    env = {"WERK_STORE_URL": store_url, "COLUMNS": "200"}

    created = werk("keys", "create", "--role", "admin", "--name", "me", "--json", env=env)
    assert created.returncode == 0, created.stderr
    admin_secret = json.loads(created.stdout)["secret"]
    edge = werk("keys", "create", "--edge", "plant-a", env=env)
    assert edge.returncode == 0, edge.stderr
    edge_secret = edge.stdout.strip().splitlines()[-1]
    listed = json.loads(werk("keys", "list", "--json", env=env).stdout)
    assert [(k["name"], k["role"]) for k in listed] == [("me", "admin"), ("edge-plant-a", "edge")]
    bad = werk("keys", "create", "--role", "boss", "--name", "x", env=env)
    assert bad.returncode == 2
    assert "role" in bad.stderr

    server = Server(store_url, tmp_path)
    server.start()
    try:
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        doc = {
            "samples": [
                {
                    "path": "acme/berlin/body/line-1/press-01",
                    "signal": "hydraulic_pressure",
                    "ts": (now - timedelta(minutes=m)).isoformat(),
                    "value": 180.0 + m,
                    "quality": 0,
                }
                for m in range(1, 31)
            ]
        }
        answer = httpx.post(
            f"{server.url}/api/v1/ingest",
            json=doc,
            headers={"Authorization": f"Bearer {edge_secret}", "Idempotency-Key": "plant-a:1"},
        )
        assert answer.status_code == 200, answer.text

        query_env = {**env, "WERK_URL": server.url, "WERK_API_KEY": admin_secret}
        latest = werk("query", "latest", "--path", "acme/berlin/body", "--json", env=query_env)
        assert latest.returncode == 0, latest.stderr
        assert json.loads(latest.stdout)[0]["value"] == 181.0
        ranged = werk(
            "query", "range", "--path", "acme/berlin/body/line-1/press-01",
            "--signal", "hydraulic_pressure", "--from", "-1h", "--bucket", "10m",
            "--agg", "count", "--tz", "Europe/Berlin", "--json", env=query_env,
        )  # fmt: skip
        assert ranged.returncode == 0, ranged.stderr
        assert sum(r["value"] for r in json.loads(ranged.stdout)["rows"]) == 30
        plot = werk(
            "query", "range", "--path", "acme/berlin/body/line-1/press-01",
            "--from", "-1h", "--plot", env=query_env,
        )  # fmt: skip
        assert plot.returncode == 0, plot.stderr
        assert "hydraulic_pressure" in plot.stdout
        wrong = werk("query", "latest", env={**query_env, "WERK_API_KEY": "nope"})
        assert wrong.returncode == 1
        assert "auth.unknown_key" in wrong.stderr
    finally:
        server.stop()

    info = werk("store", "info", "--json", env=env)
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["samples"] == 30
    migrate = werk("store", "migrate", env=env)
    assert "nothing to do" in migrate.stdout
