"""What only the PostgreSQL store has to get right: partitions, many processes, an absent server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import psycopg
import pytest

from tests.store.rows import dt, ns, sample_table
from werk.errors import StoreUnavailable
from werk.store import open_store, pgcopy
from werk.store import postgres as pgstore
from werk.store.postgres import PostgresStore, partition_name, week_of

pytestmark = pytest.mark.postgres

SECOND = 1_000_000_000
DAY = 86_400 * SECOND
M1 = "acme/berlin/press/line-1/m1"


@pytest.fixture
def pg(pg_url: str) -> Iterator[PostgresStore]:
    store = PostgresStore(pg_url)
    store.migrate()
    try:
        yield store
    finally:
        store.close()


def partitions(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        names = conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'samples'::regclass ORDER BY 1"
        ).fetchall()
        return {
            n: int(conn.execute(f"SELECT count(*) FROM {n}").fetchall()[0][0]) for (n,) in names
        }


def test_weekly_partitions_on_demand(pg: PostgresStore, pg_url: str) -> None:
    sunday_night = ns("2026-03-29T23:59:59")  # the Monday after starts a new partition
    rows = [(M1, "v", sunday_night + k * DAY, float(k), 0) for k in range(-1, 9)]
    pg.write("k", sample_table(rows))
    assert partitions(pg_url) == {
        "samples_w20260323": 2,
        "samples_w20260330": 7,
        "samples_w20260406": 1,
    }
    wednesday = np.array([ns("2026-04-01T00:00:00")])
    assert partition_name(int(week_of(wednesday)[0])) == "samples_w20260330"
    back = pg.range(M1, dt(sunday_night - 2 * DAY), dt(sunday_night + 10 * DAY))
    assert back.column("value").to_pylist() == [float(k) for k in range(-1, 9)]


def test_a_second_process_sees_and_extends_the_registry(pg: PostgresStore, pg_url: str) -> None:
    other = PostgresStore(pg_url)
    try:
        pg.write("a", sample_table([(M1, "temp", ns("2026-01-05T00:00:00"), 1.0, 0)]))
        assert pg.latest().column("value").to_pylist() == [1.0]  # at once in this process
        assert pg.merge_latest() == 1  # in the others once merged (latest_delay_s after)
        assert other.latest().column("value").to_pylist() == [1.0]
        result = other.write(
            "b",
            sample_table(
                [
                    (M1, "temp", ns("2026-01-05T00:00:01"), 2.0, 0),
                    (M1, "x", ns("2026-01-05"), 5.0, 0),
                ]
            ),
        )
        assert result.new_series == 1
        other.merge_latest()
        assert pg.latest().column("value").to_pylist() == [2.0, 5.0]
        assert pg.write("b", sample_table([])).duplicate
    finally:
        other.close()


def test_registry_learns_lower_ids_committed_elsewhere(pg: PostgresStore, pg_url: str) -> None:
    other = PostgresStore(pg_url)
    try:
        t = ns("2026-01-05T00:00:00")
        other.write("b", sample_table([(M1, "from_other", t, 1.0, 0)]))  # id 1, unseen here
        other.merge_latest()
        pg.write("a", sample_table([(M1, "from_here", t, 2.0, 0)]))  # id 2, known here at once
        assert pg.latest().column("signal").to_pylist() == ["from_here", "from_other"]
        assert pg.range(M1, dt(t), dt(t + SECOND)).num_rows == 2
    finally:
        other.close()


def test_retention_drops_whole_weeks(pg: PostgresStore, pg_url: str) -> None:
    start = ns("2026-01-05T12:00:00")
    rows = [(f"acme/s{i}", "v", start + d * DAY, float(d), 0) for i in range(3) for d in range(21)]
    pg.write("k", sample_table(rows))
    assert len(partitions(pg_url)) == 3
    pg.set_retention("acme", timedelta(days=10))
    deleted = pg.apply_retention(dt(start + 20 * DAY))
    assert deleted == 3 * 10  # days 0..9 are older than 10 days
    left = partitions(pg_url)
    assert list(left) == ["samples_w20260112", "samples_w20260119"]  # the first week went whole
    assert sum(left.values()) == 3 * 11
    # A partition that another process drops under this one's feet is recreated on the next write.
    pg.write("old", sample_table([("acme/s0", "v", start, 1.0, 0)]))
    other = PostgresStore(pg_url)
    try:
        assert other.apply_retention(dt(start + 20 * DAY)) == 1
    finally:
        other.close()
    assert "samples_w20260105" not in partitions(pg_url)
    pg.write("again", sample_table([("acme/s0", "v", start, 1.0, 0)]))
    assert partitions(pg_url)["samples_w20260105"] == 1


def test_unreachable_server_is_unavailable_quickly() -> None:
    began = time.monotonic()
    store = PostgresStore("postgresql://postgres@127.0.0.1:9/nowhere", timeout=1.0)
    try:
        with pytest.raises(StoreUnavailable) as caught:
            store.migrate()
        assert caught.value.key == "store.unavailable"
        with pytest.raises(StoreUnavailable):
            open_store("postgresql://postgres@127.0.0.1:9/nowhere").close()
    finally:
        store.close()
    assert time.monotonic() - began < 20


@pytest.mark.parametrize("delay", [0.0, 60.0], ids=["in-the-write", "behind-the-write"])
def test_latest_merges_over_blocks_another_process_changed(pg_url: str, delay: float) -> None:
    """This process's cached blocks go stale when another one writes: the merge must notice,
    both for blocks the batch changes and for blocks it leaves alone (merged in the write's
    transaction, or behind it: here by hand, so that every merge happens where the test says)."""
    pg = PostgresStore(pg_url, latest_delay_s=delay)
    pg.migrate()
    other = PostgresStore(pg_url, latest_delay_s=delay)

    def merged(store: PostgresStore) -> PostgresStore:
        store.merge_latest()
        return store

    t = ns("2026-01-05T00:00:00")
    merged(pg).write("a", sample_table([(M1, "s1", t, 1.0, 0), (M1, "s2", t, 1.0, 0)]))
    pg.latest()  # cache the blocks
    merged(pg)
    try:
        # Changed here after `pg` cached the block: s1 newer, s2 newer.
        other.write("b", sample_table([(M1, "s1", t + 10, 2.0, 0), (M1, "s2", t + 10, 2.0, 0)]))
        merged(other)
        # s1 is newer again (the block changes); a stale merge would lose s2 = 2.0.
        pg.write("c", sample_table([(M1, "s1", t + 20, 3.0, 0)]))
        assert pg.latest().column("value").to_pylist() == [3.0, 2.0]
        merged(pg)
        assert pg.latest().column("value").to_pylist() == [3.0, 2.0]
        assert other.latest().column("value").to_pylist() == [3.0, 2.0]
        # Retention elsewhere empties s2's slot; a late sample for it, older than what this
        # process cached, leaves the block unchanged by the cached view but must land.
        other.set_retention(M1, timedelta(seconds=1))
        other.apply_retention(dt(t + 20 + 10 * SECOND))
        other.set_retention(M1, None)
        pg.write("d", sample_table([(M1, "s2", t + 5, 9.0, 0)]))
        assert pg.latest().column("value").to_pylist() == [9.0]
        merged(pg)
        assert pg.latest().column("value").to_pylist() == [9.0]
        assert other.latest().column("value").to_pylist() == [9.0]
    finally:
        other.close()
        pg.close()


def test_a_pooled_connection_killed_by_the_server_is_replaced(
    pg: PostgresStore, pg_url: str
) -> None:
    t = ns("2026-01-05T00:00:00")
    pg.write("a", sample_table([(M1, "v", t, 1.0, 0)]))
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    time.sleep(0.2)  # the FATAL message reaches the pooled sockets
    assert pg.latest().column("value").to_pylist() == [1.0]
    assert not pg.write("b", sample_table([(M1, "v", t + 1, 2.0, 0)])).duplicate
    assert pg.latest().column("value").to_pylist() == [2.0]


# -- latest merged behind the writes ---------------------------------------------------------


def pending_rows(url: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT count(*) FROM latest_pending").fetchall()[0][0])


def test_latest_is_merged_behind_the_write_by_itself(pg_url: str) -> None:
    writer = PostgresStore(pg_url, latest_delay_s=0.2)
    writer.migrate()
    reader = PostgresStore(pg_url)
    try:
        t = ns("2026-01-05T00:00:00")
        writer.write("a", sample_table([(M1, "v", t, 1.0, 0)]))
        assert writer.latest().column("value").to_pylist() == [1.0]
        deadline = time.monotonic() + 10
        while reader.latest().num_rows == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert reader.latest().column("value").to_pylist() == [1.0]
        assert pending_rows(pg_url) == 0
        # A duplicate batch adds nothing pending.
        assert writer.write("a", sample_table([(M1, "v", t, 1.0, 0)])).duplicate
        assert pending_rows(pg_url) == 0
        assert len(writer._pending) == 0
    finally:
        reader.close()
        writer.close()


def _last_analyze(url: str, table: str) -> object:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = %s", (table,)
        ).fetchone()
    return row[0] if row else None


def test_a_grown_partition_is_analysed_by_the_merger(pg_url: str) -> None:
    """The planner's statistics follow the writes (autovacuum's own pass may come much later):
    a partition grown past the threshold is analysed by the merger thread by itself, and one
    grown by less than it already held is not analysed again."""
    store = PostgresStore(pg_url, analyze_after_rows=20_000)
    store.migrate()
    try:
        monday = ns("2026-03-30T00:00:00")
        week = partition_name(int(week_of(np.array([monday]))[0]))
        rows = [(M1, f"s{k % 50}", monday + k * SECOND, float(k), 0) for k in range(30_000)]
        store.write("big", sample_table(rows))
        deadline = time.monotonic() + 20
        while _last_analyze(pg_url, week) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        first = _last_analyze(pg_url, week)
        assert first is not None, "the merger did not analyse the grown partition"
        assert _indexes(pg_url, week) == [f"{week}_ts"]  # a closed week: BRIN on ts
        assert _ts_bounds(pg_url, week) == 101  # and statistics from a full sample
        # 25,000 more onto 30,000: not yet twice the size; new pages past the summarised ranges
        more = [(M1, "t", monday + DAY + k * SECOND, 1.0, 0) for k in range(25_000)]
        store.write("more", sample_table(more))
        assert store.analyze_grown() == []
        assert _last_analyze(pg_url, week) == first
        store.summarise_indexed()  # (if the merger has not yet)
        with psycopg.connect(pg_url, autocommit=True) as conn:
            left = conn.execute("SELECT brin_summarize_new_values(%s::regclass)", (f"{week}_ts",))
            assert left.fetchall() == [(0,)]  # the later rows' pages were summarised already
    finally:
        store.close()


def _indexes(url: str, table: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", (table,))
        return [str(r[0]) for r in rows.fetchall()]


def _ts_bounds(url: str, table: str) -> int | None:
    """Bounds of the ``ts`` histogram in ``table``'s statistics: statistics target + 1 at most."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT array_length(histogram_bounds::text::bigint[], 1) FROM pg_stats"
            " WHERE tablename = %s AND attname = 'ts'",
            (table,),
        ).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def test_the_week_being_written_gets_no_index(pg: PostgresStore, pg_url: str) -> None:
    """Only weeks that have ended get the BRIN index: the current one is written at full speed.
    Its statistics come from a small sample (all the planner needs of it is its size)."""
    pg.analyze_after_rows = 1_000
    now = time.time_ns()
    rows = [(M1, "v", now - k * SECOND, 1.0, 0) for k in range(3_000)]
    pg.write("now", sample_table(rows))
    weeks = {partition_name(int(w)) for w in week_of(np.array([r[2] for r in rows]))}
    pg.analyze_grown()  # (or the merger did, by now or soon)
    deadline = time.monotonic() + 20
    while any(_last_analyze(pg_url, w) is None for w in weeks) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(_last_analyze(pg_url, w) is not None for w in weeks)  # analysed: yes
    pg.index_closed()
    for week in weeks:  # ended less than INDEX_CLOSED_AFTER_S ago, if at all
        assert _indexes(pg_url, week) == []
        bounds = _ts_bounds(pg_url, week)
        assert bounds is not None
        assert bounds <= pgstore.GROWING_STATISTICS + 1


def test_a_week_that_ended_gets_full_statistics_with_its_index(
    pg: PostgresStore, pg_url: str
) -> None:
    """A week written while it ran (statistics from a small sample, or none yet) is analysed
    in full when it gets its index."""
    pg.analyze_after_rows = 10**9  # nothing analysed while writing
    monday = ns("2026-03-30T00:00:00")
    week = partition_name(int(week_of(np.array([monday]))[0]))
    pg.write("w", sample_table([(M1, "v", monday + k * SECOND, 1.0, 0) for k in range(3_000)]))
    assert _ts_bounds(pg_url, week) is None
    assert week in pg.index_closed()
    assert _indexes(pg_url, week) == [f"{week}_ts"]
    assert _ts_bounds(pg_url, week) == 101


def test_statistics_skip_a_partition_retention_dropped(pg: PostgresStore, pg_url: str) -> None:
    pg.analyze_after_rows = 10**9  # nothing analysed while writing
    old = ns("2026-01-05T00:00:00")
    pg.write("old", sample_table([(M1, "v", old + k * SECOND, 1.0, 0) for k in range(100)]))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE {partition_name(int(week_of(np.array([old]))[0]))}")
    pg.analyze_after_rows = 1
    assert pg.analyze_grown() == []  # forgotten, not an error
    assert pg.analyze_grown() == []


def _queries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the one-query writes (:func:`werk.store.postgres._copy_query`) as they run."""
    seen: list[str] = []
    real = pgstore._copy_query

    def spy(pgconn: Any, query: str, payloads: Any) -> Any:
        seen.append(query)
        return real(pgconn, query, payloads)

    monkeypatch.setattr(pgstore, "_copy_query", spy)
    return seen


def test_known_series_are_written_in_one_query(
    pg: PostgresStore, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries = _queries(monkeypatch)
    sunday_night = ns("2026-03-29T23:59:59")
    pg.write("first", sample_table([(M1, "v", sunday_night - DAY, 0.0, 0)]))
    assert queries == []  # it registered the series: the general path
    rows = [(M1, "v", sunday_night + k * DAY, float(k), 0) for k in range(0, 9)]
    result = pg.write("second", sample_table(rows))
    assert (result.duplicate, result.samples, result.new_series) == (False, 9, 0)
    assert len(queries) == 1  # BEGIN, claim, three COPYs (one a week), COMMIT
    assert queries[0].startswith("BEGIN; WITH claimed AS (INSERT INTO ingest_ledger")
    assert queries[0].count("FROM STDIN") == 3
    assert queries[0].endswith("; COMMIT")
    assert partitions(pg_url) == {
        "samples_w20260323": 2,
        "samples_w20260330": 7,
        "samples_w20260406": 1,
    }
    entry = pg.ledger_entry("second")
    assert entry is not None
    assert entry.samples == 9
    with psycopg.connect(pg_url) as conn:
        pending = conn.execute("SELECT lo, hi FROM latest_pending WHERE batch_key = 'second'")
        assert pending.fetchall() == [(sunday_night, sunday_night + 8 * DAY)]
    assert pg.latest().column("value").to_pylist() == [8.0]


def test_a_repeated_key_in_one_query_stores_nothing_twice(
    pg: PostgresStore, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = ns("2026-01-05T00:00:00")
    pg.write("register", sample_table([(M1, "v", t, 0.0, 0)]))
    queries = _queries(monkeypatch)
    batch = sample_table([(M1, "v", t + k * SECOND, float(k), 0) for k in range(1, 4)])
    first = pg.write("k", batch)
    again = pg.write("k", sample_table([(M1, "v", t + 9 * SECOND, 9.0, 0)]))
    assert len(queries) == 2  # both tried the one query; the second met the ledger's key
    assert not first.duplicate
    assert again.duplicate
    assert (again.samples, again.committed_at) == (3, first.committed_at)
    assert pg.info().samples == 4
    with psycopg.connect(pg_url) as conn:
        ledger = conn.execute("SELECT samples FROM ingest_ledger WHERE batch_key = 'k'")
        assert ledger.fetchall() == [(3,)]
    # the connection came back clean: the next write works
    assert not pg.write("next", sample_table([(M1, "v", t + 5 * SECOND, 5.0, 0)])).duplicate
    assert pg.info().samples == 5


def test_a_failed_statement_in_one_query_leaves_nothing(pg_url: str) -> None:
    payload = pgcopy.encode([np.array([1, 2]), np.array([1.0, 2.0])], ["int8", "float8"])
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "DROP TABLE IF EXISTS werk_one_query; CREATE TABLE werk_one_query (a int8, b float8)"
        )
        query = (
            "BEGIN; INSERT INTO werk_one_query VALUES (0, 0);"
            " COPY werk_one_query (a, b) FROM STDIN (FORMAT BINARY);"
            " COPY werk_one_query (a, b) FROM STDIN (FORMAT BINARY); COMMIT"
        )
        # a good payload, then one cut short: the second COPY fails, the transaction with it
        error = pgstore._copy_query(
            conn.pgconn, query, [memoryview(payload), memoryview(payload[:-7])]
        )
        assert error is not None
        raised = pgstore._error_of(error)
        assert isinstance(raised, psycopg.errors.BadCopyFileFormat), raised
        assert "COPY" in str(raised)
        assert conn.pgconn.transaction_status == psycopg.pq.TransactionStatus.INERROR
        conn.execute("ROLLBACK")
        assert conn.execute("SELECT count(*) FROM werk_one_query").fetchall() == [(0,)]
        # the same query with good payloads commits every statement
        assert pgstore._copy_query(conn.pgconn, query, [memoryview(payload)] * 2) is None
        assert conn.execute("SELECT count(*) FROM werk_one_query").fetchall() == [(5,)]
        conn.execute("DROP TABLE werk_one_query")
