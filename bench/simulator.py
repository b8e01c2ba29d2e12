"""Measure the plant simulator: history mode's write rate and the silo servers' CPU at 1 Hz.

History mode is set beside pyarrow's own Parquet writer re-writing the same rows from memory
(the ceiling of any Parquet-producing simulator on this machine). The silo servers have no peer
that does the same job; their figure is the CPU share of one core at 10,000 signals and 1 Hz,
with an independent client (asyncua, pymodbus, MQTT subscriber) reading everything.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from bench.report import Section
from bench.sim_servers import measure
from werk.sim.config import read_fleet
from werk.sim.fleet import build_fleet, default_fleet_path
from werk.sim.history import write_history
from werk.sim.view import Silo


def history_section(*, smoke: bool) -> Section:
    """Write the default fleet's history and re-write it with pyarrow for comparison."""
    config, _ = read_fleet(default_fleet_path())
    if smoke:
        config = config.model_copy(update={"sample_period": timedelta(minutes=1)})
    fleet = build_fleet(config)
    days = 1 if smoke else 3
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "history"
        stats = write_history(fleet, date(2026, 3, 27), days, out, truth=False)
        files = sorted((out / "samples").rglob("*.parquet"))
        tables = [pq.read_table(f) for f in files]
        started = time.perf_counter()
        for index, table in enumerate(tables):
            pq.write_table(table, Path(tmp) / f"peer-{index}.parquet")
        peer_s = time.perf_counter() - started
    rows = sum(t.num_rows for t in tables)
    werk_rate = stats.samples / stats.seconds
    peer_rate = rows / peer_s if peer_s else float("inf")
    return Section(
        title="Simulator history mode (issue 3)",
        header=["writer", "samples", "seconds", "samples/s", "CPU ns/sample", "target"],
        rows=[
            [
                f"werk sim history ({stats.machines} machines, {days} d, events included)",
                f"{stats.samples:,}",
                f"{stats.seconds:.2f}",
                f"{werk_rate / 1e6:.2f} M/s",
                f"{1e9 * stats.cpu_seconds / max(stats.samples, 1):.0f}",
                "" if smoke else "≥ 5 M/s: " + ("met" if werk_rate >= 5e6 else "not met"),
            ],
            [
                "pyarrow write_table of the same rows from memory (peer)",
                f"{rows:,}",
                f"{peer_s:.2f}",
                f"{peer_rate / 1e6:.2f} M/s",
                "",
                "",
            ],
        ],
        notes=[
            "werk simulates the plants (states, counters, signals with noise, wear and drift) "
            "and writes; the peer only writes rows that already exist."
        ],
    )


def servers_section(*, smoke: bool) -> Section:
    """Serve signals at 1 Hz through each silo with a real client reading them."""
    signals = 500 if smoke else 10_000
    seconds = 2.0 if smoke else 10.0
    rows: list[list[str]] = []
    for silo in (Silo.OPCUA, Silo.MODBUS, Silo.SPARKPLUG, Silo.MQTT_JSON):
        result = asyncio.run(measure(silo, signals, seconds=seconds))
        rows.append(
            [
                str(silo),
                f"{result.signals:,}",
                f"{result.startup_s:.1f}",
                f"{result.update_cpu_ms:.1f}",
                f"{result.server_cpu_share:.2f}",
                f"{result.signals_per_core:,.0f}",
                f"{result.client_values_per_s:,.0f}",
            ]
        )
    return Section(
        title="Simulator silo servers at 1 Hz (issue 3)",
        header=[
            "silo",
            "signals",
            "startup s",
            "update CPU ms/tick",
            "server CPU share",
            "signals/s per core",
            "client received/s",
        ],
        rows=rows,
        notes=[
            "One process, one tick a second, every signal changed each tick; the client runs in "
            "its own process (OPC UA: one subscription monitoring every variable; Modbus: "
            "polling every register; Sparkplug B and MQTT JSON: one subscriber).",
            "Target: 10,000 signals at 1 Hz on one core, i.e. a server CPU share below 1.0 and "
            "the client receiving about 10,000 values/s.",
        ],
    )


def sections(*, smoke: bool, pg_admin_url: str = "") -> list[Section]:
    """Every simulator measurement of a run."""
    return [history_section(smoke=smoke), servers_section(smoke=smoke)]
