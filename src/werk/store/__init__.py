"""Store time series, events and the ingest ledger: DuckDB (embedded) or PostgreSQL (server)."""

from __future__ import annotations

from werk.errors import ConfigError
from werk.store.base import (
    Agg,
    ApiKey,
    DeadLetter,
    Document,
    RetentionRule,
    Store,
    StoreInfo,
    WriteResult,
)

__all__ = [
    "Agg",
    "ApiKey",
    "DeadLetter",
    "Document",
    "RetentionRule",
    "Store",
    "StoreInfo",
    "WriteResult",
    "open_store",
]


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open the store at ``url`` (``duckdb:///path/file.duckdb`` or ``postgresql://...``).

    Backends are imported lazily so that the PostgreSQL driver is needed only when used.

    Raises:
        ConfigError: the URL names no known backend.
        StoreUnavailable: the database cannot be reached.
    """
    if url.startswith("duckdb://"):
        from werk.store.duckdb import DuckDBStore

        store: Store = DuckDBStore(url)
    elif url.startswith(("postgresql://", "postgres://")):
        from werk.store.postgres import PostgresStore

        store = PostgresStore(url)
    else:
        raise ConfigError(
            f"store URL {url!r} names no known backend; use duckdb:///path or postgresql://...",
            field="store_url",
        )
    if migrate:
        try:
            store.migrate()
        except BaseException:
            store.close()
            raise
    return store
