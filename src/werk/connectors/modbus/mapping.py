"""Decode Modbus registers into werk values: types, word order, bits, scaling, range. Pure.

A value that cannot be trusted (NaN or infinite floats, a value outside the point's
``low``/``high``) is returned with the :class:`~werk.connectors.derive.BadReason` that makes it
quality BAD; nothing here raises on device data.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from werk.connectors.derive import BadReason
from werk.connectors.modbus.config import ModbusPoint

_FORMATS = {
    "int16": ">h",
    "uint16": ">H",
    "int32": ">i",
    "uint32": ">I",
    "float32": ">f",
    "float64": ">d",
}


def decode(point: ModbusPoint, registers: Sequence[int]) -> tuple[float, BadReason | None]:
    """Return the value ``registers`` (exactly ``point.width`` of them) hold for ``point``."""
    regs = list(registers)
    if len(regs) != point.width or any(not 0 <= r <= 0xFFFF for r in regs):
        return math.nan, BadReason.UNDECODABLE
    if point.word_order == "little":
        regs.reverse()
    raw_bytes = struct.pack(f">{len(regs)}H", *regs)
    raw = struct.unpack(_FORMATS[point.type], raw_bytes)[0]
    if point.bit is not None:
        return float((regs[0] >> point.bit) & 1), None
    value = float(raw) * point.scale + point.offset
    if math.isnan(value):
        return value, BadReason.NOT_A_NUMBER
    if math.isinf(value):
        return math.nan, BadReason.OUT_OF_RANGE
    if (point.low is not None and value < point.low) or (
        point.high is not None and value > point.high
    ):
        return value, BadReason.OUT_OF_RANGE
    return value, None


def modulus(point: ModbusPoint) -> int:
    """Where a counter in this point wraps: 2**16 or 2**32 (before scaling)."""
    return 1 << (16 * point.width) if point.type.startswith("uint") else 1 << 16


@dataclass(frozen=True, slots=True)
class Block:
    """One read request: a function code, a start address, a count and the points inside."""

    function: int
    address: int
    count: int
    points: tuple[ModbusPoint, ...]


def plan(points: Sequence[ModbusPoint], max_registers: int = 125, max_gap: int = 8) -> list[Block]:
    """Group points into as few read requests as possible.

    Neighbours closer than ``max_gap`` registers share a request (reading a few unused
    registers is cheaper than another round trip); no request exceeds ``max_registers``.
    """
    blocks: list[Block] = []
    for function in (3, 4):
        todo = sorted((p for p in points if p.function == function), key=lambda p: p.address)
        start = end = -1
        members: list[ModbusPoint] = []
        for p in todo:
            p_end = p.address + p.width
            if members and p.address - end <= max_gap and max(end, p_end) - start <= max_registers:
                end = max(end, p_end)
                members.append(p)
                continue
            if members:
                blocks.append(Block(function, start, end - start, tuple(members)))
            start, end, members = p.address, p_end, [p]
        if members:
            blocks.append(Block(function, start, end - start, tuple(members)))
    return blocks
