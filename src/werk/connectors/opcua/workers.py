"""Run OPC UA sessions in worker processes and bring their values back as Arrow batches.

Python runs one event loop per process, and one asyncua client saturates near 4,000
notifications/s (opcua-asyncio #1516), so 50,000 tags at 1 Hz need several processes. A source
with ``workers: N`` splits its shares of ``items_per_session`` points round-robin over N
processes (started with ``spawn``: no forked event loop, no inherited sockets). Each worker owns
its sessions and its own :class:`~werk.connectors.derive.Collector` (a point belongs to exactly
one worker, so its event derivation state does too), and every ``flush_interval_ms`` sends one
message over its pipe:

``b"R" + u32 length + samples (Arrow IPC stream) + events (Arrow IPC stream)``
    the batch of values collected since the last flush;
``b"H" + JSON``
    the worker's health: sessions connected, notifications, BAD values, last error.

The agent side reads each pipe in a thread, so the agent's event loop never blocks on a pipe.
A worker that dies is restarted with the shared backoff; its loss is logged once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing as mp
import os
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

import pyarrow as pa

from werk.connectors.base import Backoff, Readings, SourceHealth
from werk.connectors.derive import Collector
from werk.connectors.opcua.config import OpcUaConfig, OpcUaPoint
from werk.connectors.outbox import Link, Outbox

_log = logging.getLogger(__name__)


def shares(points: Sequence[OpcUaPoint], size: int) -> list[list[OpcUaPoint]]:
    """Split points into shares of at most ``size`` (one client session each)."""
    return [list(points[i : i + size]) for i in range(0, len(points), size)] or []


def _ipc(batch: pa.RecordBatch) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue())


def encode_readings(readings: Readings) -> bytes:
    """Frame readings for the pipe (see the module docstring)."""
    samples = _ipc(readings.samples)
    return b"R" + struct.pack("<I", len(samples)) + samples + _ipc(readings.events)


def decode_readings(data: bytes) -> Readings:
    """Read framed readings back."""
    (n,) = struct.unpack_from("<I", data, 1)
    samples = pa.ipc.open_stream(pa.py_buffer(data[5 : 5 + n])).read_next_batch()
    events = pa.ipc.open_stream(pa.py_buffer(data[5 + n :])).read_next_batch()
    return Readings(samples, events)


def worker_main(config: OpcUaConfig, points: list[OpcUaPoint], conn: Connection) -> None:
    """Entry point of a worker process: run sessions for these points until killed.

    The config arrives pickled, not as JSON: JSON would mask the password and key password.
    """
    logging.basicConfig(level=logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_worker(config, points, conn))


async def _worker(config: OpcUaConfig, points: list[OpcUaPoint], conn: Connection) -> None:
    from werk.connectors.opcua.session import Session

    collector = Collector()
    health = SourceHealth()
    sessions = [
        Session(config, share, collector, SourceHealth(), label=f"session {i}")
        for i, share in enumerate(shares(points, config.items_per_session))
    ]
    async with asyncio.TaskGroup() as group:
        for s in sessions:
            group.create_task(s.run())
        interval = config.flush_interval_ms / 1000
        last_health = 0.0
        while True:
            await asyncio.sleep(interval)
            if len(collector):
                await _send(conn, encode_readings(collector.flush()))
            now = time.monotonic()
            if now - last_health >= 1.0:
                last_health = now
                errors = [s.health.last_error for s in sessions if s.health.last_error]
                report = {
                    "sessions": len(sessions),
                    "connected": sum(s.health.connected for s in sessions),
                    "notifications": sum(s.notifications for s in sessions),
                    "bad_values": sum(s.health.bad_values for s in sessions) + health.bad_values,
                    "reconnects": sum(s.health.reconnects for s in sessions),
                    "last_error": errors[-1] if errors else None,
                    "resets": collector.deriver.resets,
                }
                await _send(conn, b"H" + json.dumps(report).encode())


async def _send(conn: Connection, data: bytes) -> None:
    try:
        await asyncio.to_thread(conn.send_bytes, data)
    except (OSError, EOFError, ValueError):
        # The agent is gone (killed, or closed the pipe): nobody to send values to. Exit at
        # once instead of unwinding sessions that would only reconnect for nobody.
        os._exit(0)


@dataclass(slots=True)
class WorkerState:
    """What the agent knows of one worker process."""

    index: int
    points: list[OpcUaPoint]
    process: BaseProcess | None = None
    report: dict[str, object] = field(default_factory=dict)
    restarts: int = 0


class WorkerPool:
    """Start, watch and restart the worker processes of one source."""

    def __init__(
        self,
        config: OpcUaConfig,
        points: Sequence[OpcUaPoint],
        outbox: Outbox,
        health: SourceHealth,
    ) -> None:
        self.config = config
        self.outbox = outbox
        self.health = health
        all_shares = shares(points, config.items_per_session)
        n = max(1, min(config.workers, len(all_shares)))
        self.workers = [
            WorkerState(i, [p for share in all_shares[i::n] for p in share]) for i in range(n)
        ]
        self._ctx = mp.get_context("spawn")

    async def run(self) -> None:
        """Keep every worker running (cancel to stop them all)."""
        try:
            async with asyncio.TaskGroup() as group:
                for w in self.workers:
                    group.create_task(
                        self._keep(w), name=f"werk[opcua:{self.config.name}].w{w.index}"
                    )
        finally:
            for w in self.workers:
                self._stop(w)

    def _stop(self, w: WorkerState) -> None:
        p = w.process
        if p is not None and p.is_alive():
            p.terminate()
            p.join(2)
            if p.is_alive():
                p.kill()
        w.process = None

    async def _keep(self, w: WorkerState) -> None:
        backoff = Backoff()
        link = Link(_log, f"OPC UA {self.config.name} worker {w.index}", SourceHealth())
        base = self.config.model_copy(update={"devices": [], "discover": None})
        while True:
            recv, send = self._ctx.Pipe(duplex=False)
            proc = self._ctx.Process(
                target=worker_main,
                args=(base, w.points, send),
                name=f"werk-opcua-{self.config.name}-{w.index}",
                daemon=True,
            )
            proc.start()
            send.close()
            w.process = proc
            try:
                await self._read(w, recv, link, backoff)
            finally:
                recv.close()
                self._stop(w)
            w.restarts += 1
            link.down(f"worker process exited with code {proc.exitcode}")
            await asyncio.sleep(backoff.next_delay())

    async def _read(self, w: WorkerState, conn: Connection, link: Link, backoff: Backoff) -> None:
        while True:
            try:
                data = await asyncio.to_thread(conn.recv_bytes)
            except (EOFError, OSError):
                return
            if data[:1] == b"R":
                self.outbox.put(decode_readings(data))
                self.health.last_value_at = link.health.last_value_at
                link.seen()
            elif data[:1] == b"H":
                w.report = json.loads(data[1:])
                if w.report.get("connected") == w.report.get("sessions"):
                    link.up()
                    backoff.reset()
                self._merge()

    def _merge(self) -> None:
        reports = [w.report for w in self.workers]
        h = self.health
        h.connected = all(r and r.get("connected") == r.get("sessions") for r in reports)
        h.bad_values = sum(int(str(r.get("bad_values", 0))) for r in reports)
        errors = [str(r["last_error"]) for r in reports if r.get("last_error")]
        if errors:
            h.last_error = errors[-1]
        h.extra["workers"] = len(self.workers)
        h.extra["sessions_connected"] = sum(int(str(r.get("connected", 0))) for r in reports)
        h.extra["notifications"] = sum(int(str(r.get("notifications", 0))) for r in reports)
        h.extra["worker_restarts"] = sum(w.restarts for w in self.workers)
