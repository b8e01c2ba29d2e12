"""Store werk's data in PostgreSQL: the server store, for many writers and readers.

Connections come from a pool (psycopg_pool) that checks each connection as it hands it out, so
connections broken by a server restart are replaced instead of failing the next call (the check
costs no round trip: a restarted server has told every session so, see :func:`_check`). While the
server is down every call raises :class:`werk.errors.StoreUnavailable` within ``timeout``
seconds; when it is back the pool reconnects by itself and calls succeed again, no restart of the
process needed. A write is one transaction: if the server goes away in the middle, nothing of the
batch is visible. If it goes away during COMMIT the outcome is unknown to the caller, who retries
with the same batch key: the ledger makes that safe.

Samples are written with binary COPY (:mod:`werk.store.pgcopy`). ``samples`` is partitioned by
range of ``ts``: one partition per week from Monday 00:00 UTC, named ``samples_wYYYYMMDD`` after
that Monday. Partitions are created on demand, before the write transaction and under an advisory
lock so that concurrent writers do not race, and remembered per process. Partitions have no index:
a BRIN on ``ts`` measured +75 % CPU on every COPY, a btree on ``(series_id, ts)`` made writes four
times slower; reads of one series scan the weeks they cover. Retention drops a whole partition when
every series' rule has expired it, and deletes rows otherwise.

A batch of series already registered, without events, is one simple query — BEGIN, the ledger
claim, a COPY per week, COMMIT — driven on libpq's calls: two round trips (the query up to its
COPY, then the rows and the results). A batch that registers series or carries events takes the
general path: BEGIN with the claim, registration, COPY (two round trips), events, COMMIT.

Latest values are merged *behind* the writes (see :mod:`werk.store.backend`): rewriting each
batch's latest blocks (17 KiB rows, TOASTed) in its own transaction cost PostgreSQL as much again
as a third of the COPY. Here the claim records the batch in ``latest_pending`` in the same
statement (no extra round trip). Other processes on the same database see a sample once merged,
within ``latest_delay_s``. If a process dies with batches pending, any process (at start, and
every ``RECOVER_AFTER_S``) recovers them. ``latest_delay_s=0`` merges in the write's transaction
(against the versions this process cached, checked in the same statements), as werk did before.

Reads run in autocommit, one round trip a query.

The planner's statistics are kept up with the writes: a partition (or the series registry) that
this process has grown to twice its size since it was last analysed is analysed again by the
merger thread. Autovacuum does that too, but only after its nap and on its own thresholds; until
then the planner takes a freshly loaded partition for empty, sorts millions of rows on disk where
it would hash them, and reads a month of one line in 3.3 s instead of 1.1 s. The week being
written is analysed from a small sample (``GROWING_STATISTICS``): what the planner needs of it is
its size, and a full sample cost 50–160 ms of PostgreSQL CPU per analysis, four of them in the
first two million rows of a week, taken from the writes. A week gets full statistics when it has
ended, with its index (below); a backfill into an ended week is analysed in full.

A partition whose week has ended (``INDEX_CLOSED_AFTER_S`` ago) gets a BRIN index on ``ts``, so
that a day of one series reads the pages of that day, not of the whole week (90 ms → 33 ms on the
benchmark's history). The week being written has none: keeping it up costs a quarter more
PostgreSQL CPU per COPY. The merger adds it when it analyses a closed week (a backfill), looks for
closed weeks without it every ``RECOVER_AFTER_S``, and summarises the page ranges that later
writes into such a week add (unsummarised ranges are read by every query).

Reads of many numbers (raw samples, buckets) come back as one bytea packed on the server
(``int8send(ts) || ...``) and unpacked with numpy, instead of one Python tuple per row.
"""

from __future__ import annotations

import functools
import logging
import re
import select
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final

import numpy as np
import numpy.typing as npt
import psycopg
import pyarrow as pa
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import ConnStatus, DiagnosticField, ExecStatus, TransactionStatus
from psycopg.pq.abc import PGconn, PGresult
from psycopg_pool import ConnectionPool, PoolTimeout

from werk.errors import StoreError, StoreUnavailable, WerkError
from werk.store import pgcopy, sql
from werk.store.backend import LATEST_DELAY_S, RECOVER_AFTER_S, Int64Array, Selection, SqlStore
from werk.store.base import WriteResult
from werk.store.buckets import MONDAY_EPOCH_DAY, NS
from werk.store.latest import Blocks, blocks_of
from werk.store.schema import Dialect
from werk.store.tables import SampleColumns

Connection = psycopg.Connection[tuple[Any, ...]]

log = logging.getLogger(__name__)

WEEK_NS: Final = 7 * 86_400 * NS
MONDAY_NS: Final = MONDAY_EPOCH_DAY * 86_400 * NS
"""1970-01-05 00:00 UTC, the Monday partition weeks count from."""

# Advisory lock keys (pg_advisory_xact_lock takes a bigint): arbitrary, fixed, werk's own.
MIGRATION_LOCK: Final = 0x7765726B_0001
SERIES_LOCK: Final = 0x7765726B_0002
PARTITION_LOCK: Final = 0x7765726B_0003

ANALYZE_AFTER_ROWS: Final = 100_000
"""Rows a table must have grown by (and at least doubled) before the merger analyses it again."""
INDEX_CLOSED_AFTER_S: Final = 3600.0
"""Seconds after its week ended that a partition gets its BRIN index on ``ts`` (late data first)."""
GROWING_STATISTICS: Final = 10
"""``default_statistics_target`` of the analyses of a week still being written (PostgreSQL's
default is 100): 3,000 sampled rows instead of 30,000, a sixth of the CPU."""
STATS_CHECK_S: Final = 1.0
"""How often the merger looks for grown tables when it has no latest values to merge."""

_PARTITION: Final = re.compile(r"samples_w(\d{8})")
_SAMPLE_TYPES: Final = ["int8", "float8", "int4", "int2", "int8"]


_IDLE: Final = TransactionStatus.IDLE
_INTRANS: Final = TransactionStatus.INTRANS
_INERROR: Final = TransactionStatus.INERROR


def _check(conn: Connection) -> None:
    """Check a pooled connection before handing it out, without a round trip when it is quiet.

    A server that shuts down or restarts tells every session so (a FATAL message) and closes the
    socket: an idle connection with something to read is asked ``""`` (the pool's full check)
    and replaced if that fails. A quiet socket is healthy as far as anyone can tell without
    asking, and asking costs every call a round trip; a server that vanished without a word
    fails the call itself, which raises StoreUnavailable as it should.
    """
    if conn.closed or conn.pgconn.status != ConnStatus.OK:
        raise psycopg.OperationalError("the connection is closed")
    # poll, not select: select() refuses descriptors above 1023, which a busy server reaches.
    poller = select.poll()
    poller.register(conn.pgconn.socket, select.POLLIN)
    if poller.poll(0):
        ConnectionPool.check_connection(conn)


def week_of(ts: Int64Array) -> Int64Array:
    """Return the partition week index of each timestamp (ns)."""
    return (ts - MONDAY_NS) // WEEK_NS


def _week_span(batch: SampleColumns) -> tuple[int, int]:
    """Return the weeks of the batch's oldest and newest sample (a batch usually lies in one
    week: no division per row)."""
    return (batch.lo - MONDAY_NS) // WEEK_NS, (batch.hi - MONDAY_NS) // WEEK_NS


def _week_counts(batch: SampleColumns) -> dict[int, int]:
    """Return the samples of the batch per week it falls in (no division per row when the
    batch lies in one week, as nearly all do)."""
    lo, hi = _week_span(batch)
    if lo == hi:
        return {lo: len(batch)}
    weeks, counts = np.unique(week_of(batch.ts), return_counts=True)
    return dict(zip(weeks.tolist(), counts.tolist(), strict=True))


@functools.lru_cache(maxsize=1024)
def partition_name(week: int) -> str:
    """Return the name of the partition of week ``week``."""
    monday = datetime.fromtimestamp((MONDAY_NS + week * WEEK_NS) // NS, tz=UTC)
    return f"samples_w{monday:%Y%m%d}"


def _ended(week: int, now_ns: int) -> bool:
    """Whether ``week`` ended at least ``INDEX_CLOSED_AFTER_S`` before ``now_ns`` (late data
    first): such a week gets its BRIN index and full statistics."""
    return MONDAY_NS + (week + 1) * WEEK_NS <= now_ns - int(INDEX_CLOSED_AFTER_S * NS)


def _week_of_name(name: str) -> int | None:
    match = _PARTITION.fullmatch(name)
    if match is None:
        return None
    monday = datetime.strptime(match.group(1), "%Y%m%d").replace(tzinfo=UTC)
    ns = int((monday - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1)) * 1_000
    return int((ns - MONDAY_NS) // WEEK_NS)


def _with_pending(ledger_insert: str) -> str:
    """The ledger insert (``... RETURNING batch_key``) and the batch's ``latest_pending`` row in
    one statement: the pending row only if the ledger row went in. Three more parameters: the
    batch's oldest and newest ts, and now (ns)."""
    return (
        f"WITH claimed AS ({ledger_insert}) INSERT INTO latest_pending"
        " (batch_key, lo, hi, written_at) SELECT batch_key, %s, %s, %s FROM claimed"
    )


_CLAIM: Final = _with_pending(f"{sql.LEDGER_INSERT.postgres} RETURNING batch_key")
"""The claim of a batch written in one query (:meth:`PostgresStore._write_known`): a key
committed before is an error here, which ends the query."""
_COPY_CHUNK: Final = 128 * 1024
"""Bytes handed to libpq at a time: a non-blocking connection buffers whatever it is given."""


def _copies(series_ids: Int64Array, batch: SampleColumns) -> list[tuple[str, bytearray]]:
    """Return the COPY statement and binary payload of each week the batch's samples fall in.

    The COPY goes straight into the week's partition: routing each row through the parent costs
    PostgreSQL ~15 % more than the COPY itself.
    """
    lo, hi = _week_span(batch)
    if lo == hi:
        return [_copy_of(partition_name(lo), series_ids, batch, None)]
    weeks = week_of(batch.ts)
    order = np.argsort(weeks, kind="stable")
    bounds = np.flatnonzero(np.diff(weeks[order])) + 1
    return [
        _copy_of(partition_name(int(weeks[part[0]])), series_ids, batch, part)
        for part in np.split(order, bounds)
    ]


def _copy_of(
    table: str,
    series_ids: Int64Array,
    batch: SampleColumns,
    rows: npt.NDArray[np.intp] | None,
) -> tuple[str, bytearray]:
    def pick(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return a if rows is None else a[rows]

    columns: list[npt.NDArray[Any]] = [
        pick(batch.ts),
        pick(batch.value),
        pick(series_ids),
        pick(batch.quality),
    ]
    names = "ts, value, series_id, quality"
    nulls: list[npt.NDArray[np.bool_] | None] = [None, None, None, None]
    if batch.status is not None:
        columns.append(pick(batch.status))
        nulls.append(None if batch.status_null is None else pick(batch.status_null))
        names += ", status"
    data = pgcopy.encode(columns, _SAMPLE_TYPES[: len(columns)], nulls=nulls)
    return f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)", data


def _wait(pgconn: PGconn, events: int) -> None:
    poller = select.poll()  # not select(): it refuses descriptors above 1023
    poller.register(pgconn.socket, events)
    poller.poll()


def _flush(pgconn: PGconn) -> None:
    while pgconn.flush():
        _wait(pgconn, select.POLLOUT)


def _result(pgconn: PGconn) -> PGresult | None:
    """The next result of the running query (None: the query is done)."""
    while pgconn.is_busy():
        _wait(pgconn, select.POLLIN)
        pgconn.consume_input()
    return pgconn.get_result()


def _copy_query(pgconn: PGconn, query: str, payloads: Sequence[memoryview]) -> PGresult | None:
    """Run ``query`` (statements, ``COPY ... FROM STDIN`` among them) as one simple query,
    sending ``payloads`` to its COPY statements in turn; return its first error, None if every
    statement succeeded.

    libpq's own calls on the connection (non-blocking, as psycopg keeps it), waiting on its
    socket in between: psycopg's ``Cursor.copy`` would cost a round trip to start each COPY and
    another to finish it, and its machinery measured ~0.5 ms of CPU for a 10k-sample batch.
    Broken connections raise :class:`psycopg.OperationalError`, as psycopg's calls do.
    """
    pgconn.send_query(query.encode())
    _flush(pgconn)
    error: PGresult | None = None
    todo = list(payloads)
    while (result := _result(pgconn)) is not None:
        if result.status == ExecStatus.COPY_IN:
            data = todo.pop(0) if todo else memoryview(b"")
            try:
                for start in range(0, len(data), _COPY_CHUNK):
                    while not pgconn.put_copy_data(data[start : start + _COPY_CHUNK]):
                        _wait(pgconn, select.POLLOUT)
                    _flush(pgconn)
            except BaseException:
                with suppress(psycopg.Error):
                    pgconn.put_copy_end(b"werk: the write was abandoned")
                    _flush(pgconn)
                    while _result(pgconn) is not None:
                        pass
                raise
            while not pgconn.put_copy_end(None):
                _wait(pgconn, select.POLLOUT)
            _flush(pgconn)
        elif result.status == ExecStatus.FATAL_ERROR and error is None:
            error = result
    return error


def _error_of(result: PGresult) -> psycopg.Error:
    """The psycopg exception of a failed result (its class from the SQLSTATE, as psycopg's)."""
    message = (result.error_message or b"").decode("utf-8", "replace").strip()
    state = (result.error_field(DiagnosticField.SQLSTATE) or b"").decode()
    try:
        kind = psycopg.errors.lookup(state)
    except KeyError:
        kind = psycopg.DatabaseError
    return kind(message or f"PostgreSQL failed with SQLSTATE {state or 'unknown'}")


class PostgresStore(SqlStore[Connection]):
    """The store in a PostgreSQL database (``postgresql://user@host:port/db``).

    Args:
        url: libpq connection URI.
        pool_size: Most connections held at once.
        timeout: Seconds a call waits for a connection before it raises StoreUnavailable.
    """

    backend = "postgresql"
    dialect: ClassVar[Dialect] = "postgres"

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 4,
        timeout: float = 5.0,
        latest_delay_s: float = LATEST_DELAY_S,
        analyze_after_rows: int = ANALYZE_AFTER_ROWS,
    ) -> None:
        super().__init__(url, latest_delay_s=latest_delay_s)
        self.analyze_after_rows = analyze_after_rows
        self._grown: dict[str, int] = {}
        """Rows this process added to a table (partition or ``series``) since its analysis."""
        self._analysed: dict[str, int] = {}
        """Rows a table had when it was last analysed (pg_class.reltuples when first seen)."""
        self._grown_lock = threading.Lock()
        self._unsummarised: dict[str, int] = {}
        """Rows added to a closed partition with a BRIN index since its ranges were summarised."""
        self._checked_at = time.monotonic()
        try:
            info = conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise StoreError(f"PostgreSQL URL cannot be parsed: {exc}", key="store.url") from exc
        self._where = (
            f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"
        )
        self._timeout = timeout
        self._down = False
        self._partitions: set[int] = set()
        self._pool: ConnectionPool[Connection] = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            open=True,
            timeout=timeout,
            check=_check,
            # Reads run in autocommit: no BEGIN and COMMIT round trips around a SELECT. Writes
            # open their transaction themselves (see _writing and _claim).
            kwargs={"connect_timeout": max(1, round(timeout)), "autocommit": True},
            name=f"werk-store[{self._where}]",
        )

    def close(self) -> None:
        """Merge what is pending into the latest blocks (if the server answers), close the pool."""
        self._stop_merging(self._timeout + 5)
        self._pool.close()
        super().close()

    # -- primitives --------------------------------------------------------------------------
    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except WerkError:
            raise
        except psycopg.OperationalError as exc:  # PoolTimeout is one too
            if isinstance(exc, PoolTimeout):
                why = f"no connection within {self._timeout:g} s"
            else:
                why = str(exc).strip() or type(exc).__name__
            self._went_down(why)
            raise StoreUnavailable(
                f"PostgreSQL at {self._where} is unavailable: {why}",
                key="store.unavailable",
                source_id=self._where,
            ) from exc
        except psycopg.Error as exc:
            raise StoreError(
                f"PostgreSQL at {self._where} failed: {exc}".strip(),
                key="store.postgres",
                source_id=self._where,
            ) from exc
        else:
            if self._down:
                self._down = False
                log.info("PostgreSQL at %s is reachable again", self._where)

    def _went_down(self, why: str) -> None:
        # Log the loss once, not on every call that finds the server still gone.
        if not self._down:
            self._down = True
            log.warning("PostgreSQL at %s is unavailable: %s", self._where, why)

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with self._errors(), self._pool.connection() as conn:
            yield conn

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        with self._errors(), self._pool.connection() as conn, conn.transaction():
            yield conn

    @contextmanager
    def _writing_batch(self) -> Iterator[Connection]:
        # BEGIN is left to the claim, which sends it in one round trip with the ledger insert.
        with self._errors(), self._pool.connection() as conn:
            try:
                yield conn
            except BaseException:
                if conn.pgconn.transaction_status in (_INTRANS, _INERROR):
                    with suppress(psycopg.Error):
                        conn.execute("ROLLBACK")
                raise
            status = conn.pgconn.transaction_status
            if status == _INERROR:  # pragma: no cover - every failed statement raised above
                conn.execute("ROLLBACK")
                raise StoreError("a batch's transaction failed", key="store.postgres")
            if status == _INTRANS:
                conn.execute("COMMIT")

    def _claim(
        self,
        c: Connection,
        batch_key: str,
        committed_ns: int,
        samples: int,
        events: int,
        source: str,
        ts_range: tuple[int, int] | None,
    ) -> bool:
        params: tuple[object, ...] = (batch_key, committed_ns, samples, events, source)
        query = sql.LEDGER_ADD.postgres
        if ts_range is not None and self.latest_delay_s > 0:
            query = _with_pending(query) + " RETURNING batch_key"
            params += (ts_range[0], ts_range[1], time.time_ns())
        # BEGIN and the claim as one simple-protocol query (one round trip): its values are
        # quoted on the client by psycopg's adapters; a pipeline costs more CPU than the trip.
        text = psycopg.ClientCursor(c).mogrify(query, params)
        begin = c.pgconn.transaction_status == _IDLE
        cur = c.execute(("BEGIN; " + text) if begin else text, prepare=False)
        if begin:
            cur.nextset()
        return bool(cur.fetchall())

    def _execute(self, c: Connection, query: str, params: Sequence[object] = ()) -> None:
        c.execute(query, list(params))

    def _rows(
        self, c: Connection, query: str, params: Sequence[object] = ()
    ) -> list[tuple[Any, ...]]:
        return c.execute(query, list(params)).fetchall()

    def _table(
        self, c: Connection, query: str, params: Sequence[object], schema: pa.Schema
    ) -> pa.Table:
        rows = c.execute(query, list(params)).fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
        return pa.Table.from_arrays(
            [pa.array(list(col), f.type) for col, f in zip(columns, schema, strict=True)],
            schema=schema,
        )

    def _lock_schema(self, c: Connection) -> None:
        c.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))

    # -- partitions --------------------------------------------------------------------------
    def _prepare_write(self, batch: SampleColumns) -> None:
        missing = set(_week_counts(batch)) - self._partitions
        if not missing:
            return
        with self._writing() as c:
            c.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
            for week in sorted(missing):
                start = MONDAY_NS + week * WEEK_NS
                c.execute(
                    f"CREATE TABLE IF NOT EXISTS {partition_name(week)} PARTITION OF samples"
                    f" FOR VALUES FROM ({start}) TO ({start + WEEK_NS})"
                )
        self._partitions |= missing

    def write(
        self,
        batch_key: str,
        samples: pa.Table | None = None,
        events: pa.Table | None = None,
        *,
        source: str = "",
    ) -> WriteResult:
        """Store one batch atomically and idempotently; see :meth:`SqlStore.write`."""
        try:
            return super().write(batch_key, samples, events, source=source)
        except StoreError as exc:
            # Another process dropped a partition this process remembered: forget and retry once.
            if not isinstance(exc.__cause__, psycopg.errors.UndefinedTable):
                raise
            self._partitions.clear()
            return super().write(batch_key, samples, events, source=source)

    # -- series, samples, blocks, events -----------------------------------------------------
    def _register(self, c: Connection, rows: pa.Table) -> tuple[pa.Table, int]:
        # Registration is serialised (until commit) so that ids become visible in the order
        # they were given: readers learn new series by asking for ids above the largest known.
        c.execute("SELECT pg_advisory_xact_lock(%s)", (SERIES_LOCK,))
        columns = [rows.column(n).to_pylist() for n in ("path", "signal", "unit", "value_type")]
        inserted = c.execute(
            "INSERT INTO series (path, signal, unit, value_type)"
            " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[])"
            " ON CONFLICT (path, signal) DO NOTHING RETURNING id",
            columns,
        ).fetchall()
        if rows.column("unit").null_count < rows.num_rows or (
            rows.column("value_type").null_count < rows.num_rows
        ):
            c.execute(
                "UPDATE series SET unit = coalesce(n.unit, series.unit),"
                " value_type = coalesce(n.value_type, series.value_type)"
                " FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[])"
                " AS n(path, signal, unit, value_type)"
                ' WHERE series.path = n.path COLLATE "C" AND series.signal = n.signal COLLATE "C"',
                columns,
            )
        known = c.execute(
            "SELECT s.id, s.path, s.signal FROM series s"
            " JOIN unnest(%s::text[], %s::text[]) AS n(path, signal)"
            ' ON s.path = n.path COLLATE "C" AND s.signal = n.signal COLLATE "C"',
            columns[:2],
        ).fetchall()
        ids, paths, signals = zip(*known, strict=True) if known else ((), (), ())
        table = pa.table(
            {
                "id": pa.array(ids, pa.int64()),
                "path": pa.array(paths, pa.string()),
                "signal": pa.array(signals, pa.string()),
            }
        )
        return table, len(inserted)

    def _insert_samples(self, c: Connection, series_ids: Int64Array, batch: SampleColumns) -> None:
        for statement, data in _copies(series_ids, batch):
            with c.cursor() as cur, cur.copy(statement) as cp:
                cp.write(memoryview(data))

    def _write_known(
        self,
        batch_key: str,
        committed_ns: int,
        source: str,
        series_ids: Int64Array,
        batch: SampleColumns,
    ) -> bool | None:
        """BEGIN, the claim, the COPY and COMMIT as one query: two round trips, not four.

        The claim is a plain insert here: a key committed before breaks the ledger's unique
        index, which ends the query before its COPY starts (PostgreSQL logs that error; retries
        are rare). A concurrent writer of the same key makes the insert wait, as the general
        path's does. Batches that register series or carry events, and ``latest_delay_s`` = 0
        (the merge needs the transaction), take the general path.
        """
        if self.latest_delay_s <= 0:
            return None
        copies = _copies(series_ids, batch)
        with self._writing_batch() as c:
            claim = psycopg.ClientCursor(c).mogrify(
                _CLAIM,
                (
                    batch_key,
                    committed_ns,
                    len(batch),
                    0,
                    source,
                    batch.lo,
                    batch.hi,
                    time.time_ns(),
                ),
            )
            query = "; ".join(["BEGIN", claim, *(statement for statement, _ in copies), "COMMIT"])
            error = _copy_query(c.pgconn, query, [memoryview(data) for _, data in copies])
            if error is None:
                return False
            if c.pgconn.transaction_status != _IDLE:
                c.execute("ROLLBACK")
            if (
                error.error_field(DiagnosticField.SQLSTATE) == b"23505"
                and error.error_field(DiagnosticField.CONSTRAINT_NAME) == b"ingest_ledger_pkey"
            ):
                return True
            raise _error_of(error)

    def _merge_latest(
        self, c: Connection, batch_key: str, series_ids: Int64Array, batch: SampleColumns
    ) -> list[tuple[int, int, bytes]]:
        """Merge into the blocks now (``latest_delay_s`` = 0) or leave it to the merger (the
        claim recorded the batch in ``latest_pending``; :meth:`_written` hands it over).

        Merging now: into the blocks as this process last saw them, checking their versions on
        the way: one round trip when no one else changed them (the usual case of one server).

        Every changed block is updated only if its version is still the one merged into; every
        unchanged block is checked to be at that version. If any is not, the updates are undone
        (back to a savepoint, which also drops their row locks, so that locks are still taken in
        block order) and the blocks are locked, read and merged again.
        """
        if self.latest_delay_s > 0:
            return []
        block_ids = blocks_of(series_ids)
        wanted = [int(b) for b in block_ids]
        cached = self._blocks.current(wanted)
        if cached is None:
            return super()._merge_latest(c, batch_key, series_ids, batch)
        versions = [v for v, _ in cached]
        blocks = Blocks.assemble(block_ids, wanted, versions, [p for _, p in cached])
        changed = blocks.merge(series_ids, batch.ts, batch.value, batch.quality)
        rows = [(wanted[i], versions[i] + 1, blocks.payload(i)) for i in (int(r) for r in changed)]
        same = np.ones(len(wanted), dtype=bool)
        same[changed] = False
        kept = np.flatnonzero(same)
        check = None
        with c.cursor() as cur:
            with c.pipeline():
                c.execute("SAVEPOINT werk_latest")
                if len(kept):
                    check = c.execute(
                        "SELECT count(*) FROM latest_blocks l"
                        " JOIN unnest(%s::int4[], %s::int8[]) AS k(block, version)"
                        " ON l.block = k.block AND l.version = k.version",
                        ([wanted[i] for i in kept], [versions[i] for i in kept]),
                    )
                if rows:
                    cur.executemany(
                        "UPDATE latest_blocks SET version = %s, data = %b"
                        " WHERE block = %s AND version = %s",
                        [
                            (version, payload, block, version - 1)
                            for block, version, payload in rows
                        ],
                    )
            updated = cur.rowcount if rows else 0
        unchanged = check.fetchall()[0][0] if check is not None else 0
        if updated == len(rows) and unchanged == len(kept):
            return rows
        c.execute("ROLLBACK TO SAVEPOINT werk_latest")
        return super()._merge_latest(c, batch_key, series_ids, batch)

    # -- latest merged behind the writes -----------------------------------------------------
    def _written(self, batch_key: str, series_ids: Int64Array, batch: SampleColumns) -> None:
        for week, count in _week_counts(batch).items():
            self._grew(partition_name(week), count)
        super()._written(batch_key, series_ids, batch)

    def _merger_period(self) -> float | None:
        # With latest_delay_s = 0 too: the merger keeps the planner's statistics up.
        return self.latest_delay_s if self.latest_delay_s > 0 else STATS_CHECK_S

    def _chores(self) -> None:
        self.analyze_grown()
        self.summarise_indexed()
        if time.monotonic() - self._checked_at > RECOVER_AFTER_S:
            self._checked_at = time.monotonic()
            if self.latest_delay_s > 0:
                self.recover_latest()
            self.index_closed()

    def _grew(self, table: str, rows: int) -> None:
        with self._grown_lock:
            self._grown[table] = self._grown.get(table, 0) + rows
            if table in self._unsummarised:
                self._unsummarised[table] += rows

    def summarise_indexed(self) -> list[str]:
        """Summarise the page ranges that rows written into closed partitions since their BRIN
        index was built (or last summarised) added: until then a read scans those pages
        whatever their ts. Return the partitions summarised. The merger thread calls this."""
        with self._grown_lock:
            todo = [t for t, n in self._unsummarised.items() if n > 0]
            for table in todo:
                self._unsummarised[table] = 0
        done: list[str] = []
        for table in todo:
            try:
                with self._reading() as c:
                    c.execute("SELECT brin_summarize_new_values(%s::regclass)", (f"{table}_ts",))
            except StoreError as exc:  # dropped meanwhile
                if not isinstance(exc.__cause__, psycopg.errors.UndefinedTable):
                    raise
                with self._grown_lock:
                    self._unsummarised.pop(table, None)
                continue
            done.append(table)
        return done

    def analyze_grown(self) -> list[str]:
        """Analyse the tables this process has grown enough since their last analysis (see the
        module docstring); return their names. The merger thread calls this by itself."""
        with self._grown_lock:
            candidates = [t for t, n in self._grown.items() if n >= self.analyze_after_rows]
        done: list[str] = []
        for table in candidates:
            try:
                with self._reading() as c:
                    if table not in self._analysed:
                        row = c.execute(
                            "SELECT greatest(reltuples, 0)::int8 FROM pg_class"
                            " WHERE oid = %s::regclass",
                            (table,),
                        ).fetchone()
                        self._analysed[table] = int(row[0]) if row else 0
                    with self._grown_lock:
                        grown = self._grown.get(table, 0)
                    if grown < max(self.analyze_after_rows, self._analysed[table]):
                        continue
                    week = _week_of_name(table)
                    growing = week is not None and not _ended(week, time.time_ns())
                    with c.transaction():
                        if growing:
                            c.execute(f"SET LOCAL default_statistics_target = {GROWING_STATISTICS}")
                        c.execute(f"ANALYZE {table}")
            except StoreError as exc:  # retention dropped the partition meanwhile: forget it
                if not isinstance(exc.__cause__, psycopg.errors.UndefinedTable):
                    raise
                with self._grown_lock:
                    self._grown.pop(table, None)
                self._analysed.pop(table, None)
                continue
            with self._grown_lock:
                self._grown[table] = self._grown.get(table, 0) - grown
            self._analysed[table] += grown
            done.append(table)
        if done:
            self.index_closed(done, analysed=True)
        return done

    def index_closed(
        self, tables: Sequence[str] | None = None, *, analysed: bool = False
    ) -> list[str]:
        """Give the partitions (``tables``, or all) whose week ended over
        ``INDEX_CLOSED_AFTER_S`` ago a BRIN index on ``ts`` if they have none, and full
        statistics unless ``analysed`` (they were just analysed in full); return those that got
        an index. The merger thread calls this by itself."""
        with self._reading() as c:
            rows = c.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = 'samples'::regclass"
                " AND NOT EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid)"
            ).fetchall()
        now = time.time_ns()
        done: list[str] = []
        for (name,) in rows:
            week = _week_of_name(name)
            if week is None or (tables is not None and name not in tables):
                continue
            if not _ended(week, now):
                continue
            try:
                with self._reading() as c:
                    c.execute(
                        f"CREATE INDEX IF NOT EXISTS {name}_ts ON {name} USING brin (ts)"
                        " WITH (autosummarize = on)"
                    )
                    if not analysed:  # its statistics so far came from small samples
                        c.execute(f"ANALYZE {name}")
            except StoreError as exc:  # dropped meanwhile, or another process was quicker
                log.debug("no ts index on %s: %s", name, exc)
                continue
            with self._grown_lock:
                self._unsummarised.setdefault(name, 0)
            done.append(name)
        return done

    def migrate(self) -> int:
        """See :meth:`SqlStore.migrate`; then merge what a stopped process left pending, and
        start the merger (it also looks for such leftovers every ``RECOVER_AFTER_S``)."""
        version = super().migrate()
        if self.latest_delay_s > 0:
            self.recover_latest()
            self._start_merger()
        return version

    def _latest_blocks(
        self, prefix: str | None, signals: list[str] | None
    ) -> tuple[Selection, Blocks | None]:
        # Whether there are new series, and the version of every block, in one round trip:
        # which blocks the selection needs is known only after the series are, and all versions
        # are a few bytes a block. New series (rare) cost a second trip.
        with self._reading() as c:
            with self._series_lock:
                with c.pipeline():
                    top = c.execute(sql.SERIES_TOP.postgres)
                    every = c.execute("SELECT block, version FROM latest_blocks")
                newest = top.fetchone()
                self._catch_up(c, newest[0] if newest else None)
            versions = {int(b): int(v) for b, v in every.fetchall()}
            positions = self._series.select(prefix, signals)
            selection = Selection(positions, self._series.ids[positions])
            if not len(selection.ids):
                return selection, None
            blocks = blocks_of(selection.ids)
            return selection, self._load_blocks(c, blocks, for_update=False, versions=versions)

    def _block_versions(
        self, c: Connection, block_ids: list[int], *, for_update: bool
    ) -> list[tuple[int, int]]:
        # Locks are taken in block order (ORDER BY ... FOR UPDATE), so two writers touching the
        # same blocks queue up instead of deadlocking.
        lock = " FOR UPDATE" if for_update else ""
        rows = c.execute(
            "SELECT block, version FROM latest_blocks WHERE block = ANY(%s::int4[])"
            f" ORDER BY block{lock}",
            (block_ids,),
        ).fetchall()
        return [(int(b), int(v)) for b, v in rows]

    def _block_payloads(self, c: Connection, block_ids: list[int]) -> list[tuple[int, bytes]]:
        rows = c.execute(
            "SELECT block, data FROM latest_blocks WHERE block = ANY(%s::int4[])",
            (block_ids,),
            binary=True,
        ).fetchall()
        return [(int(b), bytes(d)) for b, d in rows]

    def _create_blocks(self, c: Connection, block_ids: list[int], payload: bytes) -> None:
        c.execute(
            "INSERT INTO latest_blocks (block, version, data)"
            " SELECT b, 0, %b FROM unnest(%s::int4[]) AS b ORDER BY b"
            " ON CONFLICT (block) DO NOTHING",
            (payload, block_ids),
        )

    def _update_blocks(self, c: Connection, rows: list[tuple[int, int, bytes]]) -> None:
        # One pipelined UPDATE per block measured faster than staging them through COPY or
        # an unnest of a bytea array.
        with c.cursor() as cur:
            cur.executemany(
                "UPDATE latest_blocks SET version = %s, data = %b WHERE block = %s",
                [(version, payload, block) for block, version, payload in rows],
            )

    def _insert_events(self, c: Connection, events: pa.Table) -> None:
        c.execute(
            f"INSERT INTO events ({sql.EVENT_COLUMNS}) SELECT * FROM unnest("
            "%s::text[], %s::int8[], %s::text[], %s::text[], %s::text[], %s::text[],"
            " %s::int8[], %s::int8[], %s::int8[], %s::bool[])",
            [events.column(i).to_pylist() for i in range(events.num_columns)],
        )

    @staticmethod
    def _selection(selection: Selection) -> list[list[int]]:
        return [selection.ids.tolist(), selection.ranks.tolist()]

    def _samples(
        self, c: Connection, selection: Selection, start: int, end: int, *, good_only: bool
    ) -> tuple[Int64Array, Int64Array, npt.NDArray[np.float64], npt.NDArray[np.uint8]]:
        query = sql.RAW.postgres.replace("{good}", " AND s.quality < 2" if good_only else "")
        row = c.execute(query, [*self._selection(selection), start, end], binary=True).fetchone()
        packed = np.frombuffer(
            (row[0] if row else None) or b"",
            dtype=[("rank", ">i4"), ("ts", ">i8"), ("value", ">f8"), ("quality", ">i2")],
        )
        return (
            packed["rank"].astype(np.int64),
            packed["ts"].astype(np.int64),
            packed["value"].astype(np.float64),
            packed["quality"].astype(np.uint8),
        )

    def _aggregate(
        self,
        c: Connection,
        selection: Selection,
        start: int,
        end: int,
        edges: Int64Array,
        expr: str,
    ) -> tuple[Int64Array, Int64Array, npt.NDArray[np.float64], Int64Array]:
        ids, ranks = self._selection(selection)
        step = int(edges[1] - edges[0])
        bucket: list[object]
        if bool((np.diff(edges) == step).all()):
            query = sql.AGGREGATE.postgres.replace("{bucket}", sql.PG_BUCKET_EVEN)
            bucket = [int(edges[0]), step]
        else:
            query = sql.AGGREGATE.postgres.replace("{bucket}", sql.PG_BUCKET_EDGES)
            bucket = [edges.tolist()]
        query = query.replace("{expr}", expr)
        params = [*bucket, ids, start, end, ids, ranks]
        row = c.execute(query, params, binary=True).fetchone()
        packed = np.frombuffer(
            (row[0] if row else None) or b"",
            dtype=[("rank", ">i4"), ("bucket", ">i4"), ("value", ">f8"), ("count", ">i8")],
        )
        return (
            packed["rank"].astype(np.int64),
            packed["bucket"].astype(np.int64),
            packed["value"].astype(np.float64),
            packed["count"].astype(np.int64),
        )

    def _last_before(
        self, c: Connection, selection: Selection, lo: int, hi: int
    ) -> tuple[Int64Array, Int64Array, npt.NDArray[np.float64], npt.NDArray[np.uint8]]:
        rows = c.execute(sql.LAST_BEFORE.postgres, [*self._selection(selection), lo, hi]).fetchall()
        sid, ts, value, quality = zip(*rows, strict=True) if rows else ((), (), (), ())
        return (
            np.asarray(sid, dtype=np.int64),
            np.asarray(ts, dtype=np.int64),
            np.asarray(value, dtype=np.float64),
            np.asarray(quality, dtype=np.uint8),
        )

    def _delete_samples(self, c: Connection, series_ids: Int64Array, cutoffs: Int64Array) -> int:
        if not len(series_ids):
            return 0
        deleted = 0
        total = int(c.execute("SELECT count(*) FROM series").fetchall()[0][0])
        if total == len(series_ids):
            # Every series has a rule: a week older than the earliest cutoff goes whole.
            oldest_kept = int(cutoffs.min())
            names = c.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = 'samples'::regclass"
            ).fetchall()
            for (name,) in names:
                week = _week_of_name(name)
                if week is None or MONDAY_NS + (week + 1) * WEEK_NS > oldest_kept:
                    continue
                deleted += int(c.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0])
                c.execute(f"DROP TABLE {name}")
                self._partitions.discard(week)
        for cutoff in np.unique(cutoffs):
            ids = series_ids[cutoffs == cutoff].tolist()
            cur = c.execute(
                "DELETE FROM samples WHERE ts < %s AND series_id = ANY(%s::int4[])",
                (int(cutoff), ids),
            )
            deleted += max(cur.rowcount, 0)
        return deleted

    def _size_bytes(self) -> int | None:
        with self._reading() as c:
            return int(c.execute("SELECT pg_database_size(current_database())").fetchall()[0][0])

    def _extra_info(self) -> dict[str, str]:
        with self._reading() as c:
            weeks = c.execute(
                "SELECT count(*) FROM pg_inherits WHERE inhparent = to_regclass('samples')"
            ).fetchall()[0][0]
            version = c.execute("SHOW server_version").fetchall()[0][0]
        return {"server": self._where, "partitions": str(weeks), "postgresql": str(version)}
