"""Store werk's data in one embedded DuckDB file: the default store.

The server process is the single writer: DuckDB locks the file against other processes, and a
second process opening it gets :class:`werk.errors.StoreUnavailable` naming the file. Within the
process every :class:`DuckDBStore` on the same file shares one database handle, one write lock
and one series index, so FastAPI's thread pool may call any store method from any thread:

* writes run one at a time under the lock, on the dedicated writer connection, each in a
  transaction;
* reads run on their own cursor (``connection.cursor()``, a connection of its own to the same
  database) and see the last committed state.

Sets of ids and batches reach SQL as Arrow tables registered on the cursor, so DuckDB reads them
without a copy.

Latest values are merged behind the writes (see :mod:`werk.store.backend`); what is pending is
shared by every store on the file in this process, and a process that opens the file merges what
one that died left in ``latest_pending`` (no other process can have had it open since).

Being the only writer lets a write skip two queries the shared algorithm asks for: the versions
of the latest blocks come from a map read once and kept up to date on every commit (under the
write lock), and a batch key is claimed by looking it up and inserting it, both under the lock,
instead of an ``INSERT ... ON CONFLICT ... RETURNING`` (2 ms on DuckDB against 1 ms).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Final

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from werk.errors import ConfigError, StoreError, StoreUnavailable, WerkError
from werk.store import sql
from werk.store.backend import LATEST_DELAY_S, Int64Array, Selection, SqlStore
from werk.store.latest import BlockCache, Pending
from werk.store.schema import Dialect
from werk.store.series import SeriesIndex
from werk.store.tables import SampleColumns

SCHEME: Final = "duckdb://"
CHECKPOINT_THRESHOLD: Final = "256MB"
"""WAL size at which a commit checkpoints into the database file.

DuckDB's default (16 MB) made every fourth 100k-sample batch pay a checkpoint, which rewrote the
latest blocks and the last row group of samples each time: commits of such batches measured
40-60 ms against 13-15 ms with checkpoints 16 times rarer. The price is a longer WAL replay after
a crash (seconds for 256 MB)."""


@dataclass
class _Database:
    """What every store on one file in this process shares."""

    path: str
    root: duckdb.DuckDBPyConnection
    writer: duckdb.DuckDBPyConnection
    series: SeriesIndex
    blocks: BlockCache = field(default_factory=BlockCache)
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    cursor_lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0
    versions: dict[int, int] | None = None
    """Version of every latest block row as committed, read once, then kept by the writer
    (under ``write_lock``; this process is the only writer of the file)."""
    written: dict[int, int] = field(default_factory=dict)
    """Block versions written by the open transaction, applied to ``versions`` on commit."""
    audit_head: tuple[int, str] | None = None
    """(seq, hash) of the newest audit record as committed, once read (kept like ``versions``)."""
    audit_written: tuple[int, str] | None = None
    """The audit head the open transaction wrote, applied to ``audit_head`` on commit."""
    series_loaded: bool = False
    """Whether the registry has been read: every later series is registered in this process."""
    behind: Pending = field(default_factory=Pending)
    """Newest samples of committed batches not yet merged into the latest blocks."""
    merging: threading.Lock = field(default_factory=threading.Lock)
    recovered: bool = False
    """Whether what a process that died left in ``latest_pending`` has been merged."""

    def begin(self) -> None:
        """A write transaction starts (under ``write_lock``)."""
        self.written.clear()
        self.audit_written = None

    def committed(self) -> None:
        """The write transaction committed: what it wrote is the committed state now."""
        if self.versions is not None:
            self.versions.update(self.written)
        if self.audit_written is not None:
            self.audit_head = self.audit_written

    def committed_versions(self, c: duckdb.DuckDBPyConnection) -> dict[int, int]:
        """Return the committed block versions, read with ``c`` the first time (the caller holds
        ``write_lock``, so no other write is open)."""
        if self.versions is None:
            self.versions = {
                int(b): int(v)
                for b, v in c.execute("SELECT block, version FROM latest_blocks").fetchall()
            }
        return self.versions

    def failed(self) -> None:
        """The write transaction failed: what it wrote to latest_blocks and audit_log is unknown
        now, so both are read again."""
        self.versions = None
        self.audit_head = None


_AUDIT_SCHEMA: Final = pa.schema(
    [
        ("seq", pa.int64()),
        ("ts", pa.int64()),
        ("participant", pa.string()),
        ("owner", pa.string()),
        ("agreement", pa.string()),
        ("body", pa.string()),
        ("prev_hash", pa.string()),
        ("hash", pa.string()),
    ]
)
"""The columns of :data:`werk.store.sql.AUDIT_COLUMNS`, in order, with their Arrow types."""
_AUDIT_VALUES_ROWS: Final = 8
"""Up to this many audit rows are inserted as one VALUES list, more as an Arrow table."""


_OPEN: dict[str, _Database] = {}
_OPEN_LOCK = threading.Lock()


def database_path(url: str) -> str:
    """Return the file path of a ``duckdb:///abs/path/file.duckdb`` URL (``:memory:`` as is).

    Raises:
        ConfigError: the URL is not a DuckDB URL or names no file.
    """
    if not url.startswith(SCHEME):
        raise ConfigError(f"{url!r} is not a duckdb:// URL", field="store_url")
    path = url[len(SCHEME) :]
    if not path:
        raise ConfigError(f"DuckDB URL {url!r} names no file", field="store_url")
    if path == ":memory:" or path == "/:memory:":
        return ":memory:"
    return str(Path(path).expanduser().resolve())


def _connect(path: str) -> duckdb.DuckDBPyConnection:
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(path)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            raise StoreUnavailable(
                f"the DuckDB file {path} is in use by another process; only one werk process "
                f"may open it ({text})",
                key="store.locked",
                path=path,
            ) from exc
        raise StoreUnavailable(f"cannot open the DuckDB file {path}: {text}", path=path) from exc
    except duckdb.Error as exc:
        raise StoreError(f"cannot open the DuckDB file {path}: {exc}", path=path) from exc
    # A setting, not connect() config: other connections to the file in this process (tools,
    # tests) could not open it with a configuration different from this one's.
    con.execute(f"SET GLOBAL checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
    return con


class DuckDBStore(SqlStore[duckdb.DuckDBPyConnection]):
    """The store in one DuckDB file (``duckdb:///abs/path/file.duckdb``)."""

    backend = "duckdb"
    dialect: ClassVar[Dialect] = "duckdb"

    def __init__(self, url: str, *, latest_delay_s: float = LATEST_DELAY_S) -> None:
        path = database_path(url)
        with _OPEN_LOCK:
            db = _OPEN.get(path) if path != ":memory:" else None
            if db is None:
                root = _connect(path)
                db = _Database(path, root, root.cursor(), SeriesIndex())
                if path != ":memory:":
                    _OPEN[path] = db
            db.users += 1
        super().__init__(
            url,
            db.series,
            db.blocks,
            pending=db.behind,
            merging=db.merging,
            latest_delay_s=latest_delay_s,
        )
        self._db = db
        self._closed = False

    @property
    def path(self) -> str:
        """The database file."""
        return self._db.path

    def close(self) -> None:
        """Release this store; the file closes when the last store on it in the process does."""
        if self._closed:
            return
        # What is pending is shared by every store on the file: the last one to close, or
        # any merger still running, stores it.
        self._stop_merging(timeout=10.0)
        self._closed = True
        with _OPEN_LOCK:
            self._db.users -= 1
            if self._db.users > 0:
                return
            _OPEN.pop(self._db.path, None)
        with self._db.write_lock:
            self._db.writer.close()
            self._db.root.close()
        self._db.series.close()

    # -- primitives --------------------------------------------------------------------------
    @contextmanager
    def _errors(self) -> Iterator[None]:
        if self._closed:
            raise StoreError("the store is closed", key="store.closed", path=self._db.path)
        try:
            yield
        except WerkError:
            raise
        except duckdb.Error as exc:
            raise StoreError(
                f"DuckDB failed on {self._db.path}: {exc}", key="store.duckdb", path=self._db.path
            ) from exc

    @contextmanager
    def _reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._errors():
            with self._db.cursor_lock:
                cursor = self._db.root.cursor()
            try:
                yield cursor
            finally:
                cursor.close()

    @contextmanager
    def _writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._db.write_lock, self._errors():
            db = self._db
            writer = db.writer
            db.begin()
            writer.execute("BEGIN TRANSACTION")
            try:
                yield writer
                writer.execute("COMMIT")
                db.committed()
            except BaseException:
                db.failed()
                # Leave the writer usable for the next write whatever failed, the commit included;
                # the original error is the one worth reporting.
                with contextlib.suppress(duckdb.Error):
                    writer.execute("ROLLBACK")
                raise

    def _execute(
        self, c: duckdb.DuckDBPyConnection, query: str, params: Sequence[object] = ()
    ) -> None:
        c.execute(query, list(params))

    def _rows(
        self, c: duckdb.DuckDBPyConnection, query: str, params: Sequence[object] = ()
    ) -> list[tuple[Any, ...]]:
        return c.execute(query, list(params)).fetchall()

    def _table(
        self,
        c: duckdb.DuckDBPyConnection,
        query: str,
        params: Sequence[object],
        schema: pa.Schema,
    ) -> pa.Table:
        table = c.sql(query, params=list(params)).to_arrow_table()
        return table.rename_columns(schema.names).cast(schema)

    @contextmanager
    def _registered(self, c: duckdb.DuckDBPyConnection, **tables: pa.Table) -> Iterator[None]:
        for name, table in tables.items():
            c.register(name, table)
        try:
            yield
        except BaseException:
            # In an aborted transaction unregistering fails too: keep the first error.
            with contextlib.suppress(duckdb.Error):
                for name in tables:
                    c.unregister(name)
            raise
        for name in tables:
            c.unregister(name)

    @staticmethod
    def _selection(selection: Selection) -> pa.Table:
        return pa.table(
            {
                "id": pa.array(selection.ids.astype(np.int32)),
                "rank": pa.array(selection.ranks.astype(np.int32)),
            }
        )

    def _register(self, c: duckdb.DuckDBPyConnection, rows: pa.Table) -> tuple[pa.Table, int]:
        with self._registered(c, incoming=rows):
            inserted = c.execute(
                "INSERT INTO series (path, signal, unit, value_type)"
                " SELECT path, signal, unit, value_type FROM incoming"
                " ON CONFLICT (path, signal) DO NOTHING RETURNING id"
            ).fetchnumpy()
            c.execute(
                "UPDATE series SET unit = coalesce(n.unit, series.unit),"
                " value_type = coalesce(n.value_type, series.value_type) FROM incoming n"
                " WHERE series.path = n.path AND series.signal = n.signal"
                " AND (n.unit IS NOT NULL OR n.value_type IS NOT NULL)"
            )
            known = c.sql(
                "SELECT s.id::BIGINT AS id, s.path, s.signal FROM series s"
                " JOIN incoming n ON s.path = n.path AND s.signal = n.signal"
            ).to_arrow_table()
        return known, len(inserted["id"])

    def _insert_samples(
        self, c: duckdb.DuckDBPyConnection, series_ids: Int64Array, batch: SampleColumns
    ) -> None:
        status = (
            pa.nulls(len(batch), pa.uint32())
            if batch.status is None
            else pa.array(batch.status, pa.uint32(), mask=batch.status_null)
        )
        table = pa.table(
            {
                "ts": pa.array(batch.ts, pa.int64()),
                "value": pa.array(batch.value, pa.float64()),
                "series_id": pa.array(series_ids.astype(np.int32)),
                "quality": pa.array(batch.quality, pa.uint8()),
                "status": status,
            }
        )
        with self._registered(c, batch=table):
            c.execute(
                "INSERT INTO samples (ts, value, series_id, quality, status)"
                " SELECT ts, value, series_id, quality, status FROM batch"
            )

    def _claim(
        self,
        c: duckdb.DuckDBPyConnection,
        batch_key: str,
        committed_ns: int,
        samples: int,
        events: int,
        source: str,
        ts_range: tuple[int, int] | None,
    ) -> bool:
        # Under the write lock no one else can claim the key between the look-up and the insert.
        if c.execute(sql.LEDGER_HAS.duckdb, [batch_key]).fetchall():
            return False
        c.execute(sql.LEDGER_INSERT.duckdb, [batch_key, committed_ns, samples, events, source])
        if ts_range is not None and self.latest_delay_s > 0:
            c.execute(sql.PENDING_ADD.duckdb, [batch_key, *ts_range, time.time_ns()])
        return True

    def migrate(self) -> int:
        """See :meth:`SqlStore.migrate`; then merge what a process that died left pending
        (once per file and process: no other process can have the file open)."""
        version = super().migrate()
        with self._db.merging:
            recover = not self._db.recovered
            self._db.recovered = True
        if recover:
            self.recover_latest(older_than_s=0)
        return version

    def _refresh_series(self) -> None:
        # This process is the only writer of the file and every store on it shares the index:
        # once the registry has been read, each later series is added here as it commits.
        if not self._db.series_loaded:
            super()._refresh_series()
            self._db.series_loaded = True

    # The audit chain's head is kept like the block versions: read once, then by the writer.
    def _audit_head(self, c: duckdb.DuckDBPyConnection) -> tuple[int, str]:
        if self._db.audit_head is None:
            self._db.audit_head = super()._audit_head(c)
        return self._db.audit_head

    def _insert_audit(self, c: duckdb.DuckDBPyConnection, rows: list[sql.AuditRow]) -> None:
        # DuckDB's indexes make a row cost ~0.15 ms; a statement costs ~1 ms more, a registered
        # Arrow table ~3 ms: a few rows go as one VALUES list, more as a table.
        if len(rows) <= _AUDIT_VALUES_ROWS:
            values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(rows))
            c.execute(
                f"INSERT INTO audit_log ({sql.AUDIT_COLUMNS}) VALUES {values}",
                [v for row in rows for v in row],
            )
        else:
            table = pa.Table.from_arrays(
                [
                    pa.array(column, f.type)
                    for column, f in zip(zip(*rows, strict=True), _AUDIT_SCHEMA, strict=True)
                ],
                schema=_AUDIT_SCHEMA,
            )
            with self._registered(c, audit_rows=table):
                c.execute(f"INSERT INTO audit_log ({sql.AUDIT_COLUMNS}) SELECT * FROM audit_rows")
        self._db.audit_written = (rows[-1][0], rows[-1][7])

    # Block rows need no locks: writes are serialised by the process-wide write lock.
    def _block_versions(
        self, c: duckdb.DuckDBPyConnection, block_ids: list[int], *, for_update: bool
    ) -> list[tuple[int, int]]:
        if for_update:
            # Inside the writer's transaction: the committed map plus what it wrote so far.
            db = self._db
            known = db.committed_versions(c)
            written = db.written
            found = []
            for b in block_ids:
                v = written.get(b, known.get(b))
                if v is not None:
                    found.append((b, v))
            return found
        committed = self._db.versions
        if committed is None and self._db.write_lock.acquire(blocking=False):
            # No write is open while the lock is held: read the committed map once (a process
            # that has only read so far paid a 3 ms join on every read before).
            try:
                committed = self._db.committed_versions(c)
            finally:
                self._db.write_lock.release()
        if committed is not None:
            # The writer publishes its versions before write() returns, and it is the only
            # writer of the file: the map is the committed state, no query needed.
            return [(b, committed[b]) for b in block_ids if b in committed]
        wanted = pa.table({"block": pa.array(block_ids, pa.int32())})
        with self._registered(c, wanted=wanted):
            rows = c.execute(
                "SELECT b.block, b.version FROM latest_blocks b JOIN wanted w ON b.block = w.block"
                " ORDER BY b.block"
            ).fetchall()
        return [(int(b), int(v)) for b, v in rows]

    def _block_payloads(
        self, c: duckdb.DuckDBPyConnection, block_ids: list[int]
    ) -> list[tuple[int, bytes]]:
        wanted = pa.table({"block": pa.array(block_ids, pa.int32())})
        with self._registered(c, wanted=wanted):
            rows = c.execute(
                "SELECT b.block, b.data FROM latest_blocks b JOIN wanted w ON b.block = w.block"
            ).fetchall()
        return [(int(b), bytes(d)) for b, d in rows]

    def _create_blocks(
        self, c: duckdb.DuckDBPyConnection, block_ids: list[int], payload: bytes
    ) -> None:
        new = pa.table(
            {
                "block": pa.array(block_ids, pa.int32()),
                "data": pa.array([payload] * len(block_ids), pa.binary()),
            }
        )
        with self._registered(c, new_blocks=new):
            c.execute(
                "INSERT INTO latest_blocks (block, version, data)"
                " SELECT block, 0, data FROM new_blocks ON CONFLICT (block) DO NOTHING"
            )
        # The version map is complete, so none of these existed: each starts at version 0.
        self._db.written.update((b, 0) for b in block_ids)

    def _update_blocks(
        self, c: duckdb.DuckDBPyConnection, rows: list[tuple[int, int, bytes]]
    ) -> None:
        changed = pa.table(
            {
                "block": pa.array([r[0] for r in rows], pa.int32()),
                "version": pa.array([r[1] for r in rows], pa.int64()),
                "data": pa.array([r[2] for r in rows], pa.binary()),
            }
        )
        with self._registered(c, changed=changed):
            c.execute(
                "UPDATE latest_blocks SET version = u.version, data = u.data FROM changed u"
                " WHERE latest_blocks.block = u.block"
            )
        self._db.written.update((block, version) for block, version, _ in rows)

    def _insert_events(self, c: duckdb.DuckDBPyConnection, events: pa.Table) -> None:
        with self._registered(c, incoming_events=events):
            c.execute(
                f"INSERT INTO events ({sql.EVENT_COLUMNS})"
                f" SELECT {sql.EVENT_COLUMNS} FROM incoming_events"
            )

    def _samples(
        self,
        c: duckdb.DuckDBPyConnection,
        selection: Selection,
        start: int,
        end: int,
        *,
        good_only: bool,
    ) -> tuple[Int64Array, Int64Array, npt.NDArray[np.float64], npt.NDArray[np.uint8]]:
        query = sql.RAW.duckdb.replace("{good}", " AND s.quality < 2" if good_only else "")
        with self._registered(c, sel=self._selection(selection)):
            table = c.sql(query, params=[start, end]).to_arrow_table()
        return (
            np.asarray(table.column(0).to_numpy(), dtype=np.int64),
            np.asarray(table.column(1).to_numpy(), dtype=np.int64),
            np.asarray(table.column(2).to_numpy(), dtype=np.float64),
            np.asarray(table.column(3).to_numpy(), dtype=np.uint8),
        )

    def _aggregate(
        self,
        c: duckdb.DuckDBPyConnection,
        selection: Selection,
        start: int,
        end: int,
        edges: Int64Array,
        expr: str,
    ) -> tuple[Int64Array, Int64Array, npt.NDArray[np.float64], Int64Array]:
        starts = pa.table(
            {"idx": pa.array(np.arange(len(edges) - 1, dtype=np.int64)), "start": edges[:-1]}
        )
        query = sql.AGGREGATE.duckdb.replace("{expr}", expr)
        with self._registered(c, sel=self._selection(selection), edges=starts):
            table = c.sql(query, params=[start, end]).to_arrow_table()
        return (
            np.asarray(table.column(0).to_numpy(), dtype=np.int64),
            np.asarray(table.column(1).to_numpy(), dtype=np.int64),
            np.asarray(table.column(2).to_numpy(), dtype=np.float64),
            np.asarray(table.column(3).to_numpy(), dtype=np.int64),
        )

    def _last_before(
        self, c: duckdb.DuckDBPyConnection, selection: Selection, lo: int, hi: int
    ) -> tuple[Int64Array, Int64Array, npt.NDArray[np.float64], npt.NDArray[np.uint8]]:
        with self._registered(c, sel=self._selection(selection)):
            table = c.sql(sql.LAST_BEFORE.duckdb, params=[lo, hi]).to_arrow_table()
        return (
            np.asarray(table.column(0).to_numpy(), dtype=np.int64),
            np.asarray(table.column(1).to_numpy(), dtype=np.int64),
            np.asarray(table.column(2).to_numpy(), dtype=np.float64),
            np.asarray(table.column(3).to_numpy(), dtype=np.uint8),
        )

    def _delete_samples(
        self, c: duckdb.DuckDBPyConnection, series_ids: Int64Array, cutoffs: Int64Array
    ) -> int:
        if not len(series_ids):
            return 0
        cut = pa.table(
            {"id": pa.array(series_ids.astype(np.int32)), "cutoff": pa.array(cutoffs, pa.int64())}
        )
        with self._registered(c, cut=cut):
            rows = c.execute(
                "DELETE FROM samples USING cut"
                " WHERE samples.series_id = cut.id AND samples.ts < cut.cutoff"
            ).fetchall()
        return int(rows[0][0]) if rows else 0

    def _size_bytes(self) -> int | None:
        if self._db.path == ":memory:":
            return None
        total = 0
        for suffix in ("", ".wal"):
            try:
                total += os.path.getsize(self._db.path + suffix)
            except OSError:
                continue
        return total

    def _extra_info(self) -> dict[str, str]:
        return {"path": self._db.path, "duckdb": duckdb.__version__}
