"""Run one plant's edge: sources → normalize → durable buffer → acknowledged uplink.

:class:`Agent` is an async context manager owning one ``TaskGroup`` with named tasks:

=============================  ===================================================================
task                           does
=============================  ===================================================================
``werk[edge:<id>].<source>``   reads one source forever; a source that fails is reopened with the
                               shared backoff, the others go on
``werk[edge:<id>].flush``      writes collected readings to the buffer every flush_interval_s
``werk[edge:<id>].uplink``     sends buffered batches, live first, and deletes the acknowledged
``werk[edge:<id>].health``     writes the health report beside the buffer and POSTs it upstream
=============================  ===================================================================

Normalisation makes every batch acceptable to the ingest door, so one bad value cannot get a
whole batch refused: a non-finite value becomes NaN with quality BAD, and rows whose time lies
before 1990 or more than a day ahead are left out and counted (``refused_rows``).

Shutdown (leaving the ``async with``, or the first SIGTERM/SIGINT after
:meth:`Agent.install_signal_handlers`): the sources stop, what was collected is written to the
buffer, the uplink gets ``shutdown_grace_s`` to deliver what it can, and the rest stays on disk
for the next start. A second signal calls ``on_force`` (the CLI exits at once; the buffer is
consistent at every commit, so nothing acknowledged or committed is lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Final, Self

import httpx
import pyarrow as pa
import pyarrow.compute as pc

from werk.connectors.base import Backoff, Readings, Source, connector
from werk.edge.buffer import Buffer
from werk.edge.health import Completeness, build_report, source_report
from werk.edge.plant import Plant
from werk.edge.uplink import Uplink, api_key
from werk.samples import Quality

log = logging.getLogger("werk.edge")

EARLIEST_NS: Final = 631_152_000 * 1_000_000_000
"""1990-01-01T00:00:00Z, the earliest time the platform accepts."""
FUTURE_NS: Final = 86_400 * 1_000_000_000
"""How far ahead of the edge's clock a time may lie (the platform's default tolerance)."""


def normalize(readings: Readings, now_ns: int) -> tuple[Readings, int]:
    """Make readings acceptable to ingest; return them and the rows left out (bad times)."""
    samples, events = readings.samples, readings.events
    refused = 0
    if samples.num_rows:
        value = samples["value"]
        finite = pc.is_finite(value)
        if not pc.all(finite).as_py():
            quality = pc.if_else(
                finite, samples["quality"], pa.scalar(int(Quality.BAD), pa.uint8())
            )
            value = pc.if_else(finite, value, pa.scalar(float("nan")))
            samples = samples.set_column(3, "value", value).set_column(4, "quality", quality)
        samples, dropped = _in_time(samples, now_ns)
        refused += dropped
    if events.num_rows:
        events, dropped = _in_time(events, now_ns)
        refused += dropped
    return Readings(samples, events, readings.origin), refused


def _in_time(batch: pa.RecordBatch, now_ns: int) -> tuple[pa.RecordBatch, int]:
    ts = batch["ts"].cast(pa.int64())
    ok = pc.and_(pc.greater_equal(ts, EARLIEST_NS), pc.less_equal(ts, now_ns + FUTURE_NS))
    kept = int(pc.sum(ok).as_py() or 0)
    if kept == batch.num_rows:
        return batch, 0
    return batch.filter(ok), batch.num_rows - kept


class Agent:
    """One plant's edge agent (see the module docstring)."""

    def __init__(
        self,
        plant: Plant,
        *,
        key: str | None = None,
        sources: Sequence[Source] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        shutdown_grace_s: float = 10.0,
        on_force: Callable[[], None] | None = None,
    ) -> None:
        self.plant = plant
        self.name = f"werk[edge:{plant.edge}]"
        self.shutdown_grace_s = shutdown_grace_s
        self.on_force = on_force
        self.sources: list[Source] = (
            list(sources)
            if sources is not None
            else [connector(c.type).open(c) for c in plant.sources if c.enabled]
        )
        self.completeness = Completeness.of(p for s in self.sources for p in s.config.points())
        self.refused_rows = 0
        self.started_at = datetime.now(UTC)
        self.state = "starting"
        self._key = key
        self._transport = transport
        self._pending: list[Readings] = []
        self._pending_rows = 0
        self._flush_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._signals = 0
        self._stack = AsyncExitStack()
        self._source_tasks: list[asyncio.Task[None]] = []
        self._service_tasks: list[asyncio.Task[None]] = []
        self.buffer: Buffer
        self.uplink: Uplink

    async def __aenter__(self) -> Self:
        cfg = self.plant.buffer
        key = self._key or api_key(self.plant.uplink, self.plant.base_dir)
        self.buffer = await asyncio.to_thread(
            Buffer,
            self.plant.resolve(cfg.path),
            budget_bytes=int(cfg.disk_budget_mb * 1024 * 1024),
            overflow=cfg.overflow,
            compression=self.plant.uplink.compression,
            live_window_s=cfg.live_window_s,
        )
        self._stack.push_async_callback(asyncio.to_thread, self.buffer.close)
        self.uplink = await self._stack.enter_async_context(
            Uplink(
                self.plant.uplink,
                edge=self.plant.edge,
                buffer=self.buffer,
                key=key,
                backlog_rate=cfg.backlog_rate,
                transport=self._transport,
            )
        )
        group = await self._stack.enter_async_context(asyncio.TaskGroup())
        for source in self.sources:
            self._source_tasks.append(
                group.create_task(self._pump(source), name=f"{self.name}.{source.config.name}")
            )
        for name, job in (
            ("flush", self._flusher()),
            ("uplink", self._deliver()),
            ("health", self._reporter()),
        ):
            self._service_tasks.append(group.create_task(job, name=f"{self.name}.{name}"))
        self.state = "running"
        log.info("edge %s: running %d source(s)", self.plant.edge, len(self.sources))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.state = "stopping"
        try:
            await _cancel(self._source_tasks)
            await self.flush()
            await _cancel(self._service_tasks)
            drained = await self.uplink.drain(self.shutdown_grace_s)
            stats = await asyncio.to_thread(self.buffer.stats)
            log.info(
                "edge %s: stopped; %s, %d batch(es) with %d row(s) kept on disk",
                self.plant.edge,
                "buffer delivered" if drained else "delivery cut short",
                stats.batches,
                stats.rows,
            )
            self.state = "stopped"
            await self.report(send=False)
        finally:
            await self._stack.__aexit__(None, None, None)

    def stop(self) -> None:
        """Ask the agent to shut down gracefully (what :meth:`wait` waits for)."""
        self._stop.set()

    async def wait(self) -> None:
        """Wait until :meth:`stop` is called (or a signal arrives)."""
        await self._stop.wait()

    def install_signal_handlers(self) -> None:
        """First SIGTERM/SIGINT: graceful stop; the second: ``on_force``."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        self._signals += 1
        if self._signals == 1:
            log.info("edge %s: %s, shutting down (again to force)", self.plant.edge, sig.name)
            self.stop()
        elif self.on_force is not None:
            log.warning("edge %s: second %s, forcing exit", self.plant.edge, sig.name)
            self.on_force()

    async def take(self, readings: Readings) -> None:
        """Take readings from a source: normalize, count, collect (or buffer at once).

        Readings with an ``origin`` are written to the buffer before this returns, so a source
        that resumes after handing them on knows they are on disk.
        """
        readings, refused = normalize(readings, time.time_ns())
        if refused:
            self.refused_rows += refused
            log.warning(
                "edge %s: %d row(s) with a time out of range left out", self.plant.edge, refused
            )
        self.completeness.observe(readings.samples)
        self._pending.append(readings)
        self._pending_rows += readings.samples.num_rows + readings.events.num_rows
        if readings.origin is not None or self._pending_rows >= self.plant.uplink.batch_max_rows:
            await self.flush()

    async def flush(self) -> None:
        """Write collected readings to the buffer now."""
        async with self._flush_lock:
            if not self._pending:
                return
            items, self._pending, self._pending_rows = self._pending, [], 0
            await asyncio.to_thread(
                self.buffer.put, items, max_rows=self.plant.uplink.batch_max_rows
            )
        self._wake.set()

    async def _pump(self, source: Source) -> None:
        backoff = Backoff()
        name = source.config.name
        while True:
            try:
                async with source:
                    backoff.reset()
                    async for readings in source.readings():
                        await self.take(readings)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                source.health.connected = False
                source.health.last_error = f"{type(exc).__name__}: {exc}"
                source.health.reconnects += 1
                if backoff.attempt == 0:
                    log.warning("edge %s: source %s failed: %s", self.plant.edge, name, exc)
            await asyncio.sleep(backoff.next_delay())

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(self.plant.uplink.flush_interval_s)
            await self._guard("flush", self.flush())

    async def _deliver(self) -> None:
        while True:
            await self._guard("uplink", self.uplink.run(self._wake))
            await asyncio.sleep(1.0)

    async def _reporter(self) -> None:
        while True:
            await self._guard("health", self.report(send=True))
            await asyncio.sleep(self.plant.uplink.health_interval_s)

    async def _guard(self, what: str, job: Awaitable[object]) -> None:
        """Run a service step; log an unexpected error instead of stopping the agent."""
        try:
            await job
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("edge %s: %s failed; retrying", self.plant.edge, what)

    async def report(self, *, send: bool) -> dict[str, object]:
        """Build the health report, store it beside the buffer and (optionally) POST it."""
        stats = await asyncio.to_thread(self.buffer.stats)
        up = self.uplink.state
        body = build_report(
            edge=self.plant.edge,
            site=self.plant.site,
            sources={s.config.name: source_report(s.health, s.diagnostics()) for s in self.sources},
            buffer=stats,
            uplink={
                "url": self.plant.uplink.url,
                "connected": up.connected,
                "last_ack_at": up.last_ack_at.isoformat() if up.last_ack_at else None,
                "last_error": up.last_error,
                "sent_batches": up.sent_batches,
                "sent_rows": up.sent_rows,
                "retries": up.retries,
                "recent_dead": up.recent_dead,
            },
            completeness=self.completeness.snapshot(),
            agent={
                "state": self.state,
                "started_at": self.started_at.isoformat(),
                "pending_rows": self._pending_rows,
                "refused_rows": self.refused_rows,
            },
        )
        await asyncio.to_thread(self.buffer.set_meta, "health", json.dumps(body, default=str))
        if send:
            await self.uplink.report(body)
        return body


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
