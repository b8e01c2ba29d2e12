"""The live runtime: its views equal history at every instant; events come out when due."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from werk.samples import Event, EventKind
from werk.sim.fleet import Fleet, load_fleet
from werk.sim.history import write_history
from werk.sim.runtime import Runtime
from werk.sim.view import MachineState, MachineView, SiteView

START = datetime(2026, 3, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, small_fleet_text: str) -> Fleet:
    folder = tmp_path_factory.mktemp("fleet")
    text = small_fleet_text.replace("{type: press}", "{type: press, counter_start: 65500}")
    (folder / "fleet.yaml").write_text(text, encoding="utf-8")
    return load_fleet(folder / "fleet.yaml")


@pytest.fixture(scope="module")
def history(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("history")
    write_history(fleet, date(2026, 3, 2), 1, out, overwrite=True)
    return out


def _read(path: Path) -> pa.Table:
    table = pq.read_table(path)
    return table.drop_columns([c for c in ("site", "day") if c in table.column_names])


def test_views_implement_the_server_protocols(fleet: Fleet) -> None:
    runtime = Runtime(fleet, start=START)
    site: SiteView = runtime.sites[0]
    machine: MachineView = site.machines[0]
    assert site.path == "acme/plant"
    assert site.tz == "Europe/Berlin"
    assert [m.path for m in site.machines] == sorted(m.path for m in fleet.machines)
    assert machine.machine_type == "press"
    assert machine.vendor
    assert machine.serial
    assert list(machine.signals()) == [s.name for s in machine.signal_specs]
    assert isinstance(machine.state, MachineState)
    assert site.now() == START


def test_live_views_equal_history_at_every_instant(fleet: Fleet, history: Path) -> None:
    samples = _read(history / "samples")
    states = _read(history / "truth/states").to_pylist()
    runtime = Runtime(fleet, start=START)
    for offset in (17, 613, 3_600, 7_207, 20_001, 43_210):
        now = runtime.step(START + timedelta(seconds=offset))
        rows = samples.filter(pc.equal(samples["ts"], pa.scalar(now, pa.timestamp("ns", "UTC"))))
        for machine in runtime.sites[0].machines:
            mine = rows.filter(pc.equal(rows["path"], machine.path))
            expected = dict(zip(mine["signal"].to_pylist(), mine["value"].to_pylist(), strict=True))
            assert dict(machine.signals()) == pytest.approx(expected, rel=1e-12, abs=1e-9)
            truth = next(
                s for s in states if s["path"] == machine.path and s["start"] <= now < s["end"]
            )
            assert (machine.state.value, machine.reason) == (truth["state"], truth["reason"])


def _drain(site: SiteView, cursor: int) -> tuple[int, Sequence[Event]]:
    return site.events_since(cursor)


def test_events_come_out_when_due_and_equal_history(fleet: Fleet, history: Path) -> None:
    runtime = Runtime(fleet, start=START)
    site = runtime.sites[0]
    cursor = 0
    seen: list[tuple[datetime, Event]] = []
    step = timedelta(minutes=10)
    end = START + timedelta(hours=20)
    while runtime.now() < end:
        now = runtime.step(runtime.now() + step)
        cursor, events = _drain(site, cursor)
        seen.extend((now, e) for e in events)
    assert all(e.ts <= now for now, e in seen)
    history_events = _read(history / "events").to_pylist()
    live_states = sorted((e.path, e.ts, e.code, e.reason) for _, e in seen if e.kind == "state")
    hist_states = sorted(
        (e["path"], e["ts"], e["code"], e["reason"])
        for e in history_events
        if e["kind"] == "state" and e["ts"] <= end
    )
    assert live_states == hist_states
    # A count is reported at the end of its minute.
    live_counts = sorted(
        (e.path, e.ts, e.good, e.scrap)
        for _, e in seen
        if e.kind == "count" and (e.good or 0) >= 0 and e.ts < end - timedelta(minutes=1)
    )
    hist_counts = sorted(
        (e["path"], e["ts"], e["good"], e["scrap"])
        for e in history_events
        if e["kind"] == "count" and e["good"] >= 0 and e["ts"] < end - timedelta(minutes=1)
    )
    assert live_counts == hist_counts
    assert all(now >= e.ts.replace(second=0, microsecond=0) + timedelta(minutes=1)
               for now, e in seen if e.kind == "count")  # fmt: skip

    # Scrap found at end-of-line inspection arrives hours after the parts were made.
    found = {
        (s["path"], s["ts"]): s["found"]
        for s in _read(history / "truth/scrap").to_pylist()
        if s["detected"] == "eol"
    }
    late = [(now, e) for now, e in seen if e.kind is EventKind.COUNT and (e.good or 0) < 0]
    assert late, "twenty hours of three machines should show some late scrap"
    for now, event in late:
        assert now - event.ts >= timedelta(hours=2)
        assert found[(event.path, event.ts)] <= now < found[(event.path, event.ts)] + step


def test_view_counters_are_the_plc_counters(fleet: Fleet, history: Path) -> None:
    runtime = Runtime(fleet, start=START)
    press = next(m for m in runtime.sites[0].machines if m.machine_type == "press")
    failures = _read(history / "truth/failures").to_pylist()
    assert not [f for f in failures if f["path"] == press.path and f["plc_restart"]]
    counts = [
        e
        for e in _read(history / "events").to_pylist()
        if e["kind"] == "count" and e["path"] == press.path and e["good"] >= 0
    ]
    first = press.good_counter
    for hours in (1, 5, 11, 23):
        now = runtime.step(START + timedelta(hours=hours))
        made = sum(e["good"] for e in counts if e["ts"] < now)
        # UInt16: the counter wraps at 65536 (the engine test sees the wrap itself).
        assert press.good_counter == (first + made) % 65536


def test_the_event_buffer_is_bounded(fleet: Fleet) -> None:
    runtime = Runtime(fleet, start=START, keep_events=10)
    runtime.step(START + timedelta(hours=2))
    site = runtime.sites[0]
    cursor, events = site.events_since(0)
    assert 10 <= len(events) <= 15
    assert site.dropped_events == cursor - len(events) > 0
    assert site.events_since(cursor) == (cursor, ())


def test_run_ticks_with_the_clock_until_stopped(fleet: Fleet) -> None:
    runtime = Runtime(fleet, start=START, speed=600)
    ticks = 0

    async def on_tick() -> None:
        nonlocal ticks
        ticks += 1

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.5, stop.set)
        await runtime.run(on_tick, stop=stop)

    asyncio.run(main())
    elapsed = runtime.now() - START
    assert timedelta(seconds=120) <= elapsed <= timedelta(seconds=600)
    assert ticks >= 10
