"""Keep one OPC UA client session subscribed to a share of a source's points, through restarts.

One asyncua client runs on one event loop and tops out near 4,000 notifications/s, so a source
splits its points into shares of ``items_per_session`` and runs one :class:`Session` per share
(in the agent, or in worker processes: :mod:`werk.connectors.opcua.workers`).

The subscription bypasses asyncua's per-notification task and event objects, and (with
:data:`LEAN_DECODE`) its per-item decoding: :mod:`~werk.connectors.opcua.fastpublish` reads each
data change into numpy columns, which :meth:`Session.on_data_arrays` maps in bulk into the
:class:`~werk.connectors.derive.Collector` columns. A lost connection (server restart, network)
is noticed by asyncua's watchdog; the session then reconnects with the shared
:class:`~werk.connectors.base.Backoff`, resolves namespace URIs again and recreates its
subscription and monitored items.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.subscription import Subscription
from asyncua.common.utils import ServiceError
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.uaerrors import UaError
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes

from werk.connectors.base import Backoff, PointRole, SourceHealth
from werk.connectors.derive import BadReason, Collector
from werk.connectors.opcua import fastpublish
from werk.connectors.opcua.config import OpcUaConfig, OpcUaPoint
from werk.connectors.opcua.fastpublish import (
    KIND_MISSING,
    KIND_NUMBER,
    KIND_OTHER,
    MISSING_TS,
    DataChangeArrays,
)
from werk.connectors.opcua.mapping import map_value
from werk.connectors.outbox import Link
from werk.errors import ConnectorError
from werk.samples import Quality, from_ns, to_ns

_log = logging.getLogger(__name__)

ITEMS_PER_CALL = 1000
"""Monitored items per CreateMonitoredItems request (servers limit request sizes)."""
LEAN_DECODE = True
"""Decode publish responses with :mod:`~werk.connectors.opcua.fastpublish` (else asyncua's)."""

# Quality of the StatusCode severity bits (Part 4 §7.34.1), as mapping.quality_of.
_QUALITY_OF = np.array([Quality.GOOD, Quality.UNCERTAIN, Quality.BAD, Quality.BAD], np.uint8)


class _NoHandler:
    """Placeholder handler: keeps asyncua's Subscription out of its iterator (queue) mode."""


class _Subscription(Subscription):
    """A subscription that hands publish responses to the session without per-item objects."""

    def __init__(
        self, session: Session, server: object, params: ua.CreateSubscriptionParameters
    ) -> None:
        super().__init__(server, params, _NoHandler())  # type: ignore[arg-type]
        self._session = session

    async def publish_callback(self, publish_result: ua.PublishResult) -> None:
        self.last_publish_at = time.monotonic()
        message = publish_result.NotificationMessage
        if message.NotificationData is None:
            return
        self.last_sequence_number = int(message.SequenceNumber)
        for notification in message.NotificationData:
            if isinstance(notification, DataChangeArrays):
                self._session.on_data_arrays(notification)
            elif isinstance(notification, ua.DataChangeNotification):
                self._session.on_data(notification.MonitoredItems)
            elif isinstance(notification, ua.StatusChangeNotification):
                self._session.on_status(notification)


async def make_client(config: OpcUaConfig) -> Client:
    """Return an unconnected client with the source's credentials and security applied.

    Raises:
        ConnectorError: A certificate, key or trust-list file cannot be used.
    """
    # The watchdog reads ServerStatus every interval and calls a slow answer a lost connection;
    # a busy server (thousands of items per session) answers in seconds, so give it half the
    # request timeout. A closed socket (server restart) is noticed at once regardless.
    client = Client(
        config.endpoint, timeout=config.timeout_s, watchdog_intervall=max(2.0, config.timeout_s / 2)
    )
    client.session_timeout = 60_000
    if config.username is not None:
        client.set_user(config.username)
    if config.password is not None:
        client.set_password(config.password.get_secret_value())
    sec = config.security
    if sec is None:
        return client
    for what, path in (("certificate", sec.certificate), ("private_key", sec.private_key)):
        if not path.is_file():
            raise ConnectorError(
                f"OPC UA {what} {path} does not exist",
                key="connector.opcua_certificate",
                source_id=config.name,
                field=f"security.{what}",
            )
    if sec.application_uri:
        client.application_uri = sec.application_uri
    mode = (
        ua.MessageSecurityMode.Sign if sec.mode == "Sign" else ua.MessageSecurityMode.SignAndEncrypt
    )
    password = sec.private_key_password.get_secret_value() if sec.private_key_password else None
    try:
        await client.set_security(
            SecurityPolicyBasic256Sha256,
            certificate=str(sec.certificate),
            private_key=str(sec.private_key),
            private_key_password=password,
            server_certificate=str(sec.server_certificate) if sec.server_certificate else None,
            mode=mode,
        )
    except (OSError, ValueError, UaError) as exc:
        raise ConnectorError(
            f"OPC UA security of {config.endpoint} cannot be set up: {exc}",
            key="connector.opcua_security",
            source_id=config.name,
            field="security",
        ) from exc
    if sec.trust:
        client.certificate_validator = TrustList.load(sec.trust, config.name)
    return client


class TrustList:
    """Accept a server certificate that is in the trust list or directly signed by a CA in it.

    The trust list is files or folders of DER/PEM certificates (OPC UA Part 12 §F.1 keeps one
    per file). Also checked: the certificate is within its validity period. A refused server
    answers ``BadCertificateUntrusted``/``BadCertificateTimeInvalid``, as Part 4 §7.34 names them.
    """

    def __init__(self, certificates: list[x509.Certificate]) -> None:
        self.certificates = certificates
        self._exact = {c.fingerprint(hashes.SHA256()) for c in certificates}

    @classmethod
    def load(cls, paths: list[Path], source: str) -> TrustList:
        """Read every certificate in the given files and folders.

        Raises:
            ConnectorError: A path is missing or holds no readable certificate.
        """
        certs: list[x509.Certificate] = []
        for path in paths:
            files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
            for f in files:
                try:
                    data = f.read_bytes()
                    certs += (
                        x509.load_pem_x509_certificates(data)
                        if b"-----BEGIN" in data
                        else [x509.load_der_x509_certificate(data)]
                    )
                except (OSError, ValueError) as exc:
                    raise ConnectorError(
                        f"OPC UA trust list entry {f} is not a certificate: {exc}",
                        key="connector.opcua_certificate",
                        source_id=source,
                        field="security.trust",
                    ) from exc
        if not certs:
            raise ConnectorError(
                "the OPC UA trust list holds no certificate",
                key="connector.opcua_certificate",
                source_id=source,
                field="security.trust",
            )
        return cls(certs)

    async def __call__(self, cert: x509.Certificate, app: ua.ApplicationDescription) -> None:
        now = datetime.now(UTC)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise ServiceError(StatusCodes.BadCertificateTimeInvalid)
        if cert.fingerprint(hashes.SHA256()) in self._exact:
            return
        for ca in self.certificates:
            with contextlib.suppress(ValueError, TypeError, InvalidSignature):
                cert.verify_directly_issued_by(ca)
                return
        raise ServiceError(StatusCodes.BadCertificateUntrusted)


_AUTH = ("BadUserAccessDenied", "BadIdentityTokenRejected", "BadIdentityTokenInvalid")


def explain(exc: BaseException, config: OpcUaConfig) -> ConnectorError:
    """Turn a failed connect into an error that says why (credentials, certificate, network)."""
    if isinstance(exc, ConnectorError):
        return exc
    causes: list[str] = []
    e: BaseException | None = exc
    while e is not None and len(causes) < 5:
        causes.append(f"{type(e).__name__}: {e}")
        e = e.__cause__ or e.__context__
    text = "; ".join(causes)
    where = f"OPC UA server {config.endpoint}"
    if any(code in text for code in _AUTH):
        return ConnectorError(
            f"{where} refused the user {config.username!r}: {text}",
            key="connector.opcua_auth",
            source_id=config.name,
            field="username",
        )
    if "Certificate" in text:
        return ConnectorError(
            f"{where}: certificate check failed: {text}",
            key="connector.opcua_certificate",
            source_id=config.name,
            field="security",
        )
    return ConnectorError(
        f"cannot connect to {where}: {text}", key="connector.unreachable", source_id=config.name
    )


async def resolve(client: Client, node: str, cache: dict[str, int]) -> ua.NodeId:
    """Return the NodeId of a node string, resolving ``nsu=<uri>;`` by namespace URI."""
    if node.startswith("nsu="):
        uri, _, rest = node[4:].partition(";")
        if uri not in cache:
            cache[uri] = await client.get_namespace_index(uri)
        node = f"ns={cache[uri]};{rest}"
    return ua.NodeId.from_string(node)


class Session:
    """One client session subscribed to a share of the points; reconnects on its own."""

    def __init__(
        self,
        config: OpcUaConfig,
        points: Sequence[OpcUaPoint],
        collector: Collector,
        health: SourceHealth,
        *,
        label: str,
    ) -> None:
        self.config = config
        self.points = list(points)
        self.collector = collector
        self.health = health
        self.link = Link(_log, f"OPC UA {config.name} {label} ({config.endpoint})", health)
        self.notifications = 0
        self.bad_items = 0
        self._roles = [p.role is not PointRole.VALUE for p in self.points]
        self._role_handles = np.array([h for h, r in enumerate(self._roles) if r], np.int64)
        self._paths = np.array([p.path for p in self.points], object)
        self._signals = np.array([p.signal for p in self.points], object)
        self._lost = asyncio.Event()

    async def run(self) -> None:
        """Connect, subscribe and wait for a loss, forever (cancel to stop)."""
        backoff = Backoff()
        while True:
            client: Client | None = None
            try:
                client = await make_client(self.config)
                if LEAN_DECODE:
                    fastpublish.install(client.uaclient.session)
                self._lost.clear()
                client.connection_lost_callback = self._on_lost
                # Connect, then one request per ITEMS_PER_CALL items: each gets timeout_s.
                calls = 3 + len(self.points) // ITEMS_PER_CALL
                async with asyncio.timeout(self.config.timeout_s * calls):
                    await client.connect()
                    await self._subscribe(client)
                self.link.up()
                backoff.reset()
                await self._lost.wait()
                self.link.down("connection lost")
            except (ConnectorError, OSError, TimeoutError, UaError, ConnectionError) as exc:
                self.link.down(explain(exc, self.config).message)
            finally:
                if client is not None:
                    with contextlib.suppress(Exception):
                        async with asyncio.timeout(2):
                            await client.disconnect()
            await asyncio.sleep(backoff.next_delay())

    async def _on_lost(self, exc: Exception) -> None:
        self._lost.set()

    async def _subscribe(self, client: Client) -> None:
        cfg = self.config
        params = ua.CreateSubscriptionParameters()
        params.RequestedPublishingInterval = cfg.publishing_interval_ms
        params.RequestedLifetimeCount = 10_000
        params.RequestedMaxKeepAliveCount = client.get_keepalive_count(cfg.publishing_interval_ms)
        params.MaxNotificationsPerPublish = 0  # no limit: one response carries a whole cycle
        params.PublishingEnabled = True
        params.Priority = 0
        sub = _Subscription(self, client.uaclient.session, params)
        await sub.init()
        namespaces: dict[str, int] = {}
        requests = []
        now_ns = time.time_ns()
        for handle, p in enumerate(self.points):
            try:
                nodeid = await resolve(client, p.node, namespaces)
            except (ValueError, UaError) as exc:
                self._bad_item(p, now_ns, StatusCodes.BadNodeIdInvalid, exc)
                continue
            requests.append(self._request(handle, p, nodeid))
        for start in range(0, len(requests), ITEMS_PER_CALL):
            chunk = requests[start : start + ITEMS_PER_CALL]
            results = await sub.create_monitored_items(chunk)
            for req, result in zip(chunk, results, strict=True):
                if isinstance(result, ua.StatusCode):
                    p = self.points[req.RequestedParameters.ClientHandle]
                    self._bad_item(p, now_ns, result.value, result.name)

    def _request(
        self, handle: int, p: OpcUaPoint, nodeid: ua.NodeId
    ) -> ua.MonitoredItemCreateRequest:
        cfg = self.config
        rv = ua.ReadValueId()
        rv.NodeId = nodeid
        rv.AttributeId = AttributeIds.Value
        mp = ua.MonitoringParameters()
        mp.ClientHandle = handle
        mp.SamplingInterval = (
            cfg.sampling_interval_ms if p.sampling_interval_ms is None else p.sampling_interval_ms
        )
        mp.QueueSize = cfg.queue_size if p.queue_size is None else p.queue_size
        mp.DiscardOldest = True
        if p.deadband is not None:
            f = ua.DataChangeFilter()
            f.Trigger = ua.DataChangeTrigger.StatusValue
            f.DeadbandType = (
                ua.DeadbandType.Absolute
                if p.deadband_type == "absolute"
                else ua.DeadbandType.Percent
            )
            f.DeadbandValue = p.deadband
            mp.Filter = f
        req = ua.MonitoredItemCreateRequest()
        req.ItemToMonitor = rv
        req.MonitoringMode = ua.MonitoringMode.Reporting
        req.RequestedParameters = mp
        return req

    def _bad_item(self, p: OpcUaPoint, now_ns: int, status: int, why: object) -> None:
        # A node that does not exist is a BAD sample with the server's reason, not a failed
        # session: the other points of the share keep flowing.
        self.bad_items += 1
        self.health.bad_values += 1
        self.health.last_error = f"{p.node}: {why}"
        _log.warning("OPC UA %s: cannot monitor %s (%s)", self.config.name, p.node, why)
        self.collector.add_ns(p, now_ns, float("nan"), Quality.BAD, int(status))

    def on_data(self, items: Sequence[ua.MonitoredItemNotification]) -> None:
        """Map one publish response's data changes into the collector (the hot path)."""
        now_ns = time.time_ns()
        points, roles, collector = self.points, self._roles, self.collector
        for item in items:
            handle = item.ClientHandle
            if handle >= len(points):
                continue
            dv = item.Value
            variant = dv.Value
            value = variant.Value if variant is not None else None
            status = dv.StatusCode.value if dv.StatusCode is not None else 0
            ts, number, quality, code = map_value(
                value, status, dv.SourceTimestamp, dv.ServerTimestamp, now_ns
            )
            p = points[handle]
            if code and quality.value == 2:
                self.health.bad_values += 1
            if roles[handle]:
                collector.add(p, from_ns(ts), number, quality, code or None)
            else:
                collector.add_ns(p, ts, number, quality, code or None)
        self.notifications += len(items)
        if items:
            self.link.seen()

    def on_data_arrays(self, arrays: DataChangeArrays) -> None:
        """Map one data change's columns into the collector as :meth:`on_data` maps items.

        The same rules as :func:`~werk.connectors.opcua.mapping.map_value`, on whole columns:
        quality from the StatusCode severity; time from the source timestamp, else the server's,
        else now; a value that is not a usable number turns a non-BAD item BAD with the reason's
        status. Items of role points (state, counters, alarms) also derive their events.
        """
        n = len(arrays)
        if not n:
            return
        now_ns = time.time_ns()
        handles = arrays.handles.astype(np.int64)
        values, kinds, status = arrays.values, arrays.kinds, arrays.status
        src, srv = arrays.source_ns, arrays.server_ns
        known = handles < len(self.points)
        if not known.all():
            handles, values, kinds = handles[known], values[known], kinds[known]
            status, src, srv = status[known], src[known], srv[known]
        ts = np.where(src != MISSING_TS, src, np.where(srv != MISSING_TS, srv, now_ns))
        number = kinds == KIND_NUMBER
        nan = number & np.isnan(values)
        inf = number & np.isinf(values)
        reason = np.zeros(len(handles), np.uint32)
        reason[kinds == KIND_MISSING] = BadReason.MISSING.status
        reason[kinds == KIND_OTHER] = BadReason.WRONG_TYPE.status
        reason[nan] = BadReason.NOT_A_NUMBER.status
        if inf.any():
            reason[inf] = BadReason.OUT_OF_RANGE.status
            values = np.where(inf, np.nan, values)
        quality = _QUALITY_OF[status >> 30]
        turned = (reason != 0) & (quality != Quality.BAD)
        if turned.any():
            quality = np.where(turned, np.uint8(Quality.BAD), quality)
            status = np.where(turned, reason, status)
        bad = quality == Quality.BAD
        self.health.bad_values += int(np.count_nonzero(bad & (status != 0)))
        ts_list: list[int] = ts.tolist()
        value_list: list[float] = values.tolist()
        quality_list: list[int] = quality.tolist()
        codes: list[int | None] = (
            [c or None for c in status.tolist()] if status.any() else [None] * len(handles)
        )
        if len(self._role_handles):
            self._derive(handles, ts_list, value_list, quality_list)
        self.collector.add_columns(
            self._paths[handles].tolist(),
            self._signals[handles].tolist(),
            ts_list,
            value_list,
            quality_list,
            codes,
        )
        self.notifications += n
        self.link.seen()

    def _derive(
        self,
        handles: npt.NDArray[np.int64],
        ts: list[int],
        values: list[float],
        quality: list[int],
    ) -> None:
        # Role points go through Collector.add in on_data: their sample time is the datetime's
        # (microseconds) and they derive events. Same here, item by item, in item order.
        collector, points = self.collector, self.points
        for i in np.flatnonzero(np.isin(handles, self._role_handles)).tolist():
            when = from_ns(ts[i])
            ts[i] = to_ns(when)
            event = collector.deriver.derive(
                points[int(handles[i])], when, values[i], Quality(quality[i])
            )
            if event is not None:
                collector.add_event(event)

    def on_status(self, notification: ua.StatusChangeNotification) -> None:
        """The server says the subscription is gone (e.g. BadTimeout): resubscribe."""
        _log.info("OPC UA %s: subscription status %s", self.config.name, notification.Status)
        self._lost.set()
