"""Turn a machine's state timeline into sampled signal values, vectorised with numpy.

For each sample ``t`` (a multiple of the sample period) and signal ``s``::

    value = level(s, state category, product load)   # thermal signals approach it with a lag
          + ambient(s) · (hall temperature − 20) + humidity(s) · (hall humidity − 50)
          + wear(s) · wear(t)²            (not when switched off)
          + drift(s) · drift(t)           (only while executing)
          + sensor offset(s) + noise(s, category) · N(0, 1)

then clipped to the signal's range and rounded to its resolution; an energy meter integrates the
power signal. Wear and drift come from the engine's condition segments as functions of the
machine's accumulated executing time, so they match the failures and scrap the engine drew.

Noise is drawn per machine and per ten-minute block of absolute time (:data:`NOISE_BLOCK_MS`),
and the lag and energy states are carried from block to block in a fixed order, so a value at a
given instant is the same whether it was generated in a day-long history chunk or a live block.
Rare sensor glitches mark short stretches UNCERTAIN, or BAD with the value stuck at the range's low
end: quality is data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from werk.samples import Quality
from werk.sim.fleet import Line, Machine, Site
from werk.sim.journal import DRIFT_CAP, MachineWindow
from werk.sim.view import STATE_CODES, MachineState

NOISE_BLOCK_MS = 600_000
"""Signals are generated in blocks aligned to ten minutes of absolute time."""

_RUN, _IDLE, _OFF = 0, 1, 2
_CATEGORY = np.full(len(MachineState), _IDLE, dtype=np.int8)
_CATEGORY[STATE_CODES[MachineState.EXECUTING]] = _RUN
_CATEGORY[STATE_CODES[MachineState.NO_SHIFT]] = _OFF
_CATEGORY[STATE_CODES[MachineState.PLANNED_MAINTENANCE]] = _OFF
_EXECUTING = STATE_CODES[MachineState.EXECUTING]
_NOISE_SCALE = np.array([1.0, 0.35, 0.1])
"""Noise by category: a machine at rest is quieter."""
_GLITCH_P = 0.002
"""Chance that a signal has a glitch in a ten-minute block."""
_YEAR_DAYS = 365.2425


@dataclass(frozen=True, slots=True)
class Climate:
    """Hall temperature (°C) and humidity (%RH) at each sample of a block."""

    temperature: npt.NDArray[np.float64]
    humidity: npt.NDArray[np.float64]


def climate(site: Site, start_ms: int, n: int, period_ms: int) -> Climate:
    """Return the site's hall climate for ``n`` samples from ``start_ms``.

    Seasons peak in mid-July (give a negative ``seasonal_swing`` south of the equator) and the
    day at 15:00 local *standard* time: the sun ignores DST.
    """
    zone = site.calendar.zone
    # Standard time is the smaller of the winter and summer offsets, in either hemisphere.
    offset_s = min(
        (datetime(2026, month, 15, tzinfo=UTC).astimezone(zone).utcoffset() or timedelta(0))
        for month in (1, 7)
    ).total_seconds()
    t_s = (start_ms + np.arange(n, dtype=np.int64) * period_ms) / 1000.0
    hours = ((t_s + offset_s) / 3600.0) % 24.0
    day = (t_s / 86400.0) % _YEAR_DAYS
    amb = site.ambient
    daily = np.cos((hours - 15.0) * (2 * math.pi / 24.0))
    temperature = (
        amb.temperature
        - amb.seasonal_swing * np.cos((day - 15.0) * (2 * math.pi / _YEAR_DAYS))
        + amb.daily_swing * daily
    )
    humidity = amb.humidity - 2.5 * amb.daily_swing * daily
    return Climate(temperature, humidity)


class SignalGenerator:
    """Generate one machine's signals block by block, carrying lag and energy state.

    Args:
        machine: The machine.
        line: Its line (for the products' loads).
        period_ms: Sample period in milliseconds; it divides :data:`NOISE_BLOCK_MS`.
    """

    def __init__(self, machine: Machine, line: Line, period_ms: int) -> None:
        if NOISE_BLOCK_MS % period_ms:
            raise ValueError(f"sample period {period_ms} ms does not divide 10 minutes")
        model = machine.model
        signals = model.signals
        self.machine = machine
        self.names = tuple(s.spec.name for s in signals)
        self.period_ms = period_ms
        self.per_block = NOISE_BLOCK_MS // period_ms
        self.levels = np.array([[s.run, s.idle, s.off] for s in signals], dtype=np.float64)
        self.load = np.array([s.load for s in signals])
        self.tau_ms = [s.lag / timedelta(milliseconds=1) for s in signals]
        self.ambient = [s.ambient for s in signals]
        self.humidity = [s.humidity for s in signals]
        self.wear = [s.wear * machine.wear_gain for s in signals]
        self.drift = [s.drift for s in signals]
        self.noise = np.array([s.noise for s in signals]) * machine.noise
        self.bias = np.array(machine.bias, dtype=np.float64)
        self.low = np.array([s.spec.low for s in signals])
        self.high = np.array([s.spec.high for s in signals])
        self.steps = np.array([round(1.0 / s.resolution) for s in signals], dtype=np.float64)
        self.integrals = [
            (i, self.names.index(s.integrates))
            for i, s in enumerate(signals)
            if s.integrates is not None
        ]
        self.plain = [i for i, s in enumerate(signals) if s.integrates is None]
        mean_cycle = sum(p.cycle_time.total_seconds() for p in line.products) / len(line.products)
        # Index -1 (no product yet) lands on the trailing 1.0.
        self.product_load = np.array(
            [p.cycle_time.total_seconds() / mean_cycle for p in line.products] + [1.0]
        )
        self._lag: dict[int, tuple[int, float, float]] = {}
        rng = np.random.default_rng([machine.seed, 7])
        self._energy = float(np.round(rng.uniform(1e4, 5e5), 3))

    def block(
        self, window: MachineWindow, start_ms: int, n: int, climate: Climate
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.uint8]]:
        """Return values and qualities, shaped (signals, samples), for ``n`` samples.

        ``start_ms`` is aligned to :data:`NOISE_BLOCK_MS` and ``n`` covers whole blocks; blocks
        must be generated in time order without gaps.
        """
        period = self.period_ms
        if start_ms % NOISE_BLOCK_MS or (n * period) % NOISE_BLOCK_MS:
            raise ValueError("signal blocks are aligned to whole ten-minute blocks")
        tl = window.timeline
        t = start_ms + np.arange(n, dtype=np.int64) * period
        k = np.searchsorted(tl.start, t, side="right") - 1
        category = _CATEGORY[tl.code]
        cat = category[k]
        # Accumulated executing time at each sample: wear and drift are functions of it.
        offset = t - tl.start[k]
        executing = tl.code[k] == _EXECUTING
        exec_t = tl.exec_ms[k] + np.where(executing, offset, 0)

        cond = window.conditions
        j = np.searchsorted(cond.ms, t, side="right") - 1
        since = (exec_t - cond.exec_ms[j]).astype(np.float64)
        wear = cond.wear0[j] + cond.wear_rate[j] * since
        np.multiply(wear, wear, out=wear)
        wear[cat == _OFF] = 0.0
        drift = cond.drift0[j] + cond.drift_rate[j] * since
        np.clip(drift, -DRIFT_CAP, DRIFT_CAP, out=drift)
        drift[~executing] = 0.0

        # Per-interval targets: the state's level, scaled by the product's load while running.
        load = self.product_load[tl.product] - 1.0
        running = (category == _RUN).astype(np.float64)
        targets = self.levels[:, category] * (1.0 + self.load[:, None] * (load * running)[None, :])

        values = np.take(targets, k, axis=1)
        for i, tau in enumerate(self.tau_ms):
            if tau > 0:
                values[i] = self._lagged(i, tau, tl.start, targets[i], t, k, offset)
        temp = climate.temperature - 20.0
        hum = climate.humidity - 50.0
        for i in self.plain:
            row = values[i]
            if self.ambient[i]:
                row += self.ambient[i] * temp
            if self.humidity[i]:
                row += self.humidity[i] * hum
            if self.wear[i]:
                row += self.wear[i] * wear
            if self.drift[i]:
                row += self.drift[i] * drift
            row += self.bias[i]

        quality = np.zeros(values.shape, dtype=np.uint8)
        scale = _NOISE_SCALE[cat]
        per = self.per_block
        glitches: list[tuple[int, int, int, int]] = []
        for b in range(n // per):
            first = start_ms // NOISE_BLOCK_MS + b
            rng = np.random.Generator(np.random.PCG64([self.machine.seed, first]))
            noise = rng.standard_normal((len(self.names), per))
            sl = slice(b * per, (b + 1) * per)
            noise *= self.noise[:, None]
            noise *= scale[None, sl]
            values[:, sl] += noise
            hits = np.flatnonzero(rng.random(len(self.names)) < _GLITCH_P)
            for hit in hits.tolist():
                at = int(rng.integers(per))
                length = int(rng.integers(1, 120))
                stuck = int(rng.random() < 0.5)
                glitches.append((hit, b * per + at, min(per, at + length) + b * per, stuck))

        np.clip(values, self.low[:, None], self.high[:, None], out=values)
        # Round to the resolution as integer steps divided back: 388 / 10 is the double nearest
        # 38.8, where 388 * 0.1 is 38.800000000000004.
        values *= self.steps[:, None]
        np.rint(values, out=values)
        values /= self.steps[:, None]
        for target, source in self.integrals:
            values[target] = self._integrate(values[source], target)
        for signal, first_sample, end_sample, stuck in glitches:
            if signal in self.plain:
                glitch = slice(first_sample, end_sample)
                quality[signal, glitch] = Quality.BAD if stuck else Quality.UNCERTAIN
                if stuck:
                    values[signal, glitch] = self.low[signal]
        return values, quality

    def _lagged(
        self,
        i: int,
        tau: float,
        starts: npt.NDArray[np.int64],
        targets: npt.NDArray[np.float64],
        t: npt.NDArray[np.int64],
        k: npt.NDArray[np.intp],
        offset: npt.NDArray[np.int64],
    ) -> npt.NDArray[np.float64]:
        """Approach each interval's target exponentially from the value at its start."""
        count = len(starts)
        begin = np.empty(count)
        carried = self._lag.get(i)
        if carried is None:
            begin[0] = targets[0]
        elif carried[0] == starts[0]:
            begin[0] = carried[1]
        else:
            s0, v0, target0 = carried
            begin[0] = target0 + (v0 - target0) * math.exp(-(int(starts[0]) - s0) / tau)
        # math.exp in both places keeps the recursion bit-identical however blocks are cut.
        decay = [math.exp(-d / tau) for d in np.diff(starts).tolist()]
        tg = targets.tolist()
        value = float(begin[0])
        for m in range(1, count):
            value = tg[m - 1] + (value - tg[m - 1]) * decay[m - 1]
            begin[m] = value
        self._lag[i] = (int(starts[-1]), float(begin[-1]), float(targets[-1]))
        tk = targets[k]
        return tk + (begin[k] - tk) * np.exp(-offset / tau)

    def _integrate(self, power: npt.NDArray[np.float64], target: int) -> npt.NDArray[np.float64]:
        """Integrate power (kW) into an energy meter (kWh), block by block in a fixed order."""
        per = self.per_block
        step_h = self.period_ms / 3_600_000
        blocks = np.cumsum(power.reshape(-1, per), axis=1)
        blocks *= step_h
        totals = blocks[:, -1]
        offsets = np.cumsum(np.concatenate(([self._energy], totals)))
        self._energy = float(offsets[-1])
        energy = blocks + offsets[:-1, None]
        steps = self.steps[target]
        meter: npt.NDArray[np.float64] = np.rint(energy.ravel() * steps) / steps
        return meter
