"""A fleet file is read with its line numbers; every bad one is refused with file, line, field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time, timedelta
from pathlib import Path

import pytest

from werk.errors import ConfigError
from werk.sim.catalog import MachineType
from werk.sim.config import parse_fleet
from werk.sim.fleet import default_fleet_path, load_fleet
from werk.sim.view import Silo

FleetFile = Callable[[str], Path]


def _line_of(text: str, marker: str, occurrence: int = 1) -> int:
    """Return the 1-based line of the ``occurrence``-th line containing ``marker``."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if marker in line]
    return hits[occurrence - 1]


def _refused(fleet_file: FleetFile, text: str) -> ConfigError:
    path = fleet_file(text)
    with pytest.raises(ConfigError) as caught:
        load_fleet(path)
    assert caught.value.fields["file"] == str(path)
    return caught.value


def test_default_fleet_has_three_sites_in_different_zones_and_silos() -> None:
    fleet = load_fleet(default_fleet_path())
    assert len(fleet.sites) == 3
    assert len({s.tz for s in fleet.sites}) == 3
    assert {s.silo for s in fleet.sites} == {Silo.OPCUA, Silo.MODBUS, Silo.SPARKPLUG}
    assert all(len(s.lines) == 2 and len(s.machines) == 10 for s in fleet.sites)
    assert {m.type for m in fleet.machines} == set(MachineType)


def test_unquoted_times_are_times_of_day_not_base_60_numbers(small_fleet_text: str) -> None:
    config, _ = parse_fleet(small_fleet_text.replace('"06:00"', "06:00"), "f.yaml")
    assert config.sites[0].shifts[0].start == time(6, 0)


def test_unknown_machine_type(fleet_file: FleetFile, small_fleet_text: str) -> None:
    text = small_fleet_text.replace("{type: welding_robot}", "{type: laser_cutter}")
    error = _refused(fleet_file, text)
    assert error.fields["field"] == "sites[0].areas[0].lines[0].machines[1].type"
    assert error.fields["line"] == _line_of(text, "laser_cutter")
    assert "laser_cutter" in error.message
    assert "welding_robot" in error.message


def test_duplicate_machine_path(fleet_file: FleetFile, small_fleet_text: str) -> None:
    text = small_fleet_text.replace("{type: press}", "{type: press, name: press-01}").replace(
        "{type: tightening_station}", "{type: tightening_station, name: press-01}"
    )
    error = _refused(fleet_file, text)
    assert "duplicate asset path 'acme/plant/shop/line-1/press-01'" in error.message
    assert error.fields["field"] == "sites[0].areas[0].lines[0].machines[2].name"
    assert error.fields["line"] == _line_of(text, "name: press-01", 2)


def test_duplicate_site(fleet_file: FleetFile, small_fleet_text: str) -> None:
    site = small_fleet_text[small_fleet_text.index("  - name: plant") :]
    text = small_fleet_text + site
    error = _refused(fleet_file, text)
    assert error.fields["field"] == "sites[1].name"
    assert error.fields["line"] == _line_of(text, "- name: plant", 2)


def test_invalid_time_zone(fleet_file: FleetFile, small_fleet_text: str) -> None:
    text = small_fleet_text.replace("Europe/Berlin", "Europe/Atlantis")
    error = _refused(fleet_file, text)
    assert error.fields["field"] == "sites[0].timezone"
    assert error.fields["line"] == _line_of(text, "Europe/Atlantis")


def test_overlapping_shifts(fleet_file: FleetFile, small_fleet_text: str) -> None:
    text = small_fleet_text.replace('start: "14:00"', 'start: "13:00"')
    error = _refused(fleet_file, text)
    assert "overlaps shift 'early'" in error.message
    assert error.fields["field"] == "sites[0].shifts[1].start"
    assert error.fields["line"] == _line_of(text, 'start: "13:00"')


def test_shifts_overlapping_across_the_week_wrap(
    fleet_file: FleetFile, small_fleet_text: str
) -> None:
    # Only Sunday's night shift (into Monday 06:00) and Monday's early shift from 05:00 clash.
    week = "days: [mon, tue, wed, thu, fri, sat, sun]"
    text = (
        small_fleet_text.replace(week, "days: [mon]", 1)
        .replace('start: "06:00"', 'start: "05:00"', 1)
        .replace(week, "days: [tue]", 1)
        .replace(week, "days: [sun]", 1)
    )
    error = _refused(fleet_file, text)
    assert "overlaps shift 'early' on mon" in error.message
    assert error.fields["field"] == "sites[0].shifts[2].start"


def test_break_outside_its_shift(fleet_file: FleetFile, small_fleet_text: str) -> None:
    text = small_fleet_text.replace(
        '{name: lunch, start: "10:00", end: "10:30"}', '{name: lunch, start: "14:30", end: "15:00"}'
    )
    error = _refused(fleet_file, text)
    assert "outside shift 'early'" in error.message
    assert error.fields["field"] == "sites[0].shifts[0].breaks[0].start"
    assert error.fields["line"] == _line_of(text, "name: lunch")


def test_break_running_past_its_shift_end(fleet_file: FleetFile, small_fleet_text: str) -> None:
    text = small_fleet_text.replace(
        '{name: lunch, start: "10:00", end: "10:30"}', '{name: lunch, start: "13:45", end: "14:15"}'
    )
    error = _refused(fleet_file, text)
    assert error.fields["field"] == "sites[0].shifts[0].breaks[0].end"


def test_shift_longer_than_a_day(fleet_file: FleetFile, small_fleet_text: str) -> None:
    text = small_fleet_text.replace('end: "22:00"', "duration: PT25H", 1)
    error = _refused(fleet_file, text)
    assert "at most 24 hours" in error.message
    assert error.fields["field"] == "sites[0].shifts[1].duration"
    assert error.fields["line"] == _line_of(text, "PT25H")


def test_misspelt_key(fleet_file: FleetFile, small_fleet_text: str) -> None:
    text = small_fleet_text.replace("    silo: opcua\n", "    silo: opcua\n    noyse: 2\n")
    error = _refused(fleet_file, text)
    assert error.message.startswith("unknown field 'noyse'")
    assert error.fields["field"] == "sites[0].noyse"
    assert error.fields["line"] == _line_of(text, "noyse")


def test_unknown_silo(fleet_file: FleetFile, small_fleet_text: str) -> None:
    text = small_fleet_text.replace("silo: opcua", "silo: profinet")
    error = _refused(fleet_file, text)
    assert error.fields["field"] == "sites[0].silo"
    assert error.fields["line"] == _line_of(text, "profinet")


def test_duplicate_key(fleet_file: FleetFile, small_fleet_text: str) -> None:
    text = small_fleet_text.replace("    silo: opcua\n", "    silo: opcua\n    silo: modbus\n")
    error = _refused(fleet_file, text)
    assert "appears twice" in error.message
    assert error.fields["line"] == _line_of(text, "silo: modbus")


def test_yaml_syntax_error(fleet_file: FleetFile, small_fleet_text: str) -> None:
    text = small_fleet_text.replace("buffer: 2", "buffer: [2")
    error = _refused(fleet_file, text)
    assert error.fields["line"] is not None
    assert "not valid YAML" in error.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_fleet(tmp_path / "nope.yaml")
    assert caught.value.fields["file"] == str(tmp_path / "nope.yaml")


def test_bad_slug(fleet_file: FleetFile, small_fleet_text: str) -> None:
    text = small_fleet_text.replace("name: shop", "name: Body Shop")
    error = _refused(fleet_file, text)
    assert error.fields["field"] == "sites[0].areas[0].name"
    assert error.fields["line"] == _line_of(text, "Body Shop")


def test_sample_period_must_divide_ten_minutes(
    fleet_file: FleetFile, small_fleet_text: str
) -> None:
    text = small_fleet_text.replace("seed: 7\n", "seed: 7\nsample_period: 7\n")
    error = _refused(fleet_file, text)
    assert error.fields["field"] == "sample_period"


def test_counts_expand_lines_and_machines(fleet_file: FleetFile, small_fleet_text: str) -> None:
    text = small_fleet_text.replace(
        "- name: line-1\n", "- name: line\n            count: 3\n"
    ).replace("{type: welding_robot}", "{type: welding_robot, count: 4}")
    fleet = load_fleet(fleet_file(text))
    lines = fleet.sites[0].lines
    assert [line.name for line in lines] == ["line-01", "line-02", "line-03"]
    assert [m.name for m in lines[0].machines] == [
        "press-01",
        "welding-robot-01",
        "welding-robot-02",
        "welding-robot-03",
        "welding-robot-04",
        "tightening-station-01",
    ]
    assert lines[0].machines[0].ideal_cycles["part-a"] <= timedelta(seconds=40)


def test_ideal_cycles_per_machine_type(fleet_file: FleetFile, small_fleet_text: str) -> None:
    text = small_fleet_text.replace(
        "{id: part-a, share: 0.6, cycle_time: 40}",
        "{id: part-a, share: 0.6, cycle_time: 40, cycle_times: {welding_robot: 33.5}}",
    )
    fleet = load_fleet(fleet_file(text))
    robot = next(m for m in fleet.machines if m.type is MachineType.WELDING_ROBOT)
    assert robot.ideal_cycles["part-a"] == timedelta(seconds=33.5)
    bad = text.replace("cycle_times: {welding_robot", "cycle_times: {laser")
    error = _refused(fleet_file, bad)
    assert error.fields["field"] == "sites[0].areas[0].lines[0].products[0].cycle_times.laser"
    assert error.fields["line"] == _line_of(bad, "cycle_times: {laser")
