"""Run a simulated fleet live, in real time or accelerated, behind the views the servers read.

:class:`Runtime` keeps one :class:`LiveSite` (a :class:`~werk.sim.view.SiteView`) per site, each
with a :class:`LiveMachine` (a :class:`~werk.sim.view.MachineView`) per machine. Every tick moves
simulated time on by one sample period (or more, when the process cannot keep up with the
speed), refreshes every view, and releases the events whose time has come.

Live mode runs the very same engine and signal generator as history mode, ten minutes ahead of
the views: started at the same instant with the same seed, a live view shows at ``t`` exactly
the state, counters and sample values that history mode writes for ``t``.

Usage::

    runtime = Runtime(load_fleet(), speed=60)
    async with open_silo(runtime.sites[0], ...) as server:
        await runtime.run(server.update)
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from werk.samples import Event, Quality, to_ns
from werk.sim.events import EventColumns, count_batches, ms_to_datetime
from werk.sim.fleet import Fleet, Site
from werk.sim.signals import NOISE_BLOCK_MS
from werk.sim.site import SiteSim, Unit
from werk.sim.view import MachineState, SignalSpec, Silo

_STATES = tuple(MachineState)
BLOCK_MS = NOISE_BLOCK_MS
"""The engine and signals run this far ahead of the views, computed a block at a time."""


class LiveMachine:
    """The live state of one simulated machine, as its controller would hold it."""

    __slots__ = (
        "_good",
        "_names",
        "_order",
        "_product",
        "_quality",
        "_reason",
        "_scrap",
        "_signals",
        "_state",
        "_unit",
        "_values",
    )

    def __init__(self, unit: Unit) -> None:
        self._unit = unit
        self._names = unit.generator.names
        self._state = MachineState.NO_SHIFT
        self._reason: str | None = None
        self._good, self._scrap = unit.machine.counter_start
        self._product: str | None = None
        self._order: str | None = None
        self._values: npt.NDArray[np.float64] = np.zeros(len(self._names))
        self._quality: npt.NDArray[np.uint8] = np.zeros(len(self._names), dtype=np.uint8)
        self._signals: dict[str, float] | None = None

    @property
    def path(self) -> str:
        """ISA-95 asset path of the machine."""
        return self._unit.machine.path

    @property
    def machine_type(self) -> str:
        """The machine type (``press``, ``welding_robot``...)."""
        return self._unit.machine.type.value

    @property
    def vendor(self) -> str:
        """Machine builder."""
        return self._unit.machine.vendor

    @property
    def serial(self) -> str:
        """Serial number."""
        return self._unit.machine.serial

    @property
    def signal_specs(self) -> Sequence[SignalSpec]:
        """The signals of this machine's type, in a fixed order."""
        return self._unit.machine.signal_specs

    def signals(self) -> Mapping[str, float]:
        """Current value of every signal."""
        if self._signals is None:
            self._signals = dict(zip(self._names, self._values.tolist(), strict=True))
        return self._signals

    def signal_quality(self) -> Mapping[str, Quality]:
        """Current quality of every signal (sensor glitches make some UNCERTAIN or BAD)."""
        return {n: Quality(q) for n, q in zip(self._names, self._quality.tolist(), strict=True)}

    @property
    def state(self) -> MachineState:
        """Current ISO 22400 state."""
        return self._state

    @property
    def reason(self) -> str | None:
        """Reason code of the current state, if any."""
        return self._reason

    @property
    def good_counter(self) -> int:
        """Good-part counter as the PLC keeps it: UInt16, wraps at 65536, reset on restart."""
        return self._good

    @property
    def scrap_counter(self) -> int:
        """Scrap counter as the PLC keeps it (UInt16, wraps)."""
        return self._scrap

    @property
    def product(self) -> str | None:
        """Product being made (or set up for)."""
        return self._product

    @property
    def order(self) -> str | None:
        """Production order being worked on."""
        return self._order

    def _update(
        self, now_ms: int, values: npt.NDArray[np.float64], quality: npt.NDArray[np.uint8]
    ) -> None:
        unit = self._unit
        code, reason, good, scrap, product, order = unit.journal.at(now_ms)
        self._state = _STATES[code]
        self._reason = reason
        self._good, self._scrap = good, scrap
        self._product = unit.line.products[product] if product >= 0 else None
        self._order = unit.line.order_id(order) if order >= 0 else None
        self._values = values
        self._quality = quality
        self._signals = None


class LiveSite:
    """A simulated site running live: its machines, its clock, its event stream.

    Events are kept in a bounded buffer (at least ``keep_events``, at most half as many again);
    a reader that falls further behind loses the oldest ones, counted in :attr:`dropped_events`.
    Events not yet due wait in a heap bounded by the simulation's look-ahead: ten minutes, and
    the hours until end-of-line inspection finds late scrap.
    """

    def __init__(self, site: Site, *, start_ms: int, period_ms: int, keep_events: int) -> None:
        self.site = site
        block_start = start_ms - start_ms % BLOCK_MS
        self._sim = SiteSim(site, start_ms=block_start, period_ms=period_ms)
        self._period = period_ms
        self._machines = tuple(LiveMachine(u) for u in self._sim.units)
        self._block_start = block_start
        self._block_end = block_start
        self._blocks: list[tuple[npt.NDArray[np.float64], npt.NDArray[np.uint8]]] = []
        self._pending: list[tuple[int, int, int, Event]] = []
        self._seq = 0
        self._events: list[Event] = []
        self._keep = keep_events
        self._first_kept = 0
        self._emitted = 0
        self.dropped_events = 0
        """Events dropped from the front of the buffer before a reader fetched them."""
        self._now_ms = block_start

    @property
    def path(self) -> str:
        """``enterprise/site``."""
        return self.site.path

    @property
    def tz(self) -> str:
        """IANA time zone of the site."""
        return self.site.tz

    @property
    def silo(self) -> Silo:
        """The system this site exposes its data through."""
        return self.site.silo

    @property
    def machines(self) -> Sequence[LiveMachine]:
        """Every machine of the site, in path order."""
        return self._machines

    def now(self) -> datetime:
        """Simulated time (aware, UTC)."""
        return ms_to_datetime(self._now_ms)

    def events_since(self, cursor: int) -> tuple[int, Sequence[Event]]:
        """Return the events after ``cursor`` and the new cursor (start with 0).

        The cursor counts events emitted since the start. Events older than the buffer holds are
        gone; the answer then starts with the oldest one kept.
        """
        start = max(cursor, self._first_kept)
        if start >= self._emitted:
            return self._emitted, ()
        return self._emitted, self._events[start - self._first_kept :]

    def _advance(self, now_ms: int) -> None:
        """Move the site's clock to ``now_ms`` and refresh its views."""
        sim = self._sim
        while now_ms >= self._block_end:
            a = self._block_end
            b = a + BLOCK_MS
            sim.advance(b)
            n = BLOCK_MS // self._period
            climate = sim.climate(a, n)
            columns = EventColumns()
            blocks = []
            for unit in sim.units:
                window = unit.journal.window(a, b)
                blocks.append(unit.generator.block(window, a, n, climate))
                model = unit.machine.model
                columns.add_window(
                    window,
                    path=unit.machine.path,
                    products=unit.line.products,
                    order_id=unit.line.order_id,
                    scrap_reason=model.scrap_reason,
                    late_reason=model.late_reason,
                    batches=count_batches(window.parts),
                    ongoing=a == self._block_start,
                )
            for emit, ts, event in columns.events():
                self._seq += 1
                heapq.heappush(self._pending, (emit, ts, self._seq, event))
            # Views look up their state in the journal at ``now``, so keep what is in force.
            sim.prune(a)
            self._blocks = blocks
            self._block_end = b
        pending = self._pending
        events = self._events
        while pending and pending[0][0] <= now_ms:
            events.append(heapq.heappop(pending)[3])
            self._emitted += 1
        if len(events) > self._keep + self._keep // 2:
            # Drop the oldest in one go (amortised), keeping ``keep`` events for readers.
            cut = len(events) - self._keep
            del events[:cut]
            self._first_kept += cut
            self.dropped_events += cut
        index = (now_ms - (self._block_end - BLOCK_MS)) // self._period
        for machine, (values, quality) in zip(self._machines, self._blocks, strict=True):
            machine._update(now_ms, values[:, index], quality[:, index])
        self._now_ms = now_ms


class Runtime:
    """The live simulation of a fleet.

    Args:
        fleet: The fleet.
        start: Simulated start (aware); now if omitted. Floored to the sample period.
        speed: Simulated seconds per real second in :meth:`run`.
        keep_events: Events each site keeps for readers (the buffer drops the oldest).
    """

    def __init__(
        self,
        fleet: Fleet,
        *,
        start: datetime | None = None,
        speed: float = 1.0,
        keep_events: int = 100_000,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.fleet = fleet
        self.speed = speed
        self.period_ms = fleet.sample_period // timedelta(milliseconds=1)
        start = datetime.now(UTC) if start is None else start
        start_ms = to_ns(start) // 1_000_000
        start_ms -= start_ms % self.period_ms
        self.sites = tuple(
            LiveSite(site, start_ms=start_ms, period_ms=self.period_ms, keep_events=keep_events)
            for site in fleet.sites
        )
        self._now_ms = start_ms
        for site in self.sites:
            site._advance(start_ms)

    def now(self) -> datetime:
        """Simulated time (aware, UTC)."""
        return ms_to_datetime(self._now_ms)

    def step(self, to: datetime | None = None) -> datetime:
        """Move simulated time to ``to`` (default: one sample period on) and refresh the views.

        ``to`` is floored to the sample period; time never goes back.
        """
        if to is None:
            target = self._now_ms + self.period_ms
        else:
            target = to_ns(to) // 1_000_000
            target -= target % self.period_ms
        if target > self._now_ms:
            for site in self.sites:
                site._advance(target)
            self._now_ms = target
        return self.now()

    async def run(
        self,
        on_tick: Callable[[], Awaitable[None]] | None = None,
        *,
        stop: asyncio.Event | None = None,
    ) -> None:
        """Tick in step with the wall clock at :attr:`speed` until ``stop`` is set.

        After every tick ``on_tick`` runs (the servers' ``update``). When a tick takes longer
        than its period, the next one jumps to where the clock is instead of queueing up.
        """
        loop = asyncio.get_running_loop()
        stop = stop or asyncio.Event()
        wall0 = loop.time()
        sim0 = self._now_ms
        period = self.period_ms
        while not stop.is_set():
            lag_ms = int((loop.time() - wall0) * self.speed * 1000)
            target = sim0 + lag_ms - lag_ms % period
            if target > self._now_ms:
                self.step(ms_to_datetime(target))
                if on_tick is not None:
                    await on_tick()
            due = wall0 + (self._now_ms + period - sim0) / 1000 / self.speed
            delay = max(0.0, due - loop.time())
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
            except TimeoutError:
                continue
