"""Define the Modbus register map of a simulated machine: pure, shared with the edge connector.

Each machine of a Modbus site is one *unit id* (slave id) on the site's Modbus TCP server,
numbered 1, 2, 3 ... in the site's path order (:func:`unit_ids`; at most 247 machines per site).
Its registers, at 0-based protocol (PDU) addresses — add 40001 for the Modicon "4x" numbering —
answer read holding registers (FC 3) and read input registers (FC 4) alike; writes are refused
with exception 2 (illegal data address), because the map is read-only:

=============  =====  ==============  =========================================================
address        count  encoding        content
=============  =====  ==============  =========================================================
0              1      uint16          state code (``werk.sim.view.STATE_CODES``)
1              1      uint16          good-part counter (wraps at 65536)
2              1      uint16          scrap counter (wraps at 65536)
3              1      uint16          heartbeat: +1 on every server update (wraps), a PLC life bit
4              1      uint16          number N of signals of this machine type
10–25          16     ascii           product id, 32 bytes
26–41          16     ascii           order id, 32 bytes
42–57          16     ascii           state reason code, 32 bytes
100 + 2·i      2      float32         signal i (order of ``MachineView.signal_specs``)
300 + i        1      int16 scaled    signal i, scaled to the SignalSpec range
=============  =====  ==============  =========================================================

Word and byte order:

* **float32**: IEEE 754 single precision, big-endian words, **high word first** (at the lower
  address), each word big-endian — byte order ``ABCD``, what ``struct.pack(">f", v)`` gives
  split into two registers. (Many PLCs swap words, ``CDAB``; this simulator does not.)
* **int16 scaled**: two's complement; ``raw = round((v - low) / (high - low) * 27648)``, clamped
  to -32768..32767, so ``low`` reads 0 and ``high`` reads 27648 — the Siemens S7 analog
  convention. Decode with ``v = low + raw * (high - low) / 27648``; resolution is
  ``(high - low) / 27648``.
* **ascii**: UTF-8 bytes, two per register, high byte first, padded with NUL; longer text is cut
  at 32 bytes.

A machine type has at most 100 signals (addresses 100–299 and 300–399). The signal specs of a
machine type are fixed, so :func:`register_map` of a type's specs is that type's register map.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from werk.errors import ConfigError
from werk.sim.view import SignalSpec

FULL_SCALE: Final = 27648
"""Raw value of a signal at the top of its range (Siemens S7 analog convention)."""
MAX_SIGNALS: Final = 100
MAX_UNITS: Final = 247
TEXT_REGISTERS: Final = 16
FLOAT_BASE: Final = 100
SCALED_BASE: Final = 300
MAP_SIZE: Final = SCALED_BASE + MAX_SIGNALS
"""Registers per unit (addresses 0..MAP_SIZE-1)."""


class Encoding(StrEnum):
    """How a value is laid out in registers."""

    UINT16 = "uint16"
    INT16_SCALED = "int16_scaled"
    FLOAT32 = "float32"
    ASCII = "ascii"


@dataclass(frozen=True, slots=True)
class Register:
    """One value in the map: where it is, how it is encoded and what it means.

    Attributes:
        address: First 0-based protocol address.
        count: Number of 16-bit registers.
        name: ``state``, ``good_counter``, ``scrap_counter``, ``heartbeat``, ``signal_count``,
            ``product``, ``order``, ``reason`` or a signal name.
        encoding: The layout (see the module docstring).
        signal: True for a signal (its name is a signal name).
        unit: Engineering unit of a signal.
        low: Bottom of a signal's range (scaling).
        high: Top of a signal's range (scaling).
    """

    address: int
    count: int
    name: str
    encoding: Encoding
    signal: bool = False
    unit: str = ""
    low: float = 0.0
    high: float = 0.0

    def encode(self, value: float | int | str | None) -> list[int]:
        """Return the registers that hold ``value``."""
        if self.encoding is Encoding.UINT16:
            return [int(value or 0) & 0xFFFF]
        if self.encoding is Encoding.FLOAT32:
            hi, lo = struct.unpack(">HH", struct.pack(">f", float(value or 0.0)))
            return [hi, lo]
        if self.encoding is Encoding.INT16_SCALED:
            span = self.high - self.low
            raw = round((float(value or 0.0) - self.low) / span * FULL_SCALE) if span else 0
            return [max(-32768, min(32767, raw)) & 0xFFFF]
        data = str(value or "").encode("utf-8")[: 2 * self.count].ljust(2 * self.count, b"\0")
        return list(struct.unpack(f">{self.count}H", data))

    def decode(self, registers: Sequence[int]) -> float | int | str:
        """Return the value held in ``registers`` (exactly ``count`` of them)."""
        if len(registers) != self.count:
            raise ValueError(f"{self.name} spans {self.count} registers, got {len(registers)}")
        if self.encoding is Encoding.UINT16:
            return registers[0]
        if self.encoding is Encoding.FLOAT32:
            return float(struct.unpack(">f", struct.pack(">HH", *registers))[0])
        if self.encoding is Encoding.INT16_SCALED:
            raw = registers[0] - 0x10000 if registers[0] & 0x8000 else registers[0]
            return self.low + raw * (self.high - self.low) / FULL_SCALE
        data = struct.pack(f">{self.count}H", *registers)
        return data.rstrip(b"\0").decode("utf-8", errors="replace")

    @property
    def resolution(self) -> float:
        """Smallest step the registers can express (0 for exact encodings)."""
        if self.encoding is Encoding.INT16_SCALED:
            return (self.high - self.low) / FULL_SCALE
        return 0.0


STATUS_REGISTERS: Final = (
    Register(0, 1, "state", Encoding.UINT16),
    Register(1, 1, "good_counter", Encoding.UINT16),
    Register(2, 1, "scrap_counter", Encoding.UINT16),
    Register(3, 1, "heartbeat", Encoding.UINT16),
    Register(4, 1, "signal_count", Encoding.UINT16),
    Register(10, TEXT_REGISTERS, "product", Encoding.ASCII),
    Register(26, TEXT_REGISTERS, "order", Encoding.ASCII),
    Register(42, TEXT_REGISTERS, "reason", Encoding.ASCII),
)
"""Registers every machine has, whatever its type."""


def register_map(signal_specs: Sequence[SignalSpec]) -> tuple[Register, ...]:
    """Return the register map of a machine type with these signals (see the module docstring).

    Raises:
        ConfigError: The type has more than :data:`MAX_SIGNALS` signals.
    """
    if len(signal_specs) > MAX_SIGNALS:
        raise ConfigError(
            f"a Modbus machine has at most {MAX_SIGNALS} signals, this type has "
            f"{len(signal_specs)}",
            key="sim.modbus_too_many_signals",
            field="signals",
        )
    floats = tuple(
        Register(FLOAT_BASE + 2 * i, 2, s.name, Encoding.FLOAT32, True, s.unit, s.low, s.high)
        for i, s in enumerate(signal_specs)
    )
    scaled = tuple(
        Register(SCALED_BASE + i, 1, s.name, Encoding.INT16_SCALED, True, s.unit, s.low, s.high)
        for i, s in enumerate(signal_specs)
    )
    return STATUS_REGISTERS + floats + scaled


def unit_ids(machine_paths: Sequence[str]) -> dict[str, int]:
    """Return the unit id of each machine: 1, 2, 3 ... in the given (site path) order.

    Raises:
        ConfigError: More than 247 machines (the Modbus unit id range 1–247).
    """
    if len(machine_paths) > MAX_UNITS:
        raise ConfigError(
            f"a Modbus site serves at most {MAX_UNITS} machines (unit ids 1–247), this one has "
            f"{len(machine_paths)}",
            key="sim.modbus_too_many_units",
            field="machines",
        )
    return {path: i + 1 for i, path in enumerate(machine_paths)}
