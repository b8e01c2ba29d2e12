"""``werk assets`` and ``werk kpi`` through the real CLI and a real server on a simulated day."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow.dataset as ds

from tests.api.test_crash import ADMIN, Server
from tests.cli.test_tour import werk
from werk.samples import EVENT_SCHEMA
from werk.sim.fleet import load_fleet
from werk.sim.history import write_history
from werk.store import open_store


def test_assets_and_kpis_through_the_cli(tmp_path: Path) -> None:
    store_url = f"duckdb:///{tmp_path / 'werk.duckdb'}"
    write_history(load_fleet(), date(2026, 10, 20), 1, tmp_path / "sim", samples=False, truth=False)
    events = ds.dataset(tmp_path / "sim" / "events", format="parquet", partitioning="hive")
    store = open_store(store_url)
    store.write("day", events=events.to_table().select(EVENT_SCHEMA.names).cast(EVENT_SCHEMA))
    store.close()
    model = tmp_path / "assets.json"
    exported = werk("assets", "export", "--fleet", "src/werk/sim/fleets/default.yaml", env={})
    assert exported.returncode == 0, exported.stderr
    model.write_text(exported.stdout)
    bad = tmp_path / "bad.yaml"
    bad.write_text("sites:\n  - path: autowerk/x\n    timezone: UTC\n    shifts: 3\n")

    server = Server(store_url, tmp_path)
    server.start()
    try:
        env = {"WERK_URL": server.url, "WERK_API_KEY": ADMIN, "COLUMNS": "200"}
        loaded = werk("assets", "load", str(model), env=env)
        assert loaded.returncode == 0, loaded.stderr
        assert json.loads(loaded.stdout)["instances"] == 30
        refused = werk("assets", "load", str(bad), env=env)
        assert refused.returncode == 2
        assert "line 4" in refused.stderr
        assert "shifts" in refused.stderr
        args = ["--path", "autowerk/berlin/body-shop/line-1"]
        span = ["--from", "2026-10-20T00:00:00Z", "--to", "2026-10-21T00:00:00Z"]
        oee = werk("kpi", "oee", *args, *span, "--by", "shift", "--json", env=env)
        assert oee.returncode == 0, oee.stderr
        rows = json.loads(oee.stdout)
        assert rows[1]["window"] == "2026-10-20 early"
        assert 0 < rows[1]["oee"] <= 1
        table = werk("kpi", "oee", *args, *span, "--by", "day", env=env)
        assert table.returncode == 0, table.stderr
        assert "2026-10-20" in table.stdout
        losses = werk("kpi", "losses", *args, *span, env=env)
        assert losses.returncode == 0, losses.stderr
        assert "Pareto" in losses.stdout
        unknown = werk("kpi", "oee", "--path", "autowerk/nowhere", *span, env=env)
        assert unknown.returncode == 1
        assert "autowerk/nowhere" in unknown.stderr
    finally:
        server.stop()
