"""Define what the simulator's protocol servers read from a running simulated plant.

The fleet model (``werk.sim.fleet``, ``werk.sim.machines``) implements these protocols; the silo
servers (OPC UA, Modbus TCP, Sparkplug B, MQTT JSON, MES files) only read them. That keeps each
server independent of how the plant is simulated, and each testable with a hand-made view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from werk.samples import Event


class MachineState(StrEnum):
    """ISO 22400 machine states the simulator produces (the code in state events)."""

    EXECUTING = "executing"
    SETUP = "setup"
    MICRO_STOP = "micro_stop"
    FAILURE = "failure"
    STARVED = "starved"
    BLOCKED = "blocked"
    NO_ORDER = "no_order"
    PLANNED_MAINTENANCE = "planned_maintenance"
    BREAK = "break"
    NO_SHIFT = "no_shift"


#: Numeric code of each state, as PLC status registers and Sparkplug metrics carry it.
STATE_CODES: Mapping[MachineState, int] = {s: i for i, s in enumerate(MachineState)}


class Silo(StrEnum):
    """The kind of system a simulated site exposes its data through."""

    OPCUA = "opcua"
    MODBUS = "modbus"
    SPARKPLUG = "sparkplug"
    MQTT_JSON = "mqtt_json"
    MES_FILES = "mes_files"


@dataclass(frozen=True, slots=True)
class SignalSpec:
    """A signal a machine type has: name, unit and physical range (used for register scaling)."""

    name: str
    unit: str
    low: float
    high: float


class MachineView(Protocol):
    """The live state of one simulated machine, as its controller would hold it."""

    @property
    def path(self) -> str:
        """ISA-95 asset path of the machine."""
        ...

    @property
    def machine_type(self) -> str:
        """``press``, ``welding_robot``, ``cnc_cell``, ``paint_booth``, ``assembly_station``,
        ``tightening_station``."""
        ...

    @property
    def vendor(self) -> str:
        """Machine builder."""
        ...

    @property
    def serial(self) -> str:
        """Serial number."""
        ...

    @property
    def signal_specs(self) -> Sequence[SignalSpec]:
        """The signals of this machine's type, in a fixed order."""
        ...

    def signals(self) -> Mapping[str, float]:
        """Current value of every signal."""
        ...

    @property
    def state(self) -> MachineState:
        """Current state."""
        ...

    @property
    def reason(self) -> str | None:
        """Reason code of the current state (failure reason...), if any."""
        ...

    @property
    def good_counter(self) -> int:
        """Good-part counter as the PLC keeps it: UInt16, wraps at 65536, reset on restart."""
        ...

    @property
    def scrap_counter(self) -> int:
        """Scrap counter as the PLC keeps it (UInt16, wraps)."""
        ...

    @property
    def product(self) -> str | None:
        """Product being made."""
        ...

    @property
    def order(self) -> str | None:
        """Production order being worked on."""
        ...


class SiteView(Protocol):
    """A simulated site: its machines and the silo it exposes them through."""

    @property
    def path(self) -> str:
        """``enterprise/site``."""
        ...

    @property
    def tz(self) -> str:
        """IANA time zone of the site."""
        ...

    @property
    def silo(self) -> Silo:
        """The system this site exposes its data through."""
        ...

    @property
    def machines(self) -> Sequence[MachineView]:
        """Every machine of the site, in path order."""
        ...

    def now(self) -> datetime:
        """Simulated time (aware, UTC)."""
        ...

    def events_since(self, cursor: int) -> tuple[int, Sequence[Event]]:
        """Return the events after ``cursor`` and the new cursor (start with 0).

        Events are state changes, part counts, order and product changes, and scrap found at
        end-of-line inspection hours after the parts were made (a count event with ``scrap`` set
        and ``ts`` of production). The MES file drop writes these; other silos read snapshots.
        """
        ...
