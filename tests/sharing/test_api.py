"""Reads by a machine builder and a supplier under agreements, through the live HTTP API.

Every request of the corpus is denied or narrowed, and never returns a value it may not: a
denied read answers 403/404 with no rows; a narrowed one returns only rows inside the agreement.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.sharing.conftest import DAY, OVEN, ROBOT, World

CM = "condition-monitoring"
QI = "quality-improvement"


def c(left: str, op: str, right: object) -> dict[str, object]:
    return {"leftOperand": left, "operator": op, "rightOperand": right}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def agree(
    world: World,
    consumer: str,
    *,
    scope: str = ROBOT,
    categories: tuple[str, ...] = ("raw", "states"),
    signals: list[str] | None = None,
    usage: dict[str, object],
    access: dict[str, object] | None = None,
) -> str:
    """Have acme offer an asset (pre-approved) and ``consumer`` agree to it; return the id."""
    owner = world.client("acme")
    asset = f"a-{uuid.uuid4().hex[:8]}"
    ok(
        owner.post(
            "/api/v1/sharing/assets",
            json={"id": asset, "scope": scope, "categories": list(categories), "signals": signals},
        ),
        201,
    )
    offer = ok(
        owner.post(
            "/api/v1/sharing/offers",
            json={
                "asset": asset,
                "usage_policy": usage,
                "access_policy": access,
                "auto_accept": True,
            },
        ),
        201,
    )
    done = ok(
        world.client(consumer).post("/api/v1/sharing/negotiations", json={"offer": offer["id"]}),
        201,
    )
    assert done["state"] == "FINALIZED", done
    return str(done["agreement_id"])


def robot_agreement(world: World) -> str:
    """kuka: condition monitoring of the robot, temp and current, data from DAY on, no export."""
    return agree(
        world,
        "kuka",
        signals=["temp", "current"],
        usage={
            "permission": [
                {
                    "action": "use",
                    "constraint": [
                        c("purpose", "eq", CM),
                        c("dataDateTime", "gteq", DAY.isoformat()),
                    ],
                }
            ],
            "prohibition": [{"action": "distribute"}],
        },
        access={
            "permission": [
                {"action": "use", "constraint": [c("participantKind", "eq", "machine_builder")]}
            ]
        },
    )


def window(days: float = 1) -> dict[str, str]:
    return {
        "from": (DAY - timedelta(days=days)).isoformat(),
        "to": (DAY + timedelta(days=1)).isoformat(),
    }


def denied(response: httpx.Response, code: str | None = None) -> None:
    assert response.status_code in (403, 404), response.text
    body = response.json()
    assert "rows" not in body
    assert "value" not in response.text
    if code is not None:
        assert code in body.get("reasons", []), body


def test_machine_builder_corpus(world: World) -> None:
    agreement = robot_agreement(world)
    kuka = world.client("kuka")
    under = {"agreement": agreement, "purpose": CM}

    # inside the agreement: permitted, exactly the agreed signals and window
    rows = ok(kuka.get("/api/v1/range", params={"path": ROBOT, **window(), **under}))["rows"]
    assert rows
    assert {r["signal"] for r in rows} == {"temp", "current"}  # narrowed: vibration never shown
    assert min(datetime.fromisoformat(r["ts"]) for r in rows) == DAY  # narrowed window
    assert {r["path"] for r in rows} == {ROBOT}

    # other paths
    denied(kuka.get("/api/v1/range", params={"path": OVEN, **window(), **under}), "path.outside")
    # a wider path is narrowed to the asset
    wide = ok(
        kuka.get(
            "/api/v1/range", params={"path": "acme/wob", "descendants": True, **window(), **under}
        )
    )
    assert wide["rows"]
    assert {r["path"] for r in wide["rows"]} == {ROBOT}
    latest = ok(kuka.get("/api/v1/latest", params={"path": "acme", **under}))
    assert {(r["path"], r["signal"]) for r in latest["rows"]} == {
        (ROBOT, "temp"),
        (ROBOT, "current"),
    }
    # signals outside the list
    denied(
        kuka.get(
            "/api/v1/range", params={"path": ROBOT, "signal": "vibration", **window(), **under}
        ),
        "signal.outside",
    )
    some = ok(
        kuka.get(
            "/api/v1/range",
            params={"path": ROBOT, "signal": ["temp", "vibration"], **window(), **under},
        )
    )
    assert {r["signal"] for r in some["rows"]} == {"temp"}
    # a window wholly before the agreed data window
    early = {
        "from": (DAY - timedelta(days=1)).isoformat(),
        "to": (DAY - timedelta(hours=1)).isoformat(),
    }
    denied(kuka.get("/api/v1/range", params={"path": ROBOT, **early, **under}), "window.outside")
    # wrong purpose, no purpose
    denied(
        kuka.get(
            "/api/v1/range",
            params={"path": ROBOT, **window(), "agreement": agreement, "purpose": "marketing"},
        ),
        "purpose.mismatch",
    )
    denied(
        kuka.get("/api/v1/range", params={"path": ROBOT, **window(), "agreement": agreement}),
        "purpose.missing",
    )
    # no agreement: the data does not exist for kuka
    denied(kuka.get("/api/v1/range", params={"path": ROBOT, **window()}))
    denied(kuka.get("/api/v1/latest", params={"path": ROBOT}))
    # someone else's agreement: not found either
    denied(world.client("bosch").get("/api/v1/range", params={"path": ROBOT, **window(), **under}))
    # an unknown agreement
    denied(
        kuka.get(
            "/api/v1/range",
            params={"path": ROBOT, **window(), "agreement": "urn:uuid:nope", "purpose": CM},
        )
    )
    # redistribution is prohibited: no export
    denied(kuka.get("/api/v1/export", params={"path": ROBOT, **window(), **under}))
    # KPIs are not part of this asset
    denied(kuka.get("/api/v1/kpi", params={"path": ROBOT, **window(), **under}))


def test_supplier_aggregates_only(world: World) -> None:
    agreement = agree(
        world,
        "bosch",
        scope="acme/wob/body",
        categories=("raw", "kpis"),
        usage={
            "permission": [
                {
                    "action": "use",
                    "constraint": [c("purpose", "eq", QI), c("bucket", "gteq", "PT1H")],
                }
            ]
        },
        access={
            "permission": [
                {"action": "use", "constraint": [c("participantKind", "eq", "supplier")]}
            ]
        },
    )
    bosch = world.client("bosch")
    under = {"agreement": agreement, "purpose": QI}
    # raw samples asked: narrowed to hourly aggregates, never a raw sample
    raw = ok(
        bosch.get("/api/v1/range", params={"path": ROBOT, "signal": "temp", **window(), **under})
    )
    assert raw["bucket"] == "1h"
    assert 0 < raw["count"] <= 48
    stamps = [datetime.fromisoformat(r["ts"]) for r in raw["rows"]]
    assert all(t.minute == 0 and t.second == 0 for t in stamps)
    assert all(r["count"] == 12 for r in raw["rows"])  # twelve 5-minute samples per hour
    fine = ok(
        bosch.get(
            "/api/v1/range",
            params={"path": ROBOT, "signal": "temp", "bucket": "5m", **window(), **under},
        )
    )
    assert fine["bucket"] == "1h"
    assert fine["count"] == raw["count"]
    daily = ok(
        bosch.get(
            "/api/v1/range",
            params={"path": ROBOT, "signal": "temp", "bucket": "1d", **window(), **under},
        )
    )
    assert daily["bucket"] == "1d"
    assert daily["count"] == 2
    # latest values and the live stream are raw samples: denied
    denied(
        bosch.get("/api/v1/latest", params={"path": ROBOT, **under}), "aggregation.raw_forbidden"
    )
    denied(
        bosch.get("/api/v1/stream", params={"path": ROBOT, **under}), "aggregation.raw_forbidden"
    )
    # outside the asset's scope
    denied(bosch.get("/api/v1/range", params={"path": OVEN, **window(), **under}), "path.outside")
    # the machine builder's offer is not in the supplier's catalog, the supplier's is
    catalog = ok(bosch.get("/api/v1/sharing/catalog"))
    assert catalog["@type"] == "Catalog"
    assert all(d["werk:owner"] == "acme" for d in catalog["dataset"])
    kinds = {
        c["rightOperand"]
        for o in ok(world.client("acme").get("/api/v1/sharing/offers"))
        if o["id"] in {d["hasPolicy"][0]["@id"] for d in catalog["dataset"]}
        for c in o["access_policy"]["permission"][0].get("constraint", [])
    }
    assert kinds == {"supplier"}


def test_lifecycle_denies_from_the_next_request(world: World) -> None:
    agreement = robot_agreement(world)
    kuka, acme = world.client("kuka"), world.client("acme")
    params = {"path": ROBOT, **window(), "agreement": agreement, "purpose": CM}
    assert ok(kuka.get("/api/v1/range", params=params))["rows"]
    # only the owner may change it
    assert kuka.post(f"/api/v1/sharing/agreements/{agreement}/revoke", json={}).status_code == 403
    ok(acme.post(f"/api/v1/sharing/agreements/{agreement}/suspend", json={"reason": "audit"}))
    denied(kuka.get("/api/v1/range", params=params), "agreement.suspended")
    ok(acme.post(f"/api/v1/sharing/agreements/{agreement}/resume", json={}))
    assert ok(kuka.get("/api/v1/range", params=params))["rows"]
    ok(
        acme.post(
            f"/api/v1/sharing/agreements/{agreement}/revoke", json={"reason": "contract ended"}
        )
    )
    denied(kuka.get("/api/v1/range", params=params), "agreement.revoked")
    assert acme.post(f"/api/v1/sharing/agreements/{agreement}/resume", json={}).status_code == 409


def test_an_expired_use_period_denies_and_marks_the_agreement(world: World) -> None:
    agreement = agree(
        world,
        "kuka",
        usage={
            "permission": [
                {
                    "action": "use",
                    "constraint": [
                        c("purpose", "eq", CM),
                        c("dateTime", "lt", "2026-01-01T00:00:00Z"),
                    ],
                }
            ]
        },
    )
    kuka = world.client("kuka")
    params = {"path": ROBOT, **window(), "agreement": agreement, "purpose": CM}
    denied(kuka.get("/api/v1/range", params=params), "period.over")
    assert ok(kuka.get(f"/api/v1/sharing/agreements/{agreement}"))["status"] == "expired"
    denied(kuka.get("/api/v1/range", params=params), "agreement.expired")


def test_manual_approval_and_a_failed_negotiation_says_why(world: World) -> None:
    acme, kuka = world.client("acme"), world.client("kuka")
    asset = f"m-{uuid.uuid4().hex[:8]}"
    ok(
        acme.post(
            "/api/v1/sharing/assets", json={"id": asset, "scope": ROBOT, "categories": ["raw"]}
        ),
        201,
    )
    usage = {"permission": [{"action": "use", "constraint": [c("purpose", "eq", CM)]}]}
    offer = ok(
        acme.post("/api/v1/sharing/offers", json={"asset": asset, "usage_policy": usage}), 201
    )
    asked = ok(kuka.post("/api/v1/sharing/negotiations", json={"offer": offer["id"]}), 201)
    assert asked["state"] == "REQUESTED"
    pid = asked["providerPid"]
    # the consumer may not agree on the owner's behalf; bosch may not even see it
    assert kuka.post(f"/api/v1/sharing/negotiations/{pid}/approve").status_code == 400
    assert world.client("bosch").get(f"/api/v1/dsp/negotiations/{pid}").status_code == 404
    agreed = ok(acme.post(f"/api/v1/sharing/negotiations/{pid}/approve"))
    assert agreed["state"] == "AGREED"
    done = ok(kuka.post(f"/api/v1/sharing/negotiations/{pid}/verify"))
    assert done["state"] == "FINALIZED"
    assert [m["to"] for m in done["messages"]] == ["REQUESTED", "AGREED", "VERIFIED", "FINALIZED"]
    assert ok(
        kuka.get(
            "/api/v1/range",
            params={"path": ROBOT, **window(), "agreement": done["agreement_id"], "purpose": CM},
        )
    )["rows"]
    # a second request rejected by the owner keeps the reason
    again = ok(kuka.post("/api/v1/sharing/negotiations", json={"offer": offer["id"]}), 201)
    ended = ok(
        acme.post(
            f"/api/v1/sharing/negotiations/{again['providerPid']}/terminate",
            json={"reason": "no NDA signed"},
        )
    )
    assert ended["state"] == "TERMINATED"
    shown = ok(kuka.get(f"/api/v1/dsp/negotiations/{again['providerPid']}"))
    assert shown["state"] == "TERMINATED"
    assert shown["werk:reason"]["reason"] == ["no NDA signed"]
    # nothing after a terminal state
    assert (
        kuka.post(f"/api/v1/sharing/negotiations/{again['providerPid']}/verify").status_code == 400
    )


def test_dsp_binding(world: World) -> None:
    version = httpx.get(f"{world.url}/.well-known/dspace-version").json()
    assert version["protocolVersions"][0]["version"] == "2025-1"
    acme, kuka = world.client("acme"), world.client("kuka")
    asset = f"d-{uuid.uuid4().hex[:8]}"
    ok(
        acme.post(
            "/api/v1/sharing/assets", json={"id": asset, "scope": ROBOT, "categories": ["raw"]}
        ),
        201,
    )
    usage = {"permission": [{"action": "use", "constraint": [c("purpose", "eq", CM)]}]}
    offer = ok(
        acme.post("/api/v1/sharing/offers", json={"asset": asset, "usage_policy": usage}), 201
    )
    catalog = ok(kuka.post("/api/v1/dsp/catalog/request", json={"@type": "CatalogRequestMessage"}))
    assert offer["id"] in {d["hasPolicy"][0]["@id"] for d in catalog["dataset"]}
    message = {
        "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
        "@type": "ContractRequestMessage",
        "consumerPid": "urn:uuid:consumer-1",
        "offer": {"@id": offer["id"], "@type": "Offer", "target": f"urn:werk:asset:{asset}"},
        "callbackAddress": "https://kuka.example/dsp",
    }
    created = ok(kuka.post("/api/v1/dsp/negotiations/request", json=message), 201)
    pid = created["providerPid"]
    assert created["state"] == "REQUESTED"
    assert created["consumerPid"] == "urn:uuid:consumer-1"
    assert ok(kuka.get(f"/api/v1/dsp/negotiations/{pid}"))["state"] == "REQUESTED"
    assert world.client("bosch").get(f"/api/v1/dsp/negotiations/{pid}").status_code == 404
    # an illegal transition: verification before any agreement
    verification = {"@type": "ContractAgreementVerificationMessage", "providerPid": pid}
    assert (
        kuka.post(
            f"/api/v1/dsp/negotiations/{pid}/agreement/verification", json=verification
        ).status_code
        == 400
    )
    # FINALIZED may not come from the consumer
    finalized = {"@type": "ContractNegotiationEventMessage", "eventType": "FINALIZED"}
    assert kuka.post(f"/api/v1/dsp/negotiations/{pid}/events", json=finalized).status_code == 400
    # the owner counter-offers, the consumer accepts, the owner agrees, the consumer verifies
    counter = {
        "permission": [
            {"action": "use", "constraint": [c("purpose", "eq", CM), c("count", "lteq", 10)]}
        ]
    }
    ok(acme.post(f"/api/v1/sharing/negotiations/{pid}/offer", json={"policy": counter}))
    accepted = {"@type": "dspace:ContractNegotiationEventMessage", "dspace:eventType": "ACCEPTED"}
    assert (
        ok(kuka.post(f"/api/v1/dsp/negotiations/{pid}/events", json=accepted))["state"]
        == "ACCEPTED"
    )
    assert (
        ok(
            acme.post(
                f"/api/v1/dsp/negotiations/{pid}/agreement",
                json={"@type": "ContractAgreementMessage"},
            )
        )["state"]
        == "AGREED"
    )
    done = ok(
        kuka.post(f"/api/v1/dsp/negotiations/{pid}/agreement/verification", json=verification)
    )
    assert done["state"] == "FINALIZED"
    agreement = ok(kuka.get(f"/api/v1/sharing/agreements/{done['werk:agreementId']}"))
    assert agreement["policy"] == counter
    assert agreement["policy_hash"].startswith("sha256:")
    termination = {"@type": "ContractNegotiationTerminationMessage", "code": "x"}
    assert (
        kuka.post(f"/api/v1/dsp/negotiations/{pid}/termination", json=termination).status_code
        == 400
    )
    # an unknown offer is a 400, a policy werk cannot enforce a 422 naming the problem
    message["offer"] = {"@id": "urn:uuid:unknown"}
    assert kuka.post("/api/v1/dsp/negotiations/request", json=message).status_code == 400
    bad = acme.post(
        "/api/v1/sharing/offers",
        json={
            "asset": asset,
            "usage_policy": {
                "permission": [{"action": "use", "constraint": [c("weather", "eq", "sunny")]}]
            },
        },
    )
    assert bad.status_code == 422
    assert "weather" in bad.json()["detail"]


def test_policy_schema_and_vocabulary_are_served(world: World) -> None:
    schema = httpx.get(f"{world.url}/api/v1/sharing/policy-schema.json").json()
    assert schema["title"].startswith("werk usage policy")
    vocabulary = httpx.get(f"{world.url}/api/v1/sharing/vocabulary").json()
    names = {o["name"] for o in vocabulary["operands"]}
    assert {"purpose", "count", "bucket", "signal", "dataDateTime"} <= names
    assert "distribute" not in vocabulary["actions"]["use"]


def test_other_terms_than_offered_wait_for_the_owner(world: World) -> None:
    acme, kuka = world.client("acme"), world.client("kuka")
    asset = f"t-{uuid.uuid4().hex[:8]}"
    ok(
        acme.post(
            "/api/v1/sharing/assets", json={"id": asset, "scope": ROBOT, "categories": ["raw"]}
        ),
        201,
    )
    usage = {"permission": [{"action": "use", "constraint": [c("purpose", "eq", CM)]}]}
    offer = ok(
        acme.post(
            "/api/v1/sharing/offers",
            json={"asset": asset, "usage_policy": usage, "auto_accept": True},
        ),
        201,
    )
    wider = {"permission": [{"action": "use"}, {"action": "distribute"}]}
    asked = ok(
        kuka.post("/api/v1/sharing/negotiations", json={"offer": offer["id"], "policy": wider}),
        201,
    )
    assert asked["state"] == "REQUESTED"  # not the pre-approved terms: a person decides
    assert asked["policy_hash"] != offer["usage_hash"]
    same = ok(
        kuka.post("/api/v1/sharing/negotiations", json={"offer": offer["id"], "policy": usage}),
        201,
    )
    assert same["state"] == "FINALIZED"  # the same terms, spelled out: the same hash
    assert same["policy_hash"] == offer["usage_hash"]


@pytest.mark.parametrize("n", [6])
def test_parallel_reads_under_count_n_get_exactly_n_permits(world: World, n: int) -> None:
    import concurrent.futures

    agreement = agree(
        world,
        "kuka",
        usage={
            "permission": [
                {"action": "use", "constraint": [c("purpose", "eq", CM), c("count", "lteq", n)]}
            ]
        },
    )
    params = {"path": ROBOT, "signal": "temp", **window(), "agreement": agreement, "purpose": CM}

    def one(_: int) -> int:
        with world.new_client("kuka") as client:
            return client.get("/api/v1/latest", params=params).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(one, range(3 * n)))
    assert codes.count(200) == n
    assert codes.count(403) == 2 * n


def test_catalog_pages_and_a_new_agreement_supersedes_the_old(world: World) -> None:
    usage: dict[str, object] = {
        "permission": [{"action": "use", "constraint": [c("purpose", "eq", QI)]}]
    }
    access: dict[str, object] = {
        "permission": [{"action": "use", "constraint": [c("participant", "isAnyOf", ["bosch"])]}]
    }
    first = agree(world, "bosch", scope="acme/wob/paint", usage=usage, access=access)
    agree(world, "bosch", scope="acme/wob/paint", usage=usage, access=access)
    bosch = world.client("bosch")
    total = ok(bosch.get("/api/v1/sharing/catalog"))["werk:total"]
    assert total >= 2
    page = bosch.get("/api/v1/sharing/catalog", params={"page": 1, "size": 1})
    assert len(page.json()["dataset"]) == 1
    assert 'rel="next"' in page.headers["link"]
    last = bosch.get("/api/v1/sharing/catalog", params={"page": total, "size": 1})
    assert 'rel="previous"' in last.headers["link"]
    assert 'rel="next"' not in last.headers["link"]
    # kuka is not in the access policy: it never sees these offers
    kuka_sees = {
        d["werk:scope"] for d in ok(world.client("kuka").get("/api/v1/sharing/catalog"))["dataset"]
    }
    assert "acme/wob/paint" not in kuka_sees
    # asking again for the same asset: the newer agreement supersedes the older at once
    asset = ok(bosch.get(f"/api/v1/sharing/agreements/{first}"))["asset"]["id"]
    offer = next(
        o["id"]
        for o in ok(world.client("acme").get("/api/v1/sharing/offers"))
        if o["asset"]["id"] == asset
    )
    again = ok(bosch.post("/api/v1/sharing/negotiations", json={"offer": offer}), 201)
    assert again["state"] == "FINALIZED"
    assert ok(bosch.get(f"/api/v1/sharing/agreements/{first}"))["status"] == "superseded"
    params = {"path": OVEN, **window(), "purpose": QI}
    denied(
        bosch.get("/api/v1/range", params={**params, "agreement": first}), "agreement.superseded"
    )
    assert ok(bosch.get("/api/v1/range", params={**params, "agreement": again["agreement_id"]}))[
        "rows"
    ]


def test_only_the_owners_admins_decide_what_is_shared(world: World) -> None:
    made = ok(
        world.client("admin").post(
            "/api/v1/keys",
            json={
                "name": f"acme-viewer-{uuid.uuid4().hex[:6]}",
                "role": "viewer",
                "participant": "acme",
            },
        ),
        201,
    )
    with world.new_client("kuka") as viewer:
        viewer.headers["Authorization"] = f"Bearer {made['secret']}"
        body = {"id": f"v-{uuid.uuid4().hex[:6]}", "scope": ROBOT, "categories": ["raw"]}
        refused = viewer.post("/api/v1/sharing/assets", json=body)
        assert refused.status_code == 403
        assert refused.json()["key"] == "sharing.not_owner"
        assert viewer.get("/api/v1/sharing/offers").status_code == 200
    # nobody registers data it does not own
    other = {"id": f"o-{uuid.uuid4().hex[:6]}", "scope": "kuka/lab", "categories": ["raw"]}
    assert world.client("acme").post("/api/v1/sharing/assets", json=other).status_code == 403
    # automatic steps are recorded as werk's, on the owner's behalf
    agreement = agree(world, "kuka", usage={"permission": [{"action": "use"}]})
    log = ok(world.client("acme").get("/api/v1/sharing/audit", params={"agreement": agreement}))
    assert {r["actor"] for r in log if r["what"] == "agreement.active"} == {"werk-auto"}
