"""Define the store schema and its migrations, DuckDB and PostgreSQL side by side.

Each :class:`Migration` holds the statements for both backends, so a change to one is a visible
gap in the other. Migrations are applied in order, each in one transaction together with its row
in ``schema_version``; a database whose version is newer than :data:`MIGRATIONS` is refused.

Tables (both backends):

================  ============================================================================
schema_version    one row per applied migration
series            the registry: id, path, signal, unit, value_type; unique (path, signal)
samples           ts (ns since the epoch, UTC), value, series_id, quality, status (nullable)
latest_blocks     newest sample of every series, :data:`werk.store.latest.BLOCK` series a row
events            the columns of :data:`werk.samples.EVENT_SCHEMA`, ts in ns
dead_letters      rejected input with its reason
ingest_ledger     one row per committed batch key: the idempotency record
retention_rules   prefix → how long to keep (ns)
api_keys          hashed API keys
documents         versioned JSON documents: kind, key, version, body, valid_from (the asset
                  model is kind ``assets``, key ``""``; users, participants, agreements, edge
                  health and the like are other kinds)
counters          name → value: exact counters shared by every process (uses of an agreement,
                  login attempts), incremented atomically with an optional limit
audit_log         the sharing audit trail: seq, ts, participant, owner, agreement, body (JSON),
                  prev_hash, hash — append-only, each row chained to the one before
latest_pending    committed batches whose newest samples are not yet merged into
                  latest_blocks, with their ts range (both stores merge behind the write;
                  a process that dies leaves its rows for the next one to merge)
================  ============================================================================

Timestamps are BIGINT nanoseconds since the epoch in both backends: the wire format is
``timestamp[ns, UTC]`` and neither backend's timestamp type keeps nanoseconds (PostgreSQL keeps
microseconds; DuckDB's TIMESTAMP_NS has no time zone and converts through microseconds in places).
The samples columns are ordered widest first so PostgreSQL packs a row in 48 bytes.

PostgreSQL partitions ``samples`` by range of ``ts``, one partition per week starting Monday
00:00 UTC (``samples_w20260323``), created on demand before a write; see
:mod:`werk.store.postgres`. There is no index on ``samples``: partitions prune by time, and an index
on (series_id, ts) would make ingest several times slower; reads of one series scan the weeks
they cover.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Dialect = Literal["duckdb", "postgres"]

VERSION_TABLE: Final = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    applied_at BIGINT NOT NULL,
    description VARCHAR NOT NULL
)"""
"""Created before any migration, identical in both backends."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step, for both backends."""

    version: int
    description: str
    duckdb: tuple[str, ...]
    postgres: tuple[str, ...]

    def statements(self, dialect: Dialect) -> tuple[str, ...]:
        """Return the statements of ``dialect``."""
        return self.duckdb if dialect == "duckdb" else self.postgres


_V1 = Migration(
    version=1,
    description="series, samples, latest, events, dead letters, ledger, retention, api keys",
    duckdb=(
        "CREATE SEQUENCE series_id_seq START 1",
        """CREATE TABLE series (
            id INTEGER PRIMARY KEY DEFAULT nextval('series_id_seq'),
            path VARCHAR NOT NULL,
            signal VARCHAR NOT NULL,
            unit VARCHAR,
            value_type VARCHAR,
            UNIQUE (path, signal)
        )""",
        """CREATE TABLE samples (
            ts BIGINT NOT NULL,
            value DOUBLE NOT NULL,
            series_id INTEGER NOT NULL,
            quality UTINYINT NOT NULL,
            status UINTEGER
        )""",
        """CREATE TABLE latest_blocks (
            block INTEGER PRIMARY KEY,
            version BIGINT NOT NULL,
            data BLOB NOT NULL
        )""",
        """CREATE TABLE events (
            path VARCHAR NOT NULL,
            ts BIGINT NOT NULL,
            kind VARCHAR NOT NULL,
            code VARCHAR,
            reason VARCHAR,
            product VARCHAR,
            good BIGINT,
            scrap BIGINT,
            rework BIGINT,
            active BOOLEAN
        )""",
        "CREATE SEQUENCE dead_letter_id_seq START 1",
        """CREATE TABLE dead_letters (
            id BIGINT PRIMARY KEY DEFAULT nextval('dead_letter_id_seq'),
            received_at BIGINT NOT NULL,
            source VARCHAR NOT NULL,
            key VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            batch_key VARCHAR,
            location VARCHAR,
            payload BLOB
        )""",
        """CREATE TABLE ingest_ledger (
            batch_key VARCHAR PRIMARY KEY,
            committed_at BIGINT NOT NULL,
            samples BIGINT NOT NULL,
            events BIGINT NOT NULL,
            new_series BIGINT NOT NULL,
            source VARCHAR NOT NULL
        )""",
        "CREATE TABLE retention_rules (prefix VARCHAR PRIMARY KEY, keep_ns BIGINT NOT NULL)",
        "CREATE SEQUENCE api_key_id_seq START 1",
        """CREATE TABLE api_keys (
            id BIGINT PRIMARY KEY DEFAULT nextval('api_key_id_seq'),
            name VARCHAR NOT NULL UNIQUE,
            role VARCHAR NOT NULL,
            edge VARCHAR,
            secret_hash VARCHAR NOT NULL UNIQUE,
            prefix VARCHAR NOT NULL,
            created_at BIGINT NOT NULL,
            revoked_at BIGINT
        )""",
    ),
    postgres=(
        # Byte-wise collation: ordering agrees with DuckDB and Arrow, and LIKE 'a/b/%' can use
        # the btree index.
        """CREATE TABLE series (
            id INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            path TEXT COLLATE "C" NOT NULL,
            signal TEXT COLLATE "C" NOT NULL,
            unit TEXT,
            value_type TEXT,
            UNIQUE (path, signal)
        )""",
        """CREATE TABLE samples (
            ts BIGINT NOT NULL,
            value DOUBLE PRECISION NOT NULL,
            series_id INTEGER NOT NULL,
            quality SMALLINT NOT NULL,
            status BIGINT
        ) PARTITION BY RANGE (ts)""",
        """CREATE TABLE latest_blocks (
            block INTEGER PRIMARY KEY,
            version BIGINT NOT NULL,
            data BYTEA NOT NULL
        )""",
        # Blocks are random floats: compression would cost CPU on every write and save nothing.
        "ALTER TABLE latest_blocks ALTER COLUMN data SET STORAGE EXTERNAL",
        """CREATE TABLE events (
            path TEXT COLLATE "C" NOT NULL,
            ts BIGINT NOT NULL,
            kind TEXT NOT NULL,
            code TEXT,
            reason TEXT,
            product TEXT,
            good BIGINT,
            scrap BIGINT,
            rework BIGINT,
            active BOOLEAN
        )""",
        "CREATE INDEX events_path_ts ON events (path, ts)",
        "CREATE INDEX events_ts ON events (ts)",
        """CREATE TABLE dead_letters (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            received_at BIGINT NOT NULL,
            source TEXT NOT NULL,
            key TEXT NOT NULL,
            reason TEXT NOT NULL,
            batch_key TEXT,
            location TEXT,
            payload BYTEA
        )""",
        """CREATE TABLE ingest_ledger (
            batch_key TEXT PRIMARY KEY,
            committed_at BIGINT NOT NULL,
            samples BIGINT NOT NULL,
            events BIGINT NOT NULL,
            new_series BIGINT NOT NULL,
            source TEXT NOT NULL
        )""",
        """CREATE TABLE retention_rules (
            prefix TEXT COLLATE "C" PRIMARY KEY,
            keep_ns BIGINT NOT NULL
        )""",
        """CREATE TABLE api_keys (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL,
            edge TEXT,
            secret_hash TEXT NOT NULL UNIQUE,
            prefix TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            revoked_at BIGINT
        )""",
    ),
)

_DOCUMENTS = """CREATE TABLE documents (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    valid_from BIGINT NOT NULL,
    PRIMARY KEY (kind, key, version)
)"""

_V2 = Migration(
    version=2,
    description="documents (the asset model and other versioned JSON)",
    duckdb=(_DOCUMENTS,),
    postgres=(_DOCUMENTS,),
)

_COUNTERS = """CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
)"""

_V3 = Migration(
    version=3,
    description="counters (exact shared counts) and an index to list documents by kind",
    duckdb=(_COUNTERS,),
    postgres=(_COUNTERS,),
)

# -- audit (werk.sharing) --------------------------------------------------------------------
# Append-only, hash-chained: hash = sha256(prev_hash, seq, body); see werk.store.base.chain_hash.
# owner and participant are copies of fields in body, kept as columns so a participant's view
# of the log is a query.
_AUDIT = """CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    ts BIGINT NOT NULL,
    participant TEXT NOT NULL,
    owner TEXT NOT NULL,
    agreement TEXT,
    body TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
)"""

_V4 = Migration(
    version=4,
    description="audit log (hash-chained record of every sharing decision and change)",
    duckdb=(_AUDIT,),
    postgres=(
        _AUDIT,
        "CREATE INDEX audit_log_participant ON audit_log (participant, seq)",
        "CREATE INDEX audit_log_owner ON audit_log (owner, seq)",
    ),
)

# -- latest merged behind writes (werk.store.postgres) ----------------------------------------
# One row per committed batch whose newest samples are not yet merged into latest_blocks, with
# the batch's ts range: if the process that wrote it dies before merging, another one re-reads
# that range of samples and merges it (see PostgresStore.recover_latest).
_PENDING = """CREATE TABLE latest_pending (
    batch_key TEXT PRIMARY KEY,
    lo BIGINT NOT NULL,
    hi BIGINT NOT NULL,
    written_at BIGINT NOT NULL
)"""

_V5 = Migration(
    version=5,
    description="latest_pending (batches whose newest samples are merged behind the write)",
    duckdb=(_PENDING,),
    postgres=(_PENDING,),
)

MIGRATIONS: Final[tuple[Migration, ...]] = (_V1, _V2, _V3, _V4, _V5)
"""Every migration, in order; ``MIGRATIONS[i].version == i + 1``."""

LATEST_VERSION: Final = MIGRATIONS[-1].version
