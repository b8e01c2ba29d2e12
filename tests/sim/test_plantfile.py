"""Plant files of simulated sites: one template per machine type, devices pointing at the sim.

The expanded files are also read by the connectors' own config models, so a plant file the
simulator writes is one the edge agent accepts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from werk.cli import sim as sim_cli
from werk.connectors.base import connector
from werk.errors import ConfigError
from werk.sim.fleet import Fleet, load_fleet
from werk.sim.plantfile import STATES, plant_file
from werk.sim.servers.registers import unit_ids
from werk.sim.view import Silo


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return load_fleet()


@pytest.mark.parametrize("silo", [Silo.OPCUA, Silo.MODBUS, Silo.SPARKPLUG, Silo.MQTT_JSON])
def test_every_silo_has_templates_and_validates(fleet: Fleet, silo: Silo) -> None:
    site = fleet.sites[0]
    endpoint = "modbus+tcp://127.0.0.1:5020" if silo is Silo.MODBUS else "opc.tcp://h:4840/"
    data = plant_file(site, endpoint=endpoint, silo=silo)
    templates = data["templates"]
    assert isinstance(templates, dict)
    assert len(templates) == len({m.type for m in site.machines})
    sources = data["sources"]
    assert isinstance(sources, list)
    (source,) = sources
    assert len(source["devices"]) == len(site.machines)
    assert all("template" in d and "points" not in d for d in source["devices"])
    expanded = plant_file(site, endpoint=endpoint, silo=silo, expand=True)["sources"]
    assert isinstance(expanded, list)
    config = connector(expanded[0]["type"]).config.model_validate(expanded[0])
    points = config.points()
    machine = site.machines[0]
    assert len([p for p in points if p.path == machine.path]) == 3 + len(machine.signal_specs)
    state = next(p for p in points if p.path == machine.path and p.signal == "state")
    assert state.role == "state"
    assert state.states == STATES


def test_addresses_follow_the_servers(fleet: Fleet) -> None:
    site = fleet.sites[0]
    m = site.machines[0]
    opcua = plant_file(site, endpoint="opc.tcp://h:1/", silo=Silo.OPCUA)["sources"]
    assert isinstance(opcua, list)
    root = opcua[0]["devices"][0]["node_root"]
    assert root == f"nsu=urn:werk:sim:{site.path.replace('/', ':')};s={m.path}/"
    modbus = plant_file(site, endpoint="modbus+tcp://10.0.0.5:502", silo=Silo.MODBUS)["sources"]
    assert isinstance(modbus, list)
    assert (modbus[0]["host"], modbus[0]["port"]) == ("10.0.0.5", 502)
    assert modbus[0]["devices"][0]["unit_id"] == unit_ids([x.path for x in site.machines])[m.path]
    spb = plant_file(site, silo=Silo.SPARKPLUG)["sources"]
    assert isinstance(spb, list)
    below = m.path.split("/")[2:]
    device = spb[0]["devices"][0]
    assert (device["edge_node_id"], device["device_id"]) == (".".join(below[:2]), below[2])
    assert spb[0]["group_id"] == site.name
    uns = plant_file(site, silo=Silo.MQTT_JSON)["sources"]
    assert isinstance(uns, list)
    assert uns[0]["devices"][0]["topic_prefix"] == f"umh/v1/{m.path}/_historian/"


def test_refuses_mes_files_and_a_missing_endpoint(fleet: Fleet) -> None:
    with pytest.raises(ConfigError):
        plant_file(fleet.sites[0], silo=Silo.MES_FILES)
    with pytest.raises(ConfigError) as missing:
        plant_file(fleet.sites[0], silo=Silo.OPCUA)
    assert missing.value.fields["field"] == "endpoint"


def test_cli_writes_yaml(tmp_path: Path, fleet: Fleet) -> None:
    out = tmp_path / "plant.yaml"
    site = fleet.sites[1]
    result = CliRunner().invoke(
        sim_cli.app, ["plantfile", site.name, "--port", "5000", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(out.read_text())
    assert data["plant"] == site.path
    source = data["sources"][0]
    assert source["type"] == site.silo.value
    if site.silo in (Silo.OPCUA, Silo.MODBUS):
        assert str(5000 + 1) in str(source.get("endpoint", source.get("port")))
    unknown = CliRunner().invoke(sim_cli.app, ["plantfile", "atlantis"])
    assert unknown.exit_code != 0


@pytest.mark.parametrize("silo", [Silo.OPCUA, Silo.MODBUS, Silo.SPARKPLUG, Silo.MQTT_JSON])
def test_the_edge_loader_reads_it(tmp_path: Path, fleet: Fleet, silo: Silo) -> None:
    from werk.edge.plant import load_plant

    site = fleet.sites[0]
    endpoint = "modbus+tcp://127.0.0.1:5020" if silo is Silo.MODBUS else "opc.tcp://h:4840/"
    file = tmp_path / "plant.yaml"
    file.write_text(yaml.safe_dump(plant_file(site, endpoint=endpoint, silo=silo)))
    plant = load_plant(file)
    points = [p for s in plant.sources for p in s.points()]
    assert len(points) == sum(3 + len(m.signal_specs) for m in site.machines)
