"""The engine's store reads: counts summed by the store give exactly the per-event time models."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from bench.kpi import assets, events, paths
from werk.kpi import Granularity
from werk.kpi.calendar import Window
from werk.kpi.engine import KpiEngine, bucket_step
from werk.samples import EVENT_SCHEMA, Event, EventKind, events_to_batch
from werk.store import Store, open_store

FIRST = date(2026, 3, 27)  # the days around the change to summer time in Berlin (29 March)
MACHINES = paths(1, 3)
NOW = datetime(2026, 4, 5, tzinfo=UTC)


def _extra() -> pa.Table:
    """Counts without a product and product events inside shifts (their product is looked up)."""
    m = MACHINES[0]
    base = datetime(2026, 3, 28, 7, 3, 11, tzinfo=UTC)
    rows = [
        Event(m, base, EventKind.PRODUCT, "B"),
        Event(m, base + timedelta(minutes=1), EventKind.COUNT, good=3, scrap=1),
        Event(m, base + timedelta(minutes=1), EventKind.COUNT, good=2),
        Event(m, base + timedelta(hours=1, seconds=7), EventKind.PRODUCT, "A"),
        Event(m, base + timedelta(hours=1, seconds=9), EventKind.COUNT, good=5),
        Event(m, base + timedelta(hours=2), EventKind.COUNT, good=-2, scrap=2, reason="eol"),
        Event(m, base + timedelta(hours=3), EventKind.COUNT, product="C", good=4),
    ]
    return pa.Table.from_batches([events_to_batch(rows)]).cast(EVENT_SCHEMA)


@pytest.fixture(params=["duckdb", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = (
        f"duckdb:///{tmp_path / 'k.duckdb'}"
        if request.param == "duckdb"
        else request.getfixturevalue("pg_url")
    )
    s = open_store(url)
    s.write("month", events=events(MACHINES, FIRST, 4, seed=3, count_every=timedelta(minutes=7)))
    s.write("extra", events=_extra())
    yield s
    s.close()


@pytest.mark.parametrize("by", [Granularity.SHIFT, Granularity.DAY])
def test_summed_counts_give_the_same_time_models(store: Store, by: Granularity) -> None:
    model = assets(MACHINES)
    start = datetime(2026, 3, 27, 5, tzinfo=UTC)
    end = start + timedelta(days=3)
    summed = KpiEngine(store, model, clock=lambda: NOW).table(MACHINES[0][:-5], start, end, by)
    plain = KpiEngine(store, model, clock=lambda: NOW, sum_counts=False).table(
        MACHINES[0][:-5], start, end, by
    )
    assert summed.windows == plain.windows
    assert summed.paths == plain.paths
    assert np.array_equal(summed.times, plain.times)
    assert np.array_equal(summed.counts, plain.counts)
    assert summed.findings == plain.findings
    assert summed.counts[:, 0].sum() > 0  # parts were counted at all


def test_the_store_sums_counts_per_bucket_and_keeps_unnamed_ones_apart(store: Store) -> None:
    origin = datetime(2026, 3, 28, 5, tzinfo=UTC)
    table = store.count_sums(
        MACHINES[0], origin, origin + timedelta(hours=8), origin=origin, step=timedelta(hours=8)
    )
    rows = table.to_pylist()
    unnamed = [r for r in rows if r["product"] is None]
    # The two counts at one instant are one row; the three instants stay three rows.
    assert sorted((r["good"], r["scrap"] or 0) for r in unnamed) == [(-2, 2), (5, 0), (5, 1)]
    named = [r for r in rows if r["product"] is not None]
    assert len({r["product"] for r in named}) == len(named)  # one row per product
    raw = store.events(MACHINES[0], origin, origin + timedelta(hours=8), kinds=["count"])
    assert sum(r["good"] for r in rows) == pa.compute.sum(raw["good"]).as_py()


def test_the_bucket_step_is_the_common_divisor_of_the_window_edges() -> None:
    t0 = datetime(2026, 3, 28, 5, tzinfo=UTC)

    def win(a: float, b: float) -> Window:
        s, e = t0 + timedelta(hours=a), t0 + timedelta(hours=b)
        return Window(s, e, Granularity.SHIFT, s.date(), f"{a}")

    assert bucket_step([win(0, 8), win(8, 16), win(16, 24)]) == timedelta(hours=8)
    assert bucket_step([win(0, 8), win(8, 15), win(15, 23)]) == timedelta(hours=1)
    assert bucket_step([win(0, 8), win(8, 8.0001)]) is None
