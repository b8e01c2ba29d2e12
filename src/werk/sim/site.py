"""Simulate one site: the engines of its lines and the signal generator of each machine.

:class:`SiteSim` is what history mode and the live runtime share. Both advance it, cut windows
of each machine's journal, turn them into samples (:mod:`werk.sim.signals`), events
(:mod:`werk.sim.events`) and truth (:mod:`werk.sim.truth`), then prune what they consumed.

The engines start one day (:data:`WARMUP`) before the requested start with empty lines, so at the
start the lines are already full, machines are mid-order and wear is spread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from werk.sim.fleet import Machine, Site
from werk.sim.journal import MachineJournal
from werk.sim.line import LineSim
from werk.sim.signals import Climate, SignalGenerator, climate

WARMUP = timedelta(days=1)
"""Simulated time run and thrown away before the start."""


@dataclass(frozen=True, slots=True)
class Unit:
    """One machine of a simulated site with everything that simulates it."""

    machine: Machine
    line: LineSim
    journal: MachineJournal
    generator: SignalGenerator


class SiteSim:
    """The simulation of one site from ``start_ms`` on.

    Args:
        site: The site.
        start_ms: Start of the simulated span (ms since the epoch, a whole ten minutes).
        period_ms: Sample period.
    """

    def __init__(self, site: Site, *, start_ms: int, period_ms: int) -> None:
        if start_ms % 600_000:
            raise ValueError("the simulated span starts on a whole ten minutes")
        self.site = site
        self.start_ms = start_ms
        self.period_ms = period_ms
        origin = start_ms - WARMUP // timedelta(milliseconds=1)
        self.lines = [
            LineSim(
                line,
                site.calendar,
                origin_ms=origin,
                scrap_sensitivity=site.scrap_sensitivity,
            )
            for line in site.lines
        ]
        units = []
        for line, sim in zip(site.lines, self.lines, strict=True):
            for machine, journal in zip(line.machines, sim.journals, strict=True):
                units.append(Unit(machine, sim, journal, SignalGenerator(machine, line, period_ms)))
        self.units = sorted(units, key=_unit_path)
        self.advance(start_ms)
        self.prune(start_ms)

    def advance(self, until_ms: int) -> None:
        """Simulate every line up to ``until_ms``."""
        for line in self.lines:
            line.advance(until_ms)

    def prune(self, before_ms: int) -> None:
        """Forget journal entries and orders that ended before ``before_ms``.

        Orders released earlier stay while a machine still works on them.
        """
        for unit in self.units:
            unit.journal.prune(before_ms)
        for line in self.lines:
            orders = [j.job_at(before_ms)[1] for j in line.journals]
            oldest = min((o for o in orders if o >= 0), default=line.orders.number + 1)
            line.orders.records = [
                r for r in line.orders.records if r.released_ms >= before_ms or r.number >= oldest
            ]

    def climate(self, start_ms: int, n: int) -> Climate:
        """Return the hall climate for ``n`` samples from ``start_ms``."""
        return climate(self.site, start_ms, n, self.period_ms)


def _unit_path(unit: Unit) -> str:
    return unit.machine.path
