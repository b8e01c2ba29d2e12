"""Config models: point paths default to the device's, error locations stay exact, files resolve."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from werk.connectors.base import connector

M = "acme/wob/body/line-1/press-01"


def _errors(kind: str, data: dict[str, object]) -> list[tuple[tuple[object, ...], str]]:
    with pytest.raises(ValidationError) as exc:
        connector(kind).config.model_validate(data)
    return [(e["loc"], e["msg"]) for e in exc.value.errors()]


def test_error_locations_name_device_point_and_field() -> None:
    errors = _errors(
        "modbus",
        {
            "name": "m",
            "type": "modbus",
            "host": "h",
            "devices": [
                {"path": M, "points": [{"signal": "ok", "address": 1}]},
                {"path": M, "points": [{"signal": "Bad Name", "address": 70000}]},
            ],
        },
    )
    locs = {loc for loc, _ in errors}
    assert ("devices", 1, "points", 0, "signal") in locs
    assert ("devices", 1, "points", 0, "address") in locs


def test_point_path_defaults_and_may_be_overridden() -> None:
    cfg = connector("mqtt").config.model_validate(
        {
            "name": "q",
            "type": "mqtt",
            "host": "h",
            "devices": [
                {
                    "path": M,
                    "topic_prefix": "p/",
                    "points": [
                        {"signal": "a", "topic": "a"},
                        {"signal": "b", "topic": "/abs/b", "path": f"{M}/spindle"},
                    ],
                }
            ],
        }
    )
    a, b = cfg.points()
    assert (a.path, b.path) == (M, f"{M}/spindle")


def test_relative_opcua_node_needs_a_root_and_duplicates_are_refused() -> None:
    errors = _errors(
        "opcua",
        {
            "name": "o",
            "type": "opcua",
            "endpoint": "opc.tcp://h:4840/",
            "devices": [{"path": M, "points": [{"signal": "t", "node": "Monitoring/t"}]}],
        },
    )
    assert "node_root" in errors[0][1]
    twice = _errors(
        "opcua",
        {
            "name": "o",
            "type": "opcua",
            "endpoint": "opc.tcp://h:4840/",
            "devices": [
                {"path": M, "points": [{"signal": "t", "node": "ns=2;s=a"}]},
                {"path": M, "points": [{"signal": "t", "node": "ns=2;s=b"}]},
            ],
        },
    )
    assert "mapped twice" in twice[0][1]


def test_certificate_paths_are_relative_to_the_plant_file() -> None:
    base = Path("/etc/werk/plant")
    opc = connector("opcua").config.model_validate(
        {
            "name": "o",
            "type": "opcua",
            "endpoint": "opc.tcp://h:4840/",
            "security": {"certificate": "pki/c.der", "private_key": "/k.pem", "trust": ["pki/t"]},
        },
        context={"base_dir": base},
    )
    dumped = opc.model_dump()["security"]
    assert dumped["certificate"] == base / "pki/c.der"
    assert dumped["private_key"] == Path("/k.pem")
    assert dumped["trust"] == [base / "pki/t"]
    spb = connector("sparkplug").config.model_validate(
        {
            "name": "s",
            "type": "sparkplug",
            "host": "h",
            "group_id": "g",
            "host_id": "h1",
            "tls": {"ca": "ca.pem"},
        },
        context={"base_dir": base},
    )
    assert spb.model_dump()["tls"]["ca"] == base / "ca.pem"
