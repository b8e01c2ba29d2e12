"""Hand readings from a source's background tasks to its consumer, and keep its link state.

Every protocol source has the same two needs besides its protocol: a bounded hand-over between
the tasks that receive values and :meth:`~werk.connectors.base.Source.readings`, and a log that
says once that a connection was lost and once that it came back (STYLE.md: "Log a loss of
connection once and its recovery once, not every retry").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any

from werk.connectors.base import Readings, SourceHealth
from werk.connectors.derive import Collector

DEFAULT_BATCHES = 512
"""Batches an outbox holds before it drops the oldest; at 0.2 s per flush, ~100 s of data."""


class Outbox:
    """A bounded queue of readings; overflow policy: drop the oldest batch, counted.

    Dropping the oldest keeps the freshest values flowing when the consumer (the agent's buffer)
    stalls; the counts say exactly what was lost (``dropped_batches``, ``dropped_samples``).
    """

    def __init__(self, maxlen: int = DEFAULT_BATCHES) -> None:
        self._items: deque[Readings] = deque()
        self._maxlen = maxlen
        self._ready = asyncio.Event()
        self.dropped_batches = 0
        self.dropped_samples = 0
        self.delivered_samples = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, readings: Readings) -> None:
        """Queue readings (never blocks); drop the oldest batch when full."""
        if readings.empty:
            return
        if len(self._items) >= self._maxlen:
            old = self._items.popleft()
            self.dropped_batches += 1
            self.dropped_samples += old.samples.num_rows
        self._items.append(readings)
        self._ready.set()

    async def get(self) -> Readings:
        """Wait for the next readings."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        readings = self._items.popleft()
        self.delivered_samples += readings.samples.num_rows
        return readings

    async def stream(self) -> AsyncIterator[Readings]:
        """Yield readings forever."""
        while True:
            yield await self.get()


class Link:
    """The connection state of one source or session: logs a loss once and a recovery once."""

    def __init__(self, log: logging.Logger, what: str, health: SourceHealth) -> None:
        self.log = log
        self.what = what
        self.health = health
        self.lost = False
        self.ever_connected = False

    def up(self) -> None:
        """The connection is (again) established."""
        if self.lost:
            self.log.info("%s: connection restored", self.what)
            self.health.reconnects += 1
        self.lost = False
        self.ever_connected = True
        self.health.connected = True

    def down(self, error: BaseException | str) -> None:
        """The connection failed or could not be made; logged only on the first failure."""
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        self.health.connected = False
        self.health.last_error = text or "connection lost"
        if not self.lost:
            verb = "connection lost" if self.ever_connected else "cannot connect"
            self.log.warning("%s: %s (%s); retrying with backoff", self.what, verb, text)
        self.lost = True

    def seen(self) -> None:
        """A value arrived."""
        self.health.last_value_at = datetime.now(UTC)


class Background:
    """A source's background tasks, in one TaskGroup, named ``<prefix>.<role>``.

    Started when the source is entered, cancelled and awaited when it is left (STYLE.md: long-lived
    I/O objects own their tasks in one TaskGroup, tasks named ``werk[opcua:line-1].flush``).
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._group: asyncio.TaskGroup | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, roles: Mapping[str, Coroutine[Any, Any, None]]) -> None:
        """Start one task per role."""
        self._group = asyncio.TaskGroup()
        await self._group.__aenter__()
        for role, work in roles.items():
            self._tasks.append(self._group.create_task(work, name=f"{self.prefix}.{role}"))

    async def stop(self) -> None:
        """Cancel every task and wait until all have ended."""
        for task in self._tasks:
            task.cancel()
        if self._group is not None:
            group, self._group = self._group, None
            with contextlib.suppress(asyncio.CancelledError):
                await group.__aexit__(None, None, None)
        self._tasks.clear()


async def flush_every(collector: Collector, outbox: Outbox, interval_s: float) -> None:
    """Hand what ``collector`` gathered to ``outbox`` every ``interval_s`` seconds, forever."""
    while True:
        await asyncio.sleep(interval_s)
        if len(collector):
            outbox.put(collector.flush())
