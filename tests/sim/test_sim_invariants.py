"""Invariants of the line engine for any seed, buffer and line shape (Hypothesis)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from werk.samples import to_ns
from werk.sim.config import parse_fleet
from werk.sim.fleet import build_fleet
from werk.sim.line import LineSim
from werk.sim.view import STATE_CODES, MachineState

ORIGIN = to_ns(datetime(2026, 3, 6, tzinfo=UTC)) // 1_000_000  # a Friday: shifts, then weekend
DAY = 86_400_000
EXECUTING = STATE_CODES[MachineState.EXECUTING]

FLEET = """\
enterprise: acme
sites:
  - name: plant
    timezone: America/Chicago
    silo: modbus
    shifts:
      - name: first
        start: "06:00"
        end: "14:30"
        breaks: [{{name: lunch, start: "10:30", end: "11:00"}}]
      - name: second
        start: "14:30"
        end: "23:00"
    areas:
      - name: shop
        lines:
          - name: line-1
            buffer: {buffer}
            order_gap_probability: {gap}
            products:
              - {{id: a, share: 1, cycle_time: {cycle}}}
              - {{id: b, share: 1, cycle_time: {cycle_b}}}
            machines:
{machines}
"""

TYPES = ["press", "welding_robot", "cnc_cell", "paint_booth", "assembly_station",
         "tightening_station"]  # fmt: skip


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    buffer=st.integers(1, 5),
    gap=st.sampled_from([0.0, 0.3, 1.0]),
    cycle=st.integers(20, 120),
    types=st.lists(st.sampled_from(TYPES), min_size=1, max_size=6),
)
def test_engine_invariants(
    seed: int, buffer: int, gap: float, cycle: int, types: list[str]
) -> None:
    machines = "\n".join(f"              - {{type: {t}}}" for t in types)
    text = FLEET.format(buffer=buffer, gap=gap, cycle=cycle, cycle_b=cycle + 7, machines=machines)
    config, _ = parse_fleet(text, "hypothesis.yaml")
    site = build_fleet(config, seed=seed).sites[0]
    sim = LineSim(site.lines[0], site.calendar, origin_ms=ORIGIN, scrap_sensitivity=6.0)
    end = ORIGIN + 2 * DAY
    sim.advance(end)

    assert all(len(b) <= buffer for b in sim.buffers)
    passed_on = None
    for station, journal in zip(sim.stations, sim.journals, strict=True):
        starts = journal.st_start
        assert starts[0] == ORIGIN
        assert all(a < b for a, b in itertools.pairwise(starts))
        # Executing time in the timeline is the executing time wear and drift run on.
        bounds = [*starts, end]
        executing = sum(
            bounds[i + 1] - bounds[i] for i, code in enumerate(journal.st_code) if code == EXECUTING
        )
        assert executing == station.exec_at(end)
        # A station makes no more than the one before it passed on (minus what waits between).
        made = len(journal.part_ms)
        if passed_on is not None:
            assert made <= passed_on
        passed_on = made - sum(journal.part_scrap)
        # PLC counters count every part, modulo 2**16, from the last restart on.
        good, scrap = station.machine.counter_start
        restarts = set(journal.restarts)
        for at, g, s in zip(journal.ctr_ms[1:], journal.ctr_good[1:], journal.ctr_scrap[1:],
                            strict=True):  # fmt: skip
            if at in restarts and (g, s) == (0, 0):
                good = scrap = 0
                continue
            assert (g - good) % 65536 + (s - scrap) % 65536 == 1
            good, scrap = g, s
