"""Every YAML example in docs/connectors.md is a source the connectors accept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from werk.connectors.base import connector

DOC = Path(__file__).resolve().parents[2] / "docs" / "connectors.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)


@pytest.mark.parametrize("block", BLOCKS, ids=[f"yaml#{i}" for i in range(len(BLOCKS))])
def test_yaml_example_validates(block: str) -> None:
    (source,) = yaml.safe_load(block)
    config = connector(source["type"]).config.model_validate(source)
    assert config.points() or source["type"] == "mqtt"


def test_every_protocol_has_an_example() -> None:
    types = {yaml.safe_load(b)[0]["type"] for b in BLOCKS}
    assert types == {"opcua", "modbus", "sparkplug", "mqtt"}
