"""Shared fixtures of the connector tests: a small hand-set site behind each silo server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest

from tests.connectors.broker import private_broker
from werk.connectors.base import Readings, Source
from werk.samples import Event, Sample, batch_to_events, batch_to_samples
from werk.sim.servers.static import StaticMachine, StaticSite
from werk.sim.view import MachineState, SignalSpec, Silo

__all__ = ["private_broker"]  # the fixture, for every connector test

PRESS_SIGNALS = (
    SignalSpec("hydraulic_pressure", "bar", 0.0, 250.0),
    SignalSpec("motor_current", "A", 0.0, 80.0),
    SignalSpec("energy", "kWh", 0.0, 1.0e6),
)
ROBOT_SIGNALS = (
    SignalSpec("weld_current", "kA", 0.0, 15.0),
    SignalSpec("spindle_temp", "°C", -20.0, 120.0),
)


def make_site(silo: Silo) -> StaticSite:
    """Build a one-line site with a press and a welding robot (unique slug per call)."""
    base = f"acme/c{uuid.uuid4().hex[:10]}/body/line-1"
    press = StaticMachine(
        path=f"{base}/press-01",
        machine_type="press",
        vendor="Schuler",
        serial="SCH-4711",
        signal_specs=PRESS_SIGNALS,
        values={"hydraulic_pressure": 182.25, "motor_current": 41.5, "energy": 123456.75},
        state=MachineState.EXECUTING,
        good_counter=65534,
        scrap_counter=3,
    )
    robot = StaticMachine(
        path=f"{base}/robot-01",
        machine_type="welding_robot",
        vendor="KUKA",
        serial="KR-1",
        signal_specs=ROBOT_SIGNALS,
        values={"weld_current": 7.5, "spindle_temp": 36.6},
        state=MachineState.FAILURE,
        good_counter=10,
        scrap_counter=0,
    )
    return StaticSite(
        path="/".join(base.split("/")[:2]),
        silo=silo,
        machines=[press, robot],
        clock=datetime(2026, 3, 2, 6, 0, tzinfo=UTC),
    )


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Run async tests on asyncio, one loop per module (module-scoped servers share it)."""
    return "asyncio"


@pytest.fixture
def site_of() -> Callable[[Silo], StaticSite]:
    """Return a function building a fresh two-machine site behind a silo."""
    return make_site


class Gathered:
    """Everything a source yielded, as samples and events."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.events: list[Event] = []

    def add(self, r: Readings) -> None:
        self.samples += batch_to_samples(r.samples)
        self.events += batch_to_events(r.events)

    def latest(self, path: str, signal: str) -> Sample | None:
        found = [s for s in self.samples if s.path == path and s.signal == signal]
        return found[-1] if found else None


async def gather_until(
    source: Source,
    done: Callable[[Gathered], bool],
    *,
    within_s: float = 20.0,
    got: Gathered | None = None,
) -> Gathered:
    """Collect a source's readings until ``done`` says so (or fail after ``within_s``)."""
    got = got or Gathered()
    stream: AsyncIterator[Readings] = source.readings()
    async with asyncio.timeout(within_s):
        while not done(got):
            got.add(await anext(stream))
    return got


def later(site: StaticSite, seconds: float = 1.0) -> None:
    """Advance the static site's clock."""
    site.clock += timedelta(seconds=seconds)


async def connected(source: Source, within_s: float = 10.0) -> None:
    """Wait until the source reports its connection up (subscriptions made)."""
    async with asyncio.timeout(within_s):
        while not source.health.connected:  # noqa: ASYNC110 - health is a plain flag, no event
            await asyncio.sleep(0.02)


async def until(condition: Callable[[], bool], within_s: float = 10.0) -> None:
    """Wait until ``condition()`` holds (a counter of a server or source moved)."""
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110 - polling plain counters, there is no event
            await asyncio.sleep(0.02)
