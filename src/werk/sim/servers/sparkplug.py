"""Publish a simulated site as Sparkplug B edge nodes on an MQTT broker (aiomqtt).

Topic namespace (``spBv1.0/<group_id>/<message type>/<edge_node_id>[/<device_id>]``):

* ``group_id`` — the site slug (``acme/wob`` → ``wob``);
* ``edge_node_id`` — one edge node per production line: the line's path below the site with
  ``/`` replaced by ``.`` (``body/line-1`` → ``body.line-1``), unique within the site even when
  two areas both have a ``line-1``;
* ``device_id`` — one device per machine: its path below the line, ``.``-joined (usually just
  the machine slug, ``press-01``).

Metrics (every BIRTH metric has a name, an alias unique across the edge node, a datatype and a
timestamp; DATA metrics have alias, timestamp and value only):

================================  ========  ======================================================
metric                            datatype  value
================================  ========  ======================================================
NBIRTH ``bdSeq``                  UInt64    birth/death sequence of this MQTT session (0–255)
NBIRTH ``Node Control/Rebirth``   Boolean   false; an NCMD setting it true triggers a rebirth
NBIRTH ``Properties/Line``        String    the line's asset path
``Status/State``                  UInt16    state code (``werk.sim.view.STATE_CODES``)
``Status/StateName``              String    ``executing``, ``failure``, ...
``Status/Reason``                 String    reason code, null when none
``Production/GoodParts``          UInt16    PLC counter, wraps at 65536
``Production/ScrapParts``         UInt16    PLC counter, wraps at 65536
``Production/Product``            String    product id, null when none
``Production/Order``              String    order id, null when none
``Properties/Vendor``, ``/Serial``,
``/MachineType``, ``/AssetPath``  String    nameplate (BIRTH only, never change)
``Signals/<signal>``              Double    with properties ``engUnit`` (String), ``engLow`` and
                                            ``engHigh`` (Double) in the DBIRTH
================================  ========  ======================================================

Behaviour, clause by clause (Sparkplug 3.0; see ``standards.md`` §2.5):

* Each edge node is its own MQTT client (``werk-sim/<group>/<edge node>``). Its CONNECT
  registers the NDEATH as the Will (QoS 1, not retained) holding only ``bdSeq``; the NBIRTH that
  follows carries the same ``bdSeq``. ``bdSeq`` starts at 0 and goes up by one on every new
  CONNECT (wrapping after 255), so a host can pair each NDEATH with its NBIRTH.
* The node subscribes to its NCMD and DCMD topics before publishing the NBIRTH (seq 0), then one
  DBIRTH per device (seq 1, 2, ...). ``seq`` counts every node and device message of the MQTT
  session, 0–255, wrapping to 0; NDEATH has no seq.
* :meth:`SparkplugSilo.update` publishes one DDATA per device whose metrics changed, with only
  the changed metrics, by alias, without names or datatypes (report by exception).
* An NCMD with ``Node Control/Rebirth`` = true makes the node publish NBIRTH (seq 0, same
  ``bdSeq`` — no new CONNECT) and all DBIRTHs again with current values.
* Leaving the context publishes the NDEATH itself before disconnecting, as the spec asks of an
  intentional disconnect (the broker drops the Will on a clean DISCONNECT).
* A lost connection is retried with capped, jittered exponential backoff; values of the ticks in
  between are not buffered (a simulator has nothing to catch up on: the next birth carries the
  current values).
* Timestamps (payload and metric) are the simulated time in ms since the epoch.
* A primary host's STATE topic is not awaited: the simulator publishes as soon as it is
  connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType

import aiomqtt

from werk.codecs.sparkplug import (
    AliasTable,
    DataType,
    MessageType,
    Metric,
    MetricValue,
    Payload,
    PropertySet,
    PropertyValue,
    Topic,
    encode_payload,
)
from werk.errors import ConfigError, PayloadError
from werk.samples import to_ns
from werk.sim.servers.silo import backoff_delays, relative_path, site_segments
from werk.sim.view import STATE_CODES, MachineView, SiteView

_log = logging.getLogger(__name__)

REBIRTH = "Node Control/Rebirth"


@dataclass(slots=True)
class _DeviceMetric:
    name: str
    alias: int
    datatype: DataType
    read: Callable[[], MetricValue]
    properties: PropertySet | None = None


@dataclass(slots=True)
class _Device:
    device_id: str
    machine: MachineView
    metrics: list[_DeviceMetric] = field(default_factory=list)
    last: dict[int, MetricValue] = field(default_factory=dict)


def _device_metrics(machine: MachineView, next_alias: Callable[[], int]) -> list[_DeviceMetric]:
    m = machine

    def const(value: str) -> Callable[[], MetricValue]:
        return lambda: value

    def signal(name: str) -> Callable[[], MetricValue]:
        return lambda: float(m.signals()[name])

    metrics = [
        _DeviceMetric("Status/State", next_alias(), DataType.UINT16, lambda: STATE_CODES[m.state]),
        _DeviceMetric("Status/StateName", next_alias(), DataType.STRING, lambda: str(m.state)),
        _DeviceMetric("Status/Reason", next_alias(), DataType.STRING, lambda: m.reason),
        _DeviceMetric(
            "Production/GoodParts", next_alias(), DataType.UINT16, lambda: m.good_counter & 0xFFFF
        ),
        _DeviceMetric(
            "Production/ScrapParts",
            next_alias(),
            DataType.UINT16,
            lambda: m.scrap_counter & 0xFFFF,
        ),
        _DeviceMetric("Production/Product", next_alias(), DataType.STRING, lambda: m.product),
        _DeviceMetric("Production/Order", next_alias(), DataType.STRING, lambda: m.order),
        _DeviceMetric("Properties/Vendor", next_alias(), DataType.STRING, const(m.vendor)),
        _DeviceMetric("Properties/Serial", next_alias(), DataType.STRING, const(m.serial)),
        _DeviceMetric(
            "Properties/MachineType", next_alias(), DataType.STRING, const(m.machine_type)
        ),
        _DeviceMetric("Properties/AssetPath", next_alias(), DataType.STRING, const(m.path)),
    ]
    for spec in m.signal_specs:
        props = PropertySet.of(
            {
                "engUnit": PropertyValue(DataType.STRING, spec.unit),
                "engLow": PropertyValue(DataType.DOUBLE, float(spec.low)),
                "engHigh": PropertyValue(DataType.DOUBLE, float(spec.high)),
            }
        )
        metrics.append(
            _DeviceMetric(
                f"Signals/{spec.name}", next_alias(), DataType.DOUBLE, signal(spec.name), props
            )
        )
    return metrics


class EdgeNode:
    """One Sparkplug edge node (a production line) and its MQTT session."""

    def __init__(
        self,
        silo: SparkplugSilo,
        group_id: str,
        edge_node_id: str,
        line: str,
        machines: Sequence[tuple[str, MachineView]],
    ) -> None:
        self.silo = silo
        self.group_id = group_id
        self.edge_node_id = edge_node_id
        self.line = line
        alias = iter(range(1, 1 << 32))
        self._node_aliases = {"bdSeq": next(alias), REBIRTH: next(alias), "line": next(alias)}
        self.devices = [
            _Device(device_id, m, _device_metrics(m, lambda: next(alias)))
            for device_id, m in machines
        ]
        self.bd_seq = 0
        """bdSeq of the current (or next) MQTT session."""
        self.seq = 0
        """seq of the next message."""
        self.births = 0
        """NBIRTHs published so far (a rebirth counts)."""
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._lock = asyncio.Lock()
        self._commands = AliasTable()

    def topic(self, kind: MessageType, device_id: str | None = None) -> str:
        """Return the topic of a message of this node."""
        return str(Topic(self.group_id, kind, self.edge_node_id, device_id))

    def _now_ms(self) -> int:
        return to_ns(self.silo.site.now()) // 1_000_000

    def _death(self) -> bytes:
        # NDEATH: bdSeq only, no seq (spec: "Every NDEATH message MUST NOT include a sequence
        # number"); it is fixed at CONNECT time, so its timestamp is the connect time.
        bd = Metric("bdSeq", None, self._now_ms(), DataType.UINT64, self.bd_seq)
        return encode_payload(Payload(timestamp=self._now_ms(), metrics=(bd,)))

    def _next_seq(self) -> int:
        seq = self.seq
        self.seq = (seq + 1) & 0xFF
        return seq

    async def run(self) -> None:
        """Keep the MQTT session up: connect, birth, answer commands; reconnect when lost."""
        delays = backoff_delays()
        lost = False
        while not self.silo.is_closing():
            will = aiomqtt.Will(self.topic(MessageType.NDEATH), self._death(), qos=1, retain=False)
            client = aiomqtt.Client(
                self.silo.mqtt_host,
                self.silo.mqtt_port,
                identifier=f"werk-sim/{self.group_id}/{self.edge_node_id}",
                will=will,
                clean_session=True,
                keepalive=10,
                timeout=5,
            )
            try:
                async with client:
                    # Spec: subscribe to NCMD/DCMD before publishing the NBIRTH.
                    await client.subscribe(self.topic(MessageType.NCMD), qos=0)
                    dcmd = f"spBv1.0/{self.group_id}/DCMD/{self.edge_node_id}/+"
                    await client.subscribe(dcmd, qos=0)
                    async with self._lock:
                        self._client = client
                        await self._birth()
                    self.connected.set()
                    if lost:
                        _log.info("Sparkplug edge node %s reconnected", self.edge_node_id)
                        lost = False
                    delays = backoff_delays()
                    async for message in client.messages:
                        await self._command(message)
            except aiomqtt.MqttError as exc:
                if not lost and not self.silo.is_closing():
                    _log.warning(
                        "Sparkplug edge node %s lost its broker %s:%s: %s",
                        self.edge_node_id,
                        self.silo.mqtt_host,
                        self.silo.mqtt_port,
                        exc,
                    )
                lost = True
            finally:
                self._client = None
                self.connected.clear()
            if self.silo.is_closing():
                return
            # Spec: bdSeq goes up by one on every new MQTT CONNECT, wrapping after 255.
            self.bd_seq = (self.bd_seq + 1) & 0xFF
            await asyncio.sleep(next(delays))

    async def _publish(self, topic: str, payload: Payload, *, datatypes: bool) -> None:
        client = self._client
        if client is None:
            return
        await client.publish(topic, encode_payload(payload, datatypes=datatypes), qos=0)

    async def _birth(self) -> None:
        """Publish NBIRTH (seq 0) and every DBIRTH; caller holds the lock."""
        ts = self._now_ms()
        self.seq = 0
        nbirth = (
            Metric("bdSeq", self._node_aliases["bdSeq"], ts, DataType.UINT64, self.bd_seq),
            Metric(REBIRTH, self._node_aliases[REBIRTH], ts, DataType.BOOLEAN, False),
            Metric("Properties/Line", self._node_aliases["line"], ts, DataType.STRING, self.line),
        )
        birth = Payload(timestamp=ts, metrics=nbirth, seq=self._next_seq())
        self._commands.learn(birth)
        await self._publish(self.topic(MessageType.NBIRTH), birth, datatypes=True)
        self.births += 1
        for device in self.devices:
            metrics = []
            device.last.clear()
            for dm in device.metrics:
                value = dm.read()
                device.last[dm.alias] = value
                metrics.append(
                    Metric(dm.name, dm.alias, ts, dm.datatype, value, properties=dm.properties)
                )
            payload = Payload(timestamp=ts, metrics=tuple(metrics), seq=self._next_seq())
            await self._publish(
                self.topic(MessageType.DBIRTH, device.device_id), payload, datatypes=True
            )

    async def _command(self, message: aiomqtt.Message) -> None:
        topic = str(message.topic)
        if not topic.startswith(self.topic(MessageType.NCMD)):
            return  # DCMD: the simulated machines accept no writes
        try:
            command = self._commands.decode(message.payload)
        except PayloadError as exc:
            _log.warning("ignoring malformed NCMD for %s: %s", self.edge_node_id, exc)
            return
        rebirth = command.metric(REBIRTH)
        if rebirth is not None and rebirth.value is True:
            _log.info("rebirth requested for Sparkplug edge node %s", self.edge_node_id)
            async with self._lock:
                await self._birth()

    async def update(self) -> None:
        """Publish a DDATA for each device whose metrics changed."""
        if self._client is None:
            return
        async with self._lock:
            ts = self._now_ms()
            for device in self.devices:
                changed = []
                last = device.last
                for dm in device.metrics:
                    value = dm.read()
                    if dm.alias not in last or last[dm.alias] != value:
                        last[dm.alias] = value
                        changed.append(Metric(None, dm.alias, ts, dm.datatype, value))
                if changed:
                    payload = Payload(timestamp=ts, metrics=tuple(changed), seq=self._next_seq())
                    await self._publish(
                        self.topic(MessageType.DDATA, device.device_id), payload, datatypes=False
                    )

    async def die(self) -> None:
        """Publish the NDEATH before an intentional disconnect (QoS 1, as the Will)."""
        client = self._client
        if client is None:
            return
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            async with asyncio.timeout(5):
                await client.publish(self.topic(MessageType.NDEATH), self._death(), qos=1)


class SparkplugSilo:
    """Sparkplug B edge nodes (one per line) for one site (see the module docstring)."""

    def __init__(
        self,
        site: SiteView,
        *,
        mqtt_host: str = "127.0.0.1",
        mqtt_port: int = 1883,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self.site = site
        self.mqtt_host = mqtt_host
        self.mqtt_port = mqtt_port
        self.connect_timeout_s = connect_timeout_s
        _, self.group_id = site_segments(site)
        self.endpoint = f"mqtt://{mqtt_host}:{mqtt_port}/spBv1.0/{self.group_id}"
        self.closing = False
        lines: dict[str, list[tuple[str, MachineView]]] = {}
        for machine in site.machines:
            parts = relative_path(site, machine).split("/")
            if len(parts) < 3:
                raise ConfigError(
                    f"machine {machine.path} is not below a line (area/line/machine)",
                    key="sim.machine_without_line",
                    path=machine.path,
                    site=site.path,
                )
            lines.setdefault(".".join(parts[:2]), []).append((".".join(parts[2:]), machine))
        self.nodes = [
            EdgeNode(self, self.group_id, edge, f"{site.path}/{edge.replace('.', '/')}", ms)
            for edge, ms in lines.items()
        ]
        self._tasks: list[asyncio.Task[None]] = []
        self._group: asyncio.TaskGroup | None = None

    async def __aenter__(self) -> SparkplugSilo:
        self.closing = False
        self._group = asyncio.TaskGroup()
        await self._group.__aenter__()
        for node in self.nodes:
            self._tasks.append(
                self._group.create_task(
                    node.run(), name=f"werk[sim:{self.site.path}].sparkplug.{node.edge_node_id}"
                )
            )
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                await asyncio.gather(*(node.connected.wait() for node in self.nodes))
        except asyncio.CancelledError:
            # A node task failed and the task group cancelled us: close it to surface the error.
            await self.__aexit__(None, None, None)
            raise
        except TimeoutError:
            await self.__aexit__(None, None, None)
            raise ConfigError(
                f"the MQTT broker {self.mqtt_host}:{self.mqtt_port} of site {self.site.path} "
                f"did not accept a connection within {self.connect_timeout_s:g} s",
                key="sim.broker_unreachable",
                field="mqtt_port",
                host=self.mqtt_host,
                port=self.mqtt_port,
                site=self.site.path,
            ) from None
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.closing = True
        await asyncio.gather(*(node.die() for node in self.nodes))
        for task in self._tasks:
            task.cancel()
        if self._group is not None:
            group, self._group = self._group, None
            await group.__aexit__(None, None, None)
        self._tasks.clear()

    def is_closing(self) -> bool:
        """Tell whether the silo is shutting down (node tasks then stop reconnecting)."""
        return self.closing

    async def update(self) -> None:
        """Publish the changes of every edge node."""
        for node in self.nodes:
            await node.update()
