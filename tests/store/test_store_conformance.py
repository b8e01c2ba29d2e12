"""One conformance suite, run against DuckDB and PostgreSQL alike."""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pytest

from tests.store.rows import Row, dt, event_table, ns, sample_table
from werk.errors import Conflict, InvalidInput, MigrationError, NotFound, StoreError
from werk.samples import to_ns
from werk.store import Agg, RetentionRule, Store, open_store
from werk.store.buckets import bucket_edges
from werk.store.schema import LATEST_VERSION
from werk.store.tables import CODED_RAW_SCHEMA

M1 = "acme/berlin/press/line-1/m1"
M2 = "acme/berlin/press/line-1/m2"
T0 = ns("2026-01-05T00:00:00")
SECOND = 1_000_000_000


def column(table: pa.Table, name: str) -> list[Any]:
    values: list[Any] = table.column(name).to_pylist()
    return values


def ts_ns(table: pa.Table) -> list[int]:
    return [int(x) for x in table.column("ts").cast(pa.int64()).to_pylist()]


# -- lifecycle ---------------------------------------------------------------------------------


def test_migrate_is_idempotent_and_recorded(store: Store) -> None:
    assert store.schema_version() == LATEST_VERSION
    assert store.migrate() == LATEST_VERSION
    assert store.migrate() == LATEST_VERSION
    assert store.info().schema_version == LATEST_VERSION


def test_empty_database_has_version_zero(store_url: str) -> None:
    fresh = open_store(store_url, migrate=False)
    try:
        assert fresh.schema_version() == 0
        assert fresh.info().schema_version == 0
        assert fresh.migrate() == LATEST_VERSION
    finally:
        fresh.close()


def test_database_newer_than_code_is_refused(
    store: Store, store_url: str, raw_sql: Callable[[str], None]
) -> None:
    raw_sql(f"INSERT INTO schema_version VALUES ({LATEST_VERSION + 1}, 0, 'from the future')")
    with pytest.raises(MigrationError) as caught:
        store.migrate()
    assert caught.value.fields["found"] == LATEST_VERSION + 1


def test_info_counts(store: Store) -> None:
    store.write(
        "k",
        sample_table([(M1, "temp", T0, 1.0, 0)]),
        event_table([{"path": M1, "ts": T0, "kind": "state", "code": "run"}]),
    )
    store.dead_letter(source="edge-a", key="input.bad", reason="no")
    info = store.info()
    assert (info.series, info.samples, info.events, info.dead_letters, info.batches) == (
        1,
        1,
        1,
        1,
        1,
    )
    assert info.size_bytes is None or info.size_bytes > 0


# -- writes ------------------------------------------------------------------------------------


def test_round_trip_keeps_nanoseconds_and_order(store: Store) -> None:
    rows: list[Row] = [
        (M2, "speed", T0 + 7, 3.5, 1),
        (M1, "temp", T0 + 123_456_789, -1.25, 0),
        (M1, "temp", T0 + 1, 1e300, 2),
        (M1, "pressure", T0 + 5, 0.0, 0),
    ]
    result = store.write("edge-a:1", sample_table(rows, status=[None, 7, 2**32 - 1, None]))
    assert (result.duplicate, result.samples, result.events, result.new_series) == (
        False,
        4,
        0,
        3,
    )
    table = store.range("acme", dt(T0), dt(T0 + SECOND), descendants=True)
    assert table.schema.field("ts").type == pa.timestamp("ns", tz="UTC")
    assert list(zip(column(table, "path"), column(table, "signal"), ts_ns(table), strict=True)) == [
        (M1, "pressure", T0 + 5),
        (M1, "temp", T0 + 1),
        (M1, "temp", T0 + 123_456_789),
        (M2, "speed", T0 + 7),
    ]
    assert column(table, "value") == [0.0, 1e300, -1.25, 3.5]
    assert column(table, "quality") == [0, 2, 0, 1]


def test_duplicate_key_returns_original_and_stores_nothing(store: Store) -> None:
    first = store.write("edge-a:7", sample_table([(M1, "temp", T0, 1.0, 0)]))
    again = store.write("edge-a:7", sample_table([(M1, "temp", T0 + 1, 2.0, 0)] * 5))
    assert again.duplicate is True
    assert (again.samples, again.new_series, again.committed_at) == (
        1,
        1,
        first.committed_at,
    )
    assert store.info().samples == 1
    entry = store.ledger_entry("edge-a:7")
    assert entry is not None
    assert entry.samples == 1
    assert store.ledger_entry("edge-a:8") is None


def test_failed_write_leaves_nothing(store: Store) -> None:
    samples = sample_table([(M1, "temp", T0, 1.0, 0), (M2, "temp", T0, 2.0, 0)])
    # kind is NOT NULL: the events fail after samples, series and latest were written.
    broken = event_table([{"path": M1, "ts": T0, "kind": None}])
    with pytest.raises(StoreError):
        store.write("edge-a:9", samples, broken)
    assert store.info().samples == 0
    assert store.series().num_rows == 0
    assert store.latest().num_rows == 0
    assert store.ledger_entry("edge-a:9") is None
    good = event_table([{"path": M1, "ts": T0, "kind": "state", "code": "run"}])
    result = store.write("edge-a:9", samples, good)
    assert (result.duplicate, result.samples, result.events, result.new_series) == (
        False,
        2,
        1,
        2,
    )
    assert store.latest().num_rows == 2


def test_concurrent_writes_of_one_key_store_once(store: Store) -> None:
    batch = sample_table([(M1, "temp", T0 + i, float(i), 0) for i in range(2_000)])
    barrier = threading.Barrier(4)
    results = []
    errors: list[BaseException] = []

    def write() -> None:
        barrier.wait()
        try:
            results.append(store.write("edge-a:same", batch))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(r.duplicate for r in results) == [False, True, True, True]
    assert store.info().samples == 2_000


def test_concurrent_reads_during_writes(store: Store) -> None:
    stop = threading.Event()
    errors: list[BaseException] = []

    def read() -> None:
        try:
            while not stop.is_set():
                store.latest("acme")
                store.range(M1, dt(T0), dt(T0 + 1_000 * SECOND), bucket=timedelta(seconds=10))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    try:
        for k in range(20):
            rows = [(M1, f"s{i}", T0 + k * SECOND, float(k), 0) for i in range(50)]
            store.write(f"edge-a:{k}", sample_table(rows))
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert not errors
    assert store.latest().num_rows == 50
    assert set(column(store.latest(), "value")) == {19.0}


def test_register_series_metadata(store: Store) -> None:
    rows = pa.table(
        {
            "path": [M1, M1, M2],
            "signal": ["temp", "speed", "temp"],
            "unit": ["degC", "1/min", None],
            "value_type": ["float", "float", "float"],
        }
    )
    assert store.register_series(rows) == 3
    store.write("k", sample_table([(M2, "temp", T0, 1.0, 0), (M2, "new", T0, 1.0, 0)]))
    update = pa.table({"path": [M2], "signal": ["temp"], "unit": ["K"]})
    assert store.register_series(update) == 0
    table = store.series()
    assert list(zip(column(table, "path"), column(table, "signal"), strict=True)) == [
        (M1, "speed"),
        (M1, "temp"),
        (M2, "new"),
        (M2, "temp"),
    ]
    assert column(table, "unit") == ["1/min", "degC", None, "K"]
    assert column(table, "value_type") == ["float", "float", None, "float"]
    assert len(set(column(table, "id"))) == 4
    assert store.series(M1).num_rows == 2
    assert store.series("acme/berlin/press/line-1/m").num_rows == 0


# -- latest ------------------------------------------------------------------------------------


def test_latest_keeps_the_newest(store: Store) -> None:
    store.write("1", sample_table([(M1, "temp", T0 + 10, 10.0, 0), (M1, "temp", T0 + 5, 5.0, 0)]))
    store.write("2", sample_table([(M1, "temp", T0 + 3, 3.0, 0)]))  # older: ignored
    latest = store.latest()
    assert (ts_ns(latest), column(latest, "value")) == ([T0 + 10], [10.0])
    store.write("3", sample_table([(M1, "temp", T0 + 10, 11.0, 2)]))  # same ts: later wins
    latest = store.latest()
    assert (column(latest, "value"), column(latest, "quality")) == ([11.0], [2])
    store.write("4", sample_table([(M1, "temp", T0 + 20, 20.0, 0), (M1, "temp", T0 + 20, 21.0, 1)]))
    assert column(store.latest(), "value") == [21.0]


def test_latest_prefix_is_segment_wise(store: Store) -> None:
    paths = ["a/b", "a/b/c", "a/bc", "a/b/c/d", "z"]
    store.write("k", sample_table([(p, "v", T0, float(i), 0) for i, p in enumerate(paths)]))
    assert column(store.latest("a/b"), "path") == ["a/b", "a/b/c", "a/b/c/d"]
    assert column(store.latest("a/b/"), "path") == ["a/b", "a/b/c", "a/b/c/d"]
    assert column(store.latest("a"), "path") == ["a/b", "a/b/c", "a/b/c/d", "a/bc"]
    assert column(store.latest(None), "path") == [*sorted(paths)]
    assert store.latest("a/b/c/d/e").num_rows == 0
    assert store.latest(None).schema == store.latest("nothing").schema


def test_latest_filters_signals_and_many_series(store: Store) -> None:
    rows = [(f"acme/p/a/l/m{i // 10}", f"s{i % 10}", T0 + i, float(i), 0) for i in range(3_000)]
    store.write("k", sample_table(rows))
    table = store.latest("acme", ["s3", "s7"])
    assert table.num_rows == 600
    assert set(column(table, "signal")) == {"s3", "s7"}
    assert store.latest().num_rows == 3_000
    by_key = {
        (p, s): v
        for p, s, v in zip(
            *(column(store.latest(), c) for c in ("path", "signal", "value")), strict=True
        )
    }
    assert by_key[("acme/p/a/l/m17", "s4")] == 174.0


@pytest.mark.parametrize(
    ("prefix", "signals"),
    [(None, None), ("acme/p/a/l/m17", None), ("acme", ["s3", "s7"]), ("acme/p/a/l/m2", ["s0"])],
)
def test_latest_dictionary_encoded_holds_the_same_rows(
    store: Store, prefix: str | None, signals: list[str] | None
) -> None:
    rows = [(f"acme/p/a/l/m{i // 10}", f"s{i % 10}", T0 + i, float(i), 0) for i in range(300)]
    store.write("k", sample_table(rows))
    plain = store.latest(prefix, signals)
    coded = store.latest(prefix, signals, dictionary=True)
    assert coded.schema == CODED_RAW_SCHEMA
    assert coded.num_rows == plain.num_rows > 0
    assert coded.to_pylist() == plain.to_pylist()
    for name in ("path", "signal"):  # the dictionaries hold the names used, no others
        used = set(column(plain, name))
        assert sorted(coded.column(name).combine_chunks().dictionary.to_pylist()) == sorted(used)
    assert store.latest("nothing", dictionary=True).schema == CODED_RAW_SCHEMA


# -- range: raw and aggregates -----------------------------------------------------------------


def test_range_selects_path_descendants_and_signals(store: Store) -> None:
    rows = [
        (M1, "temp", T0, 1.0, 0),
        (M1, "speed", T0, 2.0, 0),
        (M1 + "/spindle", "temp", T0, 3.0, 0),
        (M1 + "x", "temp", T0, 4.0, 0),
        (M1, "temp", T0 + 10 * SECOND, 5.0, 0),
    ]
    store.write("k", sample_table(rows))
    start, end = dt(T0), dt(T0 + 10 * SECOND)
    assert column(store.range(M1, start, end), "value") == [2.0, 1.0]
    assert column(store.range(M1, start, end, descendants=True), "value") == [2.0, 1.0, 3.0]
    assert column(store.range(M1, start, end, signals=["temp"], descendants=True), "value") == [
        1.0,
        3.0,
    ]
    assert store.range("acme/none", start, end).num_rows == 0
    with pytest.raises(InvalidInput) as caught:
        store.range(M1, end, start)
    assert caught.value.fields["field"] == "end"


def _random_rows(rng: np.random.Generator, start: int, span: int, n: int) -> list[Row]:
    rows: list[Row] = []
    for signal in ("a", "b"):
        ts = np.sort(rng.integers(start, start + span, n))
        ts[5] = ts[4]  # a tie
        for t in ts:
            rows.append(
                (M1, signal, int(t), float(rng.normal(50, 20)), int(rng.choice([0, 0, 1, 2])))
            )
    return rows


def _reference(
    rows: list[Row], edges: list[int], start: int, end: int, agg: str
) -> dict[tuple[str, int], float]:
    groups: dict[tuple[str, int], list[tuple[int, float]]] = defaultdict(list)
    for _, signal, t, v, q in rows:
        if start <= t < end and q < 2:
            i = max(k for k in range(len(edges) - 1) if edges[k] <= t)
            groups[(signal, edges[i])].append((t, v))
    out: dict[tuple[str, int], float] = {}
    for key, items in groups.items():
        values = [v for _, v in items]
        if agg == "avg":
            out[key] = sum(values) / len(values)
        elif agg == "min":
            out[key] = min(values)
        elif agg == "max":
            out[key] = max(values)
        elif agg == "count":
            out[key] = float(len(values))
        elif agg == "first":
            out[key] = min(items)[1]
        elif agg == "last":
            out[key] = max(items)[1]
    return out


@pytest.mark.parametrize("agg", ["avg", "min", "max", "count", "first", "last"])
def test_aggregates_match_a_reference(store: Store, agg: str) -> None:
    rng = np.random.default_rng(7)
    span = 3_600 * SECOND
    rows = _random_rows(rng, T0 - 600 * SECOND, span + 1_200 * SECOND, 400)
    store.write("k", sample_table(rows))
    start, end = T0 + 17 * SECOND, T0 + span
    width = timedelta(minutes=5)
    table = store.range(M1, dt(start), dt(end), bucket=width, agg=Agg(agg))
    edges = [int(e) for e in bucket_edges(start, end, width)]
    expected = _reference(rows, edges, start, end, agg)
    got = {
        (s, t): v
        for s, t, v in zip(
            column(table, "signal"), ts_ns(table), column(table, "value"), strict=True
        )
    }
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-12), key
    counts = _reference(rows, edges, start, end, "count")
    assert dict(
        zip(
            zip(column(table, "signal"), ts_ns(table), strict=True),
            column(table, "count"),
            strict=True,
        )
    ) == {k: int(v) for k, v in counts.items()}
    assert ts_ns(table)[0] == T0  # the first bucket starts before the range does


def _twa_reference(
    rows: list[Row], signal: str, edges: list[int], start: int, end: int
) -> dict[int, float]:
    """Slow, obvious twa: walk second by second is too slow, so integrate piece by piece."""
    series = sorted((t, v, q) for _, s, t, v, q in rows if s == signal)
    out = {}
    for lo_edge, hi_edge in pairwise(edges):
        lo, hi = max(lo_edge, start), min(hi_edge, end)
        num = den = 0.0
        for i, (t, v, q) in enumerate(series):
            hold_end = series[i + 1][0] if i + 1 < len(series) else end
            if q == 2:
                continue
            a, b = max(t, lo), min(hold_end, hi)
            if b > a:
                num += v * (b - a)
                den += b - a
        if den > 0:
            out[lo_edge] = num / den
    return out


def test_twa_carries_values_into_buckets(store: Store) -> None:
    minute = 60 * SECOND
    rows: list[Row] = [
        (M1, "a", T0 - 50 * minute, 100.0, 0),  # carried into the range
        (M1, "a", T0 + 2 * minute, 10.0, 0),
        (M1, "a", T0 + 3 * minute, 20.0, 2),  # BAD: its hold counts for nothing
        (M1, "a", T0 + 4 * minute, 30.0, 1),
        # nothing between 4 and 20 minutes: 30 is carried through empty buckets
        (M1, "a", T0 + 20 * minute + 1, 40.0, 0),
        (M1, "b", T0 - 10 * 86_400 * SECOND, 7.0, 0),  # carried from ten days before
        (M1, "b", T0 + 40 * minute, 8.0, 0),  # after the range: ignored
    ]
    store.write("k", sample_table(rows))
    start, end = T0, T0 + 30 * minute
    width = timedelta(minutes=5)
    table = store.range(M1, dt(start), dt(end), bucket=width, agg=Agg.TWA)
    edges = [int(e) for e in bucket_edges(start, end, width)]
    for signal in ("a", "b"):
        part = table.filter(pa.compute.equal(table.column("signal"), signal))
        got = dict(zip(ts_ns(part), column(part, "value"), strict=True))
        expected = _twa_reference(rows, signal, edges, start, end)
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, rel=1e-12)
    a = table.filter(pa.compute.equal(table.column("signal"), "a"))
    # First bucket: 100 for 2 min, 10 for 1 min, BAD 1 min, 30 for 1 min -> (200+10+30)/4.
    assert column(a, "value")[0] == pytest.approx(60.0)
    assert column(a, "count") == [2, 0, 0, 0, 1, 0]
    b = table.filter(pa.compute.equal(table.column("signal"), "b"))
    assert column(b, "value") == [7.0] * 6


def test_twa_random_against_reference(store: Store) -> None:
    rng = np.random.default_rng(11)
    rows = _random_rows(rng, T0 - 3_600 * SECOND, 4 * 3_600 * SECOND, 300)
    store.write("k", sample_table(rows))
    start, end = T0 + 123 * SECOND, T0 + 3 * 3_600 * SECOND
    width = timedelta(minutes=10)
    table = store.range(M1, dt(start), dt(end), bucket=width, agg=Agg.TWA)
    edges = [int(e) for e in bucket_edges(start, end, width)]
    for signal in ("a", "b"):
        part = table.filter(pa.compute.equal(table.column("signal"), signal))
        got = dict(zip(ts_ns(part), column(part, "value"), strict=True))
        expected = _twa_reference(rows, signal, edges, start, end)
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            assert math.isclose(got[key], value, rel_tol=1e-9)


@pytest.mark.parametrize(
    ("day", "hours"), [("2026-03-29", 23), ("2026-10-25", 25), ("2026-06-10", 24)]
)
def test_day_buckets_follow_the_time_zone(store: Store, day: str, hours: int) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    local_midnight = datetime.fromisoformat(day).replace(tzinfo=berlin)
    start = local_midnight - timedelta(days=1)
    end = local_midnight + timedelta(days=2)
    rows = [(M1, "tick", t, 1.0, 0) for t in range(to_ns(start), to_ns(end), 3_600 * SECOND)]
    store.write("k", sample_table(rows))
    table = store.range(M1, start, end, bucket=timedelta(days=1), agg=Agg.COUNT, tz="Europe/Berlin")
    starts = [datetime.fromtimestamp(t / 1e9, tz=berlin) for t in ts_ns(table)]
    assert [s.hour for s in starts] == [0, 0, 0]
    assert starts[1].date().isoformat() == day
    assert column(table, "count") == [24, hours, 24]


def test_week_buckets_start_monday(store: Store) -> None:
    rows = [
        (M1, "v", ns("2026-03-01T12:00:00") + d * 86_400 * SECOND, float(d), 0) for d in range(30)
    ]
    store.write("k", sample_table(rows))
    table = store.range(
        M1,
        dt(ns("2026-03-01T00:00:00")),
        dt(ns("2026-04-01T00:00:00")),
        bucket=timedelta(weeks=1),
        agg=Agg.COUNT,
        tz="Europe/Berlin",
    )
    berlin = ZoneInfo("Europe/Berlin")
    starts = [datetime.fromtimestamp(t / 1e9, tz=berlin) for t in ts_ns(table)]
    assert all(s.weekday() == 0 and (s.hour, s.minute) == (0, 0) for s in starts)
    assert starts[0].date().isoformat() == "2026-02-23"
    assert sum(column(table, "count")) == 30


@pytest.mark.parametrize(
    ("bucket", "tz", "field"),
    [
        (timedelta(milliseconds=500), "UTC", "bucket"),
        (timedelta(days=8), "UTC", "bucket"),
        (timedelta(hours=36), "UTC", "bucket"),
        (timedelta(seconds=1), "UTC", "bucket"),  # a year of seconds: too many buckets
        (timedelta(hours=1), "Mars/Olympus", "tz"),
    ],
)
def test_bad_buckets_are_refused(store: Store, bucket: timedelta, tz: str, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        store.range(M1, dt(T0), dt(T0 + 365 * 86_400 * SECOND), bucket=bucket, tz=tz)
    assert caught.value.fields["field"] == field


def test_bucketed_read_of_nothing(store: Store) -> None:
    table = store.range(M1, dt(T0), dt(T0 + SECOND), bucket=timedelta(seconds=1))
    assert table.num_rows == 0
    assert table.column_names == ["path", "signal", "ts", "value", "count"]


# -- events and dead letters -------------------------------------------------------------------


def test_events_by_prefix_time_and_kind(store: Store) -> None:
    events = event_table(
        [
            {
                "path": M2,
                "ts": T0 + 2 * SECOND,
                "kind": "count",
                "good": 5,
                "scrap": -1,
                "product": "p1",
            },
            {"path": M1, "ts": T0 + 2 * SECOND, "kind": "state", "code": "down", "reason": "jam"},
            {"path": M1, "ts": T0 + SECOND, "kind": "alarm", "code": "A7", "active": True},
            {"path": M1 + "x", "ts": T0 + SECOND, "kind": "state", "code": "run"},
            {"path": M1, "ts": T0 + 99 * SECOND, "kind": "state", "code": "run"},
        ]
    )
    assert store.write("k", None, events).events == 5
    table = store.events("acme/berlin/press/line-1", dt(T0), dt(T0 + 50 * SECOND))
    assert column(table, "path") == [M1, M1 + "x", M1, M2]
    assert table.schema.field("ts").type == pa.timestamp("ns", tz="UTC")
    assert ts_ns(table) == [T0 + SECOND, T0 + SECOND, T0 + 2 * SECOND, T0 + 2 * SECOND]
    only_m1 = store.events(M1, dt(T0), dt(T0 + 100 * SECOND), kinds=["state"])
    assert column(only_m1, "code") == ["down", "run"]
    counted = store.events(M2, dt(T0), dt(T0 + 100 * SECOND)).to_pylist()[0]
    assert (counted["good"], counted["scrap"], counted["product"], counted["active"]) == (
        5,
        -1,
        "p1",
        None,
    )
    assert store.events(M1, dt(T0), dt(T0 + 100 * SECOND), kinds=["alarm"]).column(
        "active"
    ).to_pylist() == [True]


def test_dead_letters_newest_first(store: Store) -> None:
    first = store.dead_letter(
        source="edge-a",
        key="input.invalid",
        reason="bad ts",
        location="row 3, column ts",
        payload=b"\x00\x01",
    )
    second = store.dead_letter(
        source="edge-b", key="input.undecodable", reason="junk", batch_key="edge-b:1"
    )
    letters = store.dead_letters()
    assert [d.id for d in letters] == [second, first]
    assert letters[1].payload == b"\x00\x01"
    assert letters[1].location == "row 3, column ts"
    assert letters[0].batch_key == "edge-b:1"
    assert letters[0].payload is None
    assert [d.id for d in store.dead_letters(limit=1)] == [second]


# -- retention ---------------------------------------------------------------------------------


def test_retention_most_specific_prefix_wins(store: Store) -> None:
    day = 86_400 * SECOND
    now = T0 + 100 * day
    keep_long = "acme/berlin"
    rows = [
        (p, "v", now - age * day, float(age), 0)
        for p in (M1, "acme/paris/x/y/z", "other/site")
        for age in (1, 20, 50)
    ]
    store.write(
        "k",
        sample_table(rows),
        event_table(
            [
                {"path": p, "ts": now - age * day, "kind": "state"}
                for p in (M1, "acme/paris/x/y/z")
                for age in (1, 20, 50)
            ]
        ),
    )
    store.set_retention("acme", timedelta(days=10))
    store.set_retention(keep_long, timedelta(days=30))
    store.set_retention("acme/paris", timedelta(days=30))
    store.set_retention("acme/paris", None)
    assert store.retention_rules() == [
        RetentionRule(keep_long, timedelta(days=30)),
        RetentionRule("acme", timedelta(days=10)),
    ]
    deleted = store.apply_retention(dt(now))
    # berlin keeps 1 and 20 days, paris (under acme) keeps 1 day, other has no rule.
    assert deleted == 1 + 2 + 1 + 2
    left = store.range("", dt(0), dt(now + day), descendants=True)
    kept = sorted(zip(column(left, "path"), column(left, "value"), strict=True))
    assert kept == [
        ("acme/berlin/press/line-1/m1", 1.0),
        ("acme/berlin/press/line-1/m1", 20.0),
        ("acme/paris/x/y/z", 1.0),
        ("other/site", 1.0),
        ("other/site", 20.0),
        ("other/site", 50.0),
    ]
    events = store.events("", dt(0), dt(now + day))
    assert len(events) == 3
    assert store.apply_retention(dt(now)) == 0
    # The newest value goes too once it is older than its rule.
    assert store.latest().num_rows == 3
    # At now + 15 d: paris' last sample and event (16 d) and berlin's 35-day-old ones go.
    assert store.apply_retention(dt(now + 15 * day)) == 4
    assert column(store.latest(), "path") == [M1, "other/site"]


def test_retention_rules_are_validated(store: Store) -> None:
    with pytest.raises(InvalidInput):
        store.set_retention("acme", timedelta(0))
    with pytest.raises(InvalidInput):
        store.set_retention("Acme/Bad Path", timedelta(days=1))
    store.set_retention("", timedelta(days=1))
    assert store.retention_rules() == [RetentionRule("", timedelta(days=1))]
    assert store.apply_retention(datetime.now(UTC)) == 0


# -- API keys ----------------------------------------------------------------------------------


def test_api_keys(store: Store) -> None:
    admin = store.create_key(name="ops", role="admin", edge=None, secret_hash="h1", prefix="wk_ab")
    edge = store.create_key(
        name="berlin", role="edge", edge="edge-berlin", secret_hash="h2", prefix="wk_cd"
    )
    listed = store.keys()
    assert [k.name for k in listed] == ["ops", "berlin"]
    assert store.key_by_hash("h2") == edge
    assert store.key_by_hash("nope") is None
    with pytest.raises(Conflict):
        store.create_key(name="ops", role="viewer", edge=None, secret_hash="h3", prefix="x")
    with pytest.raises(Conflict):
        store.create_key(name="other", role="viewer", edge=None, secret_hash="h1", prefix="x")
    with pytest.raises(InvalidInput) as caught:
        store.create_key(name="x", role="root", edge=None, secret_hash="h4", prefix="x")
    assert caught.value.fields["field"] == "role"
    revoked = store.revoke_key("ops")
    assert revoked.revoked_at is not None
    assert revoked.created_at == admin.created_at
    assert store.revoke_key("ops").revoked_at == revoked.revoked_at
    assert store.key_by_hash("h1") == revoked
    with pytest.raises(NotFound) as missing:
        store.revoke_key("ghost")
    assert missing.value.fields["name"] == "ghost"
