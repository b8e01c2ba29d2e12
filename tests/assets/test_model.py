"""The asset model: documents in and out, errors with file/line/field, type versions, sim export."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from werk.assets.document import assets_to_data, dump_assets, parse_assets
from werk.assets.model import AssetModel, EquipmentType, Instance, SiteSpec
from werk.errors import ConfigError, Conflict, InvalidInput, NotFound
from werk.sim.assets import asset_model
from werk.sim.fleet import load_fleet

DOC = """\
sites:
  - path: acme/berlin
    timezone: Europe/Berlin
    shifts:
      - name: early
        start: "06:00"
        end: "14:00"
        breaks: [{name: lunch, start: "11:30", end: "12:00"}]
      - {name: night, start: "22:00", end: "06:00", days: [sun, mon]}
    holidays: [2026-12-25]
    maintenance:
      - {name: weekly, days: [sat], start: "06:00", duration_s: 21600}
      - {name: overhaul, from: "2026-08-03T06:00:00+02:00", to: "2026-08-04T06:00:00+02:00"}
    state_mapping: {codes: {cleaning: {element: pdot}}, micro_stop_seconds: 60}
types:
  - name: press
    signals: [{name: force, unit: kN}]
    ideal_cycles: {door: 55}
instances:
  - {path: acme/berlin/body/line-1/press-01, type: press}
  - {path: acme/berlin/body/line-1/press-02, type: press, ideal_cycles: {door: 61.5}}
"""


def test_a_document_reads_and_writes_back() -> None:
    model = parse_assets(DOC, "plant.yaml")
    site = model.site("acme/berlin/body/line-1/press-01")
    assert site.tz == "Europe/Berlin"
    assert site.shifts[0].breaks[0].start == time(11, 30)
    assert site.shifts[1].days == frozenset({6, 0})
    assert site.weekly_maintenance[0].length == timedelta(hours=6)
    assert site.maintenance[0].end - site.maintenance[0].start == timedelta(days=1)
    assert model.ideal_cycle("acme/berlin/body/line-1/press-01", "door") == timedelta(seconds=55)
    assert model.ideal_cycle("acme/berlin/body/line-1/press-02", "door") == timedelta(seconds=61.5)
    assert model.ideal_cycle("acme/berlin/body/line-1/press-02", "hood") is None
    assert parse_assets(dump_assets(model)) == model
    assert [i.path for i in model.under("acme/berlin/body")] == [
        "acme/berlin/body/line-1/press-01",
        "acme/berlin/body/line-1/press-02",
    ]
    assert model.knows("acme")
    assert model.knows("acme/berlin/body/line-1")
    assert not model.knows("acme/paris")


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        (DOC.replace("Europe/Berlin", "Europe/Atlantis"), 3, "sites[0].timezone"),
        (
            DOC.replace('end: "14:00"', 'end: "14:00"\n        ends: 1'),
            8,
            "sites[0].shifts[0].ends",
        ),
        (DOC.replace("[sun, mon]", "[sun, mondays]"), 9, "sites[0].shifts[1].days[1]"),
        (DOC.replace("{door: 55}", "{door: -5}"), 18, "types[0].ideal_cycles"),
        (DOC.replace("type: press}", "type: pres}", 1), 20, "instances[0].type"),
        (DOC.replace("path: acme/berlin\n", "path: acme/Berlin\n"), 2, "sites[0].path"),
        (
            DOC.replace("duration_s: 21600", "end: '07:00', duration_s: 1"),
            12,
            "sites[0].maintenance[0]",
        ),
        ("sites: [\n", 2, ""),
    ],
)
def test_bad_documents_name_file_line_and_field(text: str, line: int, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_assets(text, "plant.yaml")
    assert caught.value.fields["file"] == "plant.yaml"
    assert caught.value.fields["line"] == line
    assert caught.value.fields.get("field", "") == field


def test_changing_a_type_makes_a_version_and_instances_move_explicitly() -> None:
    model = parse_assets(DOC)
    faster = EquipmentType(
        "press", 1, model.latest("press").signals, {"door": timedelta(seconds=50)}
    )
    changed = model.with_type(faster)
    assert [t.key for t in changed.types] == ["press@1", "press@2"]
    assert changed.instance("acme/berlin/body/line-1/press-01").version == 1
    assert changed.with_type(changed.latest("press")) is changed
    moved = changed.move("acme/berlin/body/line-1/press-01", 2)
    assert moved.ideal_cycle("acme/berlin/body/line-1/press-01", "door") == timedelta(seconds=50)
    with pytest.raises(NotFound):
        moved.move("acme/berlin/body/line-1/press-01", 3)
    with pytest.raises(Conflict):
        model.merged(AssetModel(types=(faster,)))


def test_instances_need_a_site_and_a_known_type() -> None:
    site = SiteSpec("acme/berlin", "UTC")
    with pytest.raises(InvalidInput, match="under no site"):
        AssetModel((site,), (EquipmentType("press"),), (Instance("acme/paris/a/l/m", "press"),))
    with pytest.raises(InvalidInput, match="version 2"):
        AssetModel((site,), (EquipmentType("press"),), (Instance("acme/berlin/a/l/m", "press", 2),))


def test_the_simulated_fleet_exports_its_calendars_types_and_cycles() -> None:
    fleet = load_fleet()
    model = asset_model(fleet)
    assert [s.path for s in model.sites] == [s.path for s in fleet.sites]
    for site in fleet.sites:
        spec = model.site(site.path)
        assert spec.tz == site.tz
        assert [s.name for s in spec.shifts] == [s.name for s in site.calendar.shifts]
    for machine in fleet.machines:
        for product, cycle in machine.ideal_cycles.items():
            assert model.ideal_cycle(machine.path, product) == cycle
        assert model.type_of(model.instance(machine.path)).name == machine.type.value
    berlin = model.site("autowerk/berlin")
    night = next(s for s in berlin.shifts if s.name == "night")
    assert (night.start, night.end) == (time(22), time(6))
    assert assets_to_data(model)["types"][0]["signals"]
