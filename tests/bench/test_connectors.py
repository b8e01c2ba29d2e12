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
    assert (
        len(opcua.rows) == 6
    )  # direct and fan-out: the peer, then werk in the agent and in workers
    assert opcua.rows[0][0].endswith("(peer)")
    assert opcua.rows[3][0].endswith("(peer)")
    werk_rows = [r for r in opcua.rows if not r[0].endswith("(peer)")]
    assert all(float(r[3].replace(",", "")) > 0 for r in werk_rows)
