"""Every role boundary of the read routes: a viewer of one site never sees another's data.

A simulated day of one fleet (three sites) in a DuckDB store, plus a few samples per site; keys
with grants on paths stand for the people. Reads of a path outside one's grants answer 404
(``access.not_found``), prefix reads are narrowed to the granted parts, and write and admin
routes check roles.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from werk.api import create_app
from werk.api.credentials import create_key, parse_grant
from werk.assets.document import dump_assets
from werk.samples import EVENT_SCHEMA, SAMPLE_SCHEMA, UTC_NS, to_ns
from werk.settings import Settings
from werk.sharing.participants import Participant, ParticipantKind, Participants
from werk.sim.assets import asset_model
from werk.sim.fleet import load_fleet
from werk.sim.history import write_history
from werk.store import open_store

ADMIN = "roles-admin-secret"
RANGE = {"from": "2026-10-20T00:00:00Z", "to": "2026-10-21T00:00:00Z"}
BERLIN = "autowerk/berlin"
CHICAGO = "autowerk/chicago"
BERLIN_PRESS = "autowerk/berlin/body-shop/line-1/press-01"
CHICAGO_PRESS = "autowerk/chicago/body-shop/line-1/press-01"
NOW = datetime(2026, 10, 20, 12, tzinfo=UTC)


class World:
    """The client and one secret per kind of caller."""

    def __init__(self, client: TestClient, keys: dict[str, str]) -> None:
        self.client = client
        self.keys = keys

    def get(self, who: str, url: str, **params: str | bool) -> tuple[int, Any]:
        r = self.client.get(
            f"/api/v1{url}", params=params, headers={"Authorization": f"Bearer {self.keys[who]}"}
        )
        return r.status_code, r.json()


def samples() -> pa.Table:
    paths, signals, ts, values = [], [], [], []
    for path in (BERLIN_PRESS, CHICAGO_PRESS):
        for i in range(60):
            paths.append(path)
            signals.append("hydraulic_pressure")
            ts.append(to_ns(NOW + timedelta(minutes=i)))
            values.append(180.0 + i)
    return pa.table(
        {
            "path": paths,
            "signal": signals,
            "ts": pa.array(ts).cast(UTC_NS),
            "value": values,
            "quality": pa.array([0] * len(paths), pa.uint8()),
        },
        schema=SAMPLE_SCHEMA,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    out = tmp_path_factory.mktemp("roles")
    fleet = load_fleet()
    write_history(fleet, date(2026, 10, 20), 1, out / "sim", samples=False, truth=False)
    store = open_store(f"duckdb:///{out / 'werk.duckdb'}")
    events = ds.dataset(out / "sim" / "events", format="parquet", partitioning="hive").to_table()
    store.write("day", events=events.select(EVENT_SCHEMA.names).cast(EVENT_SCHEMA))
    store.write("samples", samples=samples())
    Participants(store).create(Participant("bolts", "Bolts & Co", ParticipantKind.SUPPLIER, ()))
    keys = {"admin": ADMIN}
    for name, role, grants, participant in (
        ("viewer-berlin", "viewer", [f"{BERLIN}=viewer"], None),
        ("engineer-berlin", "engineer", [f"{BERLIN}=engineer"], None),
        ("admin-berlin", "admin", [f"{BERLIN}=admin"], None),
        ("legacy-viewer", "viewer", [], None),
        ("supplier", "viewer", [], "bolts"),
        ("revoked", "viewer", [f"{BERLIN}=viewer"], None),
    ):
        _, keys[name] = create_key(
            store,
            name=name,
            role=role,
            edge=None,
            participant=participant,
            grants=[parse_grant(g) for g in grants],
        )
    _, keys["edge"] = create_key(store, name="edge-berlin", role="edge", edge="berlin")
    store.revoke_key("revoked")
    settings = Settings(data_dir=Path(out), admin_key=SecretStr(ADMIN))
    with TestClient(create_app(settings, store=store)) as client:
        r = client.post(
            "/api/v1/assets",
            content=dump_assets(asset_model(fleet)),
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
        assert r.status_code == 200, r.text
        yield World(client, keys)
    store.close()


SITE_B_READS = [
    ("/latest", {"path": CHICAGO}),
    ("/latest", {"path": CHICAGO_PRESS}),
    ("/series", {"path": CHICAGO}),
    ("/range", {"path": CHICAGO_PRESS, **RANGE}),
    ("/range", {"path": CHICAGO, "descendants": True, "bucket": "1h", **RANGE}),
    ("/kpi", {"path": CHICAGO, "by": "day", **RANGE}),
    ("/losses", {"path": CHICAGO, **RANGE}),
    ("/kpi/benchmark", {"path": CHICAGO, **RANGE}),
    ("/assets", {"path": CHICAGO}),
    ("/assets", {"path": "autowerk/nowhere"}),
]


@pytest.mark.parametrize(("url", "params"), SITE_B_READS)
def test_a_viewer_of_site_a_gets_404_for_site_b(
    world: World, url: str, params: dict[str, str | bool]
) -> None:
    status, body = world.get("viewer-berlin", url, **params)
    assert status == 404, body
    assert body["key"] == "access.not_found"
    assert "chicago" not in str(body.get("rows", ""))
    assert "rows" not in body


@pytest.mark.parametrize(("url", "params"), SITE_B_READS[:-1])
def test_the_admin_reads_site_b(world: World, url: str, params: dict[str, str | bool]) -> None:
    status, body = world.get("admin", url, **params)
    assert status == 200, body


def test_a_prefix_read_of_the_enterprise_is_narrowed_to_site_a(world: World) -> None:
    for params in ({"path": "autowerk"}, {}):
        status, body = world.get("viewer-berlin", "/latest", **params)
        assert status == 200, body
        rows = body["rows"]
        assert isinstance(rows, list)
        assert {r["path"] for r in rows} == {BERLIN_PRESS}
        assert rows[0]["value"] == 239.0
    status, body = world.get("viewer-berlin", "/series", path="autowerk")
    assert {r["path"].split("/")[1] for r in body["rows"]} == {"berlin"}
    status, body = world.get(
        "viewer-berlin", "/range", path="autowerk", descendants=True, bucket="10m", **RANGE
    )
    assert status == 200, body
    assert {r["path"] for r in body["rows"]} == {BERLIN_PRESS}
    # without descendants the enterprise itself is read, which the viewer may not see whole
    status, body = world.get("viewer-berlin", "/range", path="autowerk", **RANGE)
    assert (status, body["count"]) == (200, 0)
    # the admin's read of the same prefix holds both sites
    status, body = world.get("admin", "/latest", path="autowerk")
    assert {r["path"] for r in body["rows"]} == {BERLIN_PRESS, CHICAGO_PRESS}
    # narrowed as Arrow too, where paths travel dictionary-encoded
    r = world.client.get(
        "/api/v1/latest",
        params={"path": "autowerk"},
        headers={
            "Authorization": f"Bearer {world.keys['viewer-berlin']}",
            "Accept": "application/vnd.apache.arrow.stream",
        },
    )
    table = pa.ipc.open_stream(r.content).read_all()
    assert table.column("path").to_pylist() == [BERLIN_PRESS]


def test_kpis_of_the_enterprise_cover_only_the_visible_site(world: World) -> None:
    status, body = world.get("viewer-berlin", "/kpi", path="autowerk", by="day", **RANGE)
    assert status == 200, body
    assert {r["path"] for r in body["rows"]} == {BERLIN}
    status, bench = world.get("viewer-berlin", "/kpi/benchmark", path="autowerk", **RANGE)
    assert status == 200, bench
    assert [(r["site"], r["rank"]) for r in bench["rows"]] == [(BERLIN, 1)]
    status, whole = world.get("admin", "/kpi/benchmark", path="autowerk", **RANGE)
    assert whole["count"] == 3
    status, losses = world.get("viewer-berlin", "/losses", path="autowerk", **RANGE)
    assert status == 200, losses
    status, berlin = world.get("viewer-berlin", "/losses", path=BERLIN, **RANGE)
    assert losses["tree"] == berlin["tree"]  # the enterprise narrowed is Berlin's time


def test_the_asset_tree_shows_only_the_visible_parts(world: World) -> None:
    status, body = world.get("viewer-berlin", "/assets")
    assert status == 200, body
    assert [s["path"] for s in body["sites"]] == [BERLIN]
    instances = body["instances"]
    assert isinstance(instances, list)
    assert instances
    assert all(i["path"].startswith(BERLIN + "/") for i in instances)
    status, whole = world.get("admin", "/assets")
    assert len(whole["sites"]) == 3


def test_the_aas_export_holds_only_the_visible_shells(world: World) -> None:
    r = world.client.get(
        "/api/v1/assets/aas", headers={"Authorization": f"Bearer {world.keys['viewer-berlin']}"}
    )
    assert r.status_code == 200, r.text
    assert "autowerk/berlin" in r.text
    assert "autowerk/chicago" not in r.text
    assert "autowerk/shanghai" not in r.text
    everything = world.client.get(
        "/api/v1/assets/aas", headers={"Authorization": f"Bearer {world.keys['admin']}"}
    ).text
    assert "autowerk/chicago" in everything
    hidden = world.client.get(
        "/api/v1/assets/aas",
        params={"path": "autowerk/chicago"},
        headers={"Authorization": f"Bearer {world.keys['viewer-berlin']}"},
    )
    assert hidden.status_code == 404


def test_platform_keys_without_grants_see_everything_other_participants_nothing(
    world: World,
) -> None:
    status, body = world.get("legacy-viewer", "/latest", path=CHICAGO)
    assert (status, body["count"]) == (200, 1)
    status, body = world.get("supplier", "/latest", path=BERLIN)
    assert (status, body["key"]) == (404, "access.not_found")
    status, body = world.get("supplier", "/latest")
    assert (status, body["key"]) == (404, "access.not_found")
    status, me = world.get("supplier", "/auth/me")
    assert (me["participant"], me["grants"]) == ("bolts", [])


def test_edge_and_revoked_keys_read_nothing(world: World) -> None:
    status, body = world.get("edge", "/latest", path=BERLIN)
    assert (status, body["key"]) == (403, "auth.forbidden")
    status, body = world.get("revoked", "/latest", path=BERLIN)
    assert (status, body["key"]) == (401, "auth.revoked_key")
    r = world.client.get("/api/v1/latest", headers={"Authorization": "Bearer werk_nope"})
    assert (r.status_code, r.json()["key"]) == (401, "auth.unknown_key")


@pytest.mark.parametrize("who", ["viewer-berlin", "engineer-berlin", "admin-berlin"])
def test_only_platform_admins_use_write_and_admin_routes(world: World, who: str) -> None:
    headers = {"Authorization": f"Bearer {world.keys[who]}"}
    c = world.client
    for method, url in (
        ("GET", "/api/v1/keys"),
        ("POST", "/api/v1/assets"),
        ("POST", "/api/v1/ingest"),
        ("POST", "/api/v1/participants"),
    ):
        r = c.request(method, url, headers=headers, content=b"{}")
        assert (r.status_code, r.json()["key"]) == (403, "auth.forbidden"), (method, url)
    status, body = world.get(who, "/latest", path=BERLIN_PRESS)
    assert (status, body["count"]) == (200, 1)


def test_a_site_admin_manages_users_of_its_site_only(world: World) -> None:
    c = world.client

    def as_(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {world.keys[who]}"}

    user = {"name": "berta", "password": "long enough pass", "grants": []}
    ok = c.post(
        "/api/v1/users",
        json={**user, "grants": [{"path": f"{BERLIN}/body-shop", "role": "viewer"}]},
        headers=as_("admin-berlin"),
    )
    assert ok.status_code == 201, ok.text
    outside = c.post(
        "/api/v1/users",
        json={**user, "name": "carl", "grants": [{"path": CHICAGO, "role": "viewer"}]},
        headers=as_("admin-berlin"),
    )
    assert (outside.status_code, outside.json()["key"]) == (403, "auth.forbidden")
    by_engineer = c.post("/api/v1/users", json=user, headers=as_("engineer-berlin"))
    assert (by_engineer.status_code, by_engineer.json()["key"]) == (403, "auth.forbidden")
    widen = c.post(
        "/api/v1/users/berta/grants",
        json={"path": "autowerk", "role": "viewer"},
        headers=as_("admin-berlin"),
    )
    assert widen.status_code == 403
    listed = c.get("/api/v1/users", headers=as_("admin-berlin")).json()
    assert [u["name"] for u in listed["data"]] == ["berta"]
