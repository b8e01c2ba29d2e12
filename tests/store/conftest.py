"""Fixtures of the store tests: one store per backend, and batches built from plain rows."""

from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import psycopg
import pytest

from werk.store import Store, open_store

BACKENDS = ["duckdb", pytest.param("postgres", marks=[pytest.mark.postgres])]

PG_RESTART_LOCK = Path(tempfile.gettempdir()) / "werk-pg-restart.lock"
"""Tests using PostgreSQL hold this file locked shared; the restart test holds it exclusively.

``xdist_group`` alone does not keep the restart away from the other worker's PostgreSQL tests
(and with this pytest it does not group at all), so the outage is fenced with a file lock.
"""


@pytest.fixture
def pg_gate(request: pytest.FixtureRequest) -> Iterator[None]:
    """Hold the restart lock, shared, or exclusive for a module that sets ``PG_EXCLUSIVE``."""
    exclusive = bool(getattr(request.module, "PG_EXCLUSIVE", False))
    with PG_RESTART_LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture
def pg_url(pg_gate: None, pg_url: str) -> str:
    """The root ``pg_url``, its database created and dropped while the restart lock is held."""
    return pg_url


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty store of each backend."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path}/data/werk.duckdb"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated, empty store of each backend."""
    the_store = open_store(store_url)
    try:
        yield the_store
    finally:
        the_store.close()


@pytest.fixture
def raw_sql(store_url: str) -> Callable[[str], None]:
    """Run one statement on the store's database behind the store's back."""

    def run(statement: str) -> None:
        if store_url.startswith("duckdb://"):
            con = duckdb.connect(store_url[len("duckdb://") :])
            try:
                con.execute(statement)
            finally:
                con.close()
        else:
            with psycopg.connect(store_url, autocommit=True) as conn:
                conn.execute(statement)

    return run
