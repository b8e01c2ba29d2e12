"""Provide a hand-set site view: machines whose state and values are whatever you assign.

:class:`StaticSite` and :class:`StaticMachine` implement :class:`werk.sim.view.SiteView` and
:class:`~werk.sim.view.MachineView` without any simulation behind them. The silo server tests use
them to know exactly what a client must read, and :func:`synthetic_site` builds large ones for the
load measurement in ``bench/sim_servers.py``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from werk.samples import Event
from werk.sim.view import MachineState, SignalSpec, Silo


@dataclass(slots=True)
class StaticMachine:
    """A machine whose every field is set by hand (implements ``MachineView``)."""

    path: str
    machine_type: str
    vendor: str
    serial: str
    signal_specs: Sequence[SignalSpec]
    values: dict[str, float] = field(default_factory=dict)
    state: MachineState = MachineState.EXECUTING
    reason: str | None = None
    good_counter: int = 0
    scrap_counter: int = 0
    product: str | None = None
    order: str | None = None

    def __post_init__(self) -> None:
        for spec in self.signal_specs:
            self.values.setdefault(spec.name, spec.low)

    def signals(self) -> Mapping[str, float]:
        """Return the current value of every signal."""
        return self.values


@dataclass(slots=True)
class StaticSite:
    """A site whose machines, clock and events are set by hand (implements ``SiteView``)."""

    path: str
    silo: Silo
    machines: Sequence[StaticMachine]
    tz: str = "Europe/Berlin"
    clock: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 6, 0, tzinfo=UTC))
    events: list[Event] = field(default_factory=list)

    def now(self) -> datetime:
        """Return the simulated time."""
        return self.clock

    def advance(self, seconds: float = 1.0) -> None:
        """Move the clock forward."""
        self.clock += timedelta(seconds=seconds)

    def events_since(self, cursor: int) -> tuple[int, Sequence[Event]]:
        """Return the events after ``cursor`` and the new cursor."""
        return len(self.events), self.events[cursor:]

    def machine(self, path: str) -> StaticMachine:
        """Return the machine at ``path``."""
        for m in self.machines:
            if m.path == path:
                return m
        raise KeyError(path)


#: Signals of the synthetic machines: realistic names, units and ranges.
SYNTHETIC_SIGNALS: Sequence[SignalSpec] = (
    SignalSpec("spindle_load", "%", 0.0, 120.0),
    SignalSpec("spindle_temp", "°C", 10.0, 90.0),
    SignalSpec("vibration_rms", "mm/s", 0.0, 20.0),
    SignalSpec("motor_current", "A", 0.0, 80.0),
    SignalSpec("hydraulic_pressure", "bar", 0.0, 250.0),
    SignalSpec("weld_current", "kA", 0.0, 15.0),
    SignalSpec("weld_voltage", "V", 0.0, 50.0),
    SignalSpec("energy", "kWh", 0.0, 1.0e6),
)


def synthetic_site(
    path: str,
    silo: Silo,
    *,
    lines: int = 1,
    machines_per_line: int = 4,
    signals_per_machine: int = len(SYNTHETIC_SIGNALS),
) -> StaticSite:
    """Build a site of identical synthetic machines (for load measurements and demos).

    Signals beyond the eight named ones are numbered copies (``spindle_load_9``...).
    """
    specs = []
    for i in range(signals_per_machine):
        base = SYNTHETIC_SIGNALS[i % len(SYNTHETIC_SIGNALS)]
        name = base.name if i < len(SYNTHETIC_SIGNALS) else f"{base.name}_{i + 1}"
        specs.append(SignalSpec(name, base.unit, base.low, base.high))
    machines = [
        StaticMachine(
            path=f"{path}/body/line-{line + 1}/cell-{m + 1:03d}",
            machine_type="cnc_cell",
            vendor="Heller",
            serial=f"SN-{line + 1:02d}{m + 1:04d}",
            signal_specs=specs,
            product="p-100",
            order="o-1",
        )
        for line in range(lines)
        for m in range(machines_per_line)
    ]
    return StaticSite(path=path, silo=silo, machines=machines)


def jiggle(site: StaticSite, rng: random.Random, *, seconds: float = 1.0) -> None:
    """Advance the clock and move every signal a little (what a tick does to a real plant)."""
    site.advance(seconds)
    for machine in site.machines:
        values = machine.values
        for spec in machine.signal_specs:
            span = spec.high - spec.low
            v = values[spec.name] + rng.uniform(-0.01, 0.01) * span
            values[spec.name] = min(spec.high, max(spec.low, v))
        if rng.random() < 0.2:
            machine.good_counter = (machine.good_counter + 1) & 0xFFFF
