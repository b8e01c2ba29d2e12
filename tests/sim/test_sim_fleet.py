"""The fleet is deterministic from its seed, and large fleets come from a few lines of YAML."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from werk.assets.paths import validate_path, validate_signal
from werk.sim.fleet import default_fleet_path, load_fleet

FleetFile = Callable[[str], Path]


def test_same_seed_same_fleet_different_seed_different_fleet() -> None:
    one = load_fleet(default_fleet_path())
    again = load_fleet(default_fleet_path())
    other = load_fleet(default_fleet_path(), seed=99)
    assert one == again
    assert one != other
    assert [m.path for m in one.machines] == [m.path for m in other.machines]
    assert [m.serial for m in one.machines] != [m.serial for m in other.machines]


def test_paths_and_signals_are_valid_and_unique() -> None:
    fleet = load_fleet()
    paths = [m.path for m in fleet.machines]
    assert len(set(paths)) == len(paths)
    for machine in fleet.machines:
        validate_path(machine.path)
        assert machine.line == machine.path.rsplit("/", 1)[0]
        assert len(machine.bias) == len(machine.signal_specs)
        for spec in machine.signal_specs:
            validate_signal(spec.name)
            assert spec.low < spec.high
            assert spec.unit


def test_each_line_has_one_bottleneck_station() -> None:
    for line in load_fleet().sites[0].lines:
        product = line.products[0]
        full = [m for m in line.machines if m.ideal_cycles[product.id] == product.cycle_time]
        assert len(full) == 1


def test_a_large_fleet_from_counts(fleet_file: FleetFile, small_fleet_text: str) -> None:
    sites = small_fleet_text[small_fleet_text.index("  - name: plant") :]
    text = small_fleet_text[: small_fleet_text.index("  - name: plant")] + "".join(
        sites.replace("name: plant", f"name: plant-{i}") for i in range(3)
    )
    text = text.replace("- name: line-1\n", "- name: line\n            count: 20\n").replace(
        "{type: welding_robot}", "{type: welding_robot, count: 8}"
    )
    began = time.perf_counter()
    fleet = load_fleet(fleet_file(text))
    assert time.perf_counter() - began < 5
    assert len(fleet.sites) == 3
    assert all(len(site.lines) == 20 for site in fleet.sites)
    assert len(fleet.machines) == 3 * 20 * 10
    assert len({m.path for m in fleet.machines}) == 600
