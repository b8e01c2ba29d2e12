"""Subscribe to JSON topics on an MQTT broker and map each message to samples and events.

Messages are matched first against explicit points (by exact topic), then against the routes in
order; a topic nothing maps is counted (``unmapped``) and ignored. Values are collected into
column lists and handed on every ``flush_interval_ms`` as one batch. The connection is kept up
by one task: a refused connection (wrong credentials, untrusted certificate) is a
:class:`~werk.errors.ConnectorError` kept in the health and logged once, then retried with the
shared backoff, like a broker that is down; the agent keeps running either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import Self

import aiomqtt
from pydantic import ValidationError

from werk.connectors.base import Backoff, Point, PointRole, Readings, SourceConfig, SourceHealth
from werk.connectors.derive import BadReason, Collector
from werk.connectors.mqtt.config import MqttConfig, MqttRoute
from werk.connectors.mqtt.diagnostics import diagnostics
from werk.connectors.mqtt.mapping import map_payload, parse
from werk.connectors.mqtt.session import explain, make_client
from werk.connectors.outbox import Background, Link, Outbox, flush_every
from werk.errors import ConnectorError
from werk.samples import from_ns

_log = logging.getLogger(__name__)

_Target = tuple[Point, str, str | None, str]
"""A point a topic maps to, with its field, timestamp field and timestamp unit."""


class MqttSource:
    """A live MQTT JSON source (satisfies :class:`werk.connectors.base.Source`)."""

    def __init__(self, config: MqttConfig) -> None:
        self.config: SourceConfig = config
        self.cfg = config
        self.health = SourceHealth()
        self.outbox = Outbox()
        self.collector = Collector()
        self.link = Link(_log, f"MQTT {config.name} ({config.host}:{config.port})", self.health)
        self.messages = 0
        self.unmapped = 0
        self.bad_reasons: dict[str, int] = {}
        self._explicit: dict[str, list[_Target]] = {}
        for p in config.points():
            target = (p, p.field, p.timestamp_field, p.timestamp_unit)
            self._explicit.setdefault(p.topic, []).append(target)
        self._routes = [(r, r.regex()) for r in config.routes]
        self._route_cache: dict[str, list[_Target]] = {}
        self._background = Background(f"werk[mqtt:{config.name}]")

    async def __aenter__(self) -> Self:
        await self._background.start(
            {
                "connection": self._run(),
                "flush": flush_every(
                    self.collector, self.outbox, self.cfg.flush_interval_ms / 1000
                ),
            }
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._background.stop()

    def readings(self) -> AsyncIterator[Readings]:
        """Yield batches every ``flush_interval_ms`` while values arrive, forever."""
        return self.outbox.stream()

    async def _run(self) -> None:
        backoff = Backoff()
        topics = self.cfg.subscriptions()
        while True:
            try:
                client = make_client(self.cfg, self.cfg.name)
                async with client:
                    for topic in topics:
                        await client.subscribe(topic, qos=self.cfg.qos)
                    self.link.up()
                    backoff.reset()
                    async for message in client.messages:
                        self.on_message(str(message.topic), message.payload)
            except (aiomqtt.MqttError, ConnectorError, OSError) as exc:
                self.link.down(explain(exc, self.cfg, self.cfg.name).message)
            await asyncio.sleep(backoff.next_delay())

    def _targets(self, topic: str) -> list[_Target]:
        explicit = self._explicit.get(topic)
        if explicit is not None:
            return explicit
        cached = self._route_cache.get(topic)
        if cached is not None:
            return cached
        targets: list[_Target] = []
        for route, regex in self._routes:
            m = regex.match(topic)
            if m is None:
                continue
            point = self._route_point(route, m.groupdict())
            if point is not None:
                targets = [(point, route.field, route.timestamp_field, route.timestamp_unit)]
            break
        if len(self._route_cache) < 1_000_000:  # bounded: a topic flood cannot exhaust memory
            self._route_cache[topic] = targets
        return targets

    def _route_point(self, route: MqttRoute, groups: dict[str, str]) -> Point | None:
        try:
            signal = route.signal.format(**groups)
            if signal in route.exclude:
                return None
            role = route.roles.get(signal, PointRole.VALUE)
            return Point(
                path=route.path.format(**groups),
                signal=signal,
                unit=route.unit,
                role=role,
                value_type="float" if role is PointRole.VALUE else "int",
                states=route.states if role is PointRole.STATE else None,
            )
        except (KeyError, ValueError, ValidationError) as exc:
            # A topic whose segments are no valid path or signal: counted, logged once per topic.
            self.unmapped += 1
            _log.warning(
                "MQTT %s: topic cannot be mapped by %s: %s", self.cfg.name, route.topic, exc
            )
            return None

    def on_message(self, topic: str, payload: bytes | bytearray | str | int | float | None) -> None:
        """Map one message into the collector (the hot path)."""
        self.messages += 1
        targets = self._targets(topic)
        if not targets:
            self.unmapped += 1
            return
        if isinstance(payload, str):
            payload = payload.encode()
        if not isinstance(payload, bytes | bytearray) or not payload:
            return  # an empty retained message deletes a retained value: nothing to map
        doc, error = parse(bytes(payload))
        now_ns = time.time_ns()
        for point, field, ts_field, ts_unit in targets:
            m = map_payload(doc, error, field, ts_field, ts_unit, now_ns)
            if m.reason is not None:
                self._bad(m.reason)
            if m.bad_timestamp:
                self._bad_text("unreadable timestamp")
            if point.role is PointRole.VALUE:
                self.collector.add_ns(point, m.ts_ns, m.value, m.quality, m.status)
            else:
                self.collector.add(point, from_ns(m.ts_ns), m.value, m.quality, m.status)
        self.link.seen()

    def _bad(self, reason: BadReason) -> None:
        self.health.bad_values += 1
        self._bad_text(reason.text)

    def _bad_text(self, text: str) -> None:
        self.bad_reasons[text] = self.bad_reasons.get(text, 0) + 1

    async def read_once(self, wait_s: float = 2.0) -> Readings:
        """Connect, collect what arrives within ``wait_s`` (retained values at once), return it.

        Raises:
            ConnectorError: The broker cannot be reached or refuses the connection.
        """
        client = make_client(self.cfg, f"{self.cfg.name}-test")
        try:
            async with client:
                for topic in self.cfg.subscriptions():
                    await client.subscribe(topic, qos=self.cfg.qos)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait_s):
                        async for message in client.messages:
                            self.on_message(str(message.topic), message.payload)
        except (aiomqtt.MqttError, OSError) as exc:
            failure = explain(exc, self.cfg, self.cfg.name)
        else:
            return self.collector.flush()
        raise failure

    def diagnostics(self) -> Mapping[str, object]:
        """Redacted state for support."""
        return diagnostics(
            self.cfg,
            self.health,
            {"messages": self.messages, "unmapped": self.unmapped},
            self.bad_reasons,
            self.outbox,
        )
