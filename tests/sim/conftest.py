"""Small fleet files for the simulator tests: one site, one line, a few machines."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from werk.sim.fleet import Fleet, load_fleet

SMALL_FLEET = """\
enterprise: acme
seed: 7
sites:
  - name: plant
    timezone: Europe/Berlin
    silo: opcua
    shifts:
      - name: early
        start: "06:00"
        end: "14:00"
        days: [mon, tue, wed, thu, fri, sat, sun]
        breaks:
          - {name: lunch, start: "10:00", end: "10:30"}
      - name: late
        start: "14:00"
        end: "22:00"
        days: [mon, tue, wed, thu, fri, sat, sun]
      - name: night
        start: "22:00"
        end: "06:00"
        days: [mon, tue, wed, thu, fri, sat, sun]
    areas:
      - name: shop
        lines:
          - name: line-1
            buffer: 2
            products:
              - {id: part-a, share: 0.6, cycle_time: 40}
              - {id: part-b, share: 0.4, cycle_time: 50}
            machines:
              - {type: press}
              - {type: welding_robot}
              - {type: tightening_station}
"""
"""A 24/7 three-shift site with one three-machine line."""

FleetFile = Callable[[str], Path]


@pytest.fixture(scope="session")
def small_fleet_text() -> str:
    """The YAML text of the small fleet."""
    return SMALL_FLEET


@pytest.fixture
def fleet_file(tmp_path: Path) -> FleetFile:
    """Return a function writing YAML text to a fleet file in a temporary folder."""

    def write(text: str) -> Path:
        path = tmp_path / "fleet.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def small_fleet(fleet_file: FleetFile) -> Fleet:
    """The small fleet, seed 7."""
    return load_fleet(fleet_file(SMALL_FLEET))
