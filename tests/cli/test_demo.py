"""``werk demo`` starts on a fresh folder, loads simulated history through ingest, prints a key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.api.test_crash import free_port
from werk.store import open_store


def test_demo_loads_history_and_prints_url_and_key(tmp_path: Path) -> None:
    port = free_port()
    folder = tmp_path / "demo"
    result = subprocess.run(
        [
            sys.executable, "-m", "werk.cli", "demo", "--days", "1", "--sample-period", "60",
            "--port", str(port), "--data-dir", str(folder), "--exit-after-load",
        ],
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"http://127.0.0.1:{port}" in result.stdout
    secret = (folder / "admin-key").read_text().strip()
    assert secret in result.stdout
    store = open_store(f"duckdb:///{folder / 'werk.duckdb'}")
    try:
        info = store.info()
        simulated = int(result.stdout.split("simulated ")[1].split(" samples")[0].replace(",", ""))
        assert info.samples == simulated > 0
        assert info.events > 0
        assert store.latest("autowerk").num_rows == info.series
    finally:
        store.close()
