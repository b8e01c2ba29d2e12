"""Poll a Modbus TCP server: one connection, each device on its own interval and rate limit.

Every device's points are planned into as few read requests as possible
(:func:`~werk.connectors.modbus.mapping.plan`); a poll reads each request in turn, spaced by
the device's ``max_requests_per_s``. An exception response (an unknown unit id behind a
gateway answers 11) makes that request's points BAD with the exception code as ``status``; a
lost connection stops every device until the shared :class:`~werk.connectors.base.Backoff`
reconnect succeeds (logged once when lost, once when back).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import Self

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from werk.connectors.base import Backoff, Readings, SourceConfig, SourceHealth
from werk.connectors.derive import BadReason, Collector
from werk.connectors.modbus.config import ModbusConfig, ModbusDevice
from werk.connectors.modbus.diagnostics import diagnostics
from werk.connectors.modbus.mapping import Block, decode, modulus, plan
from werk.connectors.outbox import Background, Link, Outbox
from werk.errors import ConnectorError
from werk.samples import Quality, from_ns

_log = logging.getLogger(__name__)


class _Lost(Exception):
    """The connection failed during a poll."""


class ModbusSource:
    """A live Modbus TCP source (satisfies :class:`werk.connectors.base.Source`)."""

    def __init__(self, config: ModbusConfig) -> None:
        self.config: SourceConfig = config
        self.cfg = config
        self.health = SourceHealth()
        self.outbox = Outbox()
        self.collectors: list[Collector] = []
        self.link = Link(_log, f"Modbus {config.name} ({config.host}:{config.port})", self.health)
        self.requests = 0
        self.exceptions = 0
        self.bad_reasons: dict[str, int] = {}
        self._plans = [(d, plan(d.points, d.max_registers)) for d in config.devices]
        self._client: AsyncModbusTcpClient | None = None
        self._io = asyncio.Lock()
        self._connected = asyncio.Event()
        self._background = Background(f"werk[modbus:{config.name}]")

    async def __aenter__(self) -> Self:
        await self._background.start(
            {
                "connect": self._connect_loop(),
                **{
                    f"unit{device.unit_id}": self._poll_loop(device, blocks)
                    for device, blocks in self._plans
                },
            }
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._background.stop()
        if self._client is not None:
            self._client.close()
            self._client = None

    def readings(self) -> AsyncIterator[Readings]:
        """Yield one batch per device poll, forever."""
        return self.outbox.stream()

    async def _open(self) -> AsyncModbusTcpClient:
        # pymodbus's own reconnect is switched off (reconnect_delay=0): werk's backoff decides.
        client = AsyncModbusTcpClient(
            self.cfg.host,
            port=self.cfg.port,
            timeout=self.cfg.timeout_s,
            retries=0,
            reconnect_delay=0,
        )
        if not await client.connect():
            client.close()
            raise ConnectionError(f"cannot connect to {self.cfg.host}:{self.cfg.port}")
        return client

    async def _connect_loop(self) -> None:
        backoff = Backoff()
        while True:
            if self._client is not None and self._connected.is_set():
                await asyncio.sleep(0.2)
                continue
            try:
                self._client = await self._open()
                self._connected.set()
                self.link.up()
                backoff.reset()
            except (OSError, ModbusException) as exc:
                self.link.down(exc)
                await asyncio.sleep(backoff.next_delay())

    def _lose(self, exc: BaseException) -> None:
        if self._connected.is_set():
            self._connected.clear()
            self.link.down(exc)
            if self._client is not None:
                self._client.close()
                self._client = None

    async def _read(self, device: ModbusDevice, block: Block) -> list[int] | int:
        """Return the block's registers, or the Modbus exception code."""
        client = self._client
        if client is None:
            raise _Lost("not connected")
        async with self._io:
            self.requests += 1
            try:
                if block.function == 3:
                    rr = await client.read_holding_registers(
                        block.address, count=block.count, device_id=device.unit_id
                    )
                else:
                    rr = await client.read_input_registers(
                        block.address, count=block.count, device_id=device.unit_id
                    )
            except (ModbusException, OSError, TimeoutError) as exc:
                raise _Lost(str(exc) or type(exc).__name__) from exc
        if rr.isError():
            self.exceptions += 1
            return int(getattr(rr, "exception_code", 0) or 0)
        return list(rr.registers)

    async def _poll(self, device: ModbusDevice, blocks: list[Block], collector: Collector) -> None:
        gap = 1.0 / device.max_requests_per_s if device.max_requests_per_s else 0.0
        for index, block in enumerate(blocks):
            if index and gap:
                await asyncio.sleep(gap)
            got = await self._read(device, block)
            ts_ns = time.time_ns()
            ts = from_ns(ts_ns)
            for p in block.points:
                if isinstance(got, int):
                    self._bad(BadReason.DEVICE_ERROR)
                    collector.add(p, ts, float("nan"), Quality.BAD, got)
                    continue
                offset = p.address - block.address
                value, bad = decode(p, got[offset : offset + p.width])
                if bad is not None:
                    self._bad(bad)
                    collector.add(p, ts, value, Quality.BAD, bad.status)
                else:
                    collector.add(p, ts, value, modulus=modulus(p))
        if blocks:
            self.link.seen()

    def _bad(self, reason: BadReason) -> None:
        self.health.bad_values += 1
        self.bad_reasons[reason.text] = self.bad_reasons.get(reason.text, 0) + 1

    async def _poll_loop(self, device: ModbusDevice, blocks: list[Block]) -> None:
        # One collector per device: a device's batch holds one whole poll, and its counters'
        # derivation state is its own.
        collector = Collector()
        self.collectors.append(collector)
        interval = device.poll_interval_s or self.cfg.poll_interval_s
        next_at = time.monotonic()
        while True:
            await self._connected.wait()
            try:
                await self._poll(device, blocks, collector)
            except _Lost as exc:
                self._lose(exc)
                continue
            self.outbox.put(collector.flush())
            next_at = max(next_at + interval, time.monotonic())
            await asyncio.sleep(next_at - time.monotonic())

    async def read_once(self) -> Readings:
        """Poll every device once (``werk edge test``).

        Raises:
            ConnectorError: The server cannot be reached.
        """
        try:
            self._client = await self._open()
        except (OSError, ModbusException) as exc:
            raise ConnectorError(
                f"cannot connect to Modbus server {self.cfg.host}:{self.cfg.port}: {exc}",
                key="connector.unreachable",
                source_id=self.cfg.name,
            ) from exc
        collector = Collector()
        try:
            for device, blocks in self._plans:
                await self._poll(device, blocks, collector)
        except _Lost as exc:
            raise ConnectorError(
                f"Modbus server {self.cfg.host}:{self.cfg.port} dropped the connection: {exc}",
                key="connector.unreachable",
                source_id=self.cfg.name,
            ) from exc
        finally:
            self._client.close()
            self._client = None
        return collector.flush()

    def diagnostics(self) -> Mapping[str, object]:
        """Redacted state for support."""
        return diagnostics(self.cfg, self.health, self.requests, self.exceptions, self.bad_reasons)
