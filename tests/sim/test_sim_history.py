"""History mode writes the documented Parquet layout with SAMPLE_SCHEMA, deterministically."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from werk.errors import Conflict, InvalidInput
from werk.samples import EVENT_SCHEMA, SAMPLE_SCHEMA
from werk.sim.fleet import Fleet, load_fleet
from werk.sim.history import HistoryProgress, write_history
from werk.sim.truth import TRUTH_SCHEMAS

START = date(2026, 3, 29)  # Europe/Berlin springs forward


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory, small_fleet_text: str) -> tuple[Path, Fleet]:
    """One day of the small fleet, everything written."""
    folder = tmp_path_factory.mktemp("history")
    (folder / "fleet.yaml").write_text(small_fleet_text, encoding="utf-8")
    fleet = load_fleet(folder / "fleet.yaml")
    write_history(fleet, START, 1, folder / "out")
    return folder / "out", fleet


def test_layout(history: tuple[Path, Fleet]) -> None:
    out, _ = history
    part = "site=plant/day=2026-03-29/part.parquet"
    assert (out / "samples" / part).is_file()
    assert (out / "events" / part).is_file()
    for table in TRUTH_SCHEMAS:
        assert (out / "truth" / table / "site=plant" / "part.parquet").is_file(), table
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["start"] == "2026-03-29T00:00:00+00:00"
    assert manifest["stats"]["samples"] > 0


def test_files_read_back_with_the_platform_schemas(history: tuple[Path, Fleet]) -> None:
    out, _ = history
    part = "site=plant/day=2026-03-29/part.parquet"
    assert pq.read_schema(out / "samples" / part) == SAMPLE_SCHEMA
    assert pq.read_schema(out / "events" / part) == EVENT_SCHEMA
    for name, schema in TRUTH_SCHEMAS.items():
        assert pq.read_schema(out / "truth" / name / "site=plant" / "part.parquet") == schema


def test_one_sample_per_signal_and_period_ordered_by_path_signal_ts(
    history: tuple[Path, Fleet],
) -> None:
    out, fleet = history
    file = pq.ParquetFile(out / "samples/site=plant/day=2026-03-29/part.parquet")
    table = file.read()
    signals = sum(len(m.signal_specs) for m in fleet.machines)
    assert table.num_rows == signals * 86_400
    assert file.metadata.num_row_groups == len(fleet.machines)
    day = np.datetime64("2026-03-29T00:00:00", "ns") + np.arange(86_400) * np.timedelta64(1, "s")
    paths = sorted(m.path for m in fleet.machines)
    at = 0
    for path in paths:
        for spec in fleet.machine(path).signal_specs:
            block = table.slice(at, 86_400)
            assert pc.unique(block["path"]).to_pylist() == [path]
            assert pc.unique(block["signal"]).to_pylist() == [spec.name]
            ts = block["ts"].to_numpy()
            assert (ts.astype("datetime64[ns]") == day).all()
            at += 86_400
    assert set(pc.unique(table.column("quality")).to_pylist()) <= {0, 1, 2}


def test_values_stay_inside_their_ranges(history: tuple[Path, Fleet]) -> None:
    out, fleet = history
    table = pq.read_table(out / "samples/site=plant/day=2026-03-29/part.parquet")
    for machine in fleet.machines:
        rows = table.filter(pc.equal(table["path"], machine.path))
        for spec in machine.signal_specs:
            values = rows.filter(pc.equal(rows["signal"], spec.name))["value"].to_numpy()
            assert len(values) == 86_400
            assert spec.low <= values.min(), spec.name
            assert values.max() <= spec.high, spec.name
            assert np.isfinite(values).all()


def test_same_seed_same_samples_other_seed_other_samples(
    history: tuple[Path, Fleet], tmp_path: Path
) -> None:
    out, fleet = history
    part = "samples/site=plant/day=2026-03-29/part.parquet"
    write_history(fleet, START, 1, tmp_path / "again", events=False, truth=False)
    assert pq.read_table(out / part).equals(pq.read_table(tmp_path / "again" / part))
    other = load_fleet(Path(fleet.source), seed=fleet.seed + 1)
    write_history(other, START, 1, tmp_path / "other", events=False, truth=False)
    assert not pq.read_table(out / part).equals(pq.read_table(tmp_path / "other" / part))


def test_existing_output_is_not_overwritten_by_accident(
    history: tuple[Path, Fleet], tmp_path: Path
) -> None:
    _, fleet = history
    write_history(fleet, START, 1, tmp_path, samples=False)
    with pytest.raises(Conflict):
        write_history(fleet, START, 1, tmp_path, samples=False)
    write_history(fleet, START, 1, tmp_path, samples=False, overwrite=True)


def test_bad_span_is_refused(history: tuple[Path, Fleet], tmp_path: Path) -> None:
    _, fleet = history
    with pytest.raises(InvalidInput):
        write_history(fleet, START, 0, tmp_path)
    with pytest.raises(InvalidInput):
        write_history(fleet, datetime(2026, 3, 2, 0, 5, tzinfo=UTC), 1, tmp_path)


def test_benchmark_smoke(small_fleet: Fleet, tmp_path: Path) -> None:
    seen: list[HistoryProgress] = []
    stats = write_history(small_fleet, START, 1, tmp_path, progress=seen.append)
    assert stats.samples == sum(len(m.signal_specs) for m in small_fleet.machines) * 86_400
    assert stats.samples_per_s > 0
    assert stats.files == 1 + 1 + len(TRUTH_SCHEMAS)
    assert stats.bytes > 0
    assert stats.events > 0
    assert stats.truth_rows > 0
    assert [(p.site, p.day, p.done, p.total) for p in seen] == [("plant", START, 1, 1)]
    assert timedelta(seconds=stats.seconds) < timedelta(seconds=60)


def test_the_truth_calendar_of_a_dst_day_has_23_hours_of_shifts(
    history: tuple[Path, Fleet],
) -> None:
    out, _ = history
    calendar = pq.read_table(out / "truth/calendar/site=plant/part.parquet").to_pylist()
    berlin = ZoneInfo("Europe/Berlin")
    day_start = datetime(2026, 3, 29, tzinfo=berlin).astimezone(UTC)
    day_end = datetime(2026, 3, 30, tzinfo=berlin).astimezone(UTC)
    covered = sum(
        (
            max(timedelta(0), min(w["end"], day_end) - max(w["start"], day_start))
            for w in calendar
            if w["kind"] == "shift"
        ),
        timedelta(0),
    )
    assert day_end - day_start == covered == timedelta(hours=23)
    night = next(w for w in calendar if w["label"] == "2026-03-28 night")
    assert night["end"] - night["start"] == timedelta(hours=7)
