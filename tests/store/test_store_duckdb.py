"""What only the DuckDB store has to get right: one file, one writing process, many threads."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.store.rows import dt, event_table, ns, sample_table
from werk.errors import ConfigError, StoreUnavailable
from werk.sharing.audit import verify
from werk.store import open_store
from werk.store.base import AuditAppend
from werk.store.duckdb import DuckDBStore, database_path

T0 = ns("2026-02-02T00:00:00")
M1 = "acme/berlin/press/line-1/m1"


def test_url_and_parent_directories(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "werk.duckdb"
    store = open_store(f"duckdb:///{target}")
    store.close()
    assert target.exists()
    assert database_path(f"duckdb://{target}") == str(target)
    with pytest.raises(ConfigError):
        DuckDBStore("duckdb://")
    with pytest.raises(ConfigError):
        open_store("sqlite:///x.db")


def test_file_locked_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "werk.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('ready', flush=True);"
            " time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreUnavailable) as caught:
            DuckDBStore(f"duckdb:///{path}")
        assert caught.value.fields["path"] == str(path)
        assert str(path) in caught.value.message
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    store = open_store(f"duckdb:///{path}")  # free again
    store.close()


def test_committed_writes_survive_a_killed_process(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'werk.duckdb'}"
    script = textwrap.dedent(
        f"""
        import os
        from tests.store.rows import sample_table
        from werk.store import open_store
        store = open_store({url!r})
        for k in range(3):
            rows = [({M1!r}, f"s{{i}}", {T0} + k, float(k), 0) for i in range(2000)]
            store.write(f"edge:{{k}}", sample_table(rows))
        os._exit(0)  # no close, no checkpoint
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=Path(__file__).parents[2])
    store = open_store(url)
    try:
        assert store.info().samples == 6_000
        latest = store.latest()
        assert latest.num_rows == 2_000
        assert set(latest.column("value").to_pylist()) == {2.0}
        assert store.ledger_entry("edge:2") is not None
        # New writes after recovery resolve the series registered before the crash.
        result = store.write("edge:3", sample_table([(M1, "s5", T0 + 9, 9.0, 0)]))
        assert result.new_series == 0
    finally:
        store.close()


def test_two_stores_on_one_file_share_it(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'werk.duckdb'}"
    first, second = open_store(url), open_store(url)
    try:
        first.write("a", sample_table([(M1, "temp", T0, 1.0, 0)]))
        assert second.latest().column("value").to_pylist() == [1.0]
        result = second.write(
            "b", sample_table([(M1, "temp", T0 + 1, 2.0, 0), (M1, "x", T0, 0, 0)])
        )
        assert result.new_series == 1
        assert first.write("b", sample_table([])).duplicate
        first.close()
        rows = second.range(M1, dt(T0), dt(T0 + 1_000_000_000))
        assert rows.num_rows == 3
    finally:
        first.close()
        second.close()


def test_latest_after_a_failed_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails after updating blocks leaves the writer's block versions exact."""
    store = DuckDBStore(f"duckdb:///{tmp_path}/werk.duckdb")
    store.migrate()
    try:
        store.write("a", sample_table([(M1, "temp", T0, 1.0, 0)]))

        def fail(*_: object) -> None:
            raise StoreUnavailable("boom")

        monkeypatch.setattr(store, "_insert_events", fail)
        events = event_table([{"path": M1, "ts": T0, "kind": "state", "active": True}])
        with pytest.raises(StoreUnavailable):
            store.write("b", sample_table([(M1, "temp", T0 + 1, 2.0, 0)]), events)
        monkeypatch.undo()
        assert store.ledger_entry("b") is None
        assert store.latest().column("value").to_pylist() == [1.0]
        store.write("c", sample_table([(M1, "temp", T0 + 2, 3.0, 0)]))
        assert store.latest().column("value").to_pylist() == [3.0]
        reopened = DuckDBStore(f"duckdb:///{tmp_path}/werk.duckdb")
        assert reopened.latest().column("value").to_pylist() == [3.0]
        reopened.close()
    finally:
        store.close()


def loaded(store: DuckDBStore) -> dict[int, int] | None:
    """The block versions the store's file keeps in memory (None: not read yet)."""
    return store._db.versions


def test_a_process_that_only_reads_loads_block_versions_once(tmp_path: Path) -> None:
    """A reading process keeps the committed block versions (no query per read), and a read
    while a write is open still answers from the committed state."""
    url = f"duckdb:///{tmp_path / 'werk.duckdb'}"
    writer = open_store(url)
    writer.write("a", sample_table([(M1, "temp", T0, 1.0, 0)]))
    writer.close()
    store = DuckDBStore(url)
    try:
        assert loaded(store) is None
        assert store.latest().column("value").to_pylist() == [1.0]
        assert loaded(store) is not None
        store.write("b", sample_table([(M1, "temp", T0 + 1, 2.0, 0)]))
        store.merge_latest()
        assert store.latest().column("value").to_pylist() == [2.0]
        store._db.versions = None  # as after a failed write
        with store._db.write_lock:  # a write is open: the read may not load the map now
            assert store.latest().column("value").to_pylist() == [2.0]
            assert loaded(store) is None
        assert store.latest().column("value").to_pylist() == [2.0]
        assert loaded(store) is not None
    finally:
        store.close()


def test_the_audit_chain_head_is_kept_across_stores_and_failed_appends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit head DuckDB keeps in memory stays exact: appends from two stores on the file,
    a failed append, a reopened file; every row is inserted, few or many at once."""
    url = f"duckdb:///{tmp_path / 'werk.duckdb'}"
    first, second = open_store(url), open_store(url)
    assert isinstance(first, DuckDBStore)

    def records(n: int, tag: str) -> list[AuditAppend]:
        return [AuditAppend(dt(T0), f"p-{tag}", "acme", None, f'{{"n": {i}}}') for i in range(n)]

    try:
        assert first.append_audit(records(1, "a")) == 1
        assert second.append_audit(records(3, "b")) == 4
        assert first.append_audit(records(50, "c")) == 54  # more than one VALUES list holds

        def fail(*_: object) -> None:
            raise StoreUnavailable("boom")

        monkeypatch.setattr(DuckDBStore, "_execute", fail)
        with pytest.raises(StoreUnavailable):
            second.append_audit(records(2, "d"))
        monkeypatch.undo()
        assert first._db.audit_head is None  # what the failed transaction wrote is unknown
        assert second.append_audit(records(2, "e")) == 56
    finally:
        first.close()
        second.close()
    reopened = open_store(url)
    try:
        assert reopened.append_audit(records(1, "f")) == 57
        entries = reopened.audit_entries(limit=100)
        assert [e.seq for e in entries] == list(range(1, 58))
        assert [e.participant for e in entries].count("p-d") == 0
        assert verify(reopened).ok
    finally:
        reopened.close()
