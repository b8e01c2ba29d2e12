"""Generate the benchmark's rows, vectorised: the fleet's series, ingest batches, a line's history.

Every batch is a pure function of its phase, index and seed, so each target (werk over HTTP, the
direct peers, InfluxDB) is handed the very same rows without keeping them all in memory.

The fleet is ``acme/site-NN/area-N/line-NN/machine-NN`` × signal; the history line sits on a site
after the fleet's last one so that its 30 days do not mix with the ingest phases' rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bench.scale import Scale
from werk.samples import SAMPLE_SCHEMA, UTC_NS, to_ns

SIGNAL_NAMES: Final = (
    "temperature",
    "pressure",
    "speed",
    "current",
    "voltage",
    "vibration",
    "flow",
    "torque",
    "position",
    "power",
)
ENTERPRISE: Final = "acme"
SECOND: Final = 1_000_000_000

RAW_SCHEMA: Final = pa.schema(
    [
        pa.field("series_id", pa.int32(), nullable=False),
        pa.field("ts", UTC_NS, nullable=False),
        pa.field("value", pa.float64(), nullable=False),
        pa.field("quality", pa.uint8(), nullable=False),
    ]
)
"""What the direct peers store: the series already resolved to an id, as a plain table does."""


@dataclass(frozen=True, slots=True)
class Batch:
    """One request's rows in two shapes: werk's wire format and the peers' resolved form."""

    samples: pa.Table
    """Columns of :data:`werk.samples.SAMPLE_SCHEMA`."""
    raw: pa.Table
    """Columns of :data:`RAW_SCHEMA` (same rows, same order)."""

    @property
    def rows(self) -> int:
        """Samples in the batch."""
        return int(self.samples.num_rows)


def _numbered(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), digits, "")


def _join(*parts: pa.Array | str) -> pa.Array:
    args = [pa.scalar(p) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*args, "")


@dataclass(frozen=True, slots=True)
class Series:
    """Every series a run writes: the fleet's first, then the history line's.

    The position of a series in these arrays is its id in the peers' tables.
    """

    paths: pa.Array
    signals: pa.Array
    fleet: int
    """Series ``[0, fleet)`` are the fleet's; the rest belong to the history line."""
    history_line: str
    history_paths: tuple[str, ...]
    history_signals: tuple[str, ...]

    @property
    def count(self) -> int:
        """All series, the history line's included."""
        return len(self.paths)

    @classmethod
    def build(cls, scale: Scale) -> Series:
        """Lay out the fleet of ``scale`` and its history line."""
        machines = scale.sites * scale.areas * scale.lines * scale.machines
        m = np.arange(machines, dtype=np.int64)
        per_site = scale.areas * scale.lines * scale.machines
        paths = _join(
            _numbered(f"{ENTERPRISE}/site-", m // per_site, 2),
            _numbered("/area-", (m // (scale.lines * scale.machines)) % scale.areas, 1),
            _numbered("/line-", (m // scale.machines) % scale.lines, 2),
            _numbered("/machine-", m % scale.machines, 2),
        )
        names = pa.array(SIGNAL_NAMES[: scale.signals], pa.string())
        fleet_paths = pc.take(paths, pa.array(np.repeat(m, scale.signals)))
        fleet_signals = pc.take(names, pa.array(np.tile(np.arange(scale.signals), machines)))

        line = f"{ENTERPRISE}/site-{scale.sites:02d}/area-0/line-00"
        h_paths = tuple(f"{line}/machine-{i:02d}" for i in range(scale.history_machines))
        h_signals = SIGNAL_NAMES[: scale.history_signals]
        all_paths = pa.concat_arrays(
            [
                fleet_paths,
                pa.array(np.repeat(np.array(h_paths, dtype=object), len(h_signals)), pa.string()),
            ]
        )
        all_signals = pa.concat_arrays(
            [
                fleet_signals,
                pa.array(np.tile(np.array(h_signals, dtype=object), len(h_paths)), pa.string()),
            ]
        )
        return cls(
            paths=all_paths,
            signals=all_signals,
            fleet=len(fleet_paths),
            history_line=line,
            history_paths=h_paths,
            history_signals=h_signals,
        )

    def batch(
        self, ids: np.ndarray, ts: np.ndarray, value: np.ndarray, quality: np.ndarray
    ) -> Batch:
        """Build a batch from series ids, timestamps (ns), values and qualities."""
        index = pa.array(ids)
        ts_array = pa.array(ts, pa.int64()).cast(UTC_NS)
        value_array = pa.array(value, pa.float64())
        quality_array = pa.array(quality, pa.uint8())
        samples = pa.Table.from_arrays(
            [
                pc.take(self.paths, index),
                pc.take(self.signals, index),
                ts_array,
                value_array,
                quality_array,
            ],
            schema=SAMPLE_SCHEMA,
        )
        raw = pa.Table.from_arrays(
            [pa.array(ids, pa.int32()), ts_array, value_array, quality_array], schema=RAW_SCHEMA
        )
        return Batch(samples=samples, raw=raw)


@dataclass(frozen=True, slots=True)
class Phase:
    """An ingest phase: ``count`` batches of ``size`` samples sweeping over the fleet.

    Sample ``i`` of the phase belongs to series ``i mod fleet`` and to sweep ``i div fleet``;
    a sweep is one second, and series are staggered by milliseconds inside it.
    """

    name: str
    size: int
    count: int
    start_ns: int
    seed: int

    @property
    def samples(self) -> int:
        """Samples the phase sends."""
        return self.size * self.count

    def sweeps(self, fleet: int) -> int:
        """Seconds of data the phase covers."""
        return -(-self.samples // fleet)

    def batch(self, series: Series, index: int) -> Batch:
        """Return batch ``index`` of the phase."""
        first = index * self.size
        i = np.arange(first, first + self.size, dtype=np.int64)
        ids = (i % series.fleet).astype(np.int32)
        ts = (
            self.start_ns + (i // series.fleet) * SECOND + (ids % 1000).astype(np.int64) * 1_000_000
        )
        rng = np.random.default_rng([self.seed, index])
        # Sensors resolve a few decimals; full-precision noise would only bloat text formats.
        value = np.round(rng.normal(50.0, 10.0, self.size), 3)
        quality = rng.choice(np.array([0, 1, 2], np.uint8), self.size, p=[0.98, 0.01, 0.01])
        return series.batch(ids, ts, value, quality)

    def batches(self, series: Series) -> Iterator[Batch]:
        """Yield every batch of the phase in order."""
        for index in range(self.count):
            yield self.batch(series, index)


@dataclass(frozen=True, slots=True)
class History:
    """``days`` of samples at ``interval`` for every series of the history line, time-major."""

    end: datetime
    days: int
    interval: timedelta
    size: int
    """Samples per batch."""

    @property
    def start(self) -> datetime:
        """First instant of the history."""
        return self.end - timedelta(days=self.days)

    def steps(self) -> int:
        """Instants in the history."""
        return int(timedelta(days=self.days) / self.interval)

    def samples(self, series: Series) -> int:
        """Samples in the history."""
        return self.steps() * (series.count - series.fleet)

    def count(self, series: Series) -> int:
        """Batches in the history."""
        return -(-self.samples(series) // self.size)

    def batch(self, series: Series, index: int) -> Batch:
        """Return batch ``index`` of the history (the last one may be short)."""
        width = series.count - series.fleet
        first = index * self.size
        last = min(first + self.size, self.samples(series))
        i = np.arange(first, last, dtype=np.int64)
        step = i // width
        ids = (series.fleet + i % width).astype(np.int32)
        step_ns = int(self.interval / timedelta(microseconds=1)) * 1_000
        ts = to_ns(self.start) + step * step_ns
        rng = np.random.default_rng([7, index])
        # A daily cycle per series plus noise: averages differ per bucket, as real data's do.
        phase = ids.astype(np.float64)
        day = (ts % (86_400 * SECOND)) / (86_400 * SECOND)
        value = np.round(
            50.0 + 10.0 * np.sin(2 * np.pi * day + phase) + rng.normal(0.0, 1.0, len(i)), 3
        )
        # Every history sample is GOOD: werk's aggregates skip BAD ones and InfluxQL's do not.
        quality = np.zeros(len(i), np.uint8)
        return series.batch(ids, ts, value, quality)

    def batches(self, series: Series) -> Iterator[Batch]:
        """Yield every batch of the history in order."""
        for index in range(self.count(series)):
            yield self.batch(series, index)


@dataclass(frozen=True, slots=True)
class Workload:
    """Everything a run writes: the series, a warm-up sweep, the ingest phases, the history."""

    series: Series
    warmup: Phase
    phases: tuple[Phase, ...]
    history: History

    @classmethod
    def build(cls, scale: Scale, now: datetime | None = None) -> Workload:
        """Lay out the workload of ``scale``, its timestamps in the recent past of ``now``."""
        now = now or datetime.now(UTC)
        series = Series.build(scale)
        # Ingest rows sit in the last hour before now (validation refuses the far future);
        # the history ends at today's midnight, UTC.
        cursor = to_ns(now - timedelta(hours=1))
        warmup = Phase("warm-up", series.fleet, 1, cursor, seed=1)
        cursor += warmup.sweeps(series.fleet) * SECOND
        phases = []
        for n, size in enumerate(scale.batch_sizes):
            phase = Phase(f"{size:,}", size, scale.batches(n), cursor, seed=100 + n)
            phases.append(phase)
            cursor += phase.sweeps(series.fleet) * SECOND
        if cursor > to_ns(now):
            raise ValueError("ingest phases cover more than an hour of sweeps; shrink the scale")
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        history = History(
            end=midnight,
            days=scale.history_days,
            interval=scale.history_interval,
            size=scale.history_batch,
        )
        return cls(series=series, warmup=warmup, phases=tuple(phases), history=history)
