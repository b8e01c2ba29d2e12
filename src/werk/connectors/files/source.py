"""Watch a folder for export files and hand each one on exactly once, by content hash.

Why polling and not inotify: drop folders are often network shares (SMB, NFS) where change
notifications are missing or unreliable, and an MES writes a few files a minute; a listing every
``poll_interval_s`` costs nothing and works the same everywhere.

A file is read when it is complete: hidden files (``.name.part``, the simulator's and most
writers' temporary names) are never read, and a file must have kept its size and modification
time for ``settle_s`` (for writers that write in place). Its SHA-256 is its identity: a file
whose content was processed before — under any name — is skipped; the same name with new
content is new. The hash is recorded in a SQLite ledger *after* the agent has taken the readings
(the generator resumes only then), and the readings carry the hash as their ``origin``, which the
agent's buffer records atomically: a crash between the two cannot store a file twice.
"""

from __future__ import annotations

import asyncio
import collections
import fnmatch
import hashlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

import pyarrow as pa

from werk.connectors.base import Readings, SourceConfig, SourceHealth
from werk.connectors.files.config import FileFormat, FilesConfig
from werk.connectors.files.mapping import Parsed, RowProblem, parse_file
from werk.errors import ConfigError

log = logging.getLogger("werk.connectors.files")


class Ledger:
    """Content hashes of the files already handed on, in a small SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS processed (hash TEXT PRIMARY KEY, name TEXT NOT NULL, "
            "rows INTEGER NOT NULL, problems INTEGER NOT NULL, at TEXT NOT NULL)"
        )
        self._db.commit()

    def seen(self, digest: str) -> bool:
        """Tell whether a file with this content was handed on before."""
        row = self._db.execute("SELECT 1 FROM processed WHERE hash = ?", (digest,)).fetchone()
        return row is not None

    def mark(self, digest: str, name: str, rows: int, problems: int) -> None:
        """Record a file as handed on."""
        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO processed VALUES (?, ?, ?, ?, ?)",
                (digest, name, rows, problems, datetime.now(UTC).isoformat()),
            )

    def count(self) -> int:
        """Files recorded."""
        return int(self._db.execute("SELECT count(*) FROM processed").fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        self._db.close()


class FilesSource:
    """A folder of CSV/JSON exports as a :class:`~werk.connectors.base.Source`."""

    def __init__(self, config: FilesConfig) -> None:
        self.config: SourceConfig = config
        self.files = config
        self.health = SourceHealth()
        self.problems: collections.deque[RowProblem] = collections.deque(maxlen=50)
        self.processed = 0
        self.skipped = 0
        self._ledger: Ledger | None = None
        self._known: dict[tuple[str, int, int], str] = {}
        """(name, size, mtime_ns) → hash of files already seen, to hash each file once."""

    async def __aenter__(self) -> Self:
        folder = self.files.folder
        if not await asyncio.to_thread(folder.is_dir):
            raise ConfigError(
                f"folder {folder} of source {self.files.name!r} does not exist",
                key="connector.files.no_folder",
                source_id=self.files.name,
                field="folder",
            )
        self._ledger = await asyncio.to_thread(Ledger, self.files.ledger_path())
        self.health.connected = True
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._ledger is not None:
            await asyncio.to_thread(self._ledger.close)
            self._ledger = None
        self.health.connected = False

    def _format(self, name: str) -> FileFormat | None:
        for fmt in self.files.formats:
            if fnmatch.fnmatchcase(name, fmt.pattern):
                return fmt
        return None

    def _ready(self) -> list[tuple[Path, FileFormat, int, int]]:
        """List complete files that match a format, oldest first."""
        now = time.time_ns()
        settle = int(self.files.settle_s * 1e9)
        out = []
        for entry in self.files.folder.iterdir():
            name = entry.name
            if name.startswith(".") or name.endswith(".part"):
                continue  # still being written (or our own ledger)
            fmt = self._format(name)
            if fmt is None or not entry.is_file():
                continue
            stat = entry.stat()
            if now - stat.st_mtime_ns < settle:
                continue
            out.append((entry, fmt, stat.st_size, stat.st_mtime_ns))
        out.sort(key=lambda item: (item[3], item[0].name))
        return out

    def _take(
        self, path: Path, fmt: FileFormat, size: int, mtime: int
    ) -> tuple[str, Parsed] | None:
        """Read and parse one file unless its content was handed on before."""
        assert self._ledger is not None
        key = (path.name, size, mtime)
        if key in self._known:
            return None
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None  # moved away between listing and reading
        digest = hashlib.sha256(data).hexdigest()
        self._known[key] = digest
        if self._ledger.seen(digest):
            self.skipped += 1
            return None
        points = [p for d in self.files.devices for p in d.points]
        return digest, parse_file(path.name, data, fmt, points)

    def _note(self, parsed: Parsed, name: str) -> None:
        self.health.last_value_at = datetime.now(UTC)
        if parsed.problems:
            self.health.bad_values += len(parsed.problems)
            self.problems.extend(parsed.problems)
            self.health.last_error = str(parsed.problems[-1])
            shown = "; ".join(str(p) for p in parsed.problems[:3])
            more = len(parsed.problems) - 3
            log.warning(
                "source %s: %d bad row(s) in %s, the other %d taken: %s%s",
                self.files.name,
                len(parsed.problems),
                name,
                parsed.rows,
                shown,
                f" (and {more} more)" if more > 0 else "",
            )

    async def readings(self) -> AsyncIterator[Readings]:
        """Yield the readings of each new complete file, forever."""
        assert self._ledger is not None, "use 'async with source:' first"
        while True:
            try:
                ready = await asyncio.to_thread(self._ready)
            except OSError as exc:
                if self.health.connected:
                    log.warning("source %s: folder unreadable: %s", self.files.name, exc)
                self.health.connected = False
                self.health.last_error = f"folder unreadable: {exc}"
                ready = []
            else:
                if not self.health.connected:
                    log.info("source %s: folder readable again", self.files.name)
                self.health.connected = True
            for path, fmt, size, mtime in ready:
                taken = await asyncio.to_thread(self._take, path, fmt, size, mtime)
                if taken is None:
                    continue
                digest, parsed = taken
                self._note(parsed, path.name)
                readings = parsed.readings
                yield Readings(
                    readings.samples, readings.events, origin=f"files:{self.files.name}:{digest}"
                )
                # Resumed: the agent has the readings in its buffer. Only now is the file done.
                await asyncio.to_thread(
                    self._ledger.mark, digest, path.name, parsed.rows, len(parsed.problems)
                )
                self.processed += 1
            await asyncio.sleep(self.files.poll_interval_s)

    async def read_once(self) -> Readings:
        """Parse every complete file now present that was not handed on yet (marks nothing)."""
        assert self._ledger is not None, "use 'async with source:' first"
        ready = await asyncio.to_thread(self._ready)
        samples: list[pa.RecordBatch] = []
        events: list[pa.RecordBatch] = []
        for path, fmt, size, mtime in ready:
            taken = await asyncio.to_thread(self._take, path, fmt, size, mtime)
            if taken is not None:
                self._note(taken[1], path.name)
                samples.append(taken[1].readings.samples)
                events.append(taken[1].readings.events)
        self._known.clear()  # read_once takes nothing: a later readings() reads them again
        empty = Readings.of()
        return Readings(
            pa.concat_batches([empty.samples, *samples]), pa.concat_batches([empty.events, *events])
        )

    def diagnostics(self) -> Mapping[str, object]:
        """Folder, counts and the latest bad rows (files hold no secrets)."""
        return {
            "folder": str(self.files.folder),
            "ledger": str(self.files.ledger_path()),
            "processed": self.processed,
            "skipped_duplicates": self.skipped,
            "bad_rows": self.health.bad_values,
            "recent_problems": [str(p) for p in self.problems],
        }
