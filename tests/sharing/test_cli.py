"""``werk share ...`` and ``werk audit verify`` against the live server and a store."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from typer.testing import CliRunner

from tests.sharing.conftest import ADMIN, ROBOT, World
from tests.sharing.test_audit import fill
from werk.cli.main import app
from werk.store import open_store

runner = CliRunner()


def werk(world: World | None, who: str, *args: str) -> str:
    extra = (
        []
        if world is None
        else ["--url", world.url, "--key", ADMIN if who == "admin" else world.keys[who]]
    )
    result = runner.invoke(app, [*args, *extra])
    assert result.exit_code == 0, result.output
    return result.output


def test_owner_and_consumer_round_trip(world: World, tmp_path: Path) -> None:
    asset = f"cli-{uuid.uuid4().hex[:8]}"
    werk(
        world,
        "acme",
        "share",
        "register",
        asset,
        "--scope",
        ROBOT,
        "--category",
        "raw",
        "--signal",
        "temp",
    )
    assert asset in werk(world, "acme", "share", "assets", "--json")
    usage = tmp_path / "usage.json"
    usage.write_text(
        json.dumps(
            {
                "permission": [
                    {
                        "action": "use",
                        "constraint": [
                            {"leftOperand": "purpose", "operator": "eq", "rightOperand": "cm"}
                        ],
                    }
                ]
            }
        )
    )
    offer = werk(
        world, "acme", "share", "publish", asset, "--usage", str(usage), "--auto-accept"
    ).strip()
    assert offer.startswith("urn:uuid:")
    catalog = json.loads(werk(world, "kuka", "share", "catalog", "--json"))
    assert offer in {d["hasPolicy"][0]["@id"] for d in catalog["dataset"]}
    pid, state, agreement = werk(world, "kuka", "share", "negotiate", offer).split()
    assert state == "FINALIZED"
    held = json.loads(werk(world, "kuka", "share", "agreements", "--json"))
    assert any(a["id"] == agreement and a["status"] == "active" for a in held)
    assert pid in werk(world, "acme", "share", "negotiations", "--json")
    assert "revoked" in werk(world, "acme", "share", "revoke", agreement, "--reason", "done")
    log = json.loads(werk(world, "acme", "share", "audit", "--agreement", agreement, "--json"))
    assert "agreement.revoked" in {r["what"] for r in log}
    verdict = json.loads(werk(world, "admin", "audit", "verify", "--json"))
    assert verdict["ok"]


def test_audit_verify_on_the_store_exits_1_when_tampered(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'werk.duckdb'}"
    store = open_store(url)
    fill(store, reads=4)
    store.close()
    assert "chain intact" in werk(None, "", "audit", "verify", "--store", url)
    import duckdb

    with duckdb.connect(str(tmp_path / "werk.duckdb")) as conn:
        conn.execute("UPDATE audit_log SET participant = 'x', body = body || ' ' WHERE seq = 2")
    result = runner.invoke(app, ["audit", "verify", "--store", url])
    assert result.exit_code == 1
    assert "record 2" in result.output
