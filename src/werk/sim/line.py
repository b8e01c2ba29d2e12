"""Simulate one production line event by event: machines chained by small buffers.

The first machine takes parts from the line's production orders; every other machine takes them
from the buffer in front of it and puts good parts into the buffer behind it. So a stopped machine
*starves* the machines after it once their buffers run empty, and *blocks* the machines before it
once their buffers are full. Starved and blocked states carry the root cause as their reason: the
path of the machine that is really stopped (ISO 22400 wants the victim not blamed, standards §3.5).

Each machine runs a small state machine (idle, waiting for input, setup, running a cycle, down,
waiting for output). What a machine *shows* (the ISO 22400 state in events and truth) follows from
it, but the site calendar takes precedence: outside shifts, in breaks and in planned maintenance
the machine shows that calendar state, cycles and setups pause, while repairs go on in wall time.

Failures, micro-stops, wear-out and process drift run on *executing* time: a machine that does
not run does not wear. Wear rises until a randomly drawn threshold and then causes a wear-out
failure (predictable from vibration and temperature); random failures are not predictable;
drift episodes move process values and raise the scrap and latent-defect rates until the next
setup, repair of a wear failure, or planned maintenance re-calibrates the process.

The engine is deterministic: for the same line, calendar, origin and seed it produces the same
journal however :meth:`LineSim.advance` is chunked.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from dataclasses import dataclass
from datetime import timedelta

from werk.sim.calendar import Segment, SiteCalendar
from werk.sim.catalog import TypeModel
from werk.sim.fleet import Line, Machine
from werk.sim.journal import DRIFT_CAP, Failure, JournalEvent, MachineJournal
from werk.sim.view import STATE_CODES, MachineState

# What a station is doing (its own activity, not what it shows).
_IDLE, _WAIT_IN, _SETUP, _RUN, _DOWN, _WAIT_OUT = range(6)

EXECUTING = STATE_CODES[MachineState.EXECUTING]
SETUP = STATE_CODES[MachineState.SETUP]
MICRO_STOP = STATE_CODES[MachineState.MICRO_STOP]
FAILURE = STATE_CODES[MachineState.FAILURE]
STARVED = STATE_CODES[MachineState.STARVED]
BLOCKED = STATE_CODES[MachineState.BLOCKED]
NO_ORDER = STATE_CODES[MachineState.NO_ORDER]

_NEVER = 1 << 62
_MS = timedelta(milliseconds=1)
_CALENDAR_CHUNK = 7 * 86_400_000
_COUNTER = 0xFFFF
_INSPECTION_DELAY = (2 * 3_600_000, 8 * 3_600_000)


def _ms(value: timedelta) -> int:
    return value // _MS


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """A production order released to a line."""

    number: int
    id: str
    product: int
    quantity: int
    released_ms: int


class _Station:
    """The engine's mutable state of one machine."""

    __slots__ = (
        "act",
        "ctr_good",
        "ctr_scrap",
        "disp_code",
        "disp_reason",
        "down_cause",
        "down_code",
        "down_reason",
        "down_restart",
        "drift0",
        "drift_rate",
        "exec",
        "held",
        "ideal",
        "index",
        "journal",
        "machine",
        "model",
        "next_drift",
        "next_fail",
        "next_micro",
        "order",
        "part",
        "path",
        "product",
        "remaining",
        "rng",
        "seg_exec",
        "since",
        "token",
        "wear0",
        "wear_limit",
        "wear_rate",
        "wear_threshold",
    )

    def __init__(self, machine: Machine, index: int, products: list[str]) -> None:
        self.machine = machine
        self.model: TypeModel = machine.model
        self.path = machine.path
        self.index = index
        self.journal = MachineJournal(machine.path)
        self.rng = random.Random(machine.seed)
        self.ideal = [_ms(machine.ideal_cycles[p]) for p in products]
        self.act = _IDLE
        self.part: tuple[int, int] | None = None
        self.held: tuple[int, int] | None = None
        self.remaining = 0
        self.since = -1
        self.token = 0
        self.product = -1
        self.order = -1
        self.down_code = FAILURE
        self.down_reason: str | None = None
        self.down_cause = ""
        self.down_restart = False
        self.disp_code = -1
        self.disp_reason: str | None = None
        self.exec = 0
        self.ctr_good, self.ctr_scrap = machine.counter_start
        rng = self.rng
        model = self.model
        self.next_fail = self.draw(model.mtbf / machine.reliability)
        self.next_micro = self.draw(model.micro_mtb / machine.reliability)
        self.wear_rate = 1.0 / (_ms(model.wear_life) / machine.reliability)
        self.wear_threshold = rng.uniform(0.85, 1.15)
        self.wear0 = rng.uniform(0.0, 0.7)
        self.drift0 = 0.0
        self.drift_rate = 0.0
        self.seg_exec = 0
        self.wear_limit = self._wear_limit()
        self.next_drift = self.draw(model.drift_mtb)

    def draw(self, mean: timedelta) -> int:
        """Return the executing time of the next event of a Poisson process with this mean."""
        return self.exec + max(1, round(self.rng.expovariate(1.0 / _ms(mean))))

    def _wear_limit(self) -> int:
        return self.seg_exec + max(1, round((self.wear_threshold - self.wear0) / self.wear_rate))

    def exec_at(self, now: int) -> int:
        """Return the accumulated executing time at ``now``, counting a cycle in progress."""
        return self.exec + (now - self.since if self.act == _RUN and self.since >= 0 else 0)

    def wear(self) -> float:
        return self.wear0 + self.wear_rate * (self.exec - self.seg_exec)

    def drift(self) -> float:
        value = self.drift0 + self.drift_rate * (self.exec - self.seg_exec)
        return min(DRIFT_CAP, max(-DRIFT_CAP, value))

    def new_conditions(self, now: int, wear0: float, drift0: float, drift_rate: float) -> None:
        """Start a new wear/drift segment at ``now`` (``exec`` must be up to date)."""
        self.seg_exec = self.exec
        self.wear0 = wear0
        self.drift0 = drift0
        self.drift_rate = drift_rate
        self.wear_limit = self._wear_limit()
        self.journal.conditions(now, self.exec, wear0, self.wear_rate, drift0, drift_rate)


class _OrderBook:
    """Releases the line's production orders to its first machine, with gaps between some."""

    def __init__(self, line: Line, prefix: str) -> None:
        self.line = line
        self.prefix = prefix
        self.rng = random.Random(line.seed)
        self.weights = [p.share for p in line.products]
        self.number = 0
        self.product = -1
        self.left = 0
        self.release_ms: int | None = None
        self.records: list[OrderRecord] = []

    def take(self, now: int) -> tuple[int, int] | None:
        """Return the next part to start ``(order number, product)``, or None (no order yet)."""
        if self.left > 0:
            self.left -= 1
            return self.number, self.product
        rng = self.rng
        if self.release_ms is None:
            gap = 0
            if rng.random() < self.line.order_gap_probability:
                low, high = self.line.order_gap
                gap = rng.randint(_ms(low), _ms(high))
            self.release_ms = now + gap
        if now < self.release_ms:
            return None
        self.number += 1
        self.product = rng.choices(range(len(self.weights)), self.weights)[0]
        quantity = rng.randint(*self.line.order_size)
        self.left = quantity - 1
        self.records.append(
            OrderRecord(self.number, self.order_id(self.number), self.product, quantity, now)
        )
        self.release_ms = None
        return self.number, self.product

    def order_id(self, number: int) -> str:
        """Return the production order id of an order number."""
        return f"{self.prefix}-{number:06d}"


class LineSim:
    """The discrete-event simulation of one line.

    Args:
        line: The line.
        calendar: Its site's calendar.
        origin_ms: Where simulated time begins (ms since the epoch); the line starts empty.
        scrap_sensitivity: The site's factor on how strongly drift raises scrap.
    """

    def __init__(
        self, line: Line, calendar: SiteCalendar, *, origin_ms: int, scrap_sensitivity: float
    ) -> None:
        self.line = line
        self.calendar = calendar
        self.products = [p.id for p in line.products]
        self.stations = [_Station(m, i, self.products) for i, m in enumerate(line.machines)]
        self.buffers: list[deque[tuple[int, int]]] = [deque() for _ in self.stations]
        self.capacity = line.buffer
        site, line_name = line.path.split("/")[1], line.path.rsplit("/", 1)[1]
        self.orders = _OrderBook(line, f"{site}-{line_name}")
        self.sensitivity = scrap_sensitivity
        self.now = origin_ms
        self.until = origin_ms
        """Everything before this is final in the journals."""
        self._heap: list[tuple[int, int, int, int]] = []
        self._seq = 0
        self._segments: deque[Segment] = deque()
        self._calendar_end = origin_ms
        self._available = False
        self._cal_state = -1
        self._cal_reason: str | None = None
        first = self._next_segment()
        self._enter_segment(first, initial=True)

    @property
    def journals(self) -> list[MachineJournal]:
        """The journal of each machine, in flow order."""
        return [s.journal for s in self.stations]

    def order_id(self, number: int) -> str:
        """Return the production order id of an order number (-1: none)."""
        return self.orders.order_id(number)

    # --- scheduling -----------------------------------------------------------------------------

    def _push(self, at: int, index: int, token: int) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, index, token))

    def _wake(self, s: _Station, at: int) -> None:
        s.token += 1
        self._push(at, s.index, s.token)

    def advance(self, until_ms: int) -> None:
        """Simulate everything that happens before ``until_ms``."""
        heap = self._heap
        stations = self.stations
        while heap and heap[0][0] < until_ms:
            at, _, index, token = heapq.heappop(heap)
            self.now = at
            if index < 0:
                self._enter_segment(self._next_segment())
                continue
            s = stations[index]
            if token != s.token:
                continue
            act = s.act
            if act == _RUN:
                self._on_run(s)
            elif act == _SETUP:
                self._on_setup_done(s)
            elif act == _DOWN:
                self._on_restored(s)
            elif act in (_WAIT_IN, _IDLE):
                self._try_start(s)
        self.until = max(self.until, until_ms)

    # --- calendar -------------------------------------------------------------------------------

    def _next_segment(self) -> Segment:
        if not self._segments:
            start = self._calendar_end
            self._calendar_end = start + _CALENDAR_CHUNK
            self._segments.extend(self.calendar.segments(start, self._calendar_end))
        return self._segments.popleft()

    def _enter_segment(self, segment: Segment, *, initial: bool = False) -> None:
        self._push(segment.end_ms, -1, 0)
        code = -1 if segment.state is None else STATE_CODES[segment.state]
        if not initial and code == self._cal_state and segment.reason == self._cal_reason:
            return
        was_available = self._available and not initial
        previous = self._cal_state
        self._cal_state, self._cal_reason = code, segment.reason
        self._available = segment.state is None
        now = self.now
        if initial:
            for s in self.stations:
                s.journal.conditions(now, 0, s.wear0, s.wear_rate, 0.0, 0.0)
                s.journal.counters(now, s.ctr_good, s.ctr_scrap)
        if was_available and not self._available:
            for s in self.stations:
                self._pause(s)
        maintenance = STATE_CODES[MachineState.PLANNED_MAINTENANCE]
        if code == maintenance and (initial or previous != maintenance):
            # Planned maintenance replaces half the wear and re-calibrates the process.
            for s in self.stations:
                s.new_conditions(now, s.wear() * 0.5, 0.0, 0.0)
                s.next_drift = s.draw(s.model.drift_mtb)
        if self._available and (initial or not was_available):
            for s in self.stations:
                self._resume(s)
        for s in self.stations:
            self._refresh(s)

    def _pause(self, s: _Station) -> None:
        if s.since < 0 or s.act not in (_RUN, _SETUP):
            return
        elapsed = self.now - s.since
        if s.act == _RUN:
            s.exec += elapsed
        s.remaining -= elapsed
        s.since = -1
        s.token += 1

    def _resume(self, s: _Station) -> None:
        if s.act == _RUN:
            self._run(s)
        elif s.act == _SETUP:
            s.since = self.now
            self._wake(s, self.now + s.remaining)
        elif s.act in (_IDLE, _WAIT_IN):
            self._try_start(s)

    # --- what a machine shows -------------------------------------------------------------------

    def _display(self, s: _Station) -> tuple[int, str | None]:
        if not self._available:
            return self._cal_state, self._cal_reason
        act = s.act
        if act == _RUN:
            return EXECUTING, None
        if act == _DOWN:
            return s.down_code, s.down_reason
        if act == _SETUP:
            return SETUP, None
        if act == _WAIT_OUT:
            down = self.stations[s.index + 1]
            if down.disp_code == BLOCKED:
                return BLOCKED, down.disp_reason
            return BLOCKED, down.path
        if s.index == 0:
            return NO_ORDER, None
        up = self.stations[s.index - 1]
        if up.disp_code == NO_ORDER:
            return NO_ORDER, None
        if up.disp_code == STARVED:
            return STARVED, up.disp_reason
        return STARVED, up.path

    def _refresh(self, s: _Station) -> None:
        code, reason = self._display(s)
        if code == s.disp_code and reason == s.disp_reason:
            return
        s.disp_code, s.disp_reason = code, reason
        s.journal.state(self.now, code, reason, s.exec_at(self.now), s.product)
        # A waiting neighbour shows the root cause, which may just have changed.
        i = s.index
        if i + 1 < len(self.stations) and self.stations[i + 1].act == _WAIT_IN:
            self._refresh(self.stations[i + 1])
        if i > 0 and self.stations[i - 1].act == _WAIT_OUT:
            self._refresh(self.stations[i - 1])

    # --- the part flow --------------------------------------------------------------------------

    def _try_start(self, s: _Station) -> None:
        if not self._available:
            s.act = _IDLE
            self._refresh(s)
            return
        now = self.now
        if s.index == 0:
            part = self.orders.take(now)
            if part is None:
                s.act = _WAIT_IN
                release = self.orders.release_ms
                assert release is not None
                self._wake(s, release)
                self._refresh(s)
                return
        else:
            buffer = self.buffers[s.index]
            if not buffer:
                s.act = _WAIT_IN
                self._refresh(s)
                return
            part = buffer.popleft()
            up = self.stations[s.index - 1]
            if up.act == _WAIT_OUT:
                assert up.held is not None
                buffer.append(up.held)
                up.held = None
                up.act = _IDLE
                self._try_start(up)
        s.part = part
        order, product = part
        changeover = product != s.product
        if order != s.order:
            s.order = order
            s.journal.event(
                JournalEvent(now, "order", self.orders.order_id(order), None, product, None)
            )
            s.journal.job(now, product, order)
        if changeover:
            s.product = product
            s.journal.event(
                JournalEvent(now, "product", self.products[product], None, product, None)
            )
            s.journal.job(now, product, order)
            s.act = _SETUP
            s.remaining = max(1, round(_ms(s.model.setup) * s.rng.lognormvariate(0.0, 0.3)))
            s.since = now
            self._wake(s, now + s.remaining)
            self._refresh(s)
        else:
            s.remaining = self._cycle(s, product)
            self._run(s)

    def _cycle(self, s: _Station, product: int) -> int:
        """Draw the duration of one cycle: the ideal time plus a little speed loss."""
        slow = min(0.5, s.rng.expovariate(1.0 / s.machine.speed_loss))
        return max(1, round(s.ideal[product] * (1.0 + slow)))

    def _run(self, s: _Station) -> None:
        """Start or resume the cycle in hand; wake at its end or at the next interruption."""
        now = self.now
        s.act = _RUN
        s.since = now
        due = min(
            s.remaining,
            s.next_fail - s.exec,
            s.next_micro - s.exec,
            s.wear_limit - s.exec,
            s.next_drift - s.exec,
        )
        self._wake(s, now + max(0, due))
        self._refresh(s)

    def _on_setup_done(self, s: _Station) -> None:
        s.since = -1
        # A changeover re-calibrates the process: any drift episode ends here.
        s.new_conditions(self.now, s.wear(), 0.0, 0.0)
        s.next_drift = s.draw(s.model.drift_mtb)
        assert s.part is not None
        s.remaining = self._cycle(s, s.part[1])
        self._run(s)

    def _on_run(self, s: _Station) -> None:
        now = self.now
        elapsed = now - s.since
        s.exec += elapsed
        s.remaining -= elapsed
        s.since = now
        model = s.model
        if s.exec >= s.next_drift:
            rate = (1.0 if s.rng.random() < 0.5 else -1.0) / _ms(model.drift_rise)
            s.new_conditions(now, s.wear(), s.drift(), rate)
            s.next_drift = _NEVER
        if s.exec >= s.wear_limit:
            self._fail(s, "wear")
        elif s.exec >= s.next_fail:
            self._fail(s, "random")
        elif s.exec >= s.next_micro:
            s.next_micro = s.draw(model.micro_mtb / s.machine.reliability)
            duration = _ms(model.micro_median) * s.rng.lognormvariate(0.0, 0.6)
            self._down(s, MICRO_STOP, s.rng.choice(model.micro_reasons), min(duration, 300_000))
        elif s.remaining <= 0:
            self._complete(s)
        else:
            self._run(s)

    def _down(self, s: _Station, code: int, reason: str, duration: float) -> None:
        s.since = -1
        s.act = _DOWN
        s.down_code = code
        s.down_reason = reason
        self._wake(s, self.now + max(1, round(duration)))
        self._refresh(s)

    def _fail(self, s: _Station, cause: str) -> None:
        model = s.model
        if cause == "wear":
            mode = model.wear_failure
        else:
            mode = s.rng.choices(model.failures, [f.weight for f in model.failures])[0]
            s.next_fail = s.draw(model.mtbf / s.machine.reliability)
        repair = max(60_000, round(_ms(mode.repair) * s.rng.lognormvariate(0.0, 0.5)))
        s.down_cause = cause
        s.down_restart = mode.plc_restart
        now = self.now
        s.journal.failures.append(Failure(now, now + repair, mode.reason, cause, mode.plc_restart))
        s.journal.event(JournalEvent(now, "alarm", mode.reason, None, s.product, True))
        self._down(s, FAILURE, mode.reason, repair)

    def _on_restored(self, s: _Station) -> None:
        now = self.now
        if s.down_code == FAILURE:
            s.journal.event(JournalEvent(now, "alarm", s.down_reason, None, s.product, False))
            if s.down_cause == "wear":
                # The worn part is replaced: wear starts again near zero, with a new threshold.
                s.wear_threshold = s.rng.uniform(0.85, 1.15)
                s.new_conditions(now, s.rng.uniform(0.0, 0.05), 0.0, 0.0)
                s.next_drift = s.draw(s.model.drift_mtb)
            if s.down_restart:
                # The controller restarted: its part counters start from zero again.
                s.ctr_good = s.ctr_scrap = 0
                s.journal.counters(now, 0, 0)
                s.journal.restarts.append(now)
        # Failures and micro-stops only interrupt a running cycle; carry on with it.
        s.act = _RUN
        if self._available:
            self._run(s)
        else:
            s.since = -1
            self._refresh(s)

    def _complete(self, s: _Station) -> None:
        assert s.part is not None
        order, product = s.part
        s.part = None
        now = self.now
        model = s.model
        drift = s.drift()
        factor = 1.0 + self.sensitivity * drift * drift
        rng = s.rng
        scrap = rng.random() < min(0.5, model.scrap_rate * factor)
        found = 0
        if not scrap and rng.random() < min(0.5, model.late_rate * factor):
            found = now + rng.randint(*_INSPECTION_DELAY)
        if scrap:
            s.ctr_scrap = (s.ctr_scrap + 1) & _COUNTER
        else:
            s.ctr_good = (s.ctr_good + 1) & _COUNTER
        s.journal.part(now, product, order, scrap, found)
        s.journal.counters(now, s.ctr_good, s.ctr_scrap)
        s.act = _IDLE
        if scrap or s.index == len(self.stations) - 1:
            self._try_start(s)
            return
        buffer = self.buffers[s.index + 1]
        if len(buffer) < self.capacity:
            buffer.append((order, product))
            down = self.stations[s.index + 1]
            if down.act == _WAIT_IN:
                self._try_start(down)
            self._try_start(s)
        else:
            s.act = _WAIT_OUT
            s.held = (order, product)
            self._refresh(s)
