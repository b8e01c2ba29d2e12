"""The KPI, losses, benchmark and asset routes over a simulated day in a DuckDB store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from werk.api import create_app
from werk.assets.document import dump_assets
from werk.samples import EVENT_SCHEMA
from werk.settings import Settings
from werk.sim.assets import asset_model
from werk.sim.fleet import load_fleet
from werk.sim.history import write_history
from werk.store import open_store

ADMIN = "kpi-admin-secret"
H = {"Authorization": f"Bearer {ADMIN}"}
RANGE = {"from": "2026-10-20T00:00:00Z", "to": "2026-10-21T00:00:00Z"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    out = tmp_path_factory.mktemp("kpi-api")
    fleet = load_fleet()
    write_history(fleet, date(2026, 10, 20), 1, out / "sim", samples=False, truth=False)
    store = open_store(f"duckdb:///{out / 'werk.duckdb'}")
    events = ds.dataset(out / "sim" / "events", format="parquet", partitioning="hive").to_table()
    store.write("day", events=events.select(EVENT_SCHEMA.names).cast(EVENT_SCHEMA))
    settings = Settings(data_dir=Path(out), admin_key=SecretStr(ADMIN))
    with TestClient(create_app(settings, store=store)) as c:
        r = c.post("/api/v1/assets", content=dump_assets(asset_model(fleet)), headers=H)
        assert r.status_code == 200, r.text
        assert r.json() == {"version": 1, "sites": 3, "types": 6, "instances": 30}
        assert store.assets() == asset_model(fleet)
        yield c
    store.close()


def test_oee_by_shift_of_a_line(client: TestClient) -> None:
    r = client.get(
        "/api/v1/kpi",
        params={
            "path": "autowerk/berlin/body-shop/line-1",
            "by": "shift",
            "kpi": "oee,availability",
            **RANGE,
        },
        headers=H,
    )
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    assert [row["window"] for row in rows][:3] == [
        "2026-10-19 night",
        "2026-10-20 early",
        "2026-10-20 late",
    ]
    early = rows[1]
    assert 0 < early["oee"] <= 1
    assert 0 < early["availability"] <= 1
    assert early["version"] == 1
    assert early["final"] is True
    assert early["completeness"] == 1.0
    assert "effectiveness" not in early


def test_losses_and_benchmark(client: TestClient) -> None:
    r = client.get("/api/v1/losses", params={"path": "autowerk/chicago", **RANGE}, headers=H)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["tree"]["children"]
    assert body["pareto"]
    assert body["pareto"][-1]["cumulative"] == pytest.approx(1.0)
    r = client.get("/api/v1/kpi/benchmark", params={"path": "autowerk", **RANGE}, headers=H)
    sites = [row["site"] for row in r.json()["rows"]]
    assert sorted(sites) == ["autowerk/berlin", "autowerk/chicago", "autowerk/shanghai"]
    assert [row["rank"] for row in r.json()["rows"]] == [1, 2, 3]


def test_bad_requests_are_problems(client: TestClient) -> None:
    r = client.get("/api/v1/kpi", params={"path": "autowerk/nowhere", **RANGE}, headers=H)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    r = client.get("/api/v1/kpi", params={"path": "autowerk", "by": "year", **RANGE}, headers=H)
    assert r.status_code == 422
    assert r.json()["field"] == "by"
    r = client.get(
        "/api/v1/kpi", params={"path": "autowerk", "kpi": "oee,speed", **RANGE}, headers=H
    )
    assert r.status_code == 422
    assert r.json()["field"] == "kpi"
    r = client.get("/api/v1/kpi", params={"path": "autowerk", **RANGE})
    assert r.status_code == 401


def test_assets_read_and_bad_document(client: TestClient) -> None:
    r = client.get("/api/v1/assets", params={"path": "autowerk/shanghai"}, headers=H)
    assert r.status_code == 200
    body = r.json()
    assert [s["path"] for s in body["sites"]] == ["autowerk/shanghai"]
    assert body["instances"]
    assert all(i["path"].startswith("autowerk/shanghai/") for i in body["instances"])
    bad = "sites:\n  - path: autowerk/x\n    timezone: Mars/Base\n"
    r = client.post("/api/v1/assets", content=bad, headers=H)
    assert r.status_code == 422
    assert r.json()["line"] == 3
    assert r.json()["field"] == "sites[0].timezone"
