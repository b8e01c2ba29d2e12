"""Define the Store protocol that every backend implements, and the values it returns.

Two backends implement it in lockstep, checked by one conformance suite
(``tests/store/test_conformance.py``): DuckDB (embedded default, one file) and PostgreSQL (server,
tables partitioned by time, binary COPY for writes). A query exists for both or for neither.

The store is synchronous: DuckDB and psycopg are blocking libraries. Async callers (the API) run
store calls in ``asyncio.to_thread``.

Tables returned are Arrow tables; timestamps are ``timestamp[ns, UTC]``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final, Protocol, runtime_checkable

import pyarrow as pa

from werk.assets.model import AssetModel


class Agg(StrEnum):
    """Aggregations a range read can downsample with."""

    AVG = "avg"
    MIN = "min"
    MAX = "max"
    FIRST = "first"
    LAST = "last"
    COUNT = "count"
    TWA = "twa"
    """Time-weighted average: each value holds until the next sample (step, last value carried)."""


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write did.

    Attributes:
        batch_key: The idempotency key the batch was written under.
        duplicate: True when the key had been committed before and nothing was stored now.
        samples: Samples stored by the original commit of this key.
        events: Events stored by the original commit of this key.
        new_series: Series registered by this call (0 for a duplicate).
        committed_at: When the original commit happened.
    """

    batch_key: str
    duplicate: bool
    samples: int
    events: int
    new_series: int
    committed_at: datetime


@dataclass(frozen=True, slots=True)
class StoreInfo:
    """What ``werk store info`` prints."""

    backend: str
    url: str
    schema_version: int
    series: int
    samples: int
    events: int
    dead_letters: int
    batches: int
    size_bytes: int | None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Rejected input kept with the reason it was rejected."""

    id: int
    received_at: datetime
    source: str
    key: str
    reason: str
    batch_key: str | None
    location: str | None
    """Where in the payload: ``row 17, column value`` or ``field ts``."""
    payload: bytes | None


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored API key (the secret itself is never stored, only its hash)."""

    id: int
    name: str
    role: str
    """``admin`` | ``edge`` | ``engineer`` | ``viewer``."""
    edge: str | None
    prefix: str
    """First characters of the secret, to tell keys apart in listings."""
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class RetentionRule:
    """Keep samples and events under ``prefix`` for ``keep``; older ones are deleted."""

    prefix: str
    keep: timedelta


@dataclass(frozen=True, slots=True)
class Document:
    """One version of a stored JSON document (users, participants, agreements, edge health...)."""

    kind: str
    key: str
    version: int
    body: dict[str, object]
    valid_from: datetime


# -- audit (werk.sharing) -------------------------------------------------------------------
GENESIS: Final = "0" * 64
"""``prev_hash`` of the first audit record."""


def chain_hash(prev_hash: str, seq: int, body: str) -> str:
    """Return the hash of audit record ``seq``: SHA-256 over the previous hash, the sequence
    number and the canonical JSON body, so altering, removing or reordering a record breaks
    every hash after it."""
    return hashlib.sha256(f"{prev_hash}\n{seq}\n{body}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditAppend:
    """One audit record to append: the body is canonical JSON; the rest are copies for queries."""

    ts: datetime
    participant: str
    owner: str
    agreement: str | None
    body: str


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One stored audit record."""

    seq: int
    ts: datetime
    participant: str
    owner: str
    agreement: str | None
    body: str
    prev_hash: str
    hash: str


@runtime_checkable
class Store(Protocol):
    """The storage every part of werk reads and writes through."""

    backend: str
    url: str

    # -- lifecycle -------------------------------------------------------------------------
    def migrate(self) -> int:
        """Bring the schema to the newest version; return the version now in force."""
        ...

    def schema_version(self) -> int:
        """Return the schema version in force (0 for an empty database)."""
        ...

    def info(self) -> StoreInfo:
        """Return counts and sizes."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...

    # -- writes ----------------------------------------------------------------------------
    def write(
        self,
        batch_key: str,
        samples: pa.Table | None = None,
        events: pa.Table | None = None,
        *,
        source: str = "",
    ) -> WriteResult:
        """Store one batch atomically and idempotently.

        ``samples`` follows :data:`werk.samples.SAMPLE_SCHEMA` (optionally with ``status``),
        ``events`` follows :data:`werk.samples.EVENT_SCHEMA`; both are already validated. Unknown
        series are registered. Either everything of the batch and its ledger entry commit, or
        nothing does. A ``batch_key`` committed before is not stored again: the result of the
        original commit is returned with ``duplicate=True``.

        Raises:
            StoreUnavailable: the database cannot be reached; nothing was committed.
        """
        ...

    def register_series(self, rows: pa.Table) -> int:
        """Register or update series metadata: columns path, signal, unit, value_type.

        Return how many series were new.
        """
        ...

    def dead_letter(
        self,
        *,
        source: str,
        key: str,
        reason: str,
        batch_key: str | None = None,
        location: str | None = None,
        payload: bytes | None = None,
    ) -> int:
        """Keep rejected input with its reason; return its id."""
        ...

    # -- reads -----------------------------------------------------------------------------
    def series(self, prefix: str | None = None) -> pa.Table:
        """Return series under ``prefix`` (path equal to or below it): id, path, signal, unit,
        value_type, sorted by path, signal."""
        ...

    def latest(
        self,
        prefix: str | None = None,
        signals: list[str] | None = None,
        *,
        dictionary: bool = False,
    ) -> pa.Table:
        """Return the newest sample of each series under ``prefix``: path, signal, ts, value,
        quality, in path and signal order. Maintained on write, never a scan of the samples.
        With ``dictionary``, path and signal are ``dictionary<int32, string>`` whose
        dictionaries hold the names used (the Arrow answer of ``/latest``: a fleet's 100k
        series repeat 10k paths and a few signal names)."""
        ...

    def range(
        self,
        path: str,
        start: datetime,
        end: datetime,
        *,
        signals: list[str] | None = None,
        descendants: bool = False,
        bucket: timedelta | None = None,
        agg: Agg = Agg.AVG,
        tz: str = "UTC",
    ) -> pa.Table:
        """Read samples of ``path`` (and below it when ``descendants``) in ``[start, end)``.

        Without ``bucket``: raw samples (path, signal, ts, value, quality) ordered by path,
        signal, ts. With ``bucket`` (1 s to 1 week): one row per series and bucket (path, signal,
        ts = bucket start, value, count), buckets aligned to midnight in ``tz`` (weeks start on
        Monday), so a day bucket on a DST change day is 23 or 25 hours long. Only GOOD and
        UNCERTAIN samples enter aggregates. ``twa`` carries the last value before a bucket into it.
        """
        ...

    def events(
        self,
        prefix: str,
        start: datetime,
        end: datetime,
        *,
        kinds: list[str] | None = None,
    ) -> pa.Table:
        """Return events under ``prefix`` in ``[start, end)`` ordered by ts, path
        (columns of :data:`werk.samples.EVENT_SCHEMA`)."""
        ...

    def count_sums(
        self, prefix: str, start: datetime, end: datetime, *, origin: datetime, step: timedelta
    ) -> pa.Table:
        """Return the count events under ``prefix`` in ``[start, end)`` summed per path, product
        and ``step``-long bucket from ``origin``: one count event per bucket, at the time of its
        last count. Counts without a product are summed per path and instant only. For the KPI
        engine, whose window edges all lie on bucket edges; counts before ``origin`` are left
        out; rows in no particular order."""
        ...

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """Return the newest dead letters first."""
        ...

    def ledger_entry(self, batch_key: str) -> WriteResult | None:
        """Return the committed result of ``batch_key``, or None if it was never committed."""
        ...

    # -- retention -------------------------------------------------------------------------
    def set_retention(self, prefix: str, keep: timedelta | None) -> None:
        """Keep data under ``prefix`` for ``keep`` (None removes the rule)."""
        ...

    def retention_rules(self) -> list[RetentionRule]:
        """Return the retention rules, most specific prefix first."""
        ...

    def apply_retention(self, now: datetime) -> int:
        """Delete samples and events older than their rule (the most specific prefix wins);
        return how many rows went."""
        ...

    # -- asset model -----------------------------------------------------------------------
    def put_assets(self, model: AssetModel) -> int:
        """Store the asset model as a new version (unless it equals the stored one); return the
        version now stored."""
        ...

    def assets(self) -> AssetModel:
        """Return the newest stored asset model (an empty one if none was stored)."""
        ...

    # -- documents and counters ------------------------------------------------------------
    def put_document(
        self,
        kind: str,
        key: str,
        body: Mapping[str, object],
        *,
        expected_version: int | None = None,
        keep_history: bool = True,
    ) -> Document:
        """Store ``body`` as the next version of (kind, key) and return it.

        With ``expected_version`` the write succeeds only if the newest stored version is that
        one (0: the document must not exist yet) — optimistic concurrency for read-modify-write.
        Without history, older versions are deleted in the same transaction.

        Raises:
            Conflict: the newest version is not ``expected_version``.
        """
        ...

    def document(self, kind: str, key: str, version: int | None = None) -> Document | None:
        """Return the newest (or the given) version of (kind, key), or None."""
        ...

    def documents(self, kind: str, prefix: str = "") -> list[Document]:
        """Return the newest version of every document of ``kind`` whose key starts with
        ``prefix``, ordered by key."""
        ...

    def document_history(self, kind: str, key: str) -> list[Document]:
        """Return every stored version of (kind, key), oldest first."""
        ...

    def delete_document(self, kind: str, key: str) -> bool:
        """Delete every version of (kind, key); return whether there was one."""
        ...

    def increment(self, name: str, by: int = 1, limit: int | None = None) -> int | None:
        """Add ``by`` to counter ``name`` atomically (a new counter starts at 0) and return the
        new value; with ``limit``, return None and change nothing when the sum would pass it.
        Exact under concurrency, across processes on PostgreSQL."""
        ...

    def counter(self, name: str) -> int:
        """Return the value of counter ``name`` (0 when it was never incremented)."""
        ...

    # -- audit (werk.sharing) --------------------------------------------------------------
    def append_audit(self, records: Sequence[AuditAppend]) -> int:
        """Append records to the audit log in one transaction, chaining each to the one before
        (:func:`chain_hash`); return the sequence number of the last. Appends from several
        processes are serialised; nothing else ever changes or deletes a record."""
        ...

    def audit_entries(
        self, *, after: int = 0, limit: int = 1000, participant: str | None = None
    ) -> list[AuditEntry]:
        """Return records with ``seq > after`` in order, at most ``limit``; with ``participant``
        only those it made or that concern its data (``participant`` or ``owner`` column)."""
        ...

    def audit_length(self) -> int:
        """Return how many records were appended (kept apart from the table, so that a removed
        last record is noticed)."""
        ...

    # -- API keys --------------------------------------------------------------------------
    def create_key(
        self, *, name: str, role: str, edge: str | None, secret_hash: str, prefix: str
    ) -> ApiKey:
        """Store a new API key by its hash."""
        ...

    def keys(self) -> list[ApiKey]:
        """Return every API key, revoked ones too."""
        ...

    def key_by_hash(self, secret_hash: str) -> ApiKey | None:
        """Return the key whose secret has this hash, revoked or not."""
        ...

    def revoke_key(self, name: str) -> ApiKey:
        """Revoke the key called ``name``.

        Raises:
            NotFound: there is no such key.
        """
        ...
