"""Fixtures for the silo server tests: a small hand-set site with a unique name per test."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from werk.sim.servers.static import StaticMachine, StaticSite
from werk.sim.view import MachineState, SignalSpec, Silo

PRESS_SIGNALS = (
    SignalSpec("hydraulic_pressure", "bar", 0.0, 250.0),
    SignalSpec("motor_current", "A", 0.0, 80.0),
    SignalSpec("energy", "kWh", 0.0, 1.0e6),
)
ROBOT_SIGNALS = (
    SignalSpec("weld_current", "kA", 0.0, 15.0),
    SignalSpec("weld_voltage", "V", 0.0, 50.0),
    SignalSpec("spindle_temp", "°C", -20.0, 120.0),
)


def _make_site(silo: Silo) -> StaticSite:
    """Build a two-line site with a press and a welding robot (unique slug per call)."""
    site = f"s{uuid.uuid4().hex[:10]}"
    base = f"acme/{site}/body"
    press = StaticMachine(
        path=f"{base}/line-1/press-01",
        machine_type="press",
        vendor="Schuler",
        serial="SCH-4711",
        signal_specs=PRESS_SIGNALS,
        values={"hydraulic_pressure": 182.25, "motor_current": 41.5, "energy": 123456.75},
        state=MachineState.EXECUTING,
        good_counter=65534,
        scrap_counter=3,
        product="door-left",
        order="o-1001",
    )
    robot = StaticMachine(
        path=f"{base}/line-2/robot-07",
        machine_type="welding_robot",
        vendor="KUKA",
        serial="KR-0815",
        signal_specs=ROBOT_SIGNALS,
        values={"weld_current": 11.2, "weld_voltage": 24.0, "spindle_temp": -3.5},
        state=MachineState.FAILURE,
        reason="wire_feed",
        good_counter=12,
        scrap_counter=0,
    )
    return StaticSite(path=f"acme/{site}", silo=silo, machines=[press, robot])


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio (the servers are asyncio-only)."""
    return "asyncio"


@pytest.fixture
def make_site() -> Callable[[Silo], StaticSite]:
    """Return the factory of small hand-set sites."""
    return _make_site
