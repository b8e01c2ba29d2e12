"""Subscribe to an OPC UA server: sessions in the agent or in worker processes, batches out.

``workers: 0`` (the default) runs every session on the agent's event loop, sharing one
:class:`~werk.connectors.derive.Collector` that is flushed every ``flush_interval_ms``; above a
few thousand tags, ``workers: N`` moves the sessions into N processes
(:mod:`werk.connectors.opcua.workers`). Either way :meth:`OpcUaSource.readings` yields Arrow
batches from one bounded :class:`~werk.connectors.outbox.Outbox`.

With ``discover:`` the source browses its folder once connected (retrying with backoff while the
server is down) and monitors what it found besides the listed points; a listed point wins over a
discovered one with the same path and signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import Self

from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.uaerrors import UaError

from werk.connectors.base import Backoff, Readings, SourceConfig, SourceHealth
from werk.connectors.derive import Collector
from werk.connectors.opcua.browse import browse
from werk.connectors.opcua.config import OpcUaConfig, OpcUaPoint
from werk.connectors.opcua.diagnostics import diagnostics
from werk.connectors.opcua.mapping import map_value
from werk.connectors.opcua.session import Session, explain, make_client, resolve
from werk.connectors.opcua.workers import WorkerPool, shares
from werk.connectors.outbox import Background, Link, Outbox
from werk.errors import ConnectorError
from werk.samples import Quality, from_ns

_log = logging.getLogger(__name__)


class OpcUaSource:
    """A live OPC UA source (satisfies :class:`werk.connectors.base.Source`)."""

    def __init__(self, config: OpcUaConfig) -> None:
        self.config: SourceConfig = config
        self.cfg = config
        self.health = SourceHealth()
        self.outbox = Outbox()
        self.collector = Collector()
        self.sessions: list[Session] = []
        self.pool: WorkerPool | None = None
        self.points: list[OpcUaPoint] = list(config.points())
        self._background = Background(f"werk[opcua:{config.name}]")

    async def __aenter__(self) -> Self:
        await self._background.start({"run": self._run()})
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._background.stop()

    def readings(self) -> AsyncIterator[Readings]:
        """Yield batches as they are flushed, forever."""
        return self.outbox.stream()

    async def _run(self) -> None:
        if self.cfg.discover is not None:
            await self._discover()
        if self.cfg.workers > 0:
            self.pool = WorkerPool(self.cfg, self.points, self.outbox, self.health)
            await self.pool.run()
            return
        self.sessions = [
            Session(self.cfg, share, self.collector, self.health, label=f"session {i}")
            for i, share in enumerate(shares(self.points, self.cfg.items_per_session))
        ]
        async with asyncio.TaskGroup() as group:
            for i, s in enumerate(self.sessions):
                group.create_task(s.run(), name=f"werk[opcua:{self.cfg.name}].session{i}")
            group.create_task(self._flush(), name=f"werk[opcua:{self.cfg.name}].flush")

    async def _flush(self) -> None:
        interval = self.cfg.flush_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            if len(self.collector):
                self.outbox.put(self.collector.flush())
            self.health.connected = all(s.link.health.connected for s in self.sessions)

    async def _discover(self) -> None:
        assert self.cfg.discover is not None
        backoff = Backoff()
        link = Link(_log, f"OPC UA {self.cfg.name} discovery", self.health)
        while True:
            try:
                client = await make_client(self.cfg)
                async with asyncio.timeout(self.cfg.timeout_s * 3):
                    await client.connect()
                try:
                    devices = await browse(client, self.cfg.discover)
                finally:
                    with contextlib.suppress(Exception):
                        await client.disconnect()
                break
            except (ConnectorError, OSError, TimeoutError, UaError, ConnectionError) as exc:
                link.down(explain(exc, self.cfg).message)
            await asyncio.sleep(backoff.next_delay())
        listed = {(p.path, p.signal) for p in self.points}
        found = [p for d in devices for p in d.points if (p.path, p.signal) not in listed]
        _log.info("OPC UA %s: discovered %d points", self.cfg.name, len(found))
        self.points += found
        self.health.extra["discovered"] = len(found)

    async def read_once(self) -> Readings:
        """Read every listed point once with one session (``werk edge test``).

        Raises:
            ConnectorError: The server cannot be reached.
        """
        client = await make_client(self.cfg)
        try:
            async with asyncio.timeout(self.cfg.timeout_s * 3):
                await client.connect()
        except (OSError, TimeoutError, UaError, ConnectionError) as exc:
            raise explain(exc, self.cfg) from exc
        collector = Collector()
        try:
            cache: dict[str, int] = {}
            now_ns = time.time_ns()
            points = list(self.cfg.points())
            for start in range(0, len(points), 1000):
                chunk = points[start : start + 1000]
                nodes, ok = [], []
                for p in chunk:
                    try:
                        nodes.append(client.get_node(await resolve(client, p.node, cache)))
                        ok.append(p)
                    except (ValueError, UaError):
                        collector.add_ns(
                            p, now_ns, float("nan"), Quality.BAD, StatusCodes.BadNodeIdUnknown
                        )
                for p, dv in zip(ok, await client.read_attributes(nodes), strict=True):
                    value = dv.Value.Value if dv.Value is not None else None
                    status = dv.StatusCode.value if dv.StatusCode is not None else 0
                    ts, number, quality, code = map_value(
                        value, status, dv.SourceTimestamp, dv.ServerTimestamp, now_ns
                    )
                    collector.add(p, from_ns(ts), number, quality, code or None)
        finally:
            with contextlib.suppress(Exception):
                await client.disconnect()
        return collector.flush()

    def diagnostics(self) -> Mapping[str, object]:
        """Redacted state for support."""
        return diagnostics(
            self.cfg,
            self.health,
            {
                "points_monitored": len(self.points),
                "sessions": len(self.sessions)
                or len(shares(self.points, self.cfg.items_per_session)),
                "notifications": sum(s.notifications for s in self.sessions),
                "dropped_batches": self.outbox.dropped_batches,
                "dropped_samples": self.outbox.dropped_samples,
                "counter_resets": self.collector.deriver.resets,
            },
        )
