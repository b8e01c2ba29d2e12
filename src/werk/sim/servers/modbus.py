"""Serve a simulated site as a Modbus TCP server (pymodbus), one unit id per machine.

The register map, word order, scaling and unit-id numbering are documented (and computed) in
:mod:`werk.sim.servers.registers`, which the Modbus edge connector's tests reuse. This module
keeps one register image per unit, rewrites it on every :meth:`ModbusSilo.update`, and answers
requests from it:

* read holding / input registers (FC 3 / FC 4) read the image;
* writes are refused with exception code 2 (illegal data address) — the map is read-only;
* an unknown unit id gets exception code 11 (gateway target device failed to respond), as a
  Modbus gateway in front of a line of PLCs answers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from types import TracebackType

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from werk.sim.servers.registers import MAP_SIZE, Register, register_map, unit_ids
from werk.sim.servers.silo import claim_port, port_in_use
from werk.sim.view import STATE_CODES, MachineView, SiteView

_log = logging.getLogger(__name__)


class _Unit:
    """The register image of one machine."""

    __slots__ = ("image", "machine", "registers", "signal_registers", "unit_id")

    def __init__(self, unit_id: int, machine: MachineView) -> None:
        self.unit_id = unit_id
        self.machine = machine
        self.registers = register_map(machine.signal_specs)
        self.signal_registers = [r for r in self.registers if r.signal]
        self.image = [0] * MAP_SIZE

    def refresh(self, heartbeat: int) -> None:
        m, image = self.machine, self.image
        values = m.signals()
        fixed: dict[str, float | int | str | None] = {
            "state": STATE_CODES[m.state],
            "good_counter": m.good_counter,
            "scrap_counter": m.scrap_counter,
            "heartbeat": heartbeat,
            "signal_count": len(m.signal_specs),
            "product": m.product,
            "order": m.order,
            "reason": m.reason,
        }
        for r in self.registers:
            value = values[r.name] if r.signal else fixed[r.name]
            image[r.address : r.address + r.count] = r.encode(value)

    async def serve(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        current_registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """Copy the image into pymodbus's register block before it answers a read."""
        if set_values is not None:
            return ExcCodes.ILLEGAL_ADDRESS  # read-only map
        offset = address - start_address
        current_registers[offset : offset + count] = self.image[address : address + count]
        return None


async def _no_such_unit(
    function_code: int,
    start_address: int,
    address: int,
    count: int,
    current_registers: list[int],
    set_values: list[int] | list[bool] | None,
) -> ExcCodes | None:
    return ExcCodes.GATEWAY_NO_RESPONSE


class ModbusSilo:
    """A Modbus TCP server exposing one site's machines (see the module docstring)."""

    def __init__(self, site: SiteView, *, host: str = "127.0.0.1", port: int) -> None:
        self.site = site
        self.host = host
        self.requested_port = port
        self.port = port
        self.endpoint = ""
        ids = unit_ids([m.path for m in site.machines])
        self.units = [_Unit(ids[m.path], m) for m in site.machines]
        self._heartbeat = 0
        self._server: ModbusTcpServer | None = None

    @property
    def unit_ids(self) -> dict[str, int]:
        """Unit id of each machine path."""
        return {u.machine.path: u.unit_id for u in self.units}

    def registers(self, machine_path: str) -> Sequence[Register]:
        """Return the register map of one machine."""
        for u in self.units:
            if u.machine.path == machine_path:
                return u.registers
        raise KeyError(machine_path)

    async def __aenter__(self) -> ModbusSilo:
        self.port = claim_port(self.site, self.host, self.requested_port)
        self.endpoint = f"modbus+tcp://{self.host}:{self.port}"
        for unit in self.units:
            unit.refresh(self._heartbeat)
        devices = [
            SimDevice(
                id=u.unit_id,
                simdata=[SimData(0, count=MAP_SIZE, datatype=DataType.REGISTERS, readonly=True)],
                action=u.serve,
            )
            for u in self.units
        ]
        # Unit id 0 stands for "every unit not listed" in pymodbus's simulator.
        devices.append(
            SimDevice(
                id=0,
                simdata=[SimData(0, count=MAP_SIZE, datatype=DataType.REGISTERS, readonly=True)],
                action=_no_such_unit,
            )
        )
        server = ModbusTcpServer(devices, address=(self.host, self.port))
        try:
            await server.serve_forever(background=True)
        except RuntimeError as exc:  # pymodbus reports a failed listen this way
            raise port_in_use(self.site, self.host, self.port) from exc
        self._server = server
        _log.info("Modbus silo of %s listening on %s", self.site.path, self.endpoint)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]  # untyped upstream
            self._server = None

    async def update(self) -> None:
        """Rewrite every unit's register image from the site's current values."""
        self._heartbeat = (self._heartbeat + 1) & 0xFFFF
        for unit in self.units:
            unit.refresh(self._heartbeat)
