"""The KPI engine over a real store: plant-time windows, roll-ups, versions, late events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from werk.assets.model import AssetModel, BreakSpec, EquipmentType, Instance, ShiftSpec, SiteSpec
from werk.errors import InvalidInput, NotFound
from werk.kpi import Granularity, KpiResult
from werk.kpi.engine import KpiEngine, parse_by
from werk.samples import Event, EventKind, events_to_batch
from werk.store import Store, open_store

SITE = "acme/berlin"
A = f"{SITE}/body/line-1/press-01"
B = f"{SITE}/body/line-1/press-02"
MONDAY = datetime(2026, 3, 2, 5, tzinfo=UTC)  # 06:00 in Berlin
NOW = datetime(2026, 3, 10, tzinfo=UTC)


def model() -> AssetModel:
    shift = ShiftSpec(
        "early", time(6), time(14), breaks=(BreakSpec("lunch", time(10), time(10, 30)),)
    )
    late = ShiftSpec("late", time(14), time(22))
    return AssetModel(
        (SiteSpec(SITE, "Europe/Berlin", (shift, late)),),
        (EquipmentType("press", 1, (), {"door": timedelta(seconds=60)}),),
        (Instance(A, "press"), Instance(B, "press", ideal_cycles={"door": timedelta(seconds=30)})),
    )


def at(hours: float) -> datetime:
    return MONDAY + timedelta(hours=hours)


def put(store: Store, key: str, events: list[Event]) -> None:
    import pyarrow as pa

    store.write(key, events=pa.Table.from_batches([events_to_batch(events)]))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"duckdb:///{tmp_path / 'w.duckdb'}")
    for path in (A, B):
        put(
            s,
            path,
            [
                Event(path, at(-20), EventKind.STATE, "executing"),
                Event(path, at(2), EventKind.STATE, "failure"),
                Event(path, at(3), EventKind.STATE, "executing"),
                Event(path, at(1), EventKind.COUNT, product="door", good=100, scrap=2),
                Event(path, at(9), EventKind.COUNT, product="door", good=200),
            ],
        )
    yield s
    s.close()


def test_shifts_in_plant_time_and_a_line_sums_its_machines(store: Store) -> None:
    engine = KpiEngine(store, model(), clock=lambda: NOW)
    machines = engine.machine_results(f"{SITE}/body", at(0), at(8), Granularity.SHIFT)
    assert {(r.path, r.window.label) for r in machines} == {
        (A, "2026-03-02 early"),
        (B, "2026-03-02 early"),
    }
    a = next(r for r in machines if r.path == A)
    # Producing through lunch: production evidence beats the plan, and is reported.
    assert a.model.pdot == timedelta(0)
    assert a.model.outside_plan == timedelta(minutes=30)
    assert [f.key for f in a.findings] == ["calendar.production_outside_plan"]
    assert a.model.adet == timedelta(hours=1)
    assert a.kpis.availability == pytest.approx(7 / 8)
    (line,) = engine.results(f"{SITE}/body/line-1", at(0), at(8), Granularity.SHIFT)
    assert line.model == machines[0].model + machines[1].model
    assert line.kpis.effectiveness == pytest.approx((102 * 60 + 102 * 30) / (2 * 7 * 3600))
    assert line.final
    assert line.completeness == 1.0


def test_versions_move_only_when_values_change(store: Store) -> None:
    engine = KpiEngine(store, model(), clock=lambda: NOW)
    first = engine.results(A, at(0), at(16), Granularity.SHIFT)
    again = engine.results(A, at(0), at(16), Granularity.SHIFT)
    assert [r.version for r in again] == [1, 1] == [r.version for r in first]
    late = Event(A, at(5), EventKind.STATE, "setup")
    put(store, "late", [late, Event(A, at(5.5), EventKind.STATE, "executing")])
    revisions = engine.recompute([late])
    assert {r.window.label for r in revisions if r.changed} == {"2026-03-02 early"}
    after = engine.results(A, at(0), at(16), Granularity.SHIFT)
    assert [r.version for r in after] == [2, 1]
    assert after[0].model.aust == timedelta(minutes=30)


def test_unknown_paths_and_bad_granularities_are_refused(store: Store) -> None:
    engine = KpiEngine(store, model(), clock=lambda: NOW)
    with pytest.raises(NotFound) as caught:
        engine.results(f"{SITE}/paint", at(0), at(8))
    assert caught.value.fields["path"] == f"{SITE}/paint"
    with pytest.raises(InvalidInput) as bad:
        parse_by("fortnight")
    assert bad.value.fields["field"] == "by"
    with pytest.raises(InvalidInput):
        engine.results(A, at(8), at(0))


def test_a_sampled_site_has_no_data_after_its_data_stops(store: Store) -> None:
    """The demo's symptom: history loaded up to midnight, KPIs asked at noon. The last state
    must not hold until now (full completeness, APT without parts): it is missing data."""
    import pyarrow as pa

    from werk.samples import SAMPLE_SCHEMA

    def late_shift() -> KpiResult:
        engine = KpiEngine(store, model(), clock=lambda: NOW, silence=timedelta(minutes=15))
        results = engine.machine_results(A, at(8), at(16), Granularity.SHIFT)
        return next(r for r in results if r.path == A)

    # Without sampled signals, events cannot tell a quiet machine from a silent edge.
    assert late_shift().model.apt == timedelta(hours=8)
    ts = [at(h / 6) for h in range(-6, 19)]  # a sample every 10 min up to 09:00 Berlin
    samples = pa.table(
        {
            "path": [A] * len(ts),
            "signal": ["force"] * len(ts),
            "ts": ts,
            "value": [1.0] * len(ts),
            "quality": [0] * len(ts),
        },
        schema=SAMPLE_SCHEMA,
    )
    store.write("force", samples=samples)
    put(store, "more", [Event(A, at(9.5), EventKind.COUNT, product="door", good=20)])
    # The newest data is the count at 15:30 Berlin (the store sums it with the one at 15:00):
    # states hold to 15:45, then nothing is known.
    late = late_shift()
    assert late.model.apt == timedelta(hours=1, minutes=45)
    assert late.model.no_data == timedelta(hours=6, minutes=15)
    assert late.completeness == pytest.approx(1.75 / 8)


def test_ingested_batches_revise_ended_windows_only(store: Store) -> None:
    import pyarrow as pa

    engine = KpiEngine(store, model(), clock=lambda: at(12))  # 18:00 Berlin: late shift runs
    engine.machine_results(f"{SITE}/body", at(0), at(16), Granularity.SHIFT)

    def batch(*events: Event) -> pa.Table:
        put(store, f"b{events[0].ts.timestamp()}", list(events))
        return pa.Table.from_batches([events_to_batch(list(events))])

    # On time: a count in the running shift; every query derives that shift afresh anyway.
    assert (
        engine.recompute_table(batch(Event(A, at(11), EventKind.COUNT, product="door", good=5)))
        == []
    )
    # Late: scrap found among parts of the ended early shift.
    late = batch(Event(A, at(1), EventKind.COUNT, product="door", good=-3, scrap=3))
    revisions = engine.recompute_table(late)
    assert [(r.path, r.window.label, r.changed) for r in revisions] == [
        (A, "2026-03-02 early", True)
    ]
