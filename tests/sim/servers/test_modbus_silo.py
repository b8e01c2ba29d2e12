"""Modbus silo: an independent pymodbus client decodes exactly the view's values."""

from __future__ import annotations

import itertools
import socket
import struct
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymodbus.client import AsyncModbusTcpClient

from werk.errors import ConfigError
from werk.sim.servers import open_silo
from werk.sim.servers.modbus import ModbusSilo
from werk.sim.servers.registers import (
    FULL_SCALE,
    Encoding,
    Register,
    register_map,
    unit_ids,
)
from werk.sim.servers.static import StaticSite
from werk.sim.view import STATE_CODES, MachineState, SignalSpec, Silo

pytestmark = pytest.mark.anyio


def _float(regs: Sequence[int]) -> float:
    # Documented word order: big-endian words, high word first (ABCD). Decoded here with
    # struct, independently of the server's Register.decode.
    return float(struct.unpack(">f", struct.pack(">HH", *regs))[0])


def _f32(x: float) -> float:
    return float(struct.unpack(">f", struct.pack(">f", x))[0])


async def test_client_reads_the_register_map(make_site: Callable[[Silo], StaticSite]) -> None:
    site = make_site(Silo.MODBUS)
    press, robot = site.machines
    async with open_silo(site, port=0) as silo:
        assert isinstance(silo, ModbusSilo)
        assert silo.unit_ids == {press.path: 1, robot.path: 2}
        host, port = silo.endpoint.removeprefix("modbus+tcp://").split(":")
        client = AsyncModbusTcpClient(host, port=int(port))
        await client.connect()
        try:
            status = await client.read_holding_registers(0, count=5, device_id=1)
            assert not status.isError()
            assert status.registers == [STATE_CODES[MachineState.EXECUTING], 65534, 3, 0, 3]
            text = await client.read_holding_registers(10, count=32, device_id=1)
            raw = struct.pack(">32H", *text.registers)
            assert raw[:32].rstrip(b"\0") == b"door-left"
            assert raw[32:].rstrip(b"\0") == b"o-1001"
            floats = await client.read_holding_registers(100, count=6, device_id=1)
            assert _float(floats.registers[0:2]) == _f32(182.25)
            assert _float(floats.registers[2:4]) == _f32(41.5)
            assert _float(floats.registers[4:6]) == _f32(123456.75)
            scaled = await client.read_input_registers(300, count=3, device_id=1)  # FC 4 too
            assert scaled.registers[0] == round(182.25 / 250.0 * FULL_SCALE)
            assert scaled.registers[1] == round(41.5 / 80.0 * FULL_SCALE)

            robot_status = await client.read_holding_registers(0, count=3, device_id=2)
            assert robot_status.registers == [STATE_CODES[MachineState.FAILURE], 12, 0]
            reason = await client.read_holding_registers(42, count=16, device_id=2)
            assert struct.pack(">16H", *reason.registers).rstrip(b"\0") == b"wire_feed"
            temp = await client.read_holding_registers(302, count=1, device_id=2)  # signal 2
            raw_temp = struct.unpack(">h", struct.pack(">H", temp.registers[0]))[0]
            # -3.5 °C on a -20..120 °C range
            assert raw_temp == round((-3.5 + 20.0) / 140.0 * FULL_SCALE)

            # Values move on update(); counters wrap like the PLC's.
            press.good_counter = (press.good_counter + 5) & 0xFFFF
            press.values["motor_current"] = 77.25
            press.state = MachineState.BLOCKED
            await silo.update()
            status = await client.read_holding_registers(0, count=4, device_id=1)
            assert status.registers == [STATE_CODES[MachineState.BLOCKED], 3, 3, 1]
            floats = await client.read_holding_registers(102, count=2, device_id=1)
            assert _float(floats.registers) == 77.25

            # Writes are refused; unknown units answer like a gateway with no such device.
            write = await client.write_register(0, 7, device_id=1)
            assert write.isError()
            assert write.exception_code == 2
            missing = await client.read_holding_registers(0, count=1, device_id=9)
            assert missing.isError()
            assert missing.exception_code == 11
        finally:
            client.close()


async def test_port_in_use_is_a_config_error(make_site: Callable[[Silo], StaticSite]) -> None:
    site = make_site(Silo.MODBUS)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match=f"port {port} .*{site.path}"):
            async with open_silo(site, port=port):
                pass


def test_register_map_layout() -> None:
    specs = [SignalSpec("a", "bar", 0.0, 10.0), SignalSpec("b", "A", -5.0, 5.0)]
    regs = {(r.name, r.encoding): r for r in register_map(specs)}
    assert regs["state", Encoding.UINT16].address == 0
    assert regs["a", Encoding.FLOAT32].address == 100
    assert regs["b", Encoding.FLOAT32].address == 102
    assert regs["b", Encoding.INT16_SCALED].address == 301
    addresses = sorted((r.address, r.address + r.count) for r in regs.values())
    assert all(end <= nxt for (_, end), (nxt, _) in itertools.pairwise(addresses))
    with pytest.raises(ConfigError, match="at most 100 signals"):
        register_map([SignalSpec(f"s{i}", "", 0, 1) for i in range(101)])
    assert unit_ids(["x", "y"]) == {"x": 1, "y": 2}
    with pytest.raises(ConfigError, match="247"):
        unit_ids([str(i) for i in range(248)])


@given(st.floats(-1000, 1000), st.floats(1e-3, 1000), st.floats(0, 1))
def test_scaled_round_trip_within_resolution(low: float, span: float, frac: float) -> None:
    reg = Register(300, 1, "x", Encoding.INT16_SCALED, True, "", low, low + span)
    value = low + frac * span
    decoded = reg.decode(reg.encode(value))
    assert isinstance(decoded, float)
    assert abs(decoded - value) <= reg.resolution / 2 + 1e-9 * span


@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_float_round_trip_is_exact(value: float) -> None:
    reg = Register(100, 2, "x", Encoding.FLOAT32, True)
    assert reg.decode(reg.encode(value)) == value
