"""The direct peers of werk's write path: a raw DuckDB append and a raw PostgreSQL binary COPY.

Both write the resolved rows (series id, ts, value, quality) into a plain table with no registry,
no ledger, no latest-value upkeep and no validation: what a hand-written loader would do. The
gap between them and werk's HTTP path is the price of the door (HTTP, decoding, validation,
series resolution, idempotency ledger, latest values).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from bench.ingest import Payload, Writer
from werk.store import pgcopy

RAW_TABLE = "bench_raw_samples"

DUCKDB_DDL = f"""
CREATE TABLE {RAW_TABLE} (
    series_id INTEGER NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    value DOUBLE NOT NULL,
    quality UTINYINT NOT NULL
)
"""

POSTGRES_DDL = f"""
DROP TABLE IF EXISTS {RAW_TABLE};
CREATE TABLE {RAW_TABLE} (
    series_id integer NOT NULL,
    ts bigint NOT NULL,
    value float8 NOT NULL,
    quality smallint NOT NULL
)
"""


class DuckDBAppend:
    """``INSERT INTO t SELECT * FROM arrow_table`` into a plain table of a fresh DuckDB file."""

    def __init__(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        Path(f"{path}.wal").unlink(missing_ok=True)
        self.path = path
        self.db = duckdb.connect(str(path))
        self.db.execute(DUCKDB_DDL)

    def connect(self) -> AbstractContextManager[Writer[pa.Table]]:
        """Open a cursor of the shared database (DuckDB is in-process: one writer per thread)."""
        return _DuckDBCursor(self.db.cursor())

    def count(self) -> int:
        """Rows stored."""
        row = self.db.execute(f"SELECT count(*) FROM {RAW_TABLE}").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        """Close the database and delete its file."""
        self.db.close()
        self.path.unlink(missing_ok=True)


class _DuckDBCursor:
    def __init__(self, cursor: duckdb.DuckDBPyConnection) -> None:
        self.cursor = cursor

    def __enter__(self) -> Writer[pa.Table]:
        return self.write

    def __exit__(self, *exc: object) -> None:
        self.cursor.close()

    def write(self, payload: Payload[pa.Table]) -> None:
        batch = payload.body
        self.cursor.register("batch", batch)
        try:
            self.cursor.execute(f"INSERT INTO {RAW_TABLE} SELECT * FROM batch")
        finally:
            self.cursor.unregister("batch")


def copy_payload(raw: pa.Table) -> bytearray:
    """Encode a raw table as binary COPY with werk's own encoder (the store's write path)."""
    return pgcopy.encode(
        [
            raw.column("series_id").to_numpy(),
            pc.cast(raw.column("ts"), pa.int64()).to_numpy(),
            raw.column("value").to_numpy(),
            raw.column("quality").to_numpy(),
        ],
        ["int4", "int8", "float8", "int2"],
    )


class PostgresCopy:
    """Binary ``COPY ... FROM STDIN`` into a plain, unpartitioned table; a commit per batch."""

    def __init__(self, url: str) -> None:
        self.url = url
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(POSTGRES_DDL)

    def connect(self) -> AbstractContextManager[Writer[pa.Table]]:
        """Open one connection of its own."""
        return _PostgresConnection(self.url)

    def count(self) -> int:
        """Rows stored."""
        with psycopg.connect(self.url) as conn:
            row = conn.execute(f"SELECT count(*) FROM {RAW_TABLE}").fetchone()
        return int(row[0]) if row else 0

    def drop(self) -> None:
        """Drop the table."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")


class _PostgresConnection:
    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url)

    def __enter__(self) -> Writer[pa.Table]:
        return self.write

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.conn.close()

    def write(self, payload: Payload[pa.Table]) -> None:
        data = copy_payload(payload.body)
        with (
            self.conn.cursor() as cur,
            cur.copy(
                f"COPY {RAW_TABLE} (series_id, ts, value, quality) FROM STDIN (FORMAT BINARY)"
            ) as copy,
        ):
            copy.write(memoryview(data))
        self.conn.commit()
