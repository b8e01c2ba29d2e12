"""PostgreSQL stopped during ingest: StoreUnavailable while down, no partial batch, recovery.

This stops the shared local PostgreSQL for a second or two. It runs in the ``pg_restart`` xdist
group and holds the store tests' PostgreSQL lock exclusively (see ``tests/store/conftest.py``), so
no other store test is using the server meanwhile. Whatever happens, the server is started again
before the test's database is dropped and the lock released.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest

from tests.conftest import port_open, unavailable
from tests.store.rows import event_table, ns, sample_table
from werk.errors import StoreUnavailable
from werk.store.postgres import PostgresStore

# serial: it runs in the pass after the parallel one, so no test outside tests/store (API, docs)
# meets the outage either.
pytestmark = [pytest.mark.postgres, pytest.mark.serial]
PG_EXCLUSIVE = True
"""Hold the restart lock exclusively: no other store test uses PostgreSQL meanwhile."""

T0 = ns("2026-06-01T00:00:00")
BATCH = 20_000


def pg_ctl(action: str) -> None:
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[0]
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action]
    if action == "stop":
        command += ["-m", "fast"]  # disconnect sessions now: that is the failure under test
    subprocess.run(command, check=True, capture_output=True, timeout=60)


@pytest.fixture
def postgres_comes_back(pg_url: str) -> Iterator[None]:
    """Start PostgreSQL again after the test (before ``pg_url`` drops the database)."""
    if not Path("/etc/postgresql").is_dir():
        unavailable("no local PostgreSQL cluster to restart")
    try:
        yield
    finally:
        if not port_open(5432):
            pg_ctl("start")
        deadline = time.monotonic() + 30
        while not port_open(5432) and time.monotonic() < deadline:
            time.sleep(0.2)


def batch(k: int) -> tuple[pa.Table, pa.Table]:
    rows = [
        (f"acme/p/a/l/m{i % 50}", f"s{i % 40}", T0 + k * BATCH + i, float(k), 0)
        for i in range(BATCH)
    ]
    return sample_table(rows), event_table(
        [{"path": "acme/p/a/l/m0", "ts": T0 + k, "kind": "state"}]
    )


def test_postgres_stopped_during_ingest(pg_url: str, postgres_comes_back: None) -> None:
    store = PostgresStore(pg_url, timeout=1.0)
    store.migrate()
    outcomes: dict[int, str] = {}
    stop = threading.Event()

    def ingest() -> None:
        k = 0
        while not stop.is_set():
            samples, events = batch(k)
            try:
                store.write(f"edge:{k}", samples, events)
                outcomes[k] = "ok"
            except StoreUnavailable:
                outcomes[k] = "unavailable"
            k += 1

    writer = threading.Thread(target=ingest)
    writer.start()
    try:
        time.sleep(1.0)
        pg_ctl("stop")  # kills the writer's session, likely in the middle of a COPY
        samples, events = batch(10_000)
        with pytest.raises(StoreUnavailable) as caught:
            store.write("edge:down", samples, events)
        assert caught.value.key == "store.unavailable"
        with pytest.raises(StoreUnavailable):
            store.latest()
        pg_ctl("start")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the store recovers by itself
            done = len(outcomes)
            time.sleep(0.5)
            if any(outcomes.get(k) == "ok" for k in range(done, len(outcomes))):
                break
        else:
            pytest.fail("the store did not recover within 30 s of PostgreSQL starting")
    finally:
        stop.set()
        writer.join(timeout=60)
    assert "unavailable" in outcomes.values()
    # No partial batch: every sample and event belongs to a batch in the ledger, in full.
    with psycopg.connect(pg_url) as conn:
        ledger: dict[str, int] = dict(
            conn.execute("SELECT batch_key, samples FROM ingest_ledger").fetchall()
        )
        samples_stored = conn.execute("SELECT count(*) FROM samples").fetchall()[0][0]
        events_stored = conn.execute("SELECT count(*) FROM events").fetchall()[0][0]
    assert set(ledger.values()) == {BATCH}
    assert samples_stored == BATCH * len(ledger)
    assert events_stored == len(ledger)
    assert {f"edge:{k}" for k, v in outcomes.items() if v == "ok"} <= set(ledger)
    # A batch that failed while the server was down can be retried and is stored once.
    samples, events = batch(10_000)
    assert not store.write("edge:down", samples, events).duplicate
    assert store.write("edge:down", samples, events).duplicate
    assert store.latest().num_rows == 200
    store.close()
