"""Signals carry the warnings: wear shows before wear-out failures, drift goes with scrap."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from werk.samples import to_ns
from werk.sim.fleet import Fleet, load_fleet
from werk.sim.history import write_truth
from werk.sim.signals import NOISE_BLOCK_MS
from werk.sim.site import SiteSim
from werk.sim.view import STATE_CODES, MachineState

FleetFile = Callable[[str], Path]
START_MS = to_ns(datetime(2026, 3, 2, tzinfo=UTC)) // 1_000_000
DAY = 86_400_000
EXECUTING = STATE_CODES[MachineState.EXECUTING]


def _many_robots(text: str) -> str:
    return text.replace("{type: welding_robot}", "{type: welding_robot, count: 4}")


def test_vibration_rises_before_a_wear_failure(
    fleet_file: FleetFile, small_fleet_text: str
) -> None:
    fleet = load_fleet(fleet_file(_many_robots(small_fleet_text)))
    sim = SiteSim(fleet.sites[0], start_ms=START_MS, period_ms=60_000)
    n = DAY // 60_000
    vibration: dict[str, list[np.ndarray]] = {u.machine.path: [] for u in sim.units}
    running: dict[str, list[np.ndarray]] = {u.machine.path: [] for u in sim.units}
    failures = []
    for d in range(4):
        a = START_MS + d * DAY
        sim.advance(a + DAY)
        climate = sim.climate(a, n)
        for unit in sim.units:
            window = unit.journal.window(a, a + DAY)
            values, _ = unit.generator.block(window, a, n, climate)
            vibration[unit.machine.path].append(values[unit.generator.names.index("vibration_rms")])
            t = a + np.arange(n) * 60_000
            k = np.searchsorted(window.timeline.start, t, side="right") - 1
            running[unit.machine.path].append(window.timeline.code[k] == EXECUTING)
            failures += [(unit.machine.path, f) for f in window.failures if f.cause == "wear"]
        sim.prune(a + DAY)
    assert failures, "four days of six machines should wear one out"
    compared = 0
    for path, failure in failures:
        v = np.concatenate(vibration[path])
        r = np.concatenate(running[path])
        t = START_MS + np.arange(len(v)) * 60_000
        before = v[(t < failure.start_ms) & (t >= failure.start_ms - 3 * 3_600_000) & r]
        after = v[(t > failure.end_ms) & (t <= failure.end_ms + 3 * 3_600_000) & r]
        if len(before) > 30 and len(after) > 30:
            assert before.mean() > after.mean() + 1.0, path
            compared += 1
    assert compared


def test_scrap_is_higher_while_the_process_drifts(
    fleet_file: FleetFile, small_fleet_text: str, tmp_path: Path
) -> None:
    fleet: Fleet = load_fleet(fleet_file(_many_robots(small_fleet_text)))
    write_truth(fleet, date(2026, 3, 2), 8, tmp_path)
    counts = pq.read_table(tmp_path / "truth/counts").to_pylist()
    conditions = pq.read_table(tmp_path / "truth/conditions").to_pylist()
    drifting = {True: [0, 0], False: [0, 0]}  # scrap, made
    for machine in fleet.machines:
        segments = [c for c in conditions if c["path"] == machine.path]
        starts = [c["ts"] for c in segments]
        for row in (c for c in counts if c["path"] == machine.path):
            i = bisect_right(starts, row["ts"]) - 1
            # Two hours into an episode the process has drifted noticeably.
            late_in_episode = (
                i >= 0
                and segments[i]["drift_per_h"] != 0.0
                and row["ts"] - segments[i]["ts"] > timedelta(hours=2)
            )
            drifting[late_in_episode][0] += row["scrap"]
            drifting[late_in_episode][1] += row["good"] + row["scrap"]
    rate = {k: scrap / made for k, (scrap, made) in drifting.items() if made}
    assert drifting[True][1] > 500, "eight days should hold drift episodes"
    assert rate[True] > 2 * rate[False]


def test_sites_differ_in_sensor_offsets() -> None:
    fleet = load_fleet()

    def offsets(site: int) -> list[float]:
        return [
            m.bias[[s.name for s in m.signal_specs].index("vibration_rms")] / 3.0
            for m in fleet.sites[site].machines
            if any(s.name == "vibration_rms" for s in m.signal_specs)
        ]

    means = [float(np.mean(offsets(i))) for i in range(3)]
    assert len({round(m, 3) for m in means}) == 3
    assert NOISE_BLOCK_MS % 1000 == 0
