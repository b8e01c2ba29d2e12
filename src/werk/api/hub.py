"""Fan committed writes out to live subscribers: the in-process pub/sub behind ``GET /stream``.

After a batch is committed, the ingest route hands its body to :meth:`Hub.publish`. The hub does
nothing when no one listens; otherwise it decodes the batch once (Arrow, vectorised), keeps the
newest sample of each series and the state and alarm events, and offers each subscriber the rows
under its path prefix. Each subscriber owns a bounded queue whose overflow policy is *drop
oldest*: a slow browser tab never holds memory or the ingest path hostage, and the number of
messages it lost is counted and reported to it as a ``dropped`` message.

The hub is per process: with several ingest workers each serves the streams of its own clients
(a message bus carries the writes between them when werk is scaled out).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from werk.errors import InvalidInput
from werk.ingest.decode import decode, decompress, media_type
from werk.samples import UTC_NS
from werk.store.series import under

log = logging.getLogger("werk.api.hub")

QUEUE_MESSAGES: Final = 256
"""Messages a subscriber may have waiting before the oldest are dropped."""

LIVE_EVENT_KINDS: Final = ("state", "alarm")
"""Event kinds a live stream carries (counts arrive too often to be worth a message each)."""


@dataclass(frozen=True, slots=True)
class Message:
    """One message for a subscriber: ``kind`` ``sample`` or ``event``, ``rows`` an Arrow table."""

    kind: str
    rows: pa.Table


def newest_per_series(samples: pa.Table) -> pa.Table:
    """Return the newest sample of each (path, signal) of ``samples`` (vectorised)."""
    if samples.num_rows == 0:
        return samples
    order = pc.sort_indices(
        samples, sort_keys=[("path", "ascending"), ("signal", "ascending"), ("ts", "ascending")]
    )
    ordered = samples.take(order)
    paths, signals = ordered.column("path"), ordered.column("signal")
    if ordered.num_rows == 1:
        return ordered
    # the last row of each run of equal (path, signal) is the newest of that series
    same_next = pc.and_(
        pc.equal(paths.slice(0, ordered.num_rows - 1), paths.slice(1)),
        pc.equal(signals.slice(0, ordered.num_rows - 1), signals.slice(1)),
    )
    keep = pa.concat_arrays([pc.invert(same_next).combine_chunks(), pa.array([True])])
    return ordered.filter(keep)


@dataclass(eq=False)
class Subscription:
    """A subscriber's bounded queue (drop oldest) over the rows under ``prefix``.

    Attributes:
        prefix: Asset path prefix ("" for everything).
        signals: Only these signals (None: all).
        maxsize: Messages held before the oldest are dropped.
        dropped: Messages dropped since the subscriber last read ``take_dropped``.
    """

    prefix: str
    signals: frozenset[str] | None = None
    maxsize: int = QUEUE_MESSAGES
    dropped: int = 0
    _queue: deque[Message] = field(default_factory=deque)
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, message: Message) -> None:
        """Queue ``message``; when full, drop the oldest one and count it."""
        if len(self._queue) >= self.maxsize:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(message)
        self._ready.set()

    def take_dropped(self) -> int:
        """Return and reset the count of dropped messages."""
        count, self.dropped = self.dropped, 0
        return count

    async def get(self, wait_s: float) -> Message | None:
        """Return the next message, or None when none arrived within ``wait_s`` seconds."""
        if not self._queue:
            self._ready.clear()
            try:
                async with asyncio.timeout(wait_s):
                    await self._ready.wait()
            except TimeoutError:
                return None
        return self._queue.popleft() if self._queue else None

    def select(self, samples: pa.Table | None, events: pa.Table | None) -> list[Message]:
        """Return the messages of one batch that concern this subscriber."""
        out: list[Message] = []
        if samples is not None and samples.num_rows:
            mask = under(samples.column("path"), self.prefix)
            if self.signals is not None:
                mask = pc.and_(
                    mask, pc.is_in(samples.column("signal"), pa.array(sorted(self.signals)))
                )
            mine = samples.filter(mask)
            if mine.num_rows:
                out.append(Message("sample", mine))
        if events is not None and events.num_rows:
            mine = events.filter(under(events.column("path"), self.prefix))
            if mine.num_rows:
                out.append(Message("event", mine))
        return out


class Hub:
    """In-process pub/sub of committed writes; see the module docstring."""

    def __init__(self, maxsize: int = QUEUE_MESSAGES) -> None:
        self.maxsize = maxsize
        self._subscribers: set[Subscription] = set()
        self.published = 0

    @property
    def subscribers(self) -> int:
        """How many subscriptions are open."""
        return len(self._subscribers)

    def subscribe(self, prefix: str, signals: frozenset[str] | None = None) -> Subscription:
        """Open a subscription to the rows under ``prefix`` (close it with :meth:`unsubscribe`)."""
        sub = Subscription(prefix=prefix, signals=signals, maxsize=self.maxsize)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Close a subscription."""
        self._subscribers.discard(sub)

    def publish_tables(self, samples: pa.Table | None, events: pa.Table | None) -> None:
        """Offer one committed batch to every subscriber.

        ``samples`` has columns path, signal, ts, value, quality; ``events`` path, ts, kind, code,
        reason, active (other columns are ignored).
        """
        if not self._subscribers:
            return
        newest = None
        if samples is not None and samples.num_rows:
            newest = newest_per_series(samples)
        live = None
        if events is not None and events.num_rows:
            live = events.filter(pc.is_in(events.column("kind"), pa.array(LIVE_EVENT_KINDS)))
        self.published += 1
        for sub in list(self._subscribers):
            for message in sub.select(newest, live):
                sub.offer(message)

    async def publish(
        self, body: bytes, content_type: str | None, content_encoding: str | None = None
    ) -> None:
        """Offer a committed ingest body to the subscribers (decoded only if anyone listens).

        Called after the write committed, so a subscriber never sees data that was not stored.
        A body that does not decode here was already accepted by ingest; it is logged and
        skipped rather than failing the acknowledged request.
        """
        if not self._subscribers:
            return
        try:
            raw = await asyncio.to_thread(decompress, body, content_encoding, len(body) * 64 + 1)
            decoded = await asyncio.to_thread(decode, raw, media_type(content_type))
        except InvalidInput as exc:
            log.warning("live stream skipped a batch it could not decode: %s", exc)
            return
        self.publish_tables(_typed(decoded.samples, "sample"), _typed(decoded.events, "event"))


def _typed(table: pa.Table | None, kind: str) -> pa.Table | None:
    """Bring the columns a stream sends to their contract types (bodies may carry looser ones).

    Ingest validated and cast these rows before committing them; here the same body is read
    again, so a column it cannot cast means the batch is skipped for the stream, not lost.
    """
    if table is None or table.num_rows == 0:
        return None
    wanted = (
        [
            ("path", pa.string()),
            ("signal", pa.string()),
            ("ts", UTC_NS),
            ("value", pa.float64()),
            ("quality", pa.uint8()),
        ]
        if kind == "sample"
        else [
            ("path", pa.string()),
            ("ts", UTC_NS),
            ("kind", pa.string()),
            ("code", pa.string()),
            ("reason", pa.string()),
            ("active", pa.bool_()),
        ]
    )
    columns: list[pa.ChunkedArray | pa.Array] = []
    try:
        for name, type_ in wanted:
            if name in table.column_names:
                columns.append(pc.cast(table.column(name), type_))
            elif name in ("path", "ts", "kind", "signal", "value"):
                return None
            else:
                columns.append(pa.nulls(table.num_rows, type_))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        log.warning("live stream skipped a batch: %s", exc)
        return None
    return pa.Table.from_arrays(columns, names=[n for n, _ in wanted])
