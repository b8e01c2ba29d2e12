"""Latest values merged behind the writes, on both backends: what a read sees meanwhile, a merge
that fails, a process killed with samples not yet merged, and the merge without any help."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.store.rows import ns, sample_table
from werk.errors import StoreUnavailable
from werk.store.backend import SqlStore
from werk.store.duckdb import DuckDBStore
from werk.store.postgres import PostgresStore

M1 = "acme/berlin/press/line-1/m1"
ROOT = Path(__file__).resolve().parents[2]


def make(url: str, delay: float) -> SqlStore[object]:
    store: SqlStore[object]
    if url.startswith("duckdb://"):
        store = DuckDBStore(url, latest_delay_s=delay)  # type: ignore[assignment]
    else:
        store = PostgresStore(url, latest_delay_s=delay)  # type: ignore[assignment]
    store.migrate()
    return store


def pending_rows(store: SqlStore[object]) -> int:
    with store._reading() as c:
        return int(store._rows(c, "SELECT count(*) FROM latest_pending")[0][0])


def values(store: SqlStore[object]) -> list[float]:
    return [float(v) for v in store.latest().column("value").to_pylist()]


@pytest.fixture
def url(store_url: str) -> str:
    """An empty store of each backend (its schema made by :func:`make`)."""
    return store_url


def test_merged_behind_the_write_by_itself(url: str) -> None:
    store = make(url, 0.2)
    try:
        t = ns("2026-01-05T00:00:00")
        store.write("a", sample_table([(M1, "v", t, 1.0, 0)]))
        assert values(store) == [1.0]  # at once, from memory
        deadline = time.monotonic() + 10
        while pending_rows(store) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pending_rows(store) == 0
        assert len(store._pending) == 0
        assert values(store) == [1.0]  # now from the stored blocks
        # A duplicate batch leaves nothing pending.
        assert store.write("a", sample_table([(M1, "v", t, 1.0, 0)])).duplicate
        assert pending_rows(store) == 0
        assert len(store._pending) == 0
    finally:
        store.close()


def test_merged_in_the_write_with_no_delay(url: str) -> None:
    store = make(url, 0.0)
    try:
        t = ns("2026-01-05T00:00:00")
        store.write("a", sample_table([(M1, "v", t, 1.0, 0), (M1, "w", t, 3.0, 0)]))
        store.write("b", sample_table([(M1, "v", t + 1, 2.0, 0), (M1, "w", t - 1, 9.0, 0)]))
        assert pending_rows(store) == 0
        assert len(store._pending) == 0
        assert values(store) == [2.0, 3.0]
    finally:
        store.close()


def test_a_read_during_a_merge_sees_every_committed_sample(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a merge took from memory stays visible until the merge has committed."""
    store = make(url, 3600)
    try:
        t = ns("2026-01-05T00:00:00")
        store.write("a", sample_table([(M1, "v", t, 1.0, 0)]))
        seen: list[list[float]] = []
        store_merge = store._store_merge

        def slow(*args: object) -> object:
            seen.append(values(store))  # taken, not yet stored
            return store_merge(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(store, "_store_merge", slow)
        assert store.merge_latest() == 1
        assert seen == [[1.0]]
        assert values(store) == [1.0]
        assert pending_rows(store) == 0
    finally:
        store.close()


def test_a_failed_merge_keeps_what_was_pending(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = make(url, 3600)
    try:
        t = ns("2026-01-05T00:00:00")
        store.write("a", sample_table([(M1, "v", t, 1.0, 0), (M1, "w", t, 5.0, 0)]))

        def down(*args: object) -> object:
            store.write("b", sample_table([(M1, "v", t + 1, 2.0, 0)]))  # meanwhile: newer
            raise StoreUnavailable("gone", key="store.unavailable")

        monkeypatch.setattr(store, "_store_merge", down)
        with pytest.raises(StoreUnavailable):
            store.merge_latest()
        monkeypatch.undo()
        assert values(store) == [2.0, 5.0]
        assert store.merge_latest() == 2
        assert values(store) == [2.0, 5.0]
        assert pending_rows(store) == 0
    finally:
        store.close()


def test_stores_on_one_duckdb_file_share_what_is_pending(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path}/werk.duckdb"
    first, second = make(url, 3600), make(url, 3600)
    try:
        t = ns("2026-01-05T00:00:00")
        first.write("a", sample_table([(M1, "v", t, 1.0, 0)]))
        assert values(second) == [1.0]
        first.close()  # merges what is pending, for every store on the file
        assert pending_rows(second) == 0
        assert values(second) == [1.0]
    finally:
        first.close()
        second.close()


_DIES = """
import os, sys
sys.path.insert(0, sys.argv[2])
from tests.store.rows import ns, sample_table
from tests.store.test_latest_behind import make
store = make(sys.argv[1], 3600)
t = ns("2026-01-05T00:00:00")
store.write("a", sample_table([("acme/x/y/z/m", "v", t, 1.0, 0), ("acme/x/y/z/m", "w", t, 7.0, 0)]))
store.write("b", sample_table([("acme/x/y/z/m", "v", t + 5, 2.0, 0)]))
os.kill(os.getpid(), 9)  # committed, never merged
"""


def test_latest_left_by_a_killed_process_is_recovered(url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _DIES, url, str(ROOT)], capture_output=True, timeout=120
    )
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    fresh = make(url, 0.2)
    try:
        if url.startswith("duckdb://"):
            # No other process can have the file open: opening it recovered everything.
            assert pending_rows(fresh) == 0
        else:
            # Another process may still be merging these: only rows older than
            # RECOVER_AFTER_S are recovered by themselves.
            assert pending_rows(fresh) == 2
            assert fresh.recover_latest(older_than_s=0) == 2
            assert pending_rows(fresh) == 0
        assert values(fresh) == [2.0, 7.0]
    finally:
        fresh.close()
    other = make(url, 0.2)
    try:
        assert values(other) == [2.0, 7.0]
    finally:
        other.close()
