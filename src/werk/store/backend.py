"""Run the store's algorithms once, over the few SQL primitives each backend provides.

:class:`SqlStore` implements :class:`werk.store.base.Store`: idempotent atomic writes, series
resolution, latest blocks, raw and bucketed reads, retention and keys. A backend
(:mod:`werk.store.duckdb`, :mod:`werk.store.postgres`) supplies connections, error mapping and the
handful of operations whose SQL differs (moving a set of ids or a batch into a query, locking).
So the two backends cannot drift apart in behaviour, only in SQL, and the SQL sits side by side in
:mod:`werk.store.sql` and :mod:`werk.store.schema`.

A write, in one transaction: claim the batch key in the ledger (a key seen before returns the
original result and stores nothing) and record it in ``latest_pending``; register unknown series;
append the samples; append the events; record how many series were new. The in-memory series
index learns new ids only after the commit.

Latest values are merged *behind* the writes: after the commit the batch's newest sample per
series waits in memory (:class:`werk.store.latest.Pending`), and a merger thread folds everything
pending into the latest blocks every ``latest_delay_s`` (0.5 s), many batches in one block update,
then deletes their ``latest_pending`` rows. Reads in this process lay what is pending over the
stored blocks, so ``latest()`` and the carried values of range reads see every committed sample
at once. Batches a process that died left in ``latest_pending`` are recovered by re-reading their
ts range of samples (:meth:`SqlStore.recover_latest`); merging is idempotent. Rewriting the blocks
in each batch's own transaction (``latest_delay_s=0``, still supported) cost DuckDB a third of
its write time for 100k-sample batches and PostgreSQL a third again on top of the COPY.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final, Generic, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from werk.assets.document import assets_from_data, assets_to_data
from werk.assets.model import AssetModel
from werk.assets.paths import validate_path
from werk.errors import (
    Conflict,
    InvalidInput,
    MigrationError,
    NotFound,
    StoreError,
    WerkError,
)
from werk.samples import EVENT_SCHEMA, UTC_NS, from_ns, to_ns
from werk.store import sql
from werk.store.base import (
    GENESIS,
    Agg,
    ApiKey,
    AuditAppend,
    AuditEntry,
    DeadLetter,
    Document,
    RetentionRule,
    StoreInfo,
    WriteResult,
    chain_hash,
)
from werk.store.buckets import bucket_edges, check_bucket, zone
from werk.store.latest import BlockCache, Blocks, Pending, blocks_of, empty_block
from werk.store.resample import twa
from werk.store.retention import NO_CUTOFF, check_rule, cutoffs, ordered
from werk.store.schema import LATEST_VERSION, MIGRATIONS, VERSION_TABLE, Dialect
from werk.store.series import SeriesIndex, normalise_prefix
from werk.store.tables import (
    BUCKET_SCHEMA,
    CODED_RAW_SCHEMA,
    RAW_SCHEMA,
    SERIES_SCHEMA,
    SampleColumns,
    column_of,
    event_table,
    sample_columns,
)

C = TypeVar("C")
"""A backend's handle for one unit of work (a DuckDB cursor, a psycopg connection)."""

Int64Array = npt.NDArray[np.int64]

log = logging.getLogger(__name__)

LATEST_DELAY_S: Final = 0.5
"""Default seconds a committed sample may wait before it is merged into the stored blocks."""
RECOVER_AFTER_S: Final = 30.0
"""A pending batch this old was written by a process that died: re-read and merge its range."""

_NEWEST: Final = pa.schema(
    [
        ("series_id", pa.int64()),
        ("ts", pa.int64()),
        ("value", pa.float64()),
        ("quality", pa.uint8()),
    ]
)

ROLES: Final = ("admin", "edge", "engineer", "viewer")

# Carried-value lookback windows for twa, newest first: most series have a sample within a day
# of any instant; the last window is unbounded.
_LOOKBACK: Final = (timedelta(days=1), timedelta(days=7), timedelta(days=35), timedelta(days=400))


@dataclass(frozen=True, slots=True)
class Selection:
    """Series picked for a read: ids and their rank in (path, signal) order."""

    positions: Int64Array
    ids: Int64Array

    @property
    def ranks(self) -> Int64Array:
        """Rank of each selected series (0, 1, 2, ... in path, signal order)."""
        return np.arange(len(self.ids), dtype=np.int64)


_SINCE: Final = pa.schema([("id", pa.int64()), ("path", pa.string()), ("signal", pa.string())])
"""Series read back from the registry."""


def _ns(ts: datetime, field: str) -> int:
    try:
        return to_ns(ts)
    except ValueError as exc:
        raise InvalidInput(str(exc), field=field) from exc


def _ts_array(ns: Int64Array) -> pa.Array:
    return pa.array(np.asarray(ns, dtype=np.int64), pa.int64()).cast(UTC_NS)


def _dt(ns: int | None) -> datetime | None:
    return None if ns is None else from_ns(int(ns))


class SqlStore(ABC, Generic[C]):
    """The store over a SQL database; see the module docstring for the write path."""

    backend: str
    url: str
    dialect: ClassVar[Dialect]

    def __init__(
        self,
        url: str,
        series: SeriesIndex | None = None,
        blocks: BlockCache | None = None,
        *,
        pending: Pending | None = None,
        merging: threading.Lock | None = None,
        latest_delay_s: float = LATEST_DELAY_S,
    ) -> None:
        self.url = url
        self._series = series if series is not None else SeriesIndex()
        self._blocks = blocks if blocks is not None else BlockCache()
        self._series_lock = threading.Lock()
        self.latest_delay_s = latest_delay_s
        """Seconds a committed sample may wait before it is merged into the stored latest
        blocks (0: merged in the write's own transaction)."""
        self._pending = pending if pending is not None else Pending()
        self._merging = merging if merging is not None else threading.Lock()
        """Held by a merge (or a recovery) from taking what is pending until it is stored."""
        self._wake = threading.Event()
        self._closing = False
        self._merger: threading.Thread | None = None
        self._merger_lock = threading.Lock()

    # -- primitives every backend provides -----------------------------------------------------
    @abstractmethod
    def _reading(self) -> AbstractContextManager[C]:
        """Yield a handle for reads, mapping driver errors to store errors."""

    @abstractmethod
    def _writing(self) -> AbstractContextManager[C]:
        """Yield a handle inside a transaction: commit on exit, roll back on error."""

    @abstractmethod
    def _execute(self, c: C, query: str, params: Sequence[object] = ()) -> None:
        """Run a statement."""

    @abstractmethod
    def _rows(self, c: C, query: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Run a query and return its rows."""

    @abstractmethod
    def _register(self, c: C, rows: pa.Table) -> tuple[pa.Table, int]:
        """Insert series (path, signal, unit, value_type) not yet registered and update the
        metadata of known ones; return (id, path, signal) of every row and how many were new."""

    @abstractmethod
    def _insert_samples(self, c: C, series_ids: Int64Array, batch: SampleColumns) -> None:
        """Append samples."""

    @abstractmethod
    def _block_versions(
        self, c: C, block_ids: list[int], *, for_update: bool
    ) -> list[tuple[int, int]]:
        """Return (block, version) of the existing rows among ``block_ids``, in block order; with
        ``for_update`` lock them until the transaction ends."""

    @abstractmethod
    def _block_payloads(self, c: C, block_ids: list[int]) -> list[tuple[int, bytes]]:
        """Return (block, payload) of these existing blocks."""

    @abstractmethod
    def _create_blocks(self, c: C, block_ids: list[int], payload: bytes) -> None:
        """Insert empty blocks at version 0 unless they exist (a concurrent writer may win)."""

    @abstractmethod
    def _update_blocks(self, c: C, rows: list[tuple[int, int, bytes]]) -> None:
        """Set (block, version, payload) of existing blocks."""

    @abstractmethod
    def _insert_events(self, c: C, events: pa.Table) -> None:
        """Append events (columns of EVENT_SCHEMA, ts as int64 ns)."""

    @abstractmethod
    def _table(self, c: C, query: str, params: Sequence[object], schema: pa.Schema) -> pa.Table:
        """Run a query and return its result as an Arrow table of ``schema``."""

    @abstractmethod
    def _samples(
        self, c: C, selection: Selection, start: int, end: int, *, good_only: bool
    ) -> tuple[Int64Array, Int64Array, npt.NDArray[np.float64], npt.NDArray[np.uint8]]:
        """Return (rank, ts, value, quality) of the selected series in [start, end), ordered by
        rank, ts."""

    @abstractmethod
    def _aggregate(
        self, c: C, selection: Selection, start: int, end: int, edges: Int64Array, expr: str
    ) -> tuple[Int64Array, Int64Array, npt.NDArray[np.float64], Int64Array]:
        """Return (rank, bucket, value, count) of GOOD/UNCERTAIN samples per bucket."""

    @abstractmethod
    def _last_before(
        self, c: C, selection: Selection, lo: int, hi: int
    ) -> tuple[Int64Array, Int64Array, npt.NDArray[np.float64], npt.NDArray[np.uint8]]:
        """Return (series id, ts, value, quality) of the newest sample in [lo, hi) per series."""

    @abstractmethod
    def _delete_samples(self, c: C, series_ids: Int64Array, cutoffs: Int64Array) -> int:
        """Delete samples older than their series' cutoff; return how many went."""

    @abstractmethod
    def _size_bytes(self) -> int | None:
        """Return the size of the database on disk."""

    def _writing_batch(self) -> AbstractContextManager[C]:
        """Yield a handle inside the transaction of one batch; its first statement is the claim."""
        return self._writing()

    def _merge_latest(
        self, c: C, batch_key: str, series_ids: Int64Array, batch: SampleColumns
    ) -> list[tuple[int, int, bytes]]:
        """Merge the batch into the latest blocks (locked); return what to cache after commit.

        With ``latest_delay_s`` > 0 nothing is merged here: the claim recorded the batch in
        ``latest_pending`` and :meth:`_written` hands its samples to the merger."""
        if self.latest_delay_s > 0:
            return []
        blocks = self._load_blocks(c, blocks_of(series_ids), for_update=True)
        changed = blocks.merge(series_ids, batch.ts, batch.value, batch.quality)
        return self._save_blocks(c, blocks, changed)

    def _written(self, batch_key: str, series_ids: Int64Array, batch: SampleColumns) -> None:
        """Called once a batch with samples has committed: with ``latest_delay_s`` > 0 its
        newest samples wait in memory for the merger. Starts the merger if the backend has one
        (:meth:`_merger_period`)."""
        if self.latest_delay_s > 0:
            self._pending.add(
                batch_key, series_ids, batch.ts, batch.value, batch.quality, time.monotonic()
            )
        self._start_merger()

    def _prepare_write(self, batch: SampleColumns) -> None:
        """Get ready for this batch's samples (outside the write transaction)."""

    def _write_known(
        self,
        batch_key: str,
        committed_ns: int,
        source: str,
        series_ids: Int64Array,
        batch: SampleColumns,
    ) -> bool | None:
        """Write a batch of samples of known series only (no events) in one go, claim, samples
        and commit together, if the backend has such a path; return whether the key was a
        duplicate, or None to take the general path (claim, register, insert, merge)."""
        return None

    def _lock_schema(self, c: C) -> None:
        """Keep other processes from migrating at the same time (inside the transaction)."""

    def _q(self, query: sql.Sql) -> str:
        return query.text(self.dialect)

    def _claim(
        self,
        c: C,
        batch_key: str,
        committed_ns: int,
        samples: int,
        events: int,
        source: str,
        ts_range: tuple[int, int] | None,
    ) -> bool:
        """Insert the ledger row of ``batch_key``; False if the key was committed before.
        ``ts_range`` is the (oldest, newest) sample's ts of the batch, None without samples.

        On PostgreSQL a concurrent writer of the same key holds the unique index entry: the insert
        waits for it to commit (then finds the conflict) or roll back (then claims the key).
        """
        rows = self._rows(
            c, self._q(sql.LEDGER_ADD), (batch_key, committed_ns, samples, events, source)
        )
        return bool(rows)

    # -- latest blocks -----------------------------------------------------------------------
    def _load_blocks(
        self,
        c: C,
        block_ids: Int64Array,
        *,
        for_update: bool,
        versions: dict[int, int] | None = None,
    ) -> Blocks:
        """Return the latest blocks ``block_ids`` (sorted), payloads from the cache where its
        version is current. With ``for_update`` the rows are created if missing and locked;
        ``versions`` (of every existing block, read just before) spares reading them again.
        A read (not ``for_update``) also sees the samples waiting to be merged."""
        if not for_update:
            # A read: what this process committed but has not merged yet counts too. The
            # snapshot comes first: whatever a merge clears from it after this was stored before.
            pending = self._pending.snapshot(block_ids)
            blocks = self._stored_blocks(c, block_ids, for_update=False, versions=versions)
            if pending is not None:
                blocks.overlay(pending)
            return blocks
        return self._stored_blocks(c, block_ids, for_update=True, versions=versions)

    def _stored_blocks(
        self, c: C, block_ids: Int64Array, *, for_update: bool, versions: dict[int, int] | None
    ) -> Blocks:
        wanted = [int(b) for b in block_ids]
        if versions is not None and not for_update:
            found = [(b, versions[b]) for b in wanted if b in versions]
        else:
            found = self._block_versions(c, wanted, for_update=for_update)
        if for_update and len(found) < len(wanted):
            have = {b for b, _ in found}
            self._create_blocks(c, [b for b in wanted if b not in have], empty_block())
            found = self._block_versions(c, wanted, for_update=True)
        payloads: dict[int, bytes] = {}
        stale: list[int] = []
        for block, version in found:
            cached = self._blocks.get(block, version)
            if cached is None:
                stale.append(block)
            else:
                payloads[block] = cached
        if stale:
            fetched = self._block_payloads(c, stale)
            versions = dict(found)
            # What was read is committed (or locked by us and not yet changed): safe to keep.
            self._blocks.put((b, versions[b], p) for b, p in fetched)
            payloads.update(fetched)
        return Blocks.assemble(
            block_ids,
            [b for b, _ in found],
            [v for _, v in found],
            [payloads[b] for b, _ in found],
        )

    def _save_blocks(self, c: C, blocks: Blocks, rows: Int64Array) -> list[tuple[int, int, bytes]]:
        """Write back blocks ``rows`` (indices into ``blocks.ids``) at their next version; return
        what to put in the cache once the transaction has committed."""
        changed = [
            (int(blocks.ids[i]), int(blocks.versions[i]) + 1, blocks.payload(int(i))) for i in rows
        ]
        if changed:
            self._update_blocks(c, changed)
        return changed

    # -- lifecycle ---------------------------------------------------------------------------
    def schema_version(self) -> int:
        """Return the schema version in force (0 for an empty database)."""
        with self._reading() as c:
            return self._version(c)

    def _version(self, c: C) -> int:
        if not self._rows(c, self._q(sql.HAS_VERSION_TABLE))[0][0]:
            return 0
        return int(self._rows(c, self._q(sql.VERSION))[0][0])

    def migrate(self) -> int:
        """Bring the schema to the newest version, one transaction per migration."""
        with self._writing() as c:
            self._lock_schema(c)
            self._execute(c, VERSION_TABLE)
        for migration in MIGRATIONS:
            with self._writing() as c:
                self._lock_schema(c)
                current = self._version(c)
                if current > LATEST_VERSION:
                    raise MigrationError(
                        f"the database has schema version {current}, newer than the "
                        f"{LATEST_VERSION} this werk knows: upgrade werk",
                        found=current,
                        expected=LATEST_VERSION,
                    )
                if current >= migration.version:
                    continue
                if current != migration.version - 1:  # pragma: no cover - versions are dense
                    raise MigrationError(
                        f"schema version {current} has no path to {migration.version}"
                    )
                for statement in migration.statements(self.dialect):
                    try:
                        self._execute(c, statement)
                    except StoreError as exc:
                        if type(exc) is not StoreError:
                            raise
                        raise MigrationError(
                            f"migration {migration.version} ({migration.description}) failed: "
                            f"{exc.message}",
                            version=migration.version,
                        ) from exc
                self._execute(
                    c,
                    self._q(sql.ADD_VERSION),
                    (migration.version, to_ns(datetime.now(UTC)), migration.description),
                )
        version = self.schema_version()
        if version > LATEST_VERSION:
            raise MigrationError(
                f"the database has schema version {version}, newer than the {LATEST_VERSION} "
                "this werk knows: upgrade werk",
                found=version,
                expected=LATEST_VERSION,
            )
        self._refresh_series()
        return version

    def info(self) -> StoreInfo:
        """Return counts and sizes."""
        with self._reading() as c:
            version = self._version(c)
            counts = self._rows(c, self._q(sql.COUNTS))[0] if version else (0, 0, 0, 0, 0)
        return StoreInfo(
            backend=self.backend,
            url=self.url,
            schema_version=version,
            series=int(counts[0]),
            samples=int(counts[1]),
            events=int(counts[2]),
            dead_letters=int(counts[3]),
            batches=int(counts[4]),
            size_bytes=self._size_bytes(),
            extra=self._extra_info(),
        )

    def _extra_info(self) -> dict[str, str]:
        return {}

    def close(self) -> None:
        """Release the series index."""
        self._series.close()

    # -- latest merged behind the writes -----------------------------------------------------
    def _merger_period(self) -> float | None:
        """Seconds between the merger's rounds; None: no merger thread."""
        return self.latest_delay_s if self.latest_delay_s > 0 else None

    def _start_merger(self) -> None:
        if self._merger is not None or self._closing or self._merger_period() is None:
            return
        with self._merger_lock:
            if self._merger is None:
                self._merger = threading.Thread(
                    target=self._merge_loop, name="werk-store-latest", daemon=True
                )
                self._merger.start()

    def _stop_merging(self, timeout: float) -> None:
        """Stop the merger and merge what is pending now (left for recovery if that fails)."""
        self._closing = True
        self._wake.set()
        if self._merger is not None:
            self._merger.join(timeout=timeout)
        try:
            self.merge_latest()
        except WerkError as exc:  # kept in latest_pending: the next process merges it
            log.warning("latest values not merged at close, left for recovery: %s", exc)

    def _chores(self) -> None:
        """Upkeep a backend's merger does on every round (after merging)."""

    def merge_latest(self) -> int:
        """Merge every pending batch's newest samples into the stored latest blocks now; return
        how many batches that was. Runs by itself ``latest_delay_s`` after a write.

        Raises:
            StoreUnavailable: The database is unreachable (what was pending stays pending).
        """
        with self._merging:
            since = self._pending.since
            pending, keys = self._pending.take()
            if not keys:
                return 0
            try:
                saved = self._store_merge(pending, keys)
            except BaseException:
                self._pending.failed(pending, keys, since or time.monotonic())
                raise
            self._blocks.put(saved)
            self._pending.merged()
            return len(keys)

    def _store_merge(self, pending: Blocks, keys: list[str]) -> list[tuple[int, int, bytes]]:
        with self._writing() as c:
            blocks = self._load_blocks(c, pending.ids, for_update=True)
            saved = self._save_blocks(c, blocks, blocks.overlay(pending))
            if keys:
                self._execute(c, self._q(sql.PENDING_DROP), (keys,))
        return saved

    def recover_latest(self, older_than_s: float = RECOVER_AFTER_S) -> int:
        """Merge the batches that a process which died left in ``latest_pending`` (older than
        ``older_than_s``): re-read their ts range of samples, newest per series, and merge it.
        Merging is idempotent, so a batch its own process still merges later changes nothing.
        Return how many batches were recovered."""
        cutoff = time.time_ns() - int(older_than_s * 1e9)
        with self._reading() as c:
            rows = self._rows(c, self._q(sql.PENDING_OLD), (cutoff,))
        if not rows:
            return 0
        keys = [str(r[0]) for r in rows]
        # Overlapping ranges are read once.
        spans: list[list[int]] = []
        for _, lo, hi in rows:
            if spans and lo <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], int(hi))
            else:
                spans.append([int(lo), int(hi)])
        with self._merging:
            for lo, hi in spans:
                with self._reading() as c:
                    newest = self._table(c, self._q(sql.NEWEST_IN), (lo, hi), _NEWEST)
                if not newest.num_rows:
                    continue
                ids = np.asarray(newest.column(0).to_numpy(), dtype=np.int64)
                found = Blocks.empty(blocks_of(ids))
                found.merge(
                    ids,
                    np.asarray(newest.column(1).to_numpy(), dtype=np.int64),
                    np.asarray(newest.column(2).to_numpy(), dtype=np.float64),
                    np.asarray(newest.column(3).to_numpy(), dtype=np.uint8),
                )
                self._blocks.put(self._store_merge(found, []))
            with self._writing() as c:
                self._execute(c, self._q(sql.PENDING_DROP), (keys,))
        log.info("merged the latest values of %d batches a stopped process left", len(keys))
        return len(keys)

    def _merge_loop(self) -> None:
        period = self._merger_period()
        assert period is not None, "a merger runs only where the backend has a period"
        while not self._closing:
            since = self._pending.since
            now = time.monotonic()
            wait = period if since is None else since + period - now
            if wait > 0 and self._wake.wait(wait):
                self._wake.clear()
                continue
            try:
                if self._pending.since is not None:
                    self.merge_latest()
                self._chores()
            except Exception as exc:  # the database is away: keep what is pending, try again
                if not isinstance(exc, WerkError):
                    log.exception("merging latest values failed; retrying")
                self._wake.wait(max(self.latest_delay_s, 1.0))

    # -- series ------------------------------------------------------------------------------
    def _refresh_series(self) -> None:
        """Learn series registered since the registry was last read (by any process).

        Registration commits in id order (DuckDB: one writer; PostgreSQL: an advisory lock held
        until commit), so everything above the last id read is everything new.
        """
        with self._series_lock, self._reading() as c:
            self._catch_up(c, self._rows(c, self._q(sql.SERIES_TOP))[0][0])

    def _catch_up(self, c: C, top: int | None) -> None:
        """Learn the series above the last id read, if the registry's highest id (``top``, from
        :data:`werk.store.sql.SERIES_TOP`) says there are any (hold the series lock)."""
        if top is None or int(top) <= self._series.synced_id:
            return
        self._learn_series(
            self._table(c, self._q(sql.SERIES_SINCE), (self._series.synced_id,), _SINCE)
        )

    def _learn_series(self, new: pa.Table) -> None:
        """Add series read back from the registry (columns id, path, signal) to the index."""
        if new.num_rows:
            ids = np.asarray(new.column("id").to_numpy(), dtype=np.int64)
            self._series.add(ids, new.column("path"), new.column("signal"))
            self._series.synced_id = max(self._series.synced_id, int(ids.max()))

    def register_series(self, rows: pa.Table) -> int:
        """Register or update series metadata (path, signal, unit, value_type); return new."""
        table = pa.table(
            {
                "path": column_of(rows, "path", pa.string()),
                "signal": column_of(rows, "signal", pa.string()),
                "unit": column_of(rows, "unit", pa.string())
                if "unit" in rows.column_names
                else pa.nulls(rows.num_rows, pa.string()),
                "value_type": column_of(rows, "value_type", pa.string())
                if "value_type" in rows.column_names
                else pa.nulls(rows.num_rows, pa.string()),
            }
        )
        # One row per pair; of repeated pairs the last row's metadata counts.
        table = (
            table.group_by(["path", "signal"], use_threads=False)
            .aggregate([("unit", "last"), ("value_type", "last")])
            .select(["path", "signal", "unit_last", "value_type_last"])
            .rename_columns(["path", "signal", "unit", "value_type"])
        )
        if not table.num_rows:
            return 0
        with self._writing() as c:
            known, new = self._register(c, table)
        self._series.add(
            np.asarray(known.column("id").to_numpy(), dtype=np.int64),
            known.column("path"),
            known.column("signal"),
        )
        return new

    def series(self, prefix: str | None = None) -> pa.Table:
        """Return series at or below ``prefix``, sorted by path, signal."""
        prefix = normalise_prefix(prefix)
        with self._reading() as c:
            return self._table(
                c, self._q(sql.SERIES_LIST), (prefix, prefix, prefix + "/"), SERIES_SCHEMA
            )

    # -- writes ------------------------------------------------------------------------------
    def write(
        self,
        batch_key: str,
        samples: pa.Table | None = None,
        events: pa.Table | None = None,
        *,
        source: str = "",
    ) -> WriteResult:
        """Store one batch atomically and idempotently (see the module docstring)."""
        if not batch_key:
            raise InvalidInput("a batch needs a non-empty key", field="batch_key")
        batch = sample_columns(samples) if samples is not None and samples.num_rows else None
        event_rows = event_table(events) if events is not None and events.num_rows else None
        ids = self._series.resolve(batch.paths, batch.signals) if batch is not None else None
        if batch is not None:
            self._prepare_write(batch)
        committed = datetime.now(UTC)
        n_samples = len(batch) if batch is not None else 0
        n_events = event_rows.num_rows if event_rows is not None else 0
        registered: pa.Table | None = None
        new_series = 0
        saved: list[tuple[int, int, bytes]] = []
        ts_range = (batch.lo, batch.hi) if batch is not None else None
        whole = None
        if batch is not None and ids is not None and event_rows is None and int(ids.min()) >= 0:
            whole = self._write_known(batch_key, to_ns(committed), source, ids, batch)
        if whole is not None:
            duplicate = whole
        else:
            with self._writing_batch() as c:
                if not self._claim(
                    c, batch_key, to_ns(committed), n_samples, n_events, source, ts_range
                ):
                    duplicate = True
                else:
                    duplicate = False
                    if batch is not None and ids is not None:
                        ids, registered, new_series = self._resolve_new(c, batch, ids)
                        self._insert_samples(c, ids, batch)
                        saved = self._merge_latest(c, batch_key, ids, batch)
                    if event_rows is not None:
                        self._insert_events(c, event_rows)
                    if new_series:
                        self._execute(c, self._q(sql.LEDGER_NEW_SERIES), (new_series, batch_key))
        if duplicate:
            entry = self.ledger_entry(batch_key)
            if entry is None:  # pragma: no cover - the claim saw it committed
                raise StoreError("batch key vanished from the ledger", key="store.ledger")
            return entry
        self._blocks.put(saved)
        if batch is not None and ids is not None:
            self._written(batch_key, ids, batch)
        if registered is not None:
            self._series.add(
                np.asarray(registered.column("id").to_numpy(), dtype=np.int64),
                registered.column("path"),
                registered.column("signal"),
            )
        return WriteResult(
            batch_key=batch_key,
            duplicate=False,
            samples=n_samples,
            events=n_events,
            new_series=new_series,
            committed_at=committed,
        )

    def _resolve_new(
        self, c: C, batch: SampleColumns, ids: Int64Array
    ) -> tuple[Int64Array, pa.Table | None, int]:
        unknown = ids < 0
        if not unknown.any():
            return ids, None, 0
        rows = np.flatnonzero(unknown)
        pending = pa.table(
            {
                "row": pa.array(rows),
                "path": batch.paths.take(pa.array(rows)),
                "signal": batch.signals.take(pa.array(rows)),
            }
        )
        pairs = pending.group_by(["path", "signal"], use_threads=False).aggregate([])
        pairs = pairs.append_column("unit", pa.nulls(pairs.num_rows, pa.string()))
        pairs = pairs.append_column("value_type", pa.nulls(pairs.num_rows, pa.string()))
        registered, new = self._register(c, pairs)
        joined = pending.join(registered, ["path", "signal"], use_threads=False)
        if joined.num_rows != len(rows):  # pragma: no cover - _register returns every pair
            raise StoreError("series registration lost rows", key="store.register")
        ids = ids.copy()
        ids[np.asarray(joined.column("row").to_numpy())] = np.asarray(
            joined.column("id").to_numpy(), dtype=np.int64
        )
        return ids, registered, new

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
        received = to_ns(datetime.now(UTC))
        with self._writing() as c:
            rows = self._rows(
                c,
                self._q(sql.DEAD_LETTER_ADD),
                (received, source, key, reason, batch_key, location, payload),
            )
        return int(rows[0][0])

    # -- reads -------------------------------------------------------------------------------
    def ledger_entry(self, batch_key: str) -> WriteResult | None:
        """Return the committed result of ``batch_key``, or None."""
        with self._reading() as c:
            rows = self._rows(c, self._q(sql.LEDGER_GET), (batch_key,))
        if not rows:
            return None
        key, committed, samples, events, new_series = rows[0]
        return WriteResult(
            batch_key=key,
            duplicate=True,
            samples=int(samples),
            events=int(events),
            new_series=int(new_series),
            committed_at=from_ns(int(committed)),
        )

    def _select(
        self, prefix: str | None, signals: list[str] | None, *, exact: bool = False
    ) -> Selection:
        self._refresh_series()
        positions = self._series.select(prefix, signals, exact=exact)
        return Selection(positions, self._series.ids[positions])

    def latest(
        self,
        prefix: str | None = None,
        signals: list[str] | None = None,
        *,
        dictionary: bool = False,
    ) -> pa.Table:
        """Return the newest sample of each series under ``prefix`` from the latest blocks."""
        schema = CODED_RAW_SCHEMA if dictionary else RAW_SCHEMA
        selection, blocks = self._latest_blocks(prefix, signals)
        if blocks is None:
            return schema.empty_table()
        present, ts, value, quality = blocks.gather(selection.ids)
        paths, names = self._series.names_of(selection.positions[present], dictionary=dictionary)
        return pa.Table.from_arrays(
            [
                paths,
                names,
                _ts_array(ts[present]),
                pa.array(value[present], pa.float64()),
                pa.array(quality[present], pa.uint8()),
            ],
            schema=schema,
        )

    def _latest_blocks(
        self, prefix: str | None, signals: list[str] | None
    ) -> tuple[Selection, Blocks | None]:
        """Select the series under ``prefix`` and load their latest blocks (None: no series)."""
        selection = self._select(prefix, signals)
        if not len(selection.ids):
            return selection, None
        with self._reading() as c:
            return selection, self._load_blocks(c, blocks_of(selection.ids), for_update=False)

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
        """Read samples of ``path`` (and below when ``descendants``) in ``[start, end)``.

        Raw reads return every sample, BAD ones too. Bucketed reads aggregate only GOOD and
        UNCERTAIN samples and return a row per series and bucket that has any (for ``twa``: any
        good time held, see :mod:`werk.store.resample`); ``ts`` is the bucket start, which may lie
        before ``start``. ``first``/``last`` take the sample with the smallest/largest ts (of equal
        ts, the smallest/largest value).
        """
        start_ns, end_ns = _ns(start, "start"), _ns(end, "end")
        if end_ns < start_ns:
            raise InvalidInput("the end of a range lies before its start", field="end")
        try:
            agg = Agg(agg)
        except ValueError as exc:
            raise InvalidInput(
                f"aggregation {agg!r} is not one of {', '.join(a.value for a in Agg)}",
                field="agg",
            ) from exc
        edges = None
        if bucket is not None:
            check_bucket(bucket)
            zone(tz)
            edges = bucket_edges(start_ns, end_ns, bucket, tz)
        selection = self._select(path, signals, exact=not descendants)
        if edges is None:
            if not len(selection.ids):
                return RAW_SCHEMA.empty_table()
            with self._reading() as c:
                rank, ts, value, quality = self._samples(
                    c, selection, start_ns, end_ns, good_only=False
                )
            at = pa.array(selection.positions[rank])
            return pa.Table.from_arrays(
                [
                    self._series.paths.take(at),
                    self._series.signals.take(at),
                    _ts_array(ts),
                    pa.array(value, pa.float64()),
                    pa.array(quality, pa.uint8()),
                ],
                schema=RAW_SCHEMA,
            )
        if not len(selection.ids) or len(edges) < 2:
            return BUCKET_SCHEMA.empty_table()
        if agg is Agg.TWA:
            rank, index, values, count = self._twa(selection, start_ns, end_ns, edges)
        else:
            expr = sql.AGG_EXPR[agg.value][0 if self.dialect == "duckdb" else 1]
            with self._reading() as c:
                rank, index, values, count = self._aggregate(
                    c, selection, start_ns, end_ns, edges, expr
                )
        at = pa.array(selection.positions[rank])
        return pa.Table.from_arrays(
            [
                self._series.paths.take(at),
                self._series.signals.take(at),
                _ts_array(edges[index]),
                pa.array(values, pa.float64()),
                pa.array(count, pa.int64()),
            ],
            schema=BUCKET_SCHEMA,
        )

    def _twa(
        self, selection: Selection, start: int, end: int, edges: Int64Array
    ) -> tuple[Int64Array, Int64Array, npt.NDArray[np.float64], Int64Array]:
        carried = self._carried(selection, start)
        with self._reading() as c:
            rank, ts, value, quality = self._samples(c, selection, start, end, good_only=False)
        c_rank, c_ts, c_value, c_quality = carried
        all_rank = np.concatenate([c_rank, rank])
        # Stable sort by rank keeps each carried sample ahead of the samples in the range.
        order = np.argsort(all_rank, kind="stable")
        result = twa(
            all_rank[order],
            np.concatenate([c_ts, ts])[order],
            np.concatenate([c_value, value])[order],
            np.concatenate([c_quality, quality])[order] < 2,
            edges,
            start,
            end,
        )
        return result.group, result.bucket, result.value, result.count

    def _carried(
        self, selection: Selection, start: int
    ) -> tuple[Int64Array, Int64Array, npt.NDArray[np.float64], npt.NDArray[np.uint8]]:
        """Return (rank, ts, value, quality) of the newest sample before ``start`` per series."""
        with self._reading() as c:
            blocks = self._load_blocks(c, blocks_of(selection.ids), for_update=False)
        present, ts, value, quality = blocks.gather(selection.ids)
        # A series whose newest sample is older than start carries that one; a series with
        # samples after start is looked up, in widening windows, before start.
        ranks = selection.ranks
        done = present & (ts < start)
        found = [(ranks[done], ts[done], value[done], quality[done])]
        todo = present & ~done
        hi = start
        windows: list[int | None] = [int(w / timedelta(microseconds=1)) * 1_000 for w in _LOOKBACK]
        windows.append(None)
        by_id = np.argsort(selection.ids)
        for window in windows:
            if not todo.any():
                break
            lo = int(np.iinfo(np.int64).min) if window is None else start - window
            subset = Selection(selection.positions[todo], selection.ids[todo])
            with self._reading() as c:
                sid, t, v, q = self._last_before(c, subset, lo, hi)
            if len(sid):
                r = by_id[np.searchsorted(selection.ids, sid, sorter=by_id)]
                found.append((r, t, v, q))
                todo[r] = False
            hi = lo
        return (
            np.concatenate([f[0] for f in found]).astype(np.int64),
            np.concatenate([f[1] for f in found]).astype(np.int64),
            np.concatenate([f[2] for f in found]).astype(np.float64),
            np.concatenate([f[3] for f in found]).astype(np.uint8),
        )

    def events(
        self,
        prefix: str,
        start: datetime,
        end: datetime,
        *,
        kinds: list[str] | None = None,
    ) -> pa.Table:
        """Return events under ``prefix`` in ``[start, end)`` ordered by ts, path."""
        prefix = normalise_prefix(prefix)
        start_ns, end_ns = _ns(start, "start"), _ns(end, "end")
        query = self._q(sql.EVENTS)
        marker = "?" if self.dialect == "duckdb" else "%s"
        params: list[object] = [start_ns, end_ns, prefix, prefix, prefix + "/"]
        if kinds:
            query = query.replace("{kinds}", f"AND kind IN ({', '.join([marker] * len(kinds))})")
            params.extend(kinds)
        else:
            query = query.replace("{kinds}", "")
        schema = EVENT_SCHEMA.set(1, pa.field("ts", pa.int64()))
        with self._reading() as c:
            table = self._table(c, query, params, schema)
        return table.set_column(1, EVENT_SCHEMA.field("ts"), table.column("ts").cast(UTC_NS))

    def count_sums(
        self, prefix: str, start: datetime, end: datetime, *, origin: datetime, step: timedelta
    ) -> pa.Table:
        """Return counts summed per path, product and bucket; see :meth:`Store.count_sums`.

        Kept apart from :meth:`events` for the KPI engine: a month of counts of a site is
        millions of rows, their sums per shift a few thousand.
        """
        prefix = normalise_prefix(prefix)
        step_ns = step // timedelta(microseconds=1) * 1000
        if step_ns <= 0:
            raise ValueError("step must be positive")
        origin_ns = _ns(origin, "origin")
        # Counts before the origin are left out: PostgreSQL's division truncates towards zero,
        # which would merge the bucket just before the origin with the one after it.
        lo = max(_ns(start, "start"), origin_ns)
        params: list[object] = [lo, _ns(end, "end"), prefix, prefix, prefix + "/"]
        params += [origin_ns, step_ns]
        schema = EVENT_SCHEMA.set(1, pa.field("ts", pa.int64()))
        with self._reading() as c:
            table = self._table(c, self._q(sql.EVENT_COUNT_SUMS), params, schema)
        return table.set_column(1, EVENT_SCHEMA.field("ts"), table.column("ts").cast(UTC_NS))

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """Return the newest dead letters first."""
        with self._reading() as c:
            rows = self._rows(c, self._q(sql.DEAD_LETTERS), (int(limit),))
        return [
            DeadLetter(
                id=int(r[0]),
                received_at=from_ns(int(r[1])),
                source=r[2],
                key=r[3],
                reason=r[4],
                batch_key=r[5],
                location=r[6],
                payload=None if r[7] is None else bytes(r[7]),
            )
            for r in rows
        ]

    # -- retention ---------------------------------------------------------------------------
    def set_retention(self, prefix: str, keep: timedelta | None) -> None:
        """Keep data under ``prefix`` for ``keep`` (None removes the rule)."""
        prefix = check_rule(prefix, keep)
        if prefix:
            validate_path(prefix)
        with self._writing() as c:
            if keep is None:
                self._execute(c, self._q(sql.RETENTION_DROP), (prefix,))
            else:
                keep_ns = keep // timedelta(microseconds=1) * 1_000
                self._execute(c, self._q(sql.RETENTION_SET), (prefix, keep_ns))

    def retention_rules(self) -> list[RetentionRule]:
        """Return the retention rules, most specific prefix first."""
        with self._reading() as c:
            rows = self._rows(c, self._q(sql.RETENTION_RULES))
        return ordered(
            [RetentionRule(r[0], timedelta(microseconds=int(r[1]) // 1_000)) for r in rows]
        )

    def apply_retention(self, now: datetime) -> int:
        """Delete samples and events older than their rule; return how many rows went.

        The newest value of a series in ``latest()`` goes too when it is older than the rule:
        what the rules say is gone is gone everywhere.
        """
        now_ns = _ns(now, "now")
        rules = self.retention_rules()
        if not rules:
            return 0
        # Pending latest values first: what the rules clear must not come back with a merge.
        self.merge_latest()
        self._refresh_series()
        ids = self._series.ids
        cut = cutoffs(self._series.paths, rules, now)
        governed = cut != NO_CUTOFF
        saved: list[tuple[int, int, bytes]] = []
        with self._writing() as c:
            deleted = self._delete_samples(c, ids[governed], cut[governed])
            deleted += self._count_deleted_events(c, now_ns)
            if governed.any():
                blocks = self._load_blocks(c, blocks_of(ids[governed]), for_update=True)
                changed = blocks.clear_before(ids[governed], cut[governed])
                saved = self._save_blocks(c, blocks, changed)
        self._blocks.put(saved)
        return deleted

    def _count_deleted_events(self, c: C, now_ns: int) -> int:
        before = int(self._rows(c, "SELECT count(*) FROM events")[0][0])
        self._execute(c, self._q(sql.RETENTION_EVENTS), (now_ns,))
        return before - int(self._rows(c, "SELECT count(*) FROM events")[0][0])

    # -- asset model -------------------------------------------------------------------------
    def put_assets(self, model: AssetModel) -> int:
        """Store the asset model as a new version (unless it equals the stored one)."""
        body = json.dumps(assets_to_data(model), sort_keys=True, separators=(",", ":"))
        with self._writing() as c:
            rows = self._rows(c, self._q(sql.DOCUMENT_LATEST), ("assets", ""))
            if rows and rows[0][1] == body:
                return int(rows[0][0])
            version = int(rows[0][0]) + 1 if rows else 1
            self._execute(
                c,
                self._q(sql.DOCUMENT_ADD),
                ("assets", "", version, body, to_ns(datetime.now(UTC))),
            )
        return version

    def assets(self) -> AssetModel:
        """Return the newest stored asset model (an empty one if none was stored)."""
        with self._reading() as c:
            rows = self._rows(c, self._q(sql.DOCUMENT_LATEST), ("assets", ""))
        if not rows:
            return AssetModel()
        return assets_from_data(json.loads(rows[0][1]), "stored asset model")

    # -- API keys ----------------------------------------------------------------------------
    @staticmethod
    def _key(row: tuple[Any, ...]) -> ApiKey:
        return ApiKey(
            id=int(row[0]),
            name=row[1],
            role=row[2],
            edge=row[3],
            prefix=row[4],
            created_at=from_ns(int(row[5])),
            revoked_at=_dt(row[6]),
        )

    def create_key(
        self, *, name: str, role: str, edge: str | None, secret_hash: str, prefix: str
    ) -> ApiKey:
        """Store a new API key by its hash.

        Raises:
            InvalidInput: unknown role or empty name.
            Conflict: a key with this name or hash exists.
        """
        if not name:
            raise InvalidInput("an API key needs a name", field="name")
        if role not in ROLES:
            raise InvalidInput(f"role {role!r} is not one of {', '.join(ROLES)}", field="role")
        created = to_ns(datetime.now(UTC))
        with self._writing() as c:
            clash = self._rows(c, self._q(sql.KEY_CLASH), (name, secret_hash))
            if clash:
                raise _key_conflict(name)
            try:
                rows = self._rows(
                    c, self._q(sql.KEY_ADD), (name, role, edge, secret_hash, prefix, created)
                )
            except StoreError as exc:  # a concurrent create with the same name or hash
                raise _key_conflict(name) from exc
        return self._key(rows[0])

    def keys(self) -> list[ApiKey]:
        """Return every API key, revoked ones too."""
        with self._reading() as c:
            return [self._key(r) for r in self._rows(c, self._q(sql.KEYS))]

    def key_by_hash(self, secret_hash: str) -> ApiKey | None:
        """Return the key whose secret has this hash, revoked or not."""
        with self._reading() as c:
            rows = self._rows(c, self._q(sql.KEY_BY_HASH), (secret_hash,))
        return self._key(rows[0]) if rows else None

    def revoke_key(self, name: str) -> ApiKey:
        """Revoke the key called ``name`` (revoking twice keeps the first time).

        Raises:
            NotFound: there is no such key.
        """
        with self._writing() as c:
            self._execute(c, self._q(sql.KEY_REVOKE), (to_ns(datetime.now(UTC)), name))
            rows = self._rows(c, self._q(sql.KEY_BY_NAME), (name,))
        if not rows:
            raise NotFound(f"there is no API key called {name!r}", key="keys.not_found", name=name)
        return self._key(rows[0])

    # -- documents and counters --------------------------------------------------------------
    def put_document(
        self,
        kind: str,
        key: str,
        body: Mapping[str, object],
        *,
        expected_version: int | None = None,
        keep_history: bool = True,
    ) -> Document:
        """Store ``body`` as the next version of (kind, key); see :meth:`Store.put_document`."""
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
        now = datetime.now(UTC)
        with self._writing() as c:
            rows = self._rows(c, self._q(sql.DOCUMENT_NEWEST), (kind, key))
            newest = int(rows[0][0]) if rows else 0
            if expected_version is not None and newest != expected_version:
                raise Conflict(
                    f"{kind} {key!r} is at version {newest}, not {expected_version}: "
                    "someone changed it meanwhile; read it again",
                    key="store.version_conflict",
                    kind=kind,
                    name=key,
                    version=newest,
                )
            version = newest + 1
            self._execute(c, self._q(sql.DOCUMENT_ADD), (kind, key, version, text, to_ns(now)))
            if not keep_history and newest:
                self._execute(c, self._q(sql.DOCUMENT_PRUNE), (kind, key, version))
        return Document(kind, key, version, json.loads(text), now)

    def document(self, kind: str, key: str, version: int | None = None) -> Document | None:
        """Return the newest (or the given) version of (kind, key), or None."""
        with self._reading() as c:
            if version is None:
                rows = self._rows(c, self._q(sql.DOCUMENT_NEWEST), (kind, key))
            else:
                rows = self._rows(c, self._q(sql.DOCUMENT_VERSION), (kind, key, version))
        if not rows:
            return None
        v, body, valid_from = rows[0]
        return Document(kind, key, int(v), json.loads(body), from_ns(int(valid_from)))

    def documents(self, kind: str, prefix: str = "") -> list[Document]:
        """Return the newest version of every document of ``kind`` under ``prefix``."""
        with self._reading() as c:
            rows = self._rows(c, self._q(sql.DOCUMENTS_OF_KIND), (kind, prefix, kind))
        return [
            Document(kind, k, int(v), json.loads(body), from_ns(int(t))) for k, v, body, t in rows
        ]

    def document_history(self, kind: str, key: str) -> list[Document]:
        """Return every stored version of (kind, key), oldest first."""
        with self._reading() as c:
            rows = self._rows(c, self._q(sql.DOCUMENT_HISTORY), (kind, key))
        return [Document(kind, key, int(v), json.loads(b), from_ns(int(t))) for v, b, t in rows]

    def delete_document(self, kind: str, key: str) -> bool:
        """Delete every version of (kind, key); return whether there was one."""
        with self._writing() as c:
            found = bool(self._rows(c, self._q(sql.DOCUMENT_NEWEST), (kind, key)))
            self._execute(c, self._q(sql.DOCUMENT_DELETE), (kind, key))
        return found

    def increment(self, name: str, by: int = 1, limit: int | None = None) -> int | None:
        """Add ``by`` to counter ``name`` atomically; None (and no change) past ``limit``."""
        ceiling = limit if limit is not None else 2**62
        with self._writing() as c:
            self._execute(c, self._q(sql.COUNTER_ENSURE), (name,))
            rows = self._rows(c, self._q(sql.COUNTER_ADD), (by, name, by, ceiling))
        return int(rows[0][0]) if rows else None

    def counter(self, name: str) -> int:
        """Return the value of counter ``name`` (0 when it was never incremented)."""
        with self._reading() as c:
            rows = self._rows(c, self._q(sql.COUNTER_GET), (name,))
        return int(rows[0][0]) if rows else 0

    # -- audit (werk.sharing) ----------------------------------------------------------------
    def append_audit(self, records: Sequence[AuditAppend]) -> int:
        """Append chained audit records in one transaction; see :meth:`Store.append_audit`."""
        with self._writing() as c:
            if self.dialect == "postgres":
                self._execute(c, sql.AUDIT_LOCK)
            seq, prev = self._audit_head(c)
            rows: list[sql.AuditRow] = []
            for record in records:
                seq += 1
                digest = chain_hash(prev, seq, record.body)
                rows.append(
                    (
                        seq,
                        to_ns(record.ts),
                        record.participant,
                        record.owner,
                        record.agreement,
                        record.body,
                        prev,
                        digest,
                    )
                )
                prev = digest
            if rows:
                self._insert_audit(c, rows)
                self._execute(c, self._q(sql.AUDIT_LENGTH_SET), (seq,))
        return seq

    def _audit_head(self, c: C) -> tuple[int, str]:
        """Return (seq, hash) of the newest audit record ((0, GENESIS) for none); the caller
        holds the audit lock."""
        head = self._rows(c, self._q(sql.AUDIT_HEAD))
        return (int(head[0][0]), str(head[0][1])) if head else (0, GENESIS)

    def _insert_audit(self, c: C, rows: list[sql.AuditRow]) -> None:
        """Insert chained audit rows (columns of :data:`werk.store.sql.AUDIT_COLUMNS`)."""
        for row in rows:
            self._execute(c, self._q(sql.AUDIT_ADD), row)

    def audit_entries(
        self, *, after: int = 0, limit: int = 1000, participant: str | None = None
    ) -> list[AuditEntry]:
        """Return audit records after ``after``; see :meth:`Store.audit_entries`."""
        with self._reading() as c:
            if participant is None:
                rows = self._rows(c, self._q(sql.AUDIT_ALL), (after, limit))
            else:
                rows = self._rows(
                    c, self._q(sql.AUDIT_OF), (after, participant, participant, limit)
                )
        return [
            AuditEntry(int(q), from_ns(int(t)), p, o, a, b, ph, h)
            for q, t, p, o, a, b, ph, h in rows
        ]

    def audit_length(self) -> int:
        """Return how many audit records were appended."""
        return self.counter("audit.length")


def _key_conflict(name: str) -> Conflict:
    return Conflict(
        f"an API key called {name!r} or with the same secret exists",
        key="keys.exists",
        field="name",
    )
