"""Revocation ends a live stream within 5 s; the audit trail shows each party its records."""

from __future__ import annotations

import threading
import time

from tests.sharing.conftest import OVEN, ROBOT, World
from tests.sharing.test_api import CM, agree, c, ok, window


def test_revocation_ends_a_live_stream_within_five_seconds(world: World) -> None:
    agreement = agree(
        world,
        "kuka",
        usage={"permission": [{"action": "use", "constraint": [c("purpose", "eq", CM)]}]},
    )
    params: dict[str, str | float] = {
        "path": ROBOT,
        "agreement": agreement,
        "purpose": CM,
        "recheck_s": 1.0,
        "max_s": 60,
    }
    opened = threading.Event()
    events: list[tuple[str, float, str]] = []

    def listen() -> None:
        with (
            world.new_client("kuka") as client,
            client.stream("GET", "/api/v1/stream", params=params) as response,
        ):
            assert response.status_code == 200
            name = ""
            for line in response.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    events.append((name, time.monotonic(), line[6:]))
                    if name == "latest":
                        opened.set()
                    if name == "end":
                        return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert opened.wait(10), "the stream did not open"
    latest = next(e for e in events if e[0] == "latest")[2]
    assert ROBOT in latest
    assert OVEN not in latest
    revoked_at = time.monotonic()
    ok(world.client("acme").post(f"/api/v1/sharing/agreements/{agreement}/revoke", json={}))
    thread.join(10)
    assert not thread.is_alive(), "the stream was still open 10 s after the revocation"
    name, ended_at, data = events[-1]
    assert name == "end"
    assert "agreement.revoked" in data
    assert ended_at - revoked_at < 5.0


def test_owners_see_every_access_consumers_their_own(world: World) -> None:
    agreement = agree(
        world,
        "kuka",
        usage={"permission": [{"action": "use", "constraint": [c("purpose", "eq", CM)]}]},
    )
    kuka = world.client("kuka")
    params = {"path": ROBOT, **window(), "agreement": agreement, "purpose": CM}
    rows = ok(kuka.get("/api/v1/range", params=params))["count"]
    assert kuka.get("/api/v1/range", params={**params, "purpose": "marketing"}).status_code == 403
    owner_view = ok(
        world.client("acme").get("/api/v1/sharing/audit", params={"agreement": agreement})
    )
    reads = [r for r in owner_view if r["type"] == "read"]
    assert [r["decision"] for r in reads] == ["permit", "deny"]
    assert reads[0]["rows"] == rows
    assert reads[0]["participant"] == "kuka"
    assert reads[0]["owner"] == "acme"
    assert reads[0]["policy_hash"].startswith("sha256:")
    assert reads[1]["reasons"][0]["code"] == "purpose.mismatch"
    assert reads[1]["rows"] is None
    changes = [r["what"] for r in owner_view if r["type"] == "change"]
    assert "agreement.active" in changes
    consumer_view = ok(kuka.get("/api/v1/sharing/audit", params={"agreement": agreement}))
    assert [r["seq"] for r in consumer_view] == [r["seq"] for r in owner_view]
    assert (
        ok(world.client("bosch").get("/api/v1/sharing/audit", params={"agreement": agreement}))
        == []
    )
    verdict = ok(world.client("admin").get("/api/v1/sharing/audit/verify"))
    assert verdict["ok"], verdict
    assert kuka.get("/api/v1/sharing/audit/verify").status_code == 403
