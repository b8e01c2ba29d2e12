"""Smoke-run the connector benchmark: every row comes out, figures are never asserted."""

from __future__ import annotations

import pytest

from bench.connectors import sections
from bench.sections import SECTIONS


@pytest.mark.slow
def test_connector_sections_have_rows() -> None:
    assert ("bench.connectors", "sections") in SECTIONS
    mapping, opcua = sections(smoke=True)
    assert [r[0] for r in mapping.rows] == ["opcua", "modbus", "mqtt", "sparkplug"]
    assert all(float(r[1].replace(",", "")) > 0 for r in mapping.rows)
    # The peer on the load server, werk edge run end to end, then both against the simulator.
    assert len(opcua.rows) == 4
    assert opcua.rows[0][0].endswith("(peer)")
    assert opcua.rows[1][0].startswith("werk edge run")
    assert float(opcua.rows[1][2].replace(",", "")) > 0  # values stored by the platform
    assert opcua.rows[2][0].startswith("asyncua peer")
    assert float(opcua.rows[3][2].split()[0].replace(",", "")) > 0
