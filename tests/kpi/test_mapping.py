"""The state mapping is data: defaults, ranges, OPC pairs, overrides from plain files."""

from __future__ import annotations

from datetime import timedelta

import pytest

from werk.errors import ConfigError
from werk.kpi import (
    DEFAULT_MAPPING,
    PRECEDENCE,
    Element,
    MappingTable,
    StateRule,
    override_from_dict,
)

SIMULATOR = {
    "executing": Element.APT,
    "setup": Element.AUST,
    "micro_stop": Element.ADET,
    "failure": Element.ADET,
    "starved": Element.ADET,
    "blocked": Element.ADET,
    "no_order": Element.ADOT,
    "planned_maintenance": Element.PDOT,
    "break": Element.PDOT,
    "no_shift": Element.NOT_SCHEDULED,
}


@pytest.mark.parametrize(("code", "element"), SIMULATOR.items())
def test_every_simulator_state_is_mapped(code: str, element: Element) -> None:
    rule = DEFAULT_MAPPING.rule(code)
    assert rule is not None
    assert rule.element is element


def test_flags_of_the_defaults() -> None:
    assert DEFAULT_MAPPING.rule("failure") == StateRule(Element.ADET, failure=True)
    starved = DEFAULT_MAPPING.rule("starved")
    assert starved is not None
    assert starved.external
    micro = DEFAULT_MAPPING.rule("micro_stop")
    assert micro is not None
    assert micro.short
    brk = DEFAULT_MAPPING.rule("break")
    assert brk is not None
    assert brk.overrun is Element.ADET


@pytest.mark.parametrize(
    ("code", "element"),
    [
        ("10000", Element.APT),
        ("20000", Element.APT),
        ("30000", Element.NO_DATA),
        ("180042", Element.ADET),
        ("160000", Element.NOT_SCHEDULED),
        ("170000", Element.ADOT),
        ("210000", Element.PDOT),
        ("Executing", Element.APT),
        ("NotExecuting/Setup", Element.AUST),
        ("OutOfService/Setup", Element.ADET),  # falls back to the item state
        ("NotExecuting/Maintenance", Element.PDOT),  # */Maintenance
        ("NotAvailable", Element.NO_DATA),
    ],
)
def test_umh_ranges_and_opc_pairs(code: str, element: Element) -> None:
    rule = DEFAULT_MAPPING.rule(code)
    assert rule is not None
    assert rule.element is element


@pytest.mark.parametrize("code", [None, "", "999999", "Weird/Mode", "EXECUTING"])
def test_unknown_codes_are_unmapped(code: str | None) -> None:
    assert DEFAULT_MAPPING.rule(code) is None


def test_precedence_is_a_total_order_of_all_elements() -> None:
    assert set(PRECEDENCE) == set(Element)
    assert PRECEDENCE[0] is Element.APT
    assert PRECEDENCE[-1] is Element.NO_DATA


def test_overrides_from_a_plain_mapping() -> None:
    override = override_from_dict(
        {
            "codes": {"E-17": {"element": "adet", "failure": True, "note": "hydraulic pump"}},
            "ranges": [{"low": 110000, "high": 130000, "element": "pdot"}],
            "micro_stop_seconds": 60,
        },
        where="acme/berlin",
    )
    mapping = MappingTable(DEFAULT_MAPPING, sites={"acme/berlin": override}).for_machine(
        "acme/berlin/body/line-1/press-01"
    )
    assert mapping.rule("E-17") == StateRule(Element.ADET, failure=True, note="hydraulic pump")
    rule = mapping.rule("115000")
    assert rule is not None
    assert rule.element is Element.PDOT
    assert mapping.micro_stop == timedelta(seconds=60)
    assert mapping.failure_merge == DEFAULT_MAPPING.failure_merge


def test_more_specific_overrides_win() -> None:
    def to(element: str) -> dict[str, object]:
        return {"codes": {"X": {"element": element}}}

    table = MappingTable(
        DEFAULT_MAPPING,
        types={"press": override_from_dict(to("aust"), where="type")},
        sites={"acme/berlin": override_from_dict(to("adot"), where="site")},
        site_types={("acme/berlin", "press"): override_from_dict(to("pdot"), where="both")},
    )

    def element(path: str, machine_type: str | None) -> Element | None:
        rule = table.for_machine(path, machine_type).rule("X")
        return rule.element if rule else None

    assert element("acme/austin/a/l/m", None) is None
    assert element("acme/austin/a/l/m", "press") is Element.AUST
    assert element("acme/berlin/a/l/m", "cnc") is Element.ADOT
    assert element("acme/berlin/a/l/m", "press") is Element.PDOT


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"codes": {"X": {"element": "uptime"}}}, "element"),
        ({"codes": {"X": {"element": "apt", "colour": "red"}}}, "colour"),
        ({"codes": {"X": {"element": "apt", "failure": "yes"}}}, "failure"),
        ({"codes": {"X": "apt"}}, "X"),
        ({"codes": ["X"]}, "codes"),
        ({"ranges": [{"low": 5, "high": 1, "element": "apt"}]}, "ranges"),
        ({"ranges": {"low": 5}}, "ranges"),
        ({"micro_stop_seconds": -1}, "micro_stop_seconds"),
        ({"failure_merge_seconds": "soon"}, "failure_merge_seconds"),
    ],
)
def test_bad_mapping_files_name_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        override_from_dict(data, where="mapping.yaml: acme/berlin")
    assert caught.value.fields["field"] == field
    assert "mapping.yaml: acme/berlin" in str(caught.value)
