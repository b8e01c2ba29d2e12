"""Publish a simulated site as JSON on unified-namespace MQTT topics (UMH classic v1 style).

Topic of one value of one machine (the machine's ISA-95 path, one segment per level)::

    umh/v1/<enterprise>/<site>/<area>/<line>[/<cell>]/<machine>/_historian/<tag>
    e.g. umh/v1/acme/wob/body/line-1/press-01/_historian/spindle_temp

Payload, UTF-8 JSON: ``{"timestamp_ms": <simulated time, ms since epoch>, "value": <value>}``.

=================  ============  =========  ==================================================
tag                value         retained   meaning
=================  ============  =========  ==================================================
``<signal>``       number        no         every signal of the machine type, by its name
``state``          integer       yes        state code (``werk.sim.view.STATE_CODES``)
``state_name``     string        yes        ``executing``, ``failure``, ...
``reason``         string/null   yes        reason code of the current state
``good_counter``   integer       yes        PLC good-part counter (UInt16, wraps)
``scrap_counter``  integer       yes        PLC scrap counter (UInt16, wraps)
``product``        string/null   yes        product being made
``order``          string/null   yes        production order
=================  ============  =========  ==================================================

Messages are QoS 0 and sent only when a value changes (report by exception); the first update
after a (re)connect sends everything. The slow-changing context tags are retained, as UNS gateways
do, so a subscriber that joins late learns a machine's state at once; closing the silo clears
those retained messages, so a stopped simulator leaves no stale state in the broker. Messages are
idempotent by ``(topic, timestamp_ms)``, as the UMH ``_historian`` contract expects.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

import aiomqtt
import paho.mqtt.client as mqtt

from werk.errors import ConfigError
from werk.samples import to_ns
from werk.sim.servers.silo import backoff_delays
from werk.sim.view import STATE_CODES, MachineView, SiteView

_log = logging.getLogger(__name__)

PREFIX = "umh/v1"
MAX_QUEUED = 100_000
"""Outgoing messages the client may hold before publishing drops the newest (counted)."""
_YIELD_EVERY = 500

Value = float | int | str | None


@dataclass(slots=True)
class _Tag:
    topic: str
    read: Callable[[], Value]
    retain: bool
    last: Value = None
    sent: bool = False


def topic(machine_path: str, tag: str) -> str:
    """Return the topic of one tag of one machine."""
    return f"{PREFIX}/{machine_path}/_historian/{tag}"


def _context_tags(m: MachineView) -> dict[str, Callable[[], Value]]:
    return {
        "state": lambda: STATE_CODES[m.state],
        "state_name": lambda: str(m.state),
        "reason": lambda: m.reason,
        "good_counter": lambda: m.good_counter & 0xFFFF,
        "scrap_counter": lambda: m.scrap_counter & 0xFFFF,
        "product": lambda: m.product,
        "order": lambda: m.order,
    }


class MqttJsonSilo:
    """JSON on UNS topics for one site (see the module docstring)."""

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
        self.endpoint = f"mqtt://{mqtt_host}:{mqtt_port}/{PREFIX}/{site.path}"
        self._machines: list[tuple[MachineView, list[tuple[str, _Tag]], list[_Tag]]] = []
        for m in site.machines:
            signals = [
                (s.name, _Tag(topic(m.path, s.name), _no_reader, retain=False))
                for s in m.signal_specs
            ]
            context = [_Tag(topic(m.path, k), r, retain=True) for k, r in _context_tags(m).items()]
            self._machines.append((m, signals, context))
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.published = 0
        """Messages published so far."""
        self.dropped = 0
        """Messages not published because the connection was down or its queue full."""

    async def __aenter__(self) -> MqttJsonSilo:
        self._closing = False
        self._task = asyncio.create_task(self._run(), name=f"werk[sim:{self.site.path}].mqtt_json")
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                await self._connected.wait()
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
        await self.update()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing = True
        client = self._client
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                async with asyncio.timeout(5), self._lock:
                    for _, _, context in self._machines:
                        for tag in context:
                            # An empty retained message deletes the retained one (MQTT 3.1.1).
                            await client.publish(tag.topic, b"", qos=1, retain=True)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def is_closing(self) -> bool:
        """Tell whether the silo is shutting down."""
        return self._closing

    async def _run(self) -> None:
        delays = backoff_delays()
        lost = False
        while not self.is_closing():
            try:
                async with aiomqtt.Client(
                    self.mqtt_host,
                    self.mqtt_port,
                    identifier=f"werk-sim/uns/{self.site.path}",
                    keepalive=10,
                    timeout=5,
                    max_queued_outgoing_messages=MAX_QUEUED,
                ) as client:
                    for _, signals, context in self._machines:
                        for tag in (*context, *(t for _, t in signals)):
                            tag.sent = False  # send everything again on a new connection
                    self._client = client
                    self._connected.set()
                    if lost:
                        _log.info("MQTT JSON silo of %s reconnected", self.site.path)
                        lost = False
                        await self.update()
                    delays = backoff_delays()
                    # Nothing to receive: wait until the connection drops or we are cancelled.
                    async for _ in client.messages:
                        pass
            except aiomqtt.MqttError as exc:
                if not lost and not self.is_closing():
                    _log.warning("MQTT JSON silo of %s lost its broker: %s", self.site.path, exc)
                lost = True
            finally:
                self._client = None
                self._connected.clear()
            await asyncio.sleep(next(delays))

    async def update(self) -> None:
        """Publish every value that changed since it was last sent."""
        client = self._client
        if client is None:
            return
        # aiomqtt's publish() waits until each QoS 0 message reached the socket, which caps one
        # client at a few thousand messages/s; paho's own publish() only queues the packet for
        # the same connection (aiomqtt's event-loop writer sends it), an order of magnitude more.
        paho = client._client
        ts = to_ns(self.site.now()) // 1_000_000
        sent = 0
        async with self._lock:
            for machine, signals, context in self._machines:
                values = machine.signals()
                for name, tag in signals:
                    sent += self._send(paho, tag, float(values[name]), ts)
                for tag in context:
                    sent += self._send(paho, tag, tag.read(), ts)
                if sent >= _YIELD_EVERY:
                    sent = 0
                    await asyncio.sleep(0)  # let the loop drain the socket

    def _send(self, paho: mqtt.Client, tag: _Tag, value: Value, ts: int) -> int:
        if tag.sent and tag.last == value:
            return 0
        payload = json.dumps({"timestamp_ms": ts, "value": value}, separators=(",", ":"))
        info = paho.publish(tag.topic, payload.encode(), qos=0, retain=tag.retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            # Not connected any more, or the outgoing queue is full (drop newest): the value
            # goes out with the next change or the full resend after a reconnect.
            self.dropped += 1
            return 0
        tag.last, tag.sent = value, True
        self.published += 1
        return 1


def _no_reader() -> Value:
    return None  # signal tags are read in bulk through MachineView.signals()
