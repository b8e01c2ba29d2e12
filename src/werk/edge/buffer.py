"""Keep readings on the edge's disk until the platform has acknowledged them.

The buffer is one SQLite file in WAL mode. Each row of ``batches`` is one Arrow IPC stream
(samples or events, compressed as the uplink sends it, so a batch is encoded once) with its
sequence number, its row count and when it was buffered. A batch leaves only through
:meth:`Buffer.ack` (the platform committed it), :meth:`Buffer.dead` (the platform refused it for
good and dead-lettered it) or the overflow policy — and the last two are counted in ``meta``, in
the same transaction, never silently.

Why ``synchronous=FULL`` and not NORMAL: NORMAL survives a killed process but may lose the last
commits on a power cut. A lost commit can roll the sequence back, and a sequence number that the
platform has already acknowledged would make it drop new data as a duplicate — so every commit is
synced. The cost is one fsync per commit, and commits carry whole batches (up to
``batch_max_rows``), so it is small.

Sequence numbers come from an AUTOINCREMENT column (never reused, even after every batch was
deleted) seeded, for a new file, with the current time in microseconds: an edge whose buffer file
was lost or replaced still sends keys above every key it sent before.

Lanes: a batch younger than ``live_window_s`` is *live*, an older one is *backlog*.
:meth:`Buffer.take` returns live batches first; the uplink drains the backlog at a limited rate,
so current values are not stuck behind hours of history after an outage.

Overflow: when the batches would exceed ``disk_budget_mb``, ``drop_oldest`` (the default) deletes
the oldest batches (the oldest backlog) until the new one fits; ``drop_newest`` refuses the new
batch. Either way the rows and batches dropped are added to the counts that ``werk edge status``
and the health report show. The SQLite file itself keeps its high-water size (freed pages are
reused, not returned), so the file stays near the budget.

Readings with an ``origin`` (a file's content hash) are recorded in ``origins`` in the same
transaction; readings whose origin is already there are skipped, so a source that reads the same
file twice after a crash stores it once.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import pyarrow as pa

from werk.connectors.base import Readings
from werk.errors import ConfigError

COUNTERS: Final = (
    "stored_batches",
    "stored_rows",
    "acked_batches",
    "acked_rows",
    "dropped_batches",
    "dropped_rows",
    "dead_batches",
    "dead_rows",
    "duplicate_origins",
)
"""Counts kept in ``meta``: what went in, what the platform took, what was dropped or refused."""

ORIGIN_KEEP_NS: Final = 30 * 86_400 * 1_000_000_000
"""Origins (file hashes) are remembered 30 days; the files ledger remembers them for good."""

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS batches (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('samples', 'events')),
        rows INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        created_ns INTEGER NOT NULL,
        body BLOB NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS batches_created ON batches (created_ns)",
    "CREATE TABLE IF NOT EXISTS origins (origin TEXT PRIMARY KEY, at_ns INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value)",
)


@dataclass(frozen=True, slots=True)
class Pending:
    """A buffered batch waiting for its acknowledgement."""

    seq: int
    kind: Literal["samples", "events"]
    rows: int
    created_ns: int
    body: bytes


@dataclass(frozen=True, slots=True)
class BufferStats:
    """How full the buffer is and what happened to what went through it."""

    batches: int
    rows: int
    bytes: int
    budget_bytes: int
    oldest_ns: int | None
    live_batches: int
    counters: dict[str, int]

    def as_dict(self) -> dict[str, object]:
        """Return the stats as JSON-ready data (``oldest_age_s`` from now)."""
        age = (time.time_ns() - self.oldest_ns) / 1e9 if self.oldest_ns is not None else None
        return {
            "batches": self.batches,
            "rows": self.rows,
            "bytes": self.bytes,
            "budget_bytes": self.budget_bytes,
            "live_batches": self.live_batches,
            "oldest_age_s": round(age, 3) if age is not None else None,
            **self.counters,
        }


def encode(table: pa.Table | pa.RecordBatch, compression: str | None) -> bytes:
    """Serialise a batch as an Arrow IPC stream (the uplink's body)."""
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression=compression)
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write(table)
    return sink.getvalue().to_pybytes()  # type: ignore[no-any-return]


def decode(body: bytes) -> pa.Table:
    """Read a buffered batch back (for tests and tools)."""
    return pa.ipc.open_stream(pa.py_buffer(body)).read_all()


class Buffer:
    """The durable buffer (see the module docstring). Thread-safe; calls block, so the agent
    runs them in ``asyncio.to_thread``."""

    def __init__(
        self,
        path: Path,
        *,
        budget_bytes: int = 512 * 1024 * 1024,
        overflow: Literal["drop_oldest", "drop_newest"] = "drop_oldest",
        compression: str | None = "zstd",
        live_window_s: float = 10.0,
    ) -> None:
        self.path = Path(path)
        self.budget_bytes = budget_bytes
        self.overflow = overflow
        self.compression = None if compression in (None, "none") else compression
        self.live_window_ns = int(live_window_s * 1e9)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            for statement in _SCHEMA:
                self._db.execute(statement)
        except sqlite3.Error as exc:
            raise ConfigError(
                f"cannot open the edge buffer {self.path}: {exc}", key="edge.buffer", file=str(path)
            ) from None
        with self._tx():
            seeded = self._db.execute(
                "SELECT 1 FROM sqlite_sequence WHERE name = 'batches'"
            ).fetchone()
            if seeded is None:
                self._db.execute(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES ('batches', ?)",
                    (time.time_ns() // 1000,),
                )
            for name in COUNTERS:
                self._db.execute("INSERT OR IGNORE INTO meta VALUES (?, 0)", (name,))
            self._db.execute(
                "DELETE FROM origins WHERE at_ns < ?", (time.time_ns() - ORIGIN_KEEP_NS,)
            )
        row = self._db.execute("SELECT coalesce(sum(bytes), 0) FROM batches").fetchone()
        self._bytes = int(row[0])

    def _tx(self) -> _Transaction:
        return _Transaction(self._db)

    def close(self) -> None:
        """Close the file (everything committed stays)."""
        with self._lock:
            self._db.close()

    def _count(self, name: str, by: int) -> None:
        if by:
            self._db.execute("UPDATE meta SET value = value + ? WHERE key = ?", (by, name))

    def put(self, items: Sequence[Readings], *, max_rows: int = 50_000) -> list[int]:
        """Store readings as batches of at most ``max_rows`` rows; return their sequences.

        Readings whose ``origin`` was stored before are skipped (counted as duplicate origins).
        """
        with self._lock:
            fresh = self._fresh(items)
            samples = [r.samples for r in fresh if r.samples.num_rows]
            events = [r.events for r in fresh if r.events.num_rows]
            bodies: list[tuple[str, int, bytes]] = []
            for kind, batches in (("samples", samples), ("events", events)):
                if not batches:
                    continue
                table = pa.Table.from_batches(batches)
                for start in range(0, table.num_rows, max_rows):
                    part = table.slice(start, max_rows).combine_chunks()
                    bodies.append((kind, part.num_rows, encode(part, self.compression)))
            seqs: list[int] = []
            now = time.time_ns()
            with self._tx():
                for reading in fresh:
                    if reading.origin is not None:
                        self._db.execute("INSERT INTO origins VALUES (?, ?)", (reading.origin, now))
                self._count("duplicate_origins", len(items) - len(fresh))
                for kind, rows, body in bodies:
                    if not self._make_room(len(body), rows):
                        continue
                    cursor = self._db.execute(
                        "INSERT INTO batches (kind, rows, bytes, created_ns, body) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (kind, rows, len(body), now, body),
                    )
                    assert cursor.lastrowid is not None
                    seqs.append(cursor.lastrowid)
                    self._bytes += len(body)
                    self._count("stored_batches", 1)
                    self._count("stored_rows", rows)
            return seqs

    def _fresh(self, items: Sequence[Readings]) -> list[Readings]:
        out = []
        seen: set[str] = set()
        for reading in items:
            if reading.origin is not None:
                if reading.origin in seen:
                    continue
                found = self._db.execute(
                    "SELECT 1 FROM origins WHERE origin = ?", (reading.origin,)
                ).fetchone()
                if found is not None:
                    continue
                seen.add(reading.origin)
            out.append(reading)
        return out

    def _make_room(self, size: int, rows: int) -> bool:
        """Apply the overflow policy so ``size`` more bytes fit; False if the batch must go."""
        if self._bytes + size <= self.budget_bytes:
            return True
        if self.overflow == "drop_newest" or size > self.budget_bytes:
            self._count("dropped_batches", 1)
            self._count("dropped_rows", rows)
            return False
        while self._bytes + size > self.budget_bytes:
            oldest = self._db.execute(
                "SELECT seq, rows, bytes FROM batches ORDER BY seq LIMIT 1"
            ).fetchone()
            if oldest is None:
                break
            self._db.execute("DELETE FROM batches WHERE seq = ?", (oldest[0],))
            self._bytes -= int(oldest[2])
            self._count("dropped_batches", 1)
            self._count("dropped_rows", int(oldest[1]))
        return True

    def take(
        self, limit: int, *, lane: Literal["live", "backlog"], after: int = 0
    ) -> list[Pending]:
        """Return up to ``limit`` batches of a lane, oldest first, with ``seq > after``."""
        cutoff = time.time_ns() - self.live_window_ns
        op = ">=" if lane == "live" else "<"
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, kind, rows, created_ns, body FROM batches "
                f"WHERE created_ns {op} ? AND seq > ? ORDER BY seq LIMIT ?",
                (cutoff, after, limit),
            ).fetchall()
        return [Pending(int(s), k, int(n), int(c), bytes(b)) for s, k, n, c, b in rows]

    def ack(self, seqs: Sequence[int]) -> None:
        """Delete batches the platform acknowledged."""
        self._remove(seqs, "acked")

    def dead(self, seqs: Sequence[int]) -> None:
        """Delete batches the platform refused for good (it keeps them as dead letters)."""
        self._remove(seqs, "dead")

    def _remove(self, seqs: Sequence[int], counter: str) -> None:
        if not seqs:
            return
        with self._lock, self._tx():
            marks = ",".join("?" * len(seqs))
            found = self._db.execute(
                f"SELECT coalesce(sum(rows), 0), coalesce(sum(bytes), 0), count(*) "
                f"FROM batches WHERE seq IN ({marks})",
                tuple(seqs),
            ).fetchone()
            self._db.execute(f"DELETE FROM batches WHERE seq IN ({marks})", tuple(seqs))
            self._bytes -= int(found[1])
            self._count(f"{counter}_batches", int(found[2]))
            self._count(f"{counter}_rows", int(found[0]))

    def stats(self) -> BufferStats:
        """Return the buffer's depth and counts."""
        with self._lock:
            return read_stats(self._db, self.budget_bytes, self.live_window_ns)

    def set_meta(self, key: str, value: str) -> None:
        """Store a text value (the agent's latest health report) beside the batches."""
        with self._lock, self._tx():
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def meta(self, key: str) -> str | None:
        """Return a stored text value."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])


def read_stats(db: sqlite3.Connection, budget_bytes: int, live_window_ns: int) -> BufferStats:
    """Read a buffer's stats from an open connection (also a read-only one)."""
    batches, rows, size, oldest = db.execute(
        "SELECT count(*), coalesce(sum(rows), 0), coalesce(sum(bytes), 0), min(created_ns) "
        "FROM batches"
    ).fetchone()
    live = db.execute(
        "SELECT count(*) FROM batches WHERE created_ns >= ?", (time.time_ns() - live_window_ns,)
    ).fetchone()[0]
    counters = {
        str(k): int(v)
        for k, v in db.execute(
            f"SELECT key, value FROM meta WHERE key IN ({','.join('?' * len(COUNTERS))})",
            COUNTERS,
        )
    }
    return BufferStats(
        int(batches), int(rows), int(size), budget_bytes, oldest, int(live), counters
    )


def read_only(path: Path) -> sqlite3.Connection:
    """Open a buffer file for reading while an agent writes it (``werk edge status``).

    Raises:
        ConfigError: there is no buffer at ``path``.
    """
    if not path.exists():
        raise ConfigError(
            f"no edge buffer at {path}; has the agent run yet?",
            key="edge.no_buffer",
            file=str(path),
        )
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
