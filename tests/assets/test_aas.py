"""Asset Administration Shells: the asset model out as AAS JSON and AASX, and back, exactly."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from werk.assets.aas import NAMEPLATE, TIME_SERIES, from_aas, to_aas_json, to_aasx
from werk.assets.document import parse_assets
from werk.assets.model import AssetModel
from werk.errors import ConfigError
from werk.sim.assets import asset_model
from werk.sim.fleet import load_fleet

DOC = """\
sites:
  - path: acme/berlin
    timezone: Europe/Berlin
    shifts:
      - {name: early, start: "06:00", end: "14:00",
         breaks: [{name: lunch, start: "11:30", end: "12:00"}]}
      - {name: night, start: "22:00", end: "06:00", days: [sun, mon]}
    holidays: [2026-12-25]
    maintenance:
      - {name: weekly, days: [sat], start: "06:00", duration_s: 21600}
      - {name: overhaul, from: "2026-08-03T06:00:00+02:00", to: "2026-08-04T06:00:00+02:00"}
    state_mapping: {codes: {cleaning: {element: pdot}}, micro_stop_seconds: 60}
types:
  - name: press
    vendor: Schuler
    signals: [{name: force, unit: kN, low: 0, high: 2500}, {name: stroke_rate}]
    ideal_cycles: {door: 55, "hood 2": 61.25}
    state_mapping: {codes: {"E-17": {element: adet, failure: true}}}
  - {name: press, version: 2, signals: [{name: force, unit: kN}]}
instances:
  - {path: acme/berlin/body/line-1/press-01, type: press, serial: SN-4711}
  - {path: acme/berlin/body/line-1/press-02, type: press, version: 2,
     ideal_cycles: {door: 61.5}}
"""
ENDPOINT = "http://werk.example/api/v1/range"


@pytest.fixture
def model() -> AssetModel:
    return parse_assets(DOC)


def env(model: AssetModel) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(to_aas_json(model, ENDPOINT))
    return out


def submodel(data: dict[str, Any], id_: str) -> dict[str, Any]:
    return next(s for s in data["submodels"] if s["id"] == id_)


def element(parent: dict[str, Any], *names: str) -> dict[str, Any]:
    node = parent
    for name in names:
        items: list[dict[str, Any]] = node.get("submodelElements") or node["value"]
        node = next(e for e in items if e.get("idShort") == name)
    return node


def test_json_and_aasx_read_back_to_the_same_model(model: AssetModel) -> None:
    assert from_aas(to_aas_json(model, ENDPOINT), "m.json") == model
    package = to_aasx(model, ENDPOINT)
    assert zipfile.is_zipfile(io.BytesIO(package))
    assert from_aas(package, "m.aasx") == model


def test_the_simulator_fleet_round_trips() -> None:
    fleet = Path(__file__).parents[2] / "src/werk/sim/fleets/default.yaml"
    model = asset_model(load_fleet(fleet))
    assert from_aas(to_aasx(model), "fleet.aasx") == model


def test_one_shell_per_instance_and_type_with_nameplate_and_time_series(
    model: AssetModel,
) -> None:
    data = env(model)
    shells = {s["id"]: s for s in data["assetAdministrationShells"]}
    press1 = shells["urn:werk:aas:acme/berlin/body/line-1/press-01"]
    assert press1["assetInformation"]["assetKind"] == "Instance"
    assert press1["derivedFrom"]["keys"][0]["value"] == "urn:werk:aas:type:press:1"
    assert shells["urn:werk:aas:type:press:2"]["assetInformation"]["assetKind"] == "Type"
    plate = submodel(data, "urn:werk:aas:acme/berlin/body/line-1/press-01:sm:nameplate")
    assert plate["semanticId"]["keys"][0]["value"] == NAMEPLATE
    assert element(plate, "SerialNumber")["value"] == "SN-4711"
    assert element(plate, "ManufacturerName")["value"] == [{"language": "en", "text": "Schuler"}]
    series = submodel(data, "urn:werk:aas:acme/berlin/body/line-1/press-01:sm:timeseries")
    assert series["semanticId"]["keys"][0]["value"] == TIME_SERIES
    force = element(series, "Segments", "force")
    assert element(force, "Endpoint")["value"] == ENDPOINT
    assert element(force, "Query")["value"] == (
        "path=acme%2Fberlin%2Fbody%2Fline-1%2Fpress-01&signal=force"
    )
    record = element(series, "Metadata", "Record", "force")
    content = record["embeddedDataSpecifications"][0]["dataSpecificationContent"]
    assert content["unit"] == "kN"


def edit(model: AssetModel, change: Any) -> bytes:
    data = env(model)
    change(data)
    return json.dumps(data).encode()


def test_a_missing_element_is_named_by_its_id_short_path(model: AssetModel) -> None:
    def drop_version(data: dict[str, Any]) -> None:
        sm = submodel(data, "urn:werk:aas:acme/berlin/body/line-1/press-02:sm:werk")
        sm["submodelElements"] = [e for e in sm["submodelElements"] if e["idShort"] != "Version"]

    with pytest.raises(ConfigError) as caught:
        from_aas(edit(model, drop_version), "plant.json")
    assert caught.value.fields == {"file": "plant.json", "field": "press-02/WerkInstance/Version"}


def test_a_wrong_value_is_named_by_its_element(model: AssetModel) -> None:
    def unknown_version(data: dict[str, Any]) -> None:
        sm = submodel(data, "urn:werk:aas:acme/berlin/body/line-1/press-02:sm:werk")
        element(sm, "Version")["value"] = "7"

    with pytest.raises(ConfigError, match="version 7 is not in the model") as caught:
        from_aas(edit(model, unknown_version), "plant.json")
    assert caught.value.fields["field"] == "press-02/WerkInstance/Type"

    def bad_zone(data: dict[str, Any]) -> None:
        element(submodel(data, "urn:werk:aas:site:acme/berlin:sm:werk"), "TimeZone")["value"] = (
            "Mars/Olympus"
        )

    with pytest.raises(ConfigError, match="unknown IANA time zone") as caught:
        from_aas(edit(model, bad_zone), "plant.json")
    assert caught.value.fields["field"] == "berlin/WerkSite/TimeZone"

    def bad_shift(data: dict[str, Any]) -> None:
        sm = submodel(data, "urn:werk:aas:site:acme/berlin:sm:werk")
        calendar = json.loads(element(sm, "Calendar")["value"])
        calendar["shifts"][1]["start"] = "25:00"
        element(sm, "Calendar")["value"] = json.dumps(calendar)

    with pytest.raises(ConfigError) as caught:
        from_aas(edit(model, bad_shift), "plant.json")
    assert caught.value.fields["field"] == "berlin/WerkSite/Calendar (shifts[1].start)"


def test_files_that_are_no_aas_are_refused_with_their_name(model: AssetModel) -> None:
    with pytest.raises(ConfigError, match="not a valid AAS JSON environment") as caught:
        from_aas(b'{"assetAdministrationShells": [{"modelType": "Nonsense"}]}', "x.json")
    assert caught.value.fields["file"] == "x.json"
    with pytest.raises(ConfigError, match="not a valid AAS JSON"):
        from_aas(b"\xff\xfe not json", "y.json")
    with pytest.raises(ConfigError, match="no werk shells found among 0 shells"):
        from_aas(b'{"assetAdministrationShells": []}', "empty.json")
    broken = to_aasx(model)[:500]
    with pytest.raises(ConfigError, match="not a valid AASX package") as caught:
        from_aas(broken, "z.aasx")
    assert caught.value.fields["file"] == "z.aasx"


def test_the_cli_writes_aasx_from_a_fleet_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from werk.cli.assets import app

    fleet = Path(__file__).parents[2] / "src/werk/sim/fleets/default.yaml"
    out = tmp_path / "fleet.aasx"
    result = CliRunner().invoke(
        app, ["export", "--fleet", str(fleet), "--format", "aasx", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert from_aas(out.read_bytes(), str(out)) == asset_model(load_fleet(fleet))
