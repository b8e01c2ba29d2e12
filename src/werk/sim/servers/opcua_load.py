"""Serve tens of thousands of OPC UA tags that change every second, for sizing edge agents.

The simulator's :mod:`werk.sim.servers.opcua` silo writes each value into asyncua's address
space, which then builds one ``MonitoredItemNotification`` object per monitored item: about
70–120 µs of server CPU per value, so on a small machine the server, not the client, bounds the
tags an agent can be shown. :class:`OpcUaLoad` is a real OPC UA server — asyncua's Server does
Hello, the secure channel, sessions, Read (namespace array, server status for the client's
watchdog), subscriptions and Publish — whose *sampling* of its load namespace is vectorised:

* the namespace ``urn:werk:sim:load`` holds ``count`` Double variables
  ``ns=<idx>;s=tag/<i>`` (``0 <= i < count``); they are not in the address space (not
  browsable), they are answered by this module: Read of the Value (plus NodeClass, BrowseName,
  DisplayName, DataType) and monitored items;
* every tag changes once per ``interval_s`` (one *cycle*, ``k = floor(unix time / interval)``)
  to :func:`load_values` ``(i, k)``, a deterministic value, so a receiver can check each value it
  got: the integer part is ``i mod 1000`` and the fraction ``(k mod 1000) / 1000``; its
  SourceTimestamp is the start of the cycle, its ServerTimestamp the time of the publish;
* a subscription keeps its load items as numpy columns (client handle, tag index, last cycle
  and value sent, absolute deadband). Each publish takes every item whose tag changed since it was
  last reported (with the cycles a late publish missed, up to the item's queue size; queue
  size 1: the latest value only), applies absolute deadbands vectorised (OPC UA
  Part 4 §7.22.2: against the last *reported* value), and encodes one DataChangeNotification
  body in bulk (OPC UA Part 6 §5.2: per item a UInt32 ClientHandle and a DataValue with mask
  0x0D — Variant Double, SourceTimestamp, ServerTimestamp) handed to asyncua as a raw-body
  ExtensionObject (TypeId ``ns=0;i=811``, DataChangeNotification_Encoding_DefaultBinary);
* a monitored item on any other node goes to asyncua as usual (an unknown node answers
  ``BadNodeIdUnknown`` for that item only; the standard nodes work).

What it is not: a PLC model (no states, counters or alarms — the simulator's silos have those),
nor a complete server of its load nodes (no browse, no write, no percent deadband, no
MaxNotificationsPerPublish split: one publish carries every due item, as asyncua's own
subscriptions do; MonitoringMode Disabled stops an item's reports, Sampling is treated as
Reporting). Its point is the server CPU per value: microseconds of numpy per publish instead of
a Python object per value, so a 2-core machine can offer 50,000 changes/s and still leave the
cores to the agent being sized.
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import struct
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from asyncua import ua
from asyncua.common import utils
from asyncua.server.address_space import AddressSpace, AttributeService
from asyncua.server.internal_subscription import InternalSubscription
from asyncua.server.server import Server
from asyncua.server.subscription_service import SubscriptionService
from asyncua.ua import uaprotocol_auto
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.status_codes import StatusCodes

from werk.errors import ConfigError

_log = logging.getLogger(__name__)

NAMESPACE: Final = "urn:werk:sim:load"
"""Namespace URI of the load tags."""
PREFIX: Final = "tag/"
"""String node id of tag ``i`` is ``PREFIX + str(i)``."""

_EPOCH_TICKS: Final = 116_444_736_000_000_000
"""OPC UA DateTime of 1970-01-01: 100 ns ticks since 1601-01-01 (Part 6 §5.2.2.5)."""
_DATA_CHANGE: Final = ua.NodeId(ua.Int32(ObjectIds.DataChangeNotification_Encoding_DefaultBinary))
MAX_QUEUE: Final = 10
"""Largest monitored-item queue a load item keeps (cycles a late publish can catch up on)."""
_LOAD_IDS: Final = 1 << 30
"""Monitored item ids of load items start here (asyncua's own count up from 112)."""

_ITEM = np.dtype(
    [
        ("handle", "<u4"),
        ("mask", "u1"),
        ("vtype", "u1"),
        ("value", "<f8"),
        ("source", "<i8"),
        ("server", "<i8"),
    ]
)
"""MonitoredItemNotification in Part 6 binary: packed, 30 bytes (numpy packs unaligned)."""


def load_values(
    index: npt.NDArray[np.int64] | int, cycle: npt.NDArray[np.int64] | int
) -> npt.NDArray[np.float64]:
    """Return the value of tags ``index`` in cycle ``cycle``: ``i mod 1000 + (k mod 1000)/1000``."""
    return np.asarray(np.asarray(index) % 1000 + (cycle % 1000) / 1000.0, dtype=np.float64)


def node_id(ns: int, index: int) -> str:
    """Return the node id string of load tag ``index`` in namespace index ``ns``."""
    return f"ns={ns};s={PREFIX}{index}"


def _ticks(unix_s: float) -> int:
    return _EPOCH_TICKS + round(unix_s * 10_000_000)


def _datetime(unix_s: float) -> ua.DateTime:
    t = datetime.fromtimestamp(unix_s, UTC)
    return ua.DateTime(
        t.year, t.month, t.day, t.hour, t.minute, t.second, t.microsecond, tzinfo=UTC
    )


def _status(code: int) -> ua.StatusCode:
    return ua.StatusCode(ua.UInt32(code))


class LoadTags:
    """The sampling engine: which cycle it is, what each tag's value is, and Read of a tag."""

    def __init__(self, count: int, interval_s: float) -> None:
        self.count = count
        self.interval_s = interval_s
        self.ns = 0

    def cycle(self, now: float | None = None) -> int:
        """Return the current cycle (``floor(unix time / interval)``)."""
        return math.floor((time.time() if now is None else now) / self.interval_s)

    def index(self, node: ua.NodeId) -> int | None:
        """Return the tag index of a load node id, or None when it is not one."""
        ident = node.Identifier
        if node.NamespaceIndex != self.ns or not isinstance(ident, str):
            return None
        digits = ident[len(PREFIX) :] if ident.startswith(PREFIX) else ""
        if not digits.isdigit() or (len(digits) > 1 and digits[0] == "0"):
            return None
        i = int(digits)
        return i if i < self.count else None

    def read(self, index: int, attribute: int) -> ua.DataValue:
        """Answer a Read of one attribute of load tag ``index``."""
        if attribute == AttributeIds.Value:
            now = time.time()
            k = self.cycle(now)
            return ua.DataValue(
                ua.Variant(float(load_values(index, k)), ua.VariantType.Double),
                SourceTimestamp=_datetime(k * self.interval_s),
                ServerTimestamp=_datetime(now),
            )
        fixed: dict[int, ua.Variant] = {
            AttributeIds.NodeId: ua.Variant(
                ua.NodeId(ua.String(f"{PREFIX}{index}"), ua.Int16(self.ns))
            ),
            AttributeIds.NodeClass: ua.Variant(ua.NodeClass.Variable, ua.VariantType.Int32),
            AttributeIds.BrowseName: ua.Variant(ua.QualifiedName(f"{PREFIX}{index}", self.ns)),
            AttributeIds.DisplayName: ua.Variant(ua.LocalizedText(f"{PREFIX}{index}")),
            AttributeIds.DataType: ua.Variant(ua.NodeId(ua.Int32(ObjectIds.Double))),
        }
        if attribute in fixed:
            return ua.DataValue(fixed[attribute])
        return ua.DataValue(StatusCode=_status(StatusCodes.BadAttributeIdInvalid))


class _LoadAttributes(AttributeService):
    """Read: load tags answered by the engine, every other node by asyncua's address space."""

    def __init__(self, aspace: AddressSpace, tags: LoadTags) -> None:
        super().__init__(aspace)
        self.tags = tags

    def read(self, params: ua.ReadParameters) -> list[ua.DataValue]:
        res: list[ua.DataValue] = []
        for rv in params.NodesToRead:
            i = self.tags.index(rv.NodeId)
            if i is None:
                res.append(self._aspace.read_attribute_value(rv.NodeId, rv.AttributeId))
            else:
                res.append(self.tags.read(i, rv.AttributeId))
        return res


class _LoadItems:
    """The load items of one subscription as numpy columns; appended in chunks, compacted lazily."""

    def __init__(self) -> None:
        self.handle = np.zeros(0, np.uint32)
        self.index = np.zeros(0, np.int64)
        self.mid = np.zeros(0, np.int64)
        self.deadband = np.zeros(0, np.float64)
        self.cycle = np.zeros(0, np.int64)
        self.last = np.zeros(0, np.float64)
        self.enabled = np.zeros(0, np.bool_)
        self.queue = np.zeros(0, np.int64)
        self._pending: list[tuple[int, int, int, float, bool, int]] = []
        self.next_mid = _LOAD_IDS

    def __len__(self) -> int:
        return len(self.handle) + len(self._pending)

    def add(self, handle: int, index: int, deadband: float, enabled: bool, queue: int = 1) -> int:
        """Add one item (``queue``: its revised queue size); return its monitored item id."""
        self.next_mid += 1
        self._pending.append((handle, index, self.next_mid, deadband, enabled, queue))
        return self.next_mid

    def compact(self) -> None:
        """Move items added since the last publish into the columns."""
        if not self._pending:
            return
        h, i, m, d, e, q = zip(*self._pending, strict=True)
        self._pending = []
        n = len(h)
        self.handle = np.concatenate([self.handle, np.asarray(h, np.uint32)])
        self.index = np.concatenate([self.index, np.asarray(i, np.int64)])
        self.mid = np.concatenate([self.mid, np.asarray(m, np.int64)])
        self.deadband = np.concatenate([self.deadband, np.asarray(d, np.float64)])
        self.cycle = np.concatenate([self.cycle, np.full(n, -1, np.int64)])
        self.last = np.concatenate([self.last, np.full(n, np.nan, np.float64)])
        self.enabled = np.concatenate([self.enabled, np.asarray(e, np.bool_)])
        self.queue = np.concatenate([self.queue, np.asarray(q, np.int64)])

    def owns(self, mid: int) -> bool:
        """Whether a monitored item id is one of the load items' (live or deleted)."""
        return _LOAD_IDS < mid <= self.next_mid

    def select(self, mids: Iterable[int]) -> npt.NDArray[np.bool_]:
        """Return the mask of the live items among ``mids``."""
        self.compact()
        return np.isin(self.mid, np.fromiter(mids, np.int64))

    def delete(self, mids: Iterable[int]) -> int:
        """Delete items by monitored item id; return how many existed."""
        gone = self.select(mids)
        keep = ~gone
        for name in ("handle", "index", "mid", "deadband", "cycle", "last", "enabled", "queue"):
            setattr(self, name, getattr(self, name)[keep])
        return int(gone.sum())

    def due(self, cycle: int) -> bool:
        """Whether any reporting item has not been sampled in ``cycle`` yet."""
        return bool(self._pending) or bool(np.any(self.enabled & (self.cycle < cycle)))

    def encode(self, tags: LoadTags, cycle: int, now: float) -> tuple[bytes, int] | None:
        """Sample the due items in ``cycle``; return the DataChangeNotification body and count.

        An item whose last report is more than one cycle old (a publish came late) gets the
        values of the cycles it missed too, up to its queue size, oldest first, as a server
        queues an item's changes between publishes (Part 4 §5.12.1.5); with queue size 1 only
        the newest. Items with a deadband report the newest cycle only.
        """
        self.compact()
        due = np.flatnonzero(self.enabled & (self.cycle < cycle))
        if not len(due):
            return None
        band = self.deadband[due]
        missed = np.where(self.cycle[due] < 0, 1, cycle - self.cycle[due])
        counts = np.where(band > 0, 1, np.minimum(missed, self.queue[due]))
        self.cycle[due] = cycle
        if np.any(band > 0):
            values = load_values(self.index[due], cycle)
            last = self.last[due]
            send = (band <= 0) | np.isnan(last) | (np.abs(values - last) > band)
            due, counts = due[send], counts[send]
            if not len(due):
                return None
        entry = np.repeat(due, counts)
        ends = np.cumsum(counts)
        back = ends[np.searchsorted(ends, np.arange(len(entry)), side="right")] - 1
        cycles = cycle - (back - np.arange(len(entry)))
        values = load_values(self.index[entry], cycles)
        self.last[due] = load_values(self.index[due], cycle)
        n = len(entry)
        items = np.empty(n, _ITEM)
        items["handle"] = self.handle[entry]
        items["mask"] = 0x0D  # Value, SourceTimestamp, ServerTimestamp
        items["vtype"] = 11  # Variant: Double, scalar
        items["value"] = values
        items["source"] = _EPOCH_TICKS + np.round(cycles * tags.interval_s * 10_000_000).astype(
            np.int64
        )
        items["server"] = _ticks(now)
        # MonitoredItems (Int32 length + items), then DiagnosticInfos: an empty array.
        return struct.pack("<i", n) + items.tobytes() + struct.pack("<i", 0), n


class _LoadSubscription(InternalSubscription):
    """A subscription whose load items are sampled by the engine at each publish."""

    def __init__(self, tags: LoadTags, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tags = tags
        self.load = _LoadItems()
        self.values_published = 0

    def has_published_results(self) -> bool:
        if self._publishing_enabled and len(self.load) and self.load.due(self.tags.cycle()):
            return True
        return super().has_published_results()

    def _pop_triggered_datachanges(self, result: ua.PublishResult) -> None:
        super()._pop_triggered_datachanges(result)
        if not len(self.load):
            return
        now = time.time()
        encoded = self.load.encode(self.tags, self.tags.cycle(now), now)
        if encoded is None:
            return
        body, n = encoded
        self.values_published += n
        notif = ua.ExtensionObject(TypeId=_DATA_CHANGE, Body=ua.ByteString(body))
        result.NotificationMessage.NotificationData.append(notif)


def _per_item(
    ids: list[int], load: _LoadItems, live: set[int], rest: list[ua.StatusCode]
) -> list[ua.StatusCode]:
    """Answer a per-item service in request order: Good for a live load item, BadMonitoredItem-
    IdInvalid for a deleted one, and asyncua's answers (``rest``, in order) for the others."""
    others = iter(rest)
    invalid = _status(StatusCodes.BadMonitoredItemIdInvalid)
    return [
        (ua.StatusCode() if m in live else invalid) if load.owns(m) else next(others) for m in ids
    ]


class _LoadSubscriptions(SubscriptionService):
    """asyncua's subscription service with load items kept by each subscription."""

    def __init__(self, aspace: AddressSpace, iserver: Any, tags: LoadTags) -> None:
        super().__init__(aspace, iserver)
        self.tags = tags

    async def create_subscription(
        self,
        params: ua.CreateSubscriptionParameters,
        callback: Callable[..., Any],
        session_id: ua.NodeId,
        request_callback: Callable[..., Any] | None = None,
    ) -> ua.CreateSubscriptionResult:
        # As SubscriptionService.create_subscription, with the load subscription class.
        iserver = self.iserver
        if iserver is not None and len(self.subscriptions) >= iserver.max_subscriptions:
            raise utils.ServiceError(StatusCodes.BadTooManySubscriptions)
        result = ua.CreateSubscriptionResult()
        result.RevisedPublishingInterval = params.RequestedPublishingInterval
        result.RevisedLifetimeCount = self._clamp_lifetime_count(params.RequestedLifetimeCount)
        result.RevisedMaxKeepAliveCount = self._clamp_keep_alive_count(
            params.RequestedMaxKeepAliveCount
        )
        self._sub_id_counter += 1
        result.SubscriptionId = self._sub_id_counter
        sub = _LoadSubscription(
            self.tags,
            result,
            self.aspace,
            callback,
            session_id,
            request_callback=request_callback,
            delete_callback=lambda: self.subscriptions.pop(result.SubscriptionId, None),
            no_acks_limit=iserver.max_unacked_messages_per_subscription if iserver else 5000,
            max_queue_size=iserver.max_monitored_item_queue_size if iserver else 10_000,
            publishing_enabled=params.PublishingEnabled,
        )
        await sub.start()
        self.subscriptions[result.SubscriptionId] = sub
        return result

    async def create_monitored_items(
        self, params: ua.CreateMonitoredItemsParameters
    ) -> list[ua.MonitoredItemCreateResult]:
        sub = self.subscriptions.get(params.SubscriptionId)
        if not isinstance(sub, _LoadSubscription):
            return await super().create_monitored_items(params)
        results: list[ua.MonitoredItemCreateResult | None] = []
        others: list[ua.MonitoredItemCreateRequest] = []
        for item in params.ItemsToCreate:
            rv = item.ItemToMonitor
            i = self.tags.index(rv.NodeId)
            if i is None or rv.AttributeId != AttributeIds.Value:
                results.append(None)
                others.append(item)
                continue
            results.append(self._create_load_item(sub, item, i))
        if others:
            rest = ua.CreateMonitoredItemsParameters(
                SubscriptionId=params.SubscriptionId,
                TimestampsToReturn=params.TimestampsToReturn,
                ItemsToCreate=others,
            )
            done = iter(await super().create_monitored_items(rest))
            results = [r if r is not None else next(done) for r in results]
        return [r for r in results if r is not None]

    def _create_load_item(
        self, sub: _LoadSubscription, item: ua.MonitoredItemCreateRequest, index: int
    ) -> ua.MonitoredItemCreateResult:
        result = ua.MonitoredItemCreateResult()
        flt = item.RequestedParameters.Filter
        deadband = 0.0
        # The decoder builds uaprotocol_auto's DataChangeFilter, not ua.DataChangeFilter (hand).
        if (
            isinstance(flt, uaprotocol_auto.DataChangeFilter)
            and flt.DeadbandType != ua.DeadbandType.None_
        ):
            if flt.DeadbandType != ua.DeadbandType.Absolute:
                # Percent deadband needs an EURange, which load tags do not have (Part 8 §6.2).
                result.StatusCode = _status(StatusCodes.BadFilterNotAllowed)
                return result
            deadband = float(flt.DeadbandValue)
        enabled = item.MonitoringMode != ua.MonitoringMode.Disabled
        queue = max(1, min(int(item.RequestedParameters.QueueSize), MAX_QUEUE))
        result.MonitoredItemId = sub.load.add(
            item.RequestedParameters.ClientHandle, index, deadband, enabled, queue
        )
        result.RevisedSamplingInterval = self.tags.interval_s * 1000
        result.RevisedQueueSize = queue
        return result

    def delete_monitored_items(
        self, params: ua.DeleteMonitoredItemsParameters
    ) -> list[ua.StatusCode]:
        sub = self.subscriptions.get(params.SubscriptionId)
        if not isinstance(sub, _LoadSubscription):
            return super().delete_monitored_items(params)
        ids = list(params.MonitoredItemIds)
        load = [m for m in ids if sub.load.owns(m)]
        live = set(np.asarray(sub.load.mid)[sub.load.select(load)].tolist()) if load else set()
        sub.load.delete(load)
        rest = super().delete_monitored_items(
            ua.DeleteMonitoredItemsParameters(
                SubscriptionId=params.SubscriptionId,
                MonitoredItemIds=[m for m in ids if not sub.load.owns(m)],
            )
        )
        return _per_item(ids, sub.load, live, rest)

    async def set_monitoring_mode(
        self, params: ua.SetMonitoringModeParameters
    ) -> list[ua.StatusCode]:
        sub = self.subscriptions.get(params.SubscriptionId)
        if not isinstance(sub, _LoadSubscription):
            return await super().set_monitoring_mode(params)
        ids = list(params.MonitoredItemIds)
        load = [m for m in ids if sub.load.owns(m)]
        mask = sub.load.select(load)
        sub.load.enabled[mask] = params.MonitoringMode != ua.MonitoringMode.Disabled
        live = set(sub.load.mid[mask].tolist())
        rest = await super().set_monitoring_mode(
            ua.SetMonitoringModeParameters(
                SubscriptionId=params.SubscriptionId,
                MonitoringMode=params.MonitoringMode,
                MonitoredItemIds=[m for m in ids if not sub.load.owns(m)],
            )
        )
        return _per_item(ids, sub.load, live, rest)

    def values_published(self) -> int:
        """Return the load values published by the live subscriptions so far."""
        return sum(
            s.values_published
            for s in self.subscriptions.values()
            if isinstance(s, _LoadSubscription)
        )


def _free_port(host: str, port: int) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"the OPC UA load server cannot listen on {host}:{port}: {exc.strerror}",
                key="sim.port_in_use",
                field="port",
                host=host,
                port=port,
            ) from None
        return int(sock.getsockname()[1])


class OpcUaLoad:
    """An OPC UA server of ``count`` load tags changing every ``interval_s`` (see the module).

    Use as an async context manager; ``endpoint`` and ``ns`` (the namespace index of
    :data:`NAMESPACE`) are set once entered.
    """

    def __init__(
        self, count: int, *, host: str = "127.0.0.1", port: int = 0, interval_s: float = 1.0
    ) -> None:
        if count < 1 or interval_s <= 0:
            raise ConfigError(
                "the OPC UA load server needs at least one tag and a positive interval",
                key="sim.bad_load",
                field="tags" if count < 1 else "interval_s",
            )
        self.tags = LoadTags(count, interval_s)
        self.host = host
        self.requested_port = port
        self.port = port
        self.endpoint = ""
        self._server: Server | None = None
        self._subscriptions: _LoadSubscriptions | None = None

    @property
    def ns(self) -> int:
        """Namespace index of the load tags."""
        return self.tags.ns

    def node(self, index: int) -> str:
        """Return the node id string of tag ``index``."""
        return node_id(self.tags.ns, index)

    def values_published(self) -> int:
        """Load values published to clients so far (live subscriptions)."""
        return self._subscriptions.values_published() if self._subscriptions else 0

    async def __aenter__(self) -> OpcUaLoad:
        self.port = _free_port(self.host, self.requested_port)
        self.endpoint = f"opc.tcp://{self.host}:{self.port}/"
        server = Server()
        iserver = server.iserver
        # Swap in the load services before init(): init registers standard events with the
        # subscription service, and the internal session keeps a reference to it.
        subs = _LoadSubscriptions(iserver.aspace, iserver, self.tags)
        iserver.subscription_service = subs
        iserver.isession.subscription_service = subs
        iserver.attribute_service = _LoadAttributes(iserver.aspace, self.tags)
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name(f"werk OPC UA load server ({self.tags.count} tags)")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        self.tags.ns = await server.register_namespace(NAMESPACE)
        try:
            await server.start()
        except OSError as exc:
            raise ConfigError(
                f"the OPC UA load server cannot listen on {self.host}:{self.port}: {exc}",
                key="sim.port_in_use",
                field="port",
                host=self.host,
                port=self.port,
            ) from None
        self._server = server
        self._subscriptions = subs
        _log.info("OPC UA load server (%d tags) on %s", self.tags.count, self.endpoint)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None

    async def serve_forever(self) -> None:
        """Wait until cancelled (the server runs on the event loop)."""
        await asyncio.Event().wait()


def load_plant_file(
    count: int,
    endpoint: str,
    *,
    per_machine: int = 50,
    machines_per_line: int = 20,
    items_per_session: int = 2500,
    workers: int = 2,
    plant: str = "acme/load",
    interval_s: float = 1.0,
) -> dict[str, object]:
    """Return an edge plant file (YAML-ready dict) that monitors every load tag of a server.

    Tag ``i`` becomes signal ``t<i>`` of machine ``i // per_machine`` at
    ``<plant>/area/line-NN/machine-NNN`` (``machines_per_line`` machines per line), read through
    one OPC UA source sharded into sessions of ``items_per_session`` in ``workers`` processes.
    """
    machines = math.ceil(count / per_machine)
    devices = []
    for m in range(machines):
        line, slot = divmod(m, machines_per_line)
        first = m * per_machine
        devices.append(
            {
                "path": f"{plant}/area/line-{line + 1:02d}/machine-{slot + 1:03d}",
                "points": [
                    {"signal": f"t{i}", "node": f"nsu={NAMESPACE};s={PREFIX}{i}"}
                    for i in range(first, min(first + per_machine, count))
                ],
            }
        )
    period_ms = round(interval_s * 1000)
    return {
        "plant": plant,
        "edge": "load-edge",
        "sources": [
            {
                "name": "load-opcua",
                "type": "opcua",
                "endpoint": endpoint,
                "publishing_interval_ms": period_ms,
                "sampling_interval_ms": period_ms,
                # A publish that comes late still carries the cycle it would have missed.
                "queue_size": 2,
                "timeout_s": 60,
                "items_per_session": items_per_session,
                "workers": workers,
                "devices": devices,
            }
        ],
    }
