"""Hold the sizes of a benchmark run: ``make bench``'s full run and the seconds-long smoke run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class Scale:
    """How much data a run moves and how often it repeats each query.

    Attributes:
        name: ``full`` or ``smoke``.
        sites: Sites of the fleet (``acme/site-NN``).
        areas: Areas per site.
        lines: Lines per area.
        machines: Machines per line.
        signals: Signals per machine; sites × areas × lines × machines × signals series.
        batch_sizes: Samples per ingest request, one ingest phase each.
        samples_per_phase: Samples each ingest phase sends (rounded down to whole batches).
        history_machines: Machines of the line that gets 30 days of history.
        history_signals: Signals per machine of that line.
        history_days: Days of history.
        history_interval: Sampling interval of the history.
        history_batch: Samples per request when loading the history.
        query_runs: Timed runs per query (after one untimed warm-up); the median is reported.
        clients: Concurrent client connections for ingest, the same for every target. A
            throughput figure is taken where the target is saturated: the raw COPY peer is at 2
            connections (it measured the same from 2 to 8), werk's door is not, because a
            request's decode, validation and COPY run one after another, so 2 in flight leave
            a third of 2 cores idle (PostgreSQL, 10k batches: 57 % of COPY at 2, 70 % at 4,
            72-76 % at 6-8 in one session). A platform's door serves dozens of edges at once.
        slices: Slices each PostgreSQL ingest phase is cut into, werk and the COPY peer taking
            turns (see :mod:`bench.suite`).
        settle_s: Seconds between those slices (werk merges latest values 0.5 s behind its
            writes; a slice should not pay for the last one's).
    """

    name: str
    sites: int
    areas: int
    lines: int
    machines: int
    signals: int
    batch_sizes: tuple[int, ...]
    samples_per_phase: tuple[int, ...]
    history_machines: int
    history_signals: int
    history_days: int
    history_interval: timedelta
    history_batch: int
    query_runs: int
    clients: int = 8
    slices: int = 4
    settle_s: float = 1.0

    @property
    def series(self) -> int:
        """Series of the fleet (the history line adds its own)."""
        return self.sites * self.areas * self.lines * self.machines * self.signals

    def batches(self, phase: int) -> int:
        """Whole batches ingest phase ``phase`` sends."""
        return max(1, self.samples_per_phase[phase] // self.batch_sizes[phase])


FULL = Scale(
    name="full",
    sites=10,
    areas=5,
    lines=10,
    machines=20,
    signals=10,
    batch_sizes=(10_000, 100_000),
    samples_per_phase=(4_000_000, 6_000_000),
    history_machines=10,
    history_signals=5,
    history_days=30,
    history_interval=timedelta(seconds=30),
    history_batch=100_000,
    query_runs=7,
)
"""``make bench``: 100k series, batches of 10k and 100k samples, 30 days of one line."""

SMOKE = Scale(
    name="smoke",
    sites=2,
    areas=2,
    lines=2,
    machines=5,
    signals=5,
    batch_sizes=(100, 1_000),
    samples_per_phase=(1_000, 4_000),
    history_machines=2,
    history_signals=2,
    history_days=30,
    history_interval=timedelta(hours=1),
    history_batch=1_000,
    query_runs=1,
    settle_s=0.0,
)
"""``python -m bench --smoke``: every row of the full run, in seconds."""
