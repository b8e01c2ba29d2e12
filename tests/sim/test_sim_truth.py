"""The ground truth covers the span exactly and equals the events the simulator emits."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from werk.sim.fleet import Fleet, load_fleet
from werk.sim.history import write_history

START = date(2026, 3, 2)
SPAN_START = datetime(2026, 3, 2, tzinfo=UTC)
DAYS = 2


def _read(out: Path, kind: str) -> pa.Table:
    """Read a partitioned table without its partition columns."""
    table = pq.read_table(str(out / kind))
    return table.drop_columns([c for c in ("site", "day") if c in table.column_names])


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, small_fleet_text: str) -> tuple[Path, Fleet]:
    """Two days of the small fleet's events and truth (no samples)."""
    folder = tmp_path_factory.mktemp("truth")
    (folder / "fleet.yaml").write_text(small_fleet_text, encoding="utf-8")
    fleet = load_fleet(folder / "fleet.yaml")
    write_history(fleet, START, DAYS, folder / "out", samples=False)
    return folder / "out", fleet


def test_state_intervals_are_contiguous_and_cover_the_span(run: tuple[Path, Fleet]) -> None:
    out, fleet = run
    states = _read(out, "truth/states").to_pylist()
    end = SPAN_START + timedelta(days=DAYS)
    for machine in fleet.machines:
        rows = [r for r in states if r["path"] == machine.path]
        assert rows[0]["start"] == SPAN_START
        assert rows[-1]["end"] == end
        for a, b in itertools.pairwise(rows):
            assert a["start"] < a["end"] == b["start"]
        assert sum((r["end"] - r["start"] for r in rows), timedelta(0)) == end - SPAN_START


def test_state_events_equal_the_truth(run: tuple[Path, Fleet]) -> None:
    out, _ = run
    events = _read(out, "events").to_pylist()
    states = _read(out, "truth/states").to_pylist()
    emitted = sorted(
        (e["path"], e["ts"], e["code"], e["reason"]) for e in events if e["kind"] == "state"
    )
    truth = sorted((s["path"], s["start"], s["state"], s["reason"]) for s in states)
    assert emitted == truth


def test_count_events_equal_the_truth(run: tuple[Path, Fleet]) -> None:
    out, _ = run
    events = _read(out, "events").to_pylist()
    counts = _read(out, "truth/counts").to_pylist()
    emitted = sorted(
        (e["path"], e["ts"], e["code"], e["product"], e["good"], e["scrap"])
        for e in events
        if e["kind"] == "count" and e["good"] >= 0
    )
    truth = sorted(
        (c["path"], c["ts"], c["order"], c["product"], c["good"], c["scrap"]) for c in counts
    )
    assert emitted == truth
    assert sum(c["good"] + c["scrap"] for c in counts) > 1000


def test_late_scrap_corrects_a_count_hours_later(run: tuple[Path, Fleet]) -> None:
    out, _ = run
    events = _read(out, "events").to_pylist()
    scrap = _read(out, "truth/scrap").to_pylist()
    counted = {(e["path"], e["ts"]) for e in events if e["kind"] == "count" and e["good"] >= 0}
    late = [e for e in events if e["kind"] == "count" and e["good"] < 0]
    eol = [s for s in scrap if s["detected"] == "eol"]
    assert late
    assert len(late) == len(eol)
    for e in late:
        assert (e["good"], e["scrap"]) == (-1, 1)
        assert (e["path"], e["ts"]) in counted, "a late correction points at a count event"
    for s in eol:
        assert s["found"] - s["produced"] >= timedelta(hours=2)
        assert s["ts"] - timedelta(minutes=1) < s["produced"] <= s["ts"]
    assert sorted((e["path"], e["ts"], e["reason"]) for e in late) == sorted(
        (s["path"], s["ts"], s["reason"]) for s in eol
    )


def test_failures_raise_and_clear_alarms(run: tuple[Path, Fleet]) -> None:
    out, _ = run
    events = _read(out, "events").to_pylist()
    failures = _read(out, "truth/failures").to_pylist()
    raised = {
        (e["path"], e["ts"], e["code"]) for e in events if e["kind"] == "alarm" and e["active"]
    }
    assert failures
    assert {(f["path"], f["start"], f["reason"]) for f in failures} == raised
    assert all(f["cause"] in ("wear", "random") for f in failures)


def test_calendar_and_master_data(run: tuple[Path, Fleet]) -> None:
    out, fleet = run
    calendar = _read(out, "truth/calendar").to_pylist()
    shifts = [c for c in calendar if c["kind"] == "shift"]
    assert {c["name"] for c in shifts} == {"early", "late", "night"}
    assert all(c["label"] == f"{c['local_date'].isoformat()} {c['name']}" for c in calendar)
    cycles = _read(out, "truth/ideal_cycles").to_pylist()
    assert len(cycles) == len(fleet.machines) * 2
    machines = _read(out, "truth/machines").to_pylist()
    assert [m["path"] for m in machines] == [m.path for m in fleet.sites[0].lines[0].machines]


def test_same_seed_same_truth_other_seed_other_truth(
    run: tuple[Path, Fleet], tmp_path: Path
) -> None:
    out, fleet = run
    write_history(fleet, START, DAYS, tmp_path / "again", samples=False)
    for kind in ("events", "truth/states", "truth/counts", "truth/scrap", "truth/failures"):
        assert _read(out, kind).equals(_read(tmp_path / "again", kind)), kind
    reseeded = load_fleet(Path(fleet.source), seed=fleet.seed + 1)
    write_history(reseeded, START, DAYS, tmp_path / "other", samples=False)
    assert not _read(out, "truth/states").equals(_read(tmp_path / "other", "truth/states"))


def test_every_counted_order_is_in_the_truth_and_the_start_announces_jobs(
    run: tuple[Path, Fleet],
) -> None:
    out, fleet = run
    events = _read(out, "events").to_pylist()
    orders = {o["order"]: o for o in _read(out, "truth/orders").to_pylist()}
    counted = {(e["code"], e["product"]) for e in events if e["kind"] == "count"}
    assert counted
    for order, product in counted:
        assert orders[order]["product"] == product
    at_start = {(e["path"], e["kind"]) for e in events if e["ts"] == SPAN_START}
    for machine in fleet.machines:
        assert (machine.path, "state") in at_start
        assert (machine.path, "product") in at_start
        assert (machine.path, "order") in at_start
