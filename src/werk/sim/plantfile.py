"""Write the edge plant file of a simulated site: sources, device templates and devices. Pure.

The simulator knows where every value of its servers lives (node ids, the register map, Sparkplug
metric names, UNS topics), so it can write the mapping an edge agent needs to read a site back:
one source for the site's silo, one device template per machine type (a point table written
once), and one device per machine that names the template and says where the machine is (its
node root, unit id, Sparkplug device or topic prefix). ``expand=True`` writes each device's
points inline instead (what the connectors' own models read after the loader expanded
templates).

Shape (YAML-ready dicts)::

    plant: acme/wob
    edge: wob-edge
    templates:
      opcua-press: {points: [{signal: state, node: Status/StateCode, role: state, ...}, ...]}
    sources:
      - name: wob-opcua
        type: opcua
        endpoint: opc.tcp://127.0.0.1:4840/
        devices:
          - {path: acme/wob/body/line-1/press-01, template: opcua-press,
             node_root: "nsu=urn:werk:sim:acme:wob;s=acme/wob/body/line-1/press-01/"}

The MES file silo is not covered here: its files are read by the ``files`` connector.
This module imports nothing of ``werk.connectors`` or ``werk.edge``: it only emits dicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from werk.errors import ConfigError
from werk.sim.fleet import Site
from werk.sim.servers.registers import FLOAT_BASE, unit_ids
from werk.sim.view import STATE_CODES, SignalSpec, Silo, SiteView

STATES: Final = {str(code): str(state) for state, code in STATE_CODES.items()}
"""State-code table of every simulated machine: raw code → werk state."""

PlantFile = dict[str, object]


@dataclass(frozen=True, slots=True)
class _Machine:
    path: str
    type: str
    specs: Sequence[SignalSpec]


def _machines(site: SiteView | Site) -> list[_Machine]:
    if isinstance(site, Site):
        return [_Machine(m.path, str(m.type), m.signal_specs) for m in site.machines]
    return [_Machine(m.path, m.machine_type, tuple(m.signal_specs)) for m in site.machines]


def _segments(site_path: str) -> tuple[str, str]:
    enterprise, _, name = site_path.partition("/")
    return enterprise, name or enterprise


def _point(signal: str, role: str = "value", **address: object) -> dict[str, object]:
    p: dict[str, object] = {"signal": signal, **address}
    if role != "value":
        p["role"] = role
        p["value_type"] = "int"
    if role == "state":
        p["states"] = dict(STATES)
    return p


def _signal(spec: SignalSpec, **address: object) -> dict[str, object]:
    return {
        "signal": spec.name,
        "unit": spec.unit,
        "expected_interval_s": 1.0,
        **address,
    }


def _template(silo: Silo, m: _Machine) -> list[dict[str, object]]:
    """Return the point table of one machine type behind one silo."""
    if silo is Silo.OPCUA:
        return [
            _point("state", "state", node="Status/StateCode"),
            _point("good_counter", "good", node="Production/GoodParts"),
            _point("scrap_counter", "scrap", node="Production/ScrapParts"),
            *(_signal(s, node=f"Monitoring/{s.name}") for s in m.specs),
        ]
    if silo is Silo.MODBUS:
        return [
            _point("state", "state", address=0, type="uint16"),
            _point("good_counter", "good", address=1, type="uint16"),
            _point("scrap_counter", "scrap", address=2, type="uint16"),
            *(
                _signal(
                    s,
                    address=FLOAT_BASE + 2 * i,
                    type="float32",
                    word_order="big",
                    low=s.low,
                    high=s.high,
                )
                for i, s in enumerate(m.specs)
            ),
        ]
    if silo is Silo.SPARKPLUG:
        return [
            _point("state", "state", metric="Status/State"),
            _point("good_counter", "good", metric="Production/GoodParts"),
            _point("scrap_counter", "scrap", metric="Production/ScrapParts"),
            *(_signal(s, metric=f"Signals/{s.name}") for s in m.specs),
        ]
    if silo is Silo.MQTT_JSON:
        return [
            _point("state", "state", topic="state"),
            _point("good_counter", "good", topic="good_counter"),
            _point("scrap_counter", "scrap", topic="scrap_counter"),
            *(_signal(s, topic=s.name) for s in m.specs),
        ]
    raise ConfigError(
        f"the {silo} silo has no plant file here; MES files are read by the files connector",
        key="sim.plantfile_silo",
        field="silo",
    )


def plant_file(
    site: SiteView | Site,
    *,
    endpoint: str = "",
    silo: Silo | str | None = None,
    mqtt_host: str = "127.0.0.1",
    mqtt_port: int = 1883,
    source_name: str | None = None,
    edge: str | None = None,
    expand: bool = False,
) -> PlantFile:
    """Return the plant file (a YAML-ready dict) that reads ``site`` back through its silo.

    Args:
        site: A fleet site or a site view (their machines, paths and signal specs).
        endpoint: ``opc.tcp://host:port/`` or ``modbus+tcp://host:port`` of the server
            (OPC UA and Modbus; MQTT silos use ``mqtt_host``/``mqtt_port``).
        silo: The silo to read through; the site's own by default.
        mqtt_host: Broker of the Sparkplug B and MQTT JSON silos.
        mqtt_port: Its port.
        source_name: Name of the source; ``<site>-<silo>`` by default.
        edge: Id of the edge agent reading the site; ``<site>-edge`` by default.
        expand: Write every device's points inline instead of naming a template.

    Raises:
        ConfigError: The silo has no plant file (MES files) or the endpoint is missing.
    """
    kind = Silo(silo) if silo is not None else Silo(site.silo)
    enterprise, name = _segments(site.path)
    source: dict[str, object] = {
        "name": source_name or f"{name}-{kind.value.replace('_', '-')}",
        "type": "mqtt" if kind is Silo.MQTT_JSON else kind.value,
    }
    if kind in (Silo.OPCUA, Silo.MODBUS) and not endpoint:
        raise ConfigError(
            f"the {kind} plant file of {site.path} needs the server's endpoint",
            key="sim.plantfile_endpoint",
            field="endpoint",
        )
    if kind is Silo.OPCUA:
        source["endpoint"] = endpoint
    elif kind is Silo.MODBUS:
        hostport = endpoint.split("://", 1)[-1].rstrip("/")
        host, _, port = hostport.rpartition(":")
        source.update(host=host, port=int(port))
    else:
        source.update(host=mqtt_host, port=mqtt_port)
        if kind is Silo.SPARKPLUG:
            source.update(group_id=name, host_id=f"werk-{name}")
    machines = _machines(site)
    units = unit_ids([m.path for m in machines]) if kind is Silo.MODBUS else {}
    templates: dict[str, object] = {}
    devices = []
    for m in machines:
        template = f"{kind.value.replace('_', '-')}-{m.type.replace('_', '-')}"
        device: dict[str, object] = {"path": m.path}
        if kind is Silo.OPCUA:
            device["node_root"] = f"nsu=urn:werk:sim:{enterprise}:{name};s={m.path}/"
        elif kind is Silo.MODBUS:
            device["unit_id"] = units[m.path]
        elif kind is Silo.SPARKPLUG:
            below = m.path[len(site.path) + 1 :].split("/")
            device["edge_node_id"] = ".".join(below[:2])
            device["device_id"] = ".".join(below[2:])
        else:
            device["topic_prefix"] = f"umh/v1/{m.path}/_historian/"
        points = _template(kind, m)
        if expand:
            device["points"] = points
        else:
            templates.setdefault(template, {"points": points})
            device["template"] = template
        devices.append(device)
    source["devices"] = devices
    out: PlantFile = {"plant": site.path, "edge": edge or f"{name}-edge"}
    if templates:
        out["templates"] = templates
    out["sources"] = [source]
    return out
