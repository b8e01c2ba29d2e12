"""The asset model as Asset Administration Shells over the API, on both store backends."""

from __future__ import annotations

import json
from typing import Any

from tests.api.conftest import Api
from tests.assets.test_aas import DOC
from werk.assets.aas import AASX_MEDIA_TYPE, from_aas
from werk.assets.document import parse_assets


def load(api: Api) -> None:
    r = api.client.post("/api/v1/assets", content=DOC, headers=api.headers())
    assert r.status_code == 200, r.text


def test_export_as_json_and_aasx_reads_back_to_the_model(api: Api) -> None:
    load(api)
    model = parse_assets(DOC)
    r = api.client.get("/api/v1/assets/aas", headers=api.headers(api.viewer_key))
    assert r.status_code == 200, r.text
    assert from_aas(r.content, "answer") == model
    # The time series segments point at this server's range endpoint.
    assert b"http://testserver/api/v1/range" in r.content
    r = api.client.get("/api/v1/assets/aas", params={"format": "aasx"}, headers=api.headers())
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == AASX_MEDIA_TYPE
    assert from_aas(r.content, "answer.aasx") == model


def test_import_merges_shells_and_names_bad_elements(api: Api) -> None:
    load(api)
    data: dict[str, Any] = json.loads(
        api.client.get("/api/v1/assets/aas", headers=api.headers()).content
    )
    plate = next(s for s in data["submodels"] if s["id"].endswith("press-01:sm:nameplate"))
    serial = next(e for e in plate["submodelElements"] if e["idShort"] == "SerialNumber")
    serial["value"] = "SN-0815"
    r = api.client.post("/api/v1/assets/aas", content=json.dumps(data), headers=api.headers())
    assert r.status_code == 200, r.text
    assert r.json()["instances"] == 2
    assert api.store.assets().instance("acme/berlin/body/line-1/press-01").serial == "SN-0815"

    werk = next(s for s in data["submodels"] if s["id"].endswith("press-01:sm:werk"))
    werk["submodelElements"] = [e for e in werk["submodelElements"] if e["idShort"] != "Type"]
    r = api.client.post("/api/v1/assets/aas", content=json.dumps(data), headers=api.headers())
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "press-01/WerkInstance/Type"
    assert r.json()["file"] == "request body"


def test_only_admins_and_engineers_import(api: Api) -> None:
    load(api)
    body = api.client.get("/api/v1/assets/aas", headers=api.headers()).content
    r = api.client.post("/api/v1/assets/aas", content=body, headers=api.headers(api.viewer_key))
    assert r.status_code == 403, r.text
    r = api.client.post("/api/v1/assets/aas", content=b"", headers=api.headers())
    assert r.status_code == 400, r.text
    assert r.json()["field"] == "body"
