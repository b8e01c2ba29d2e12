"""Tell how an edge is doing: sources, buffer, uplink, and how complete each signal is.

The agent builds a report every ``uplink.health_interval_s``: it stores it in its buffer file
(``meta`` key ``health``), where ``werk edge status`` reads it while the agent runs, and POSTs it
to the platform (``POST /api/v1/edge/health``) so the dashboard can show every edge.

Completeness of a signal is the share of the samples it should have delivered that arrived:
received / (elapsed seconds / ``expected_interval_s``) over a window (five minutes, then a new
window starts; the report shows the current window once it is a minute old, else the last one).
Points without ``expected_interval_s`` have no completeness.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from werk.connectors.base import Point, SourceHealth
from werk.edge.buffer import COUNTERS, BufferStats, read_only, read_stats

WINDOW_S: Final = 300.0
MIN_WINDOW_S: Final = 60.0
_SEP: Final = "\x1f"


@dataclass(slots=True)
class Completeness:
    """Count samples per signal against the points' expected intervals."""

    expected: dict[str, float]
    """``path\\x1fsignal`` → expected seconds between samples."""
    window_s: float = WINDOW_S
    counts: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    previous: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, points: Iterable[Point], window_s: float = WINDOW_S) -> Completeness:
        """Track the points that state an expected interval."""
        return cls(
            {
                f"{p.path}{_SEP}{p.signal}": p.expected_interval_s
                for p in points
                if p.expected_interval_s
            },
            window_s,
        )

    def observe(self, samples: pa.RecordBatch | pa.Table) -> None:
        """Count a batch's samples of tracked signals (one group-by, no per-row Python)."""
        if not self.expected or not samples.num_rows:
            return
        self._roll()
        keys = pc.binary_join_element_wise(samples["path"], samples["signal"], _SEP)
        counted = pa.table({"key": keys}).group_by("key").aggregate([("key", "count")])
        for key, n in zip(
            counted["key"].to_pylist(), counted["key_count"].to_pylist(), strict=True
        ):
            if key in self.expected:
                self.counts[key] = self.counts.get(key, 0) + int(n)

    def _roll(self) -> None:
        elapsed = time.monotonic() - self.started
        if elapsed >= self.window_s:
            self.previous = self._shares(elapsed)
            self.counts = {}
            self.started = time.monotonic()

    def _shares(self, elapsed: float) -> dict[str, float]:
        return {
            key: min(1.0, self.counts.get(key, 0) / max(1.0, elapsed / interval))
            for key, interval in self.expected.items()
        }

    def snapshot(self) -> dict[str, float]:
        """Return ``"path signal"`` → share of expected samples received (0..1)."""
        self._roll()
        elapsed = time.monotonic() - self.started
        shares = (
            self._shares(elapsed) if elapsed >= MIN_WINDOW_S or not self.previous else self.previous
        )
        return {key.replace(_SEP, " "): round(v, 4) for key, v in shares.items()}


def source_report(health: SourceHealth, diagnostics: Mapping[str, object]) -> dict[str, object]:
    """Return one source's part of the report."""
    return {
        "connected": health.connected,
        "last_value_at": health.last_value_at.isoformat() if health.last_value_at else None,
        "reconnects": health.reconnects,
        "bad_values": health.bad_values,
        "last_error": health.last_error,
        "diagnostics": dict(diagnostics),
        **health.extra,
    }


def build_report(
    *,
    edge: str,
    site: str,
    sources: Mapping[str, dict[str, object]],
    buffer: BufferStats,
    uplink: Mapping[str, object],
    completeness: Mapping[str, float],
    agent: Mapping[str, object],
) -> dict[str, object]:
    """Assemble the health report of an edge (JSON-ready)."""
    return {
        "edge": edge,
        "site": site,
        "at": datetime.now(UTC).isoformat(),
        "agent": dict(agent),
        "sources": dict(sources),
        "buffer": buffer.as_dict(),
        "uplink": dict(uplink),
        "completeness": dict(completeness),
    }


def read_status(buffer_path: Path) -> dict[str, object]:
    """Return what ``werk edge status`` shows: the latest report and the buffer as it is now.

    Works while the agent runs (it reads the WAL-mode buffer file read-only).

    Raises:
        ConfigError: there is no buffer file.
    """
    db = read_only(buffer_path)
    try:
        has_tables = db.execute(
            "SELECT count(*) FROM sqlite_master "
            "WHERE type = 'table' AND name IN ('batches', 'meta')"
        ).fetchone()[0]
        if has_tables < 2:
            # The agent has created the file but not yet its tables: it is starting.
            empty = BufferStats(0, 0, 0, 0, None, 0, dict.fromkeys(COUNTERS, 0))
            return {"agent": {"state": "starting"}, "buffer": empty.as_dict()}
        stats = read_stats(db, budget_bytes=0, live_window_ns=10_000_000_000)
        row = db.execute("SELECT value FROM meta WHERE key = 'health'").fetchone()
    finally:
        db.close()
    report: dict[str, object] = json.loads(row[0]) if row is not None else {}
    buffer = stats.as_dict()
    budget = report.get("buffer")
    if isinstance(budget, dict):
        buffer["budget_bytes"] = budget.get("budget_bytes", 0)
    report["buffer"] = buffer
    report.setdefault("agent", {"state": "never reported"})
    return report
