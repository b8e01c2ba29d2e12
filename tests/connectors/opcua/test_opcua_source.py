"""OPC UA connector against the simulator's asyncua server: types, events, restarts, discovery."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Callable

import pytest

from tests.connectors.conftest import gather_until, later, make_site, until
from werk.connectors.base import connector
from werk.connectors.opcua import OpcUaConfig, discover
from werk.connectors.opcua.config import OpcUaDiscover
from werk.samples import EventKind, Quality
from werk.sim.plantfile import plant_file
from werk.sim.servers.opcua import OpcUaSilo
from werk.sim.servers.static import StaticSite
from werk.sim.view import MachineState, Silo

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
async def served() -> AsyncIterator[tuple[StaticSite, OpcUaSilo]]:
    """One simulator server for the tests that only read (an asyncua server takes ~3 s to
    start); the tests that restart a server open their own."""
    site = make_site(Silo.OPCUA)
    async with OpcUaSilo(site, port=0) as silo:
        yield site, silo


def _config(site: StaticSite, endpoint: str, **extra: object) -> OpcUaConfig:
    source = plant_file(site, endpoint=endpoint, expand=True)["sources"]
    assert isinstance(source, list)
    data = {**source[0], "publishing_interval_ms": 100, "sampling_interval_ms": 50, **extra}
    cfg = connector("opcua").config.model_validate(data)
    assert isinstance(cfg, OpcUaConfig)
    return cfg


async def test_values_states_and_counts(served: tuple[StaticSite, OpcUaSilo]) -> None:
    site, silo = served
    press, robot = site.machines
    cfg = _config(site, silo.endpoint)
    assert {p.path for p in cfg.points()} == {press.path, robot.path}
    async with connector("opcua").open(cfg) as source:
        got = await gather_until(source, lambda g: g.latest(robot.path, "spindle_temp") is not None)
        assert source.health.connected
        temp = got.latest(press.path, "hydraulic_pressure")
        assert temp is not None
        assert temp.value == 182.25
        assert temp.quality is Quality.GOOD
        state = got.latest(robot.path, "state")
        assert state is not None
        assert state.value == 3.0  # failure
        assert {(e.path, e.code) for e in got.events if e.kind is EventKind.STATE} == {
            (press.path, "executing"),
            (robot.path, "failure"),
        }
        # The counter wraps 65534 → 2: four parts, one COUNT event.
        press.good_counter = 2
        press.state = MachineState.SETUP
        site.clock = site.clock.replace(minute=1)
        await silo.update()
        got = await gather_until(
            source,
            lambda g: (
                any(e.kind is EventKind.COUNT for e in g.events)
                and any(e.code == "setup" for e in g.events)
            ),
            got=got,
        )
        count = next(e for e in got.events if e.kind is EventKind.COUNT)
        assert count.good == 4
        assert count.path == press.path
        diag = source.diagnostics()
        assert diag["connected"] is True
        assert diag["password"] is None


async def test_deadband_per_point(served: tuple[StaticSite, OpcUaSilo]) -> None:
    site, silo = served
    press = site.machines[0]
    data = _config(site, silo.endpoint).model_dump(mode="json")
    for p in data["devices"][0]["points"]:
        if p["signal"] == "motor_current":
            p.update(deadband=5.0, sampling_interval_ms=20, queue_size=2)
    cfg = OpcUaConfig.model_validate(data)
    async with connector("opcua").open(cfg) as source:
        got = await gather_until(
            source, lambda g: g.latest(press.path, "motor_current") is not None
        )
        # +1 A is inside the 5 A deadband: the server reports the pressure change only.
        press.values["motor_current"] = 42.5
        press.values["hydraulic_pressure"] = 183.0
        later(site)
        await silo.update()
        got = await gather_until(
            source,
            lambda g: (
                (s := g.latest(press.path, "hydraulic_pressure")) is not None and s.value == 183.0
            ),
            got=got,
        )
        await asyncio.sleep(0.5)  # five publishing intervals: the small change stays unreported
        with contextlib.suppress(TimeoutError):
            await gather_until(source, lambda g: False, got=got, within_s=0.3)
        assert [s.value for s in got.samples if s.signal == "motor_current"] == [41.5]
        press.values["motor_current"] = 50.0  # 8.5 A past the last reported value
        later(site)
        await silo.update()
        await gather_until(
            source,
            lambda g: (s := g.latest(press.path, "motor_current")) is not None and s.value == 50.0,
            got=got,
        )
    press.values["motor_current"] = 41.5
    press.values["hydraulic_pressure"] = 182.25
    await silo.update()


async def test_read_once_marks_unknown_nodes_bad(served: tuple[StaticSite, OpcUaSilo]) -> None:
    site, silo = served
    press = site.machines[0]
    cfg = _config(site, silo.endpoint)
    data = cfg.model_dump(mode="json")
    data["devices"][0]["points"].append(
        {"path": press.path, "signal": "ghost", "node": "ns=2;s=no/such/node"}
    )
    source = connector("opcua").open(OpcUaConfig.model_validate(data))
    got = await source.read_once()
    rows = {(r["path"], r["signal"]): r for r in got.samples.to_pylist()}
    assert rows[(press.path, "energy")]["value"] == 123456.75
    ghost = rows[(press.path, "ghost")]
    assert ghost["quality"] == Quality.BAD
    assert math.isnan(ghost["value"])
    assert ghost["status"] == 0x80340000  # BadNodeIdUnknown


async def test_values_resume_after_server_restart(site_of: Callable[[Silo], StaticSite]) -> None:
    site = site_of(Silo.OPCUA)
    press = site.machines[0]
    first = OpcUaSilo(site, port=0)
    await first.__aenter__()
    port = first.port
    cfg = _config(site, first.endpoint)
    async with connector("opcua").open(cfg) as source:
        await gather_until(source, lambda g: g.latest(press.path, "energy") is not None)
        await first.__aexit__(None, None, None)
        press.values["energy"] = 999.0
        async with OpcUaSilo(site, port=port):
            got = await gather_until(
                source,
                lambda g: (s := g.latest(press.path, "energy")) is not None and s.value == 999.0,
                within_s=30,
            )
        assert source.health.reconnects >= 1
        assert got.latest(press.path, "energy") is not None


async def test_discover_browses_the_machines_folder(
    served: tuple[StaticSite, OpcUaSilo],
) -> None:
    site, silo = served
    press, robot = site.machines
    cfg = OpcUaConfig(
        name="d",
        endpoint=silo.endpoint,
        discover=OpcUaDiscover(folder=f"nsu=urn:werk:sim:{site.path.replace('/', ':')};s=Machines"),
    )
    devices = await discover(cfg)
    assert {d.path for d in devices} == {press.path, robot.path}
    robot_points = next(d for d in devices if d.path == robot.path).points
    assert {p.signal for p in robot_points} == {"weld_current", "spindle_temp"}
    assert next(p for p in robot_points if p.signal == "weld_current").unit == "kA"
    # The same folder as a source option: values of discovered points flow.
    discovered = cfg.model_copy(update={"publishing_interval_ms": 100})
    async with connector("opcua").open(discovered) as source:
        got = await gather_until(source, lambda g: g.latest(robot.path, "weld_current") is not None)
        sample = got.latest(robot.path, "weld_current")
        assert sample is not None
        assert sample.value == 7.5


async def test_sharded_over_worker_processes(served: tuple[StaticSite, OpcUaSilo]) -> None:
    site, silo = served
    press, robot = site.machines
    # Two worker processes, one session per 4 points: every point still arrives once.
    cfg = _config(site, silo.endpoint, workers=2, items_per_session=4)
    expected = {(p.path, p.signal) for p in cfg.points()}
    async with connector("opcua").open(cfg) as source:
        got = await gather_until(
            source,
            lambda g: {(s.path, s.signal) for s in g.samples} >= expected,
            within_s=60,
        )
        await until(lambda: source.health.connected, within_s=30)
        diag = source.diagnostics()
        assert diag["workers"] == 2
        assert diag["sessions_connected"] == 3  # 11 points in shares of 4
    energy = got.latest(press.path, "energy")
    assert energy is not None
    assert energy.value == 123456.75
    assert any(e.path == robot.path and e.code == "failure" for e in got.events)
