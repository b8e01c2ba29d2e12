"""Be a Sparkplug B host application: births, data by alias, deaths, rebirths, STATE.

Behaviour, clause by clause (Sparkplug 3.0; ``standards.md`` §2.5):

* On connect the host registers ``spBv1.0/STATE/<host_id>`` = ``{"online": false, "timestamp":
  T}`` as its Will (QoS 1, retained), subscribes to its group, then publishes ``{"online": true,
  "timestamp": T}`` retained with the same T; leaving publishes the offline message itself.
* NBIRTH starts a node session (seq 0, its ``bdSeq``, its aliases); DBIRTH adds a device's
  aliases. Birth values of mapped metrics are samples like any other.
* NDATA/DDATA are decoded by alias through the birth's table. A message whose ``seq`` is not the
  previous + 1 (mod 256), an alias no birth declared, or data from a node whose NBIRTH the host
  never saw (it started later) triggers a rebirth request: NCMD ``Node Control/Rebirth`` = true,
  at most one per ``rebirth_interval_s`` per node. Until the new NBIRTH arrives, that node's
  values are UNCERTAIN.
* NDEATH whose ``bdSeq`` matches the current NBIRTH (a stale one of an older session is ignored)
  marks every mapped signal of the node stale: one sample per signal with the last value, quality
  BAD (or UNCERTAIN, ``stale_quality``) and status BadNoCommunication; DDEATH does so for one
  device. A lost broker connection does the same for every node (the host cannot know them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Mapping
from typing import Self

import aiomqtt
from pydantic import ValidationError

from werk.codecs.sparkplug import (
    DataType,
    MessageType,
    Metric,
    Payload,
    Topic,
    UnknownMetric,
    decode_payload,
    encode_payload,
)
from werk.connectors.base import Backoff, Point, PointRole, Readings, SourceConfig, SourceHealth
from werk.connectors.derive import BadReason, Collector
from werk.connectors.mqtt.session import explain, make_client
from werk.connectors.outbox import Background, Link, Outbox, flush_every
from werk.connectors.sparkplug.config import SparkplugConfig
from werk.connectors.sparkplug.diagnostics import diagnostics
from werk.connectors.sparkplug.mapping import NodeSession, map_metric
from werk.errors import ConnectorError, PayloadError
from werk.samples import Quality, from_ns

_log = logging.getLogger(__name__)

REBIRTH = "Node Control/Rebirth"
_Key = tuple[str, str]
"""(group_id, edge_node_id)."""


class SparkplugSource:
    """A Sparkplug B host application (satisfies :class:`werk.connectors.base.Source`)."""

    def __init__(self, config: SparkplugConfig) -> None:
        self.config: SourceConfig = config
        self.cfg = config
        self.health = SourceHealth()
        self.outbox = Outbox()
        self.collector = Collector()
        self.link = Link(
            _log, f"Sparkplug host {config.host_id} ({config.host}:{config.port})", self.health
        )
        self.nodes: dict[_Key, NodeSession] = {}
        self.counters: dict[str, int] = {
            "messages": 0,
            "births": 0,
            "deaths": 0,
            "stale_deaths_ignored": 0,
            "seq_gaps": 0,
            "unknown_aliases": 0,
            "rebirth_requests": 0,
            "undecodable": 0,
        }
        self.bad_reasons: dict[str, int] = {}
        # (group, node, device or None, metric name) → points mapped to it
        self._points: dict[tuple[str, str, str | None, str], list[Point]] = {}
        for d in config.devices:
            group = d.group_id or config.group_id
            for p in d.points:
                self._points.setdefault((group, d.edge_node_id, d.device_id, p.metric), []).append(
                    p
                )
        self._last: dict[tuple[str, str], float] = {}
        self._client: aiomqtt.Client | None = None
        self._state_ts = 0
        self._background = Background(f"werk[sparkplug:{config.name}]")

    # -- lifecycle ------------------------------------------------------------------------------

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
        client = self._client
        if client is not None:
            # Spec: a host that disconnects on purpose publishes its offline STATE itself.
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                async with asyncio.timeout(3):
                    await client.publish(self._state_topic, self._state(False), qos=1, retain=True)
        await self._background.stop()

    def readings(self) -> AsyncIterator[Readings]:
        """Yield batches every ``flush_interval_ms`` while messages arrive, forever."""
        return self.outbox.stream()

    @property
    def _state_topic(self) -> str:
        return f"spBv1.0/STATE/{self.cfg.host_id}"

    def _state(self, online: bool) -> bytes:
        return json.dumps({"online": online, "timestamp": self._state_ts}).encode()

    async def _run(self) -> None:
        backoff = Backoff()
        while True:
            # Spec: the Will's timestamp and the online message's are the same.
            self._state_ts = time.time_ns() // 1_000_000
            will = aiomqtt.Will(self._state_topic, self._state(False), qos=1, retain=True)
            try:
                client = make_client(self.cfg, self.cfg.name, will=will)
                async with client:
                    await client.subscribe(f"spBv1.0/{self.cfg.group_id}/#", qos=0)
                    for group in {d.group_id for d in self.cfg.devices if d.group_id}:
                        await client.subscribe(f"spBv1.0/{group}/#", qos=0)
                    await client.publish(self._state_topic, self._state(True), qos=1, retain=True)
                    self._client = client
                    self.link.up()
                    backoff.reset()
                    async for message in client.messages:
                        await self.on_message(str(message.topic), message.payload)
            except (aiomqtt.MqttError, ConnectorError, OSError) as exc:
                self.link.down(explain(exc, self.cfg, self.cfg.name).message)
            finally:
                self._client = None
            # The host cannot tell what happened to the nodes while it was away: all stale.
            now_ns = time.time_ns()
            for key, node in self.nodes.items():
                if node.online:
                    self._stale(key, None, now_ns)
                    node.death()
            await asyncio.sleep(backoff.next_delay())

    # -- messages -------------------------------------------------------------------------------

    async def on_message(self, topic: str, payload: object) -> None:
        """Handle one Sparkplug message (public for tests that replay recorded traffic)."""
        self.counters["messages"] += 1
        try:
            t = Topic.parse(topic)
        except PayloadError:
            return
        if t.message_type in (MessageType.STATE, MessageType.NCMD, MessageType.DCMD):
            return
        if not isinstance(payload, bytes | bytearray):
            return
        key = (t.group_id, t.edge_node_id)
        node = self.nodes.setdefault(key, NodeSession())
        now_ns = time.time_ns()
        try:
            raw = decode_payload(bytes(payload))
        except PayloadError as exc:
            self.counters["undecodable"] += 1
            _log.warning(
                "Sparkplug %s: undecodable %s on %s: %s", self.cfg.name, t.message_type, topic, exc
            )
            await self._rebirth(key, node, "undecodable payload")
            return
        kind = t.message_type
        if kind is MessageType.NBIRTH:
            self.counters["births"] += 1
            try:
                node.birth(raw)
            except PayloadError as exc:
                await self._rebirth(key, node, f"bad NBIRTH: {exc.message}")
                return
            self._values(key, None, raw, raw.metrics, now_ns, node)
            return
        if kind is MessageType.NDEATH:
            if not node.death_matches(raw):
                # An NDEATH of an older session (its Will fired late): the node is alive.
                self.counters["stale_deaths_ignored"] += 1
                return
            self.counters["deaths"] += 1
            self._stale(key, None, now_ns)
            node.death()
            return
        if not node.online:
            # Data from a node whose NBIRTH this host never saw (or after its death).
            await self._rebirth(key, node, f"{kind} from a node without a birth")
            return
        if not node.check_seq(raw.seq):
            self.counters["seq_gaps"] += 1
            await self._rebirth(key, node, f"seq gap at {raw.seq}")
        device = t.device_id
        if kind is MessageType.DBIRTH:
            assert device is not None
            try:
                node.aliases.learn(raw, device)
            except PayloadError as exc:
                await self._rebirth(key, node, f"bad DBIRTH of {device}: {exc.message}")
                return
            node.devices.add(device)
            self._auto_map(key, device, raw)
            self._values(key, device, raw, raw.metrics, now_ns, node)
        elif kind is MessageType.DDEATH:
            assert device is not None
            self._stale(key, device, now_ns)
            node.devices.discard(device)
        elif kind in (MessageType.NDATA, MessageType.DDATA):
            try:
                resolved = node.aliases.resolve(raw, device)
            except UnknownMetric as exc:
                self.counters["unknown_aliases"] += 1
                await self._rebirth(key, node, exc.message)
                return
            except PayloadError as exc:
                self.counters["undecodable"] += 1
                await self._rebirth(key, node, exc.message)
                return
            self._values(key, device, resolved, resolved.metrics, now_ns, node)

    def _values(
        self,
        key: _Key,
        device: str | None,
        payload: Payload,
        metrics: tuple[Metric, ...],
        now_ns: int,
        node: NodeSession,
    ) -> None:
        group, edge = key
        seen = False
        for m in metrics:
            if m.name is None:
                continue
            points = self._points.get((group, edge, device, m.name))
            if not points:
                continue
            ts, value, quality, status, bad = map_metric(m, payload, now_ns, node.suspect)
            if bad is not None:
                self.health.bad_values += 1
                self.bad_reasons[bad.text] = self.bad_reasons.get(bad.text, 0) + 1
            for p in points:
                if not math.isnan(value):
                    self._last[(p.path, p.signal)] = value
                if p.role is PointRole.VALUE:
                    self.collector.add_ns(p, ts, value, quality, status)
                else:
                    self.collector.add(p, from_ns(ts), value, quality, status)
            seen = True
        if seen:
            self.link.seen()

    def _stale(self, key: _Key, device: str | None, now_ns: int) -> None:
        """Send one stale sample for every mapped signal of a dead node (or one device)."""
        group, edge = key
        quality = Quality.BAD if self.cfg.stale_quality == "bad" else Quality.UNCERTAIN
        status = BadReason.STALE.status if quality is Quality.BAD else 0x408F0000
        for (g, e, d, _), points in self._points.items():
            if g != group or e != edge or (device is not None and d != device):
                continue
            for p in points:
                value = self._last.get((p.path, p.signal), math.nan)
                # Stale samples carry no new information for events: add_ns derives nothing.
                self.collector.add_ns(p, now_ns, value, quality, status)

    def _auto_map(self, key: _Key, device: str, birth: Payload) -> None:
        """Map an unlisted device from its DBIRTH's Properties/AssetPath (``auto_devices``)."""
        group, edge = key
        if not self.cfg.auto_devices or any(
            (g, e, d) == (group, edge, device) for g, e, d, _ in self._points
        ):
            return
        asset = birth.metric("Properties/AssetPath")
        if asset is None or not isinstance(asset.value, str):
            return
        for m in birth.metrics:
            if m.name is None or m.datatype in (DataType.STRING, DataType.TEXT, DataType.UUID):
                continue
            role = self.cfg.auto_roles.get(m.name, PointRole.VALUE)
            signal = m.name.rsplit("/", 1)[-1]
            signal = "".join(c if c.isalnum() else "_" for c in signal)
            signal = "".join(
                f"_{c.lower()}" if c.isupper() and i and signal[i - 1].islower() else c.lower()
                for i, c in enumerate(signal)
            )
            try:
                point = Point(
                    path=asset.value,
                    signal=signal,
                    role=role,
                    value_type="float" if role is PointRole.VALUE else "int",
                    states=self.cfg.auto_states if role is PointRole.STATE else None,
                )
            except ValidationError:
                continue
            self._points.setdefault((group, edge, device, m.name), []).append(point)

    async def _rebirth(self, key: _Key, node: NodeSession, why: str) -> None:
        """Ask an edge node to publish its births again (NCMD Node Control/Rebirth = true)."""
        node.suspect = True
        client = self._client
        now = time.monotonic()
        if client is None or now - node.last_rebirth_request < self.cfg.rebirth_interval_s:
            return
        node.last_rebirth_request = now
        self.counters["rebirth_requests"] += 1
        group, edge = key
        _log.info("Sparkplug %s: rebirth of %s/%s requested (%s)", self.cfg.name, group, edge, why)
        command = Payload(
            timestamp=time.time_ns() // 1_000_000,
            metrics=(Metric(REBIRTH, None, None, DataType.BOOLEAN, True),),
        )
        topic = str(Topic(group, MessageType.NCMD, edge))
        with contextlib.suppress(aiomqtt.MqttError):
            await client.publish(topic, encode_payload(command), qos=0)

    # -- test and support -----------------------------------------------------------------------

    async def read_once(self, wait_s: float = 3.0) -> Readings:
        """Connect, ask every listed node for a rebirth, return what the births carried.

        Raises:
            ConnectorError: The broker cannot be reached or refuses the connection.
        """
        client = make_client(self.cfg, f"{self.cfg.name}-test")
        try:
            async with client:
                self._client = client
                await client.subscribe(f"spBv1.0/{self.cfg.group_id}/#", qos=0)
                for g, e in {
                    (d.group_id or self.cfg.group_id, d.edge_node_id) for d in self.cfg.devices
                }:
                    node = self.nodes.setdefault((g, e), NodeSession())
                    await self._rebirth((g, e), node, "werk edge test")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait_s):
                        async for message in client.messages:
                            await self.on_message(str(message.topic), message.payload)
        except (aiomqtt.MqttError, OSError) as exc:
            failure = explain(exc, self.cfg, self.cfg.name)
        else:
            return self.collector.flush()
        finally:
            self._client = None
        raise failure

    def diagnostics(self) -> Mapping[str, object]:
        """Redacted state for support."""
        return diagnostics(self.cfg, self.health, self.counters, self.bad_reasons, self.nodes)
