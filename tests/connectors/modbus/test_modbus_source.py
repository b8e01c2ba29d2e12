"""Modbus connector against the simulator's pymodbus server, and the register decoding table."""

from __future__ import annotations

import math
import struct
from collections.abc import Callable

import pytest

from tests.connectors.conftest import gather_until, later, until
from werk.connectors.base import connector
from werk.connectors.derive import BadReason
from werk.connectors.modbus import ModbusConfig, ModbusPoint
from werk.connectors.modbus.mapping import decode, plan
from werk.samples import EventKind, Quality
from werk.sim.plantfile import plant_file
from werk.sim.servers import open_silo
from werk.sim.servers.registers import FULL_SCALE, SCALED_BASE
from werk.sim.servers.static import StaticSite
from werk.sim.view import MachineState, Silo

pytestmark = pytest.mark.anyio
M = "acme/wob/body/line-1/press-01"


def _p(**kw: object) -> ModbusPoint:
    return ModbusPoint.model_validate({"path": M, "signal": "x", "address": 0, **kw})


def _words(fmt: str, value: float) -> list[int]:
    data = struct.pack(fmt, value)
    return list(struct.unpack(f">{len(data) // 2}H", data))


@pytest.mark.parametrize(
    ("kw", "regs", "expected"),
    [
        ({"type": "uint16"}, [65535], 65535.0),
        ({"type": "int16"}, [65535], -1.0),
        ({"type": "int32"}, _words(">i", -70000), -70000.0),
        ({"type": "uint32"}, _words(">I", 4_000_000_000), 4e9),
        ({"type": "uint32", "word_order": "little"}, _words(">I", 70000)[::-1], 70000.0),
        ({"type": "float32"}, _words(">f", 1.5), 1.5),
        ({"type": "float32", "word_order": "little"}, _words(">f", -2.25)[::-1], -2.25),
        ({"type": "float64"}, _words(">d", 1e100), 1e100),
        ({"type": "uint16", "bit": 3}, [0b1000], 1.0),
        ({"type": "uint16", "bit": 2}, [0b1000], 0.0),
        ({"type": "int16", "scale": 0.1, "offset": -40}, [500], 10.0),
    ],
)
def test_decode_every_type(kw: dict[str, object], regs: list[int], expected: float) -> None:
    value, bad = decode(_p(**kw), regs)
    assert bad is None
    assert value == pytest.approx(expected)


def test_garbage_registers_are_bad_with_a_reason() -> None:
    assert decode(_p(type="float32"), _words(">f", math.nan))[1] is BadReason.NOT_A_NUMBER
    assert decode(_p(type="float32"), _words(">f", math.inf))[1] is BadReason.OUT_OF_RANGE
    assert decode(_p(type="uint16", high=100), [101])[1] is BadReason.OUT_OF_RANGE
    assert decode(_p(type="float32"), [1])[1] is BadReason.UNDECODABLE


def test_plan_merges_neighbours_and_respects_limits() -> None:
    points = [_p(address=a, signal=f"s{a}") for a in (0, 1, 2, 30)] + [
        _p(address=100, type="float32", signal="f"),
        _p(address=0, function=4, signal="i"),
    ]
    blocks = plan(points, max_registers=10)
    assert [(b.function, b.address, b.count) for b in blocks] == [
        (3, 0, 3),
        (3, 30, 1),
        (3, 100, 2),
        (4, 0, 1),
    ]


def _config(site: StaticSite, endpoint: str) -> ModbusConfig:
    sources = plant_file(site, endpoint=endpoint, expand=True)["sources"]
    assert isinstance(sources, list)
    data = dict(sources[0])
    devices = [dict(d) for d in data["devices"]]
    press = devices[0]
    # Besides the plant file's points: the S7-scaled int16 copy of a signal, with its range.
    press["points"] = [
        *press["points"],
        {
            "signal": "pressure_scaled",
            "address": SCALED_BASE,
            "type": "int16",
            "scale": 250.0 / FULL_SCALE,
            "low": 0.0,
            "high": 250.0,
        },
        {"signal": "heartbeat_bit0", "address": 3, "type": "uint16", "bit": 0},
    ]
    # A unit id nobody answers for: the gateway's exception 11 makes its points BAD.
    ghost = {
        "path": f"{site.path}/body/line-1/ghost",
        "unit_id": 99,
        "points": [{"signal": "state", "address": 0}],
    }
    data["devices"] = [*devices, ghost]
    data["poll_interval_s"] = 0.1
    cfg = connector("modbus").config.model_validate(data)
    assert isinstance(cfg, ModbusConfig)
    return cfg


async def test_polls_values_counts_and_bad_values(site_of: Callable[[Silo], StaticSite]) -> None:
    site = site_of(Silo.MODBUS)
    press, robot = site.machines
    async with open_silo(site, port=0) as silo:
        cfg = _config(site, silo.endpoint)
        async with connector("modbus").open(cfg) as source:
            ghost_path = f"{site.path}/body/line-1/ghost"
            got = await gather_until(
                source,
                lambda g: all(
                    g.latest(path, signal) is not None
                    for path, signal in (
                        (robot.path, "weld_current"),
                        (press.path, "pressure_scaled"),
                        (ghost_path, "state"),
                    )
                ),
            )
            pressure = got.latest(press.path, "hydraulic_pressure")
            assert pressure is not None
            assert pressure.value == 182.25
            scaled = got.latest(press.path, "pressure_scaled")
            assert scaled is not None
            assert scaled.value == pytest.approx(182.25, abs=250 / FULL_SCALE)
            assert got.latest(robot.path, "state").value == 3.0  # type: ignore[union-attr]
            ghost = got.latest(ghost_path, "state")
            assert ghost is not None
            assert ghost.quality is Quality.BAD
            assert ghost.status == 11
            # The press's good counter wraps 65534 → 1 (3 parts); a float leaves its range.
            press.good_counter = 1
            press.values["motor_current"] = 1e6
            press.state = MachineState.BLOCKED
            later(site)
            await silo.update()
            got = await gather_until(
                source, lambda g: any(e.kind is EventKind.COUNT for e in g.events), got=got
            )
            count = next(e for e in got.events if e.kind is EventKind.COUNT)
            assert count.good == 3
            current = got.latest(press.path, "motor_current")
            assert current is not None
            assert current.quality is Quality.BAD
            assert current.status == BadReason.OUT_OF_RANGE.status
            assert any(e.code == "blocked" for e in got.events)
            diag = source.diagnostics()
            assert "out of range" in str(diag["bad_reasons"])
            assert diag["exception_responses"]


async def test_server_down_at_start_then_up(site_of: Callable[[Silo], StaticSite]) -> None:
    site = site_of(Silo.MODBUS)
    press = site.machines[0]
    from werk.sim.servers.modbus import ModbusSilo

    probe = ModbusSilo(site, port=0)
    await probe.__aenter__()
    port = probe.port
    endpoint = probe.endpoint
    await probe.__aexit__(None, None, None)
    cfg = _config(site, endpoint)
    async with connector("modbus").open(cfg) as source:
        with pytest.raises(TimeoutError):
            await gather_until(source, lambda g: bool(g.samples), within_s=0.5)
        assert not source.health.connected
        async with ModbusSilo(site, port=port):
            got = await gather_until(source, lambda g: g.latest(press.path, "energy") is not None)
        assert got.latest(press.path, "energy").value == 123456.75  # type: ignore[union-attr]


async def test_server_restart_is_a_loss_then_a_recovery(
    site_of: Callable[[Silo], StaticSite],
) -> None:
    from werk.sim.servers.modbus import ModbusSilo

    site = site_of(Silo.MODBUS)
    press = site.machines[0]
    first = ModbusSilo(site, port=0)
    await first.__aenter__()
    port = first.port
    cfg = _config(site, first.endpoint)
    async with connector("modbus").open(cfg) as source:
        await gather_until(source, lambda g: g.latest(press.path, "energy") is not None)
        await first.__aexit__(None, None, None)
        await until(lambda: not source.health.connected)
        assert source.health.last_error
        press.values["energy"] = 7.0
        async with ModbusSilo(site, port=port):
            await gather_until(
                source,
                lambda g: (s := g.latest(press.path, "energy")) is not None and s.value == 7.0,
            )
        assert source.health.reconnects == 1
