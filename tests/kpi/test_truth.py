"""KPIs from the store equal KPIs from the simulator's ground truth, shift by shift, to 1e-6.

A simulated week (2026-10-19 → 2026-10-26) of the default fleet — Berlin, Chicago and Shanghai,
three zones, Berlin's DST change on 10-25 inside — is written with ``write_history``, its events
loaded into a DuckDB store and every machine's KPIs computed by shift with :class:`KpiEngine`.
The reference here is computed independently from the truth tables (state intervals, counts,
late scrap, the simulator's own calendar windows) with the same conventions, stated once:

* micro-stops: a run of consecutive ``micro_stop`` states shorter than 120 s (the default
  mapping's threshold) stays in APT as a minor stop; a longer run is ADET;
* late scrap (end-of-line findings) counts in the shift of *production* (the ``ts`` of the count
  event that counted the part good), as ``good − 1, scrap + 1``;
* shifts cut by the span's ends are left out: the truth's calendar does not list the breaks
  outside the span, which the KPI calendar knows (it counts them as PDOT, not no data);
* planned maintenance outside shifts is not scheduled time, not PDOT (the KPI calendar plans down
  time only inside planned operation time); the truth's states call it ``planned_maintenance``;
* a failure event is a run of consecutive ``failure`` states; its TTR counts in the shift where it
  began, when it ended before the end of the simulated span (the data horizon).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from werk.kpi import Granularity, KpiResult
from werk.kpi.engine import KpiEngine
from werk.samples import EVENT_SCHEMA, Event, EventKind
from werk.sim.assets import asset_model
from werk.sim.fleet import load_fleet
from werk.sim.history import write_history
from werk.store import Store, open_store

START = datetime(2026, 10, 19, tzinfo=UTC)
END = datetime(2026, 10, 26, tzinfo=UTC)
MICRO_STOP = timedelta(seconds=120)
ELEMENT = {
    "executing": "apt",
    "setup": "aust",
    "failure": "adet",
    "starved": "adet",
    "blocked": "adet",
    "no_order": "adot",
    "break": "pdot",
    "planned_maintenance": "pdot",
    "no_shift": "not_scheduled",
}


@dataclass
class World:
    out: Path
    store: Store
    engine: KpiEngine


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    out = tmp_path_factory.mktemp("truth")
    fleet = load_fleet()
    write_history(fleet, date(2026, 10, 19), 7, out / "sim", samples=False)
    store = open_store(f"duckdb:///{out}/werk.duckdb")
    events = _read(out / "sim" / "events").select(EVENT_SCHEMA.names).cast(EVENT_SCHEMA)
    for i, batch in enumerate(events.to_batches(250_000)):
        store.write(f"sim-{i}", events=pa.Table.from_batches([batch]))
    engine = KpiEngine(store, asset_model(fleet), clock=lambda: END, settle=timedelta(hours=8))
    try:
        yield World(out, store, engine)
    finally:
        store.close()


def _read(folder: Path) -> pa.Table:
    return ds.dataset(folder, format="parquet", partitioning="hive").to_table()


def _truth(out: Path, name: str) -> list[dict[str, object]]:
    table = _read(out / "sim" / "truth" / name)
    rows: list[dict[str, object]] = table.to_pylist()
    return rows


def _overlap(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> timedelta:
    return max(timedelta(0), min(a1, b1) - max(a0, b0))


def reference(out: Path) -> dict[tuple[str, str], dict[str, float]]:
    """Return time elements, quantities and KPIs per (machine, shift label) from the truth."""
    shifts: dict[str, list[tuple[str, datetime, datetime]]] = defaultdict(list)
    for row in _truth(out, "calendar"):
        if row["kind"] == "shift" and _dt(row["start"]) >= START and _dt(row["end"]) <= END:
            shifts[str(row["site_path"])].append(
                (str(row["label"]), _dt(row["start"]), _dt(row["end"]))
            )
    pri = {
        (str(r["path"]), str(r["product"])): float(str(r["ideal_cycle_s"]))
        for r in _truth(out, "ideal_cycles")
    }
    states: dict[str, list[tuple[datetime, datetime, str]]] = defaultdict(list)
    for row in _truth(out, "states"):
        states[str(row["path"])].append((_dt(row["start"]), _dt(row["end"]), str(row["state"])))
    counts: dict[str, list[tuple[datetime, str, int, int]]] = defaultdict(list)
    for row in _truth(out, "counts"):
        counts[str(row["path"])].append(
            (_dt(row["ts"]), str(row["product"]), int(str(row["good"])), int(str(row["scrap"])))
        )
    for row in _truth(out, "scrap"):
        if row["detected"] == "eol":
            q = int(str(row["quantity"]))
            counts[str(row["path"])].append((_dt(row["ts"]), str(row["product"]), -q, q))
    machines = {str(r["path"]): str(r["site_path"]) for r in _truth(out, "machines")}
    out_rows: dict[tuple[str, str], dict[str, float]] = {}
    for path, site in machines.items():
        rows = sorted(states[path])
        # Element of each state row: micro-stop runs by their whole length.
        elements: list[str] = []
        i = 0
        while i < len(rows):
            j = i
            while j + 1 < len(rows) and rows[j + 1][2] == rows[i][2]:
                j += 1
            length = rows[j][1] - rows[i][0]
            for k in range(i, j + 1):
                if rows[k][2] == "micro_stop":
                    elements.append("apt" if length < MICRO_STOP else "adet")
                else:
                    elements.append(ELEMENT[rows[k][2]])
            i = j + 1
        # Failure runs: (start, end, restored).
        failures: list[tuple[datetime, datetime]] = []
        for k, (s0, s1, state) in enumerate(rows):
            if state == "failure":
                if k > 0 and rows[k - 1][2] == "failure":
                    failures[-1] = (failures[-1][0], s1)
                else:
                    failures.append((s0, s1))
        for label, w0, w1 in shifts[site]:
            t: dict[str, timedelta] = defaultdict(timedelta)
            for (s0, s1, _), element in zip(rows, elements, strict=True):
                t[element] += _overlap(s0, s1, w0, w1)
            known = sum(t.values(), timedelta(0))
            t["no_data"] = (w1 - w0) - known
            pbt = t["apt"] + t["aust"] + t["adet"] + t["adot"]
            pq = gq = sq = 0
            ideal = 0.0
            for ts, product, good, scrap in counts[path]:
                if w0 <= ts < w1:
                    gq += good
                    sq += scrap
                    pq += good + scrap
                    ideal += pri[(path, product)] * (good + scrap)
            fe = [(a, b) for a, b in failures if w0 <= a < w1]
            restored = [(a, b) for a, b in fe if b < END]
            sec = {k: v.total_seconds() for k, v in t.items()}
            apt, aust, adet = sec.get("apt", 0.0), sec.get("aust", 0.0), sec.get("adet", 0.0)
            a = apt / pbt.total_seconds() if pbt else math.nan
            e = ideal / apt if apt else math.nan
            quality = gq / pq if pq else math.nan
            ttr = sum(((b - a0).total_seconds() for a0, b in restored), 0.0)
            out_rows[(path, label)] = {
                **{
                    k: sec.get(k, 0.0)
                    for k in ("apt", "aust", "adet", "adot", "pdot", "not_scheduled", "no_data")
                },
                "pq": pq,
                "gq": gq,
                "sq": sq,
                "availability": a,
                "effectiveness": e,
                "quality_ratio": quality,
                "oee": a * e * quality,
                "nee": (apt + aust) / pbt.total_seconds() * e * quality if pbt else math.nan,
                "setup_rate": aust / (apt + aust) if apt + aust else math.nan,
                "scrap_ratio": sq / pq if pq else math.nan,
                "utilization_efficiency": apt / (apt + aust + adet)
                if apt + aust + adet
                else math.nan,
                "mtbf": apt / len(fe) if fe else math.nan,
                "mttr": ttr / len(restored) if restored else math.nan,
            }
    return out_rows


def _dt(value: object) -> datetime:
    assert isinstance(value, datetime)
    return value.astimezone(UTC)


def _engine_row(r: KpiResult) -> dict[str, float]:
    m = r.model
    k = r.kpis.as_dict()
    row: dict[str, float] = {
        name: getattr(m, name).total_seconds()
        for name in ("apt", "aust", "adet", "adot", "pdot", "not_scheduled", "no_data")
    }
    row.update(pq=m.pq, gq=m.gq, sq=m.sq)
    for name, value in k.items():
        row[name] = math.nan if value is None else value
    return row


def test_every_shift_kpi_equals_the_truth(world: World) -> None:
    expected = reference(world.out)
    results = world.engine.machine_results("autowerk", START, END, Granularity.SHIFT)
    got = {
        (r.path, r.window.label): _engine_row(r)
        for r in results
        if r.window.start >= START and r.window.end <= END
    }
    assert set(got) == set(expected)
    assert len({p.split("/")[1] for p, _ in got}) == 3
    compared = 0
    for key, want in expected.items():
        have = got[key]
        for name, value in want.items():
            if math.isnan(value):
                assert math.isnan(have[name]), (key, name, have[name])
            else:
                assert have[name] == pytest.approx(value, abs=1e-6, rel=0), (key, name)
            compared += 1
    assert compared > 5000
    # The week had real production, failures and late scrap to compare.
    assert sum(r["pq"] for r in expected.values()) > 10_000
    assert any(not math.isnan(r["mttr"]) for r in expected.values())


def test_dst_day_is_25_hours_in_berlin(world: World) -> None:
    days = world.engine.results("autowerk/berlin", START, END, Granularity.DAY)
    lengths = {r.window.label: r.window.duration for r in days}
    assert lengths["2026-10-25"] == timedelta(hours=25)
    assert lengths["2026-10-24"] == timedelta(hours=24)


def test_late_scrap_changes_exactly_its_shift(world: World) -> None:
    engine = world.engine
    machine = "autowerk/chicago/body-shop/line-1/press-01"
    before = engine.machine_results(machine, START, END, Granularity.SHIFT)
    line = engine.results("autowerk/chicago/body-shop/line-1", START, END, Granularity.SHIFT)
    target = next(r for r in before if r.model.gq > 10 and r.window.label.endswith("first"))
    ts = target.window.start + timedelta(hours=2)
    late = Event(machine, ts, EventKind.COUNT, "late", "eol-defect", None, good=-3, scrap=3)
    world.store.write(
        "late-scrap-1",
        events=pa.Table.from_pylist(
            [
                {
                    "path": machine,
                    "ts": ts,
                    "kind": "count",
                    "code": "late",
                    "reason": "eol-defect",
                    "product": None,
                    "good": -3,
                    "scrap": 3,
                    "rework": 0,
                    "active": None,
                }
            ],
            schema=EVENT_SCHEMA,
        ),
    )
    revisions = engine.recompute([late])
    changed = {(r.path, r.window.label) for r in revisions if r.changed}
    assert changed == {
        (machine, target.window.label),
        ("autowerk/chicago/body-shop/line-1", target.window.label),
    }
    after = {r.window.label: r for r in engine.materialised(machine, Granularity.SHIFT)}
    assert after[target.window.label].version == 2
    assert after[target.window.label].model.gq == target.model.gq - 3
    assert all(r.version == 1 for label, r in after.items() if label != target.window.label)
    # The incrementally moved line result equals a full recomputation from the store.
    again = engine.results("autowerk/chicago/body-shop/line-1", START, END, Granularity.SHIFT)
    moved = {r.window.label: r for r in again}
    assert moved[target.window.label].version == 2
    assert (
        moved[target.window.label].model.sq
        == {r.window.label: r for r in line}[target.window.label].model.sq + 3
    )
    assert all(r.version == 1 for r in again if r.window.label != target.window.label)
