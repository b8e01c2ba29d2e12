"""The audit log is a hash chain: altering, removing or appending by hand is detected."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from werk.sharing.audit import AuditLog, verify
from werk.sharing.door import ReadDoor, ReadKind, ReadRequest
from werk.sharing.principal import Grant, Principal, Role
from werk.store import Store, open_store

ANN = Principal("ann", Role.VIEWER, "acme", (Grant("acme", Role.VIEWER),), kind="user")


@pytest.fixture(params=["duckdb", "postgres"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, Callable[[str], None]]]:
    """Yield a store URL and a function running raw SQL on it while no store is open."""
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'werk.duckdb'}"

        def run(statement: str) -> None:
            import duckdb

            with duckdb.connect(str(tmp_path / "werk.duckdb")) as conn:
                conn.execute(statement)

        yield url, run
    else:
        url = str(request.getfixturevalue("pg_url"))

        def run(statement: str) -> None:
            import psycopg

            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(statement.encode())

        yield url, run


def fill(store: Store, reads: int = 20) -> None:
    audit = AuditLog(store, lambda path: "acme", interval=0.01)
    door = ReadDoor(audit=audit)
    paths = [f"acme/wob/body/line-{i % 3}" for i in range(reads)]

    def one(path: str) -> None:
        decision = door.decide(ANN, ReadRequest(ReadKind.LATEST, path))
        door.record(decision, 7)

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, paths))
    door.record(door.decide(ANN, ReadRequest(ReadKind.LATEST, "other/site")), None)
    assert audit.flush()
    audit.close()


def test_an_intact_log_verifies_and_every_tampering_is_found(
    backend: tuple[str, Callable[[str], None]],
) -> None:
    url, run = backend
    store = open_store(url)
    fill(store)
    result = verify(store)
    assert result.ok
    assert result.records == 21 == result.appended
    entries = store.audit_entries(participant="acme")
    assert len(entries) == 21
    assert '"decision":"deny"' in entries[-1].body
    assert '"rows":7' in entries[0].body
    store.close()

    run("UPDATE audit_log SET body = replace(body, '\"rows\":7', '\"rows\":0') WHERE seq = 5")
    store = open_store(url)
    result = verify(store)
    assert not result.ok
    assert result.first_bad == 5
    assert "record 5: content does not match its hash (altered)" in result.problems
    store.close()

    run("UPDATE audit_log SET body = replace(body, '\"rows\":0', '\"rows\":7') WHERE seq = 5")
    run("DELETE FROM audit_log WHERE seq = 9")
    store = open_store(url)
    result = verify(store)
    assert not result.ok
    assert result.first_bad == 9
    store.close()

    run("DELETE FROM audit_log WHERE seq >= 9")
    store = open_store(url)
    result = verify(store)
    assert not result.ok
    assert any("appended but the log ends at 8" in p for p in result.problems)
    store.close()


def test_a_rewritten_record_with_a_fresh_hash_breaks_the_next_link(
    backend: tuple[str, Callable[[str], None]],
) -> None:
    url, run = backend
    store = open_store(url)
    fill(store, reads=5)
    entry = store.audit_entries(after=2, limit=1)[0]
    store.close()
    from werk.store.base import chain_hash

    forged = entry.body.replace('"rows":7', '"rows":1')
    digest = chain_hash(entry.prev_hash, entry.seq, forged)
    forged_sql = forged.replace("'", "''")
    run(f"UPDATE audit_log SET body = '{forged_sql}', hash = '{digest}' WHERE seq = 3")
    store = open_store(url)
    result = verify(store)
    assert not result.ok
    assert "record 4: link to the record before is broken" in result.problems
    store.close()


def test_a_read_that_cannot_be_audited_fails_instead_of_dropping_the_record(tmp_path: Path) -> None:
    from werk.errors import StoreUnavailable
    from werk.sharing.audit import decision_record

    store = open_store(f"duckdb:///{tmp_path / 'gone.duckdb'}")
    store.close()  # every append fails from now on
    audit = AuditLog(store, lambda path: "acme", interval=0.01, capacity=1, block_timeout=0.2)
    door = ReadDoor(audit=audit)
    decision = door.decide(ANN, ReadRequest(ReadKind.LATEST, "acme/wob"))
    record = decision_record(decision, 1, datetime.now(UTC), audit.owner_of)
    raised = 0
    for _ in range(20):
        try:
            audit.append(record)
        except StoreUnavailable:
            raised += 1
            break
    assert raised == 1
    assert audit.stats.blocked >= 1
    assert audit.stats.failures >= 1
    assert not audit.flush(timeout=0.2)
    audit.close()
