"""Describe a Modbus TCP source: the server, its devices (unit ids) and their register tables.

Addresses are 0-based protocol (PDU) addresses: holding register 40001 in Modicon numbering is
``function: 3, address: 0``. Multi-register values name their ``word_order``: ``big`` puts the
high word at the lower address (``ABCD``), ``little`` swaps the words (``CDAB``, common on PLCs);
bytes inside a register are always big-endian, as the Modbus spec says.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from werk.connectors.base import Point, SourceConfig

RegisterType = Literal["int16", "uint16", "int32", "uint32", "float32", "float64"]

WIDTH: Final[dict[str, int]] = {
    "int16": 1,
    "uint16": 1,
    "int32": 2,
    "uint32": 2,
    "float32": 2,
    "float64": 4,
}
"""Registers each type spans."""


class ModbusPoint(Point):
    """One value in a device's registers."""

    function: Literal[3, 4] = Field(
        default=3, description="3: read holding registers, 4: read input registers."
    )
    address: int = Field(ge=0, le=65535, description="0-based protocol address.")
    type: RegisterType = Field(default="uint16", description="Layout of the value.")
    word_order: Literal["big", "little"] = Field(
        default="big", description="big: high word first (ABCD); little: swapped (CDAB)."
    )
    bit: int | None = Field(
        default=None, ge=0, le=15, description="Take one bit of a 16-bit register (0 = LSB)."
    )
    scale: float = Field(default=1.0, description="value = raw × scale + offset.")
    offset: float = Field(default=0.0, description="value = raw × scale + offset.")
    low: float | None = Field(default=None, description="Values below are BAD (out of range).")
    high: float | None = Field(default=None, description="Values above are BAD (out of range).")

    @model_validator(mode="after")
    def _bit(self) -> ModbusPoint:
        if self.bit is not None and self.type not in ("int16", "uint16"):
            raise ValueError("bit needs a 16-bit register (type int16 or uint16)")
        if self.address + WIDTH[self.type] > 65536:
            raise ValueError(f"a {self.type} at {self.address} runs past address 65535")
        return self

    @property
    def width(self) -> int:
        """Registers this point spans."""
        return WIDTH[self.type]


class ModbusDevice(BaseModel):
    """One unit id on the server (a PLC behind a gateway, a meter...), polled on its own."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="Asset path; the default of every point's path.")
    unit_id: int = Field(default=1, ge=0, le=255, description="Modbus unit id (slave id).")
    poll_interval_s: float | None = Field(
        default=None, gt=0, description="Seconds between polls; the source's default."
    )
    max_requests_per_s: float | None = Field(
        default=None, gt=0, description="Rate limit of this device (slow PLCs, gateways)."
    )
    max_registers: int = Field(
        default=125, ge=1, le=125, description="Registers per request (the spec allows 125)."
    )
    points: list[ModbusPoint] = Field(default_factory=list, description="The register table.")

    @model_validator(mode="before")
    @classmethod
    def _path_default(cls, data: object) -> object:
        # A point's path defaults to its device's (before validation: locations stay exact).
        if isinstance(data, dict) and isinstance(data.get("points"), list):
            points = [
                {"path": data.get("path"), **p} if isinstance(p, dict) else p
                for p in data["points"]
            ]
            return {**data, "points": points}
        return data


class ModbusConfig(SourceConfig):
    """A Modbus TCP server (or gateway) and the devices behind it."""

    type: Literal["modbus"] = "modbus"
    host: str = Field(description="Server host name or address.")
    port: int = Field(default=502, ge=1, le=65535, description="TCP port.")
    timeout_s: float = Field(default=3.0, gt=0, description="Timeout of one request.")
    poll_interval_s: float = Field(default=1.0, gt=0, description="Default poll interval.")
    devices: list[ModbusDevice] = Field(default_factory=list, description="Devices polled.")

    def points(self) -> Sequence[ModbusPoint]:
        """Every point of every device."""
        return [p for d in self.devices for p in d.points]
