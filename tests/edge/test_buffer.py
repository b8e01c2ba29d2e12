"""The durable buffer: sequences, acknowledgement, reopening, overflow, origins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from werk.connectors.base import Readings
from werk.edge.buffer import Buffer, decode
from werk.samples import Sample


def readings(n: int, origin: str | None = None, start: int = 0) -> Readings:
    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    made = Readings.of(
        [
            Sample("acme/wob/a/l1/m1", "temp", t0 + timedelta(seconds=i), float(i))
            for i in range(start, start + n)
        ]
    )
    return Readings(made.samples, made.events, origin)


def test_batches_survive_reopen_and_sequences_never_repeat(tmp_path: Path) -> None:
    buf = Buffer(tmp_path / "b.sqlite")
    seqs = buf.put([readings(250)], max_rows=100)
    assert len(seqs) == 3
    assert seqs == sorted(seqs)
    taken = buf.take(10, lane="live")
    assert [b.rows for b in taken] == [100, 100, 50]
    assert decode(taken[0].body).column("value").to_pylist()[:3] == [0.0, 1.0, 2.0]
    buf.ack(seqs)
    buf.close()
    again = Buffer(tmp_path / "b.sqlite")  # every batch deleted: the sequence still goes on
    later = again.put([readings(10)])
    assert later[0] > seqs[-1]
    stats = again.stats()
    assert (stats.batches, stats.counters["acked_rows"], stats.counters["stored_rows"]) == (
        1,
        250,
        260,
    )
    again.close()


def test_origins_are_stored_once(tmp_path: Path) -> None:
    buf = Buffer(tmp_path / "b.sqlite")
    assert buf.put([readings(5, "files:x:abc")])
    assert buf.put([readings(5, "files:x:abc")]) == []
    assert buf.stats().counters["duplicate_origins"] == 1
    buf.close()


def test_overflow_drop_oldest_and_drop_newest_count_what_went(tmp_path: Path) -> None:
    oldest = Buffer(tmp_path / "old.sqlite", budget_bytes=4_000, compression=None)
    for i in range(10):
        oldest.put([readings(50, start=i * 50)])
    stats = oldest.stats()
    assert stats.bytes <= 4_000
    assert stats.counters["dropped_rows"] + stats.rows == 500
    assert stats.counters["dropped_rows"] > 0
    first = oldest.take(1, lane="live")[0]
    assert decode(first.body).column("value")[0].as_py() > 0  # the oldest went
    newest = Buffer(
        tmp_path / "new.sqlite", budget_bytes=4_000, compression=None, overflow="drop_newest"
    )
    for i in range(10):
        newest.put([readings(50, start=i * 50)])
    kept = newest.take(1, lane="live")[0]
    assert decode(kept.body).column("value")[0].as_py() == 0.0  # the oldest stayed
    assert newest.stats().counters["dropped_rows"] + newest.stats().rows == 500


def test_lanes_split_live_from_backlog(tmp_path: Path) -> None:
    buf = Buffer(tmp_path / "b.sqlite", live_window_s=0.05)
    old = buf.put([readings(10)])
    import time

    time.sleep(0.1)
    new = buf.put([readings(10, start=10)])
    assert [b.seq for b in buf.take(5, lane="live")] == new
    assert [b.seq for b in buf.take(5, lane="backlog")] == old
