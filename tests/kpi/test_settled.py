"""Final windows kept between queries give exactly the tables and KPIs of a cold computation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from bench.kpi import assets, events, paths
from werk.kpi import Granularity
from werk.kpi.engine import KpiEngine
from werk.kpi.table import TimeModelTable
from werk.samples import EVENT_SCHEMA, Event, EventKind, events_to_batch
from werk.store import Store, open_store

FIRST = date(2026, 3, 27)  # across the change to summer time in Berlin (29 March)
MACHINES = paths(1, 3)
LINE = MACHINES[0].rsplit("/", 1)[0]
NOW = datetime(2026, 4, 1, 12, tzinfo=UTC)  # windows before 31 March 12:00 are final


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"duckdb:///{tmp_path / 'k.duckdb'}")
    s.write("days", events=events(MACHINES, FIRST, 5, seed=5, count_every=timedelta(minutes=9)))
    yield s
    s.close()


def _same(a: TimeModelTable, b: TimeModelTable) -> None:
    assert a.paths == b.paths
    assert a.windows == b.windows
    assert np.array_equal(a.row_path, b.row_path)
    assert np.array_equal(a.row_window, b.row_window)
    assert np.array_equal(a.times, b.times)
    assert np.array_equal(a.counts, b.counts)
    for row in range(len(a)):
        assert sorted(map(repr, a.findings_of(row))) == sorted(map(repr, b.findings_of(row)))


@pytest.mark.parametrize("by", [Granularity.SHIFT, Granularity.DAY])
def test_kept_windows_stack_into_the_cold_table(store: Store, by: Granularity) -> None:
    model = assets(MACHINES)
    warm = KpiEngine(store, model, clock=lambda: NOW)
    start = datetime(2026, 3, 27, 4, tzinfo=UTC)
    warm.table(LINE, start + timedelta(days=1), start + timedelta(days=3), by)  # keeps some
    for lo, hi in [(start, start + timedelta(days=5)), (start + timedelta(days=1, hours=6), NOW)]:
        cold = KpiEngine(store, model, clock=lambda: NOW, final_ttl=timedelta(0))
        _same(warm.table(LINE, lo, hi, by), cold.table(LINE, lo, hi, by))
        ours, theirs = warm.results(LINE, lo, hi, by), cold.results(LINE, lo, hi, by)
        assert [(r.window, r.model, r.final) for r in ours] == [
            (r.window, r.model, r.final) for r in theirs
        ]
    assert warm._settled.hits > 0  # the second and third reads took kept windows


def test_late_events_drop_the_windows_they_may_move(store: Store) -> None:
    model = assets(MACHINES)
    engine = KpiEngine(store, model, clock=lambda: NOW)
    lo, hi = datetime(2026, 3, 27, 4, tzinfo=UTC), datetime(2026, 3, 31, 4, tzinfo=UTC)
    before = engine.results(MACHINES[0], lo, hi, Granularity.SHIFT)
    late = [
        Event(MACHINES[0], datetime(2026, 3, 30, 7, tzinfo=UTC), EventKind.STATE, "failure", "jam"),
        Event(MACHINES[0], datetime(2026, 3, 30, 9, tzinfo=UTC), EventKind.STATE, "setup"),
    ]
    batch = pa.Table.from_batches([events_to_batch(late)]).cast(EVENT_SCHEMA)
    store.write("late", events=batch)
    engine.recompute_table(batch)  # what the ingest route does after the commit
    after = engine.results(MACHINES[0], lo, hi, Granularity.SHIFT)
    cold = KpiEngine(store, model, clock=lambda: NOW, final_ttl=timedelta(0))
    expected = cold.results(MACHINES[0], lo, hi, Granularity.SHIFT)
    assert [r.model for r in after] == [r.model for r in expected]
    assert [r.model for r in after] != [r.model for r in before]
