"""Send buffered batches to the platform's ingest door and delete them once acknowledged.

Each batch is POSTed to ``/api/v1/ingest`` as the Arrow IPC stream the buffer holds (buffers
compressed with zstd or lz4, so no Content-Encoding is needed), with ``Idempotency-Key:
<edge>:<seq>`` and the edge's API key as a bearer token. The platform answers 200 only after the
batch is committed and answers a repeated key as before without storing it again, so a batch
whose answer was lost is simply sent again: delivery is exactly once.

Answers decide what happens to a batch:

==========================  ================================================================
answer                      the batch
==========================  ================================================================
200                         acknowledged: deleted from the buffer
400, 413, 415, 422          refused for good (the platform keeps it as a dead letter): deleted,
                            counted as dead, logged — it must not block the line behind it
401, 403, 404               kept; the credential or URL is wrong, which a person must fix:
                            retried with backoff, logged once
408, 429, 5xx, no answer    kept and retried with the shared capped, jittered backoff
==========================  ================================================================

A loss of the platform is logged once, and its recovery once, not every retry.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal, Self

import httpx

from werk.connectors.base import Backoff
from werk.edge.buffer import Buffer, Pending
from werk.edge.plant import UplinkConfig
from werk.errors import ConfigError

log = logging.getLogger("werk.edge.uplink")

ARROW_STREAM: Final = "application/vnd.apache.arrow.stream"
DEAD: Final = frozenset({400, 413, 415, 422})
"""Answers that mean the batch itself is wrong: the platform dead-lettered it."""

Outcome = Literal["acked", "dead", "retry"]


def api_key(config: UplinkConfig, base_dir: Path) -> str:
    """Return the edge's API key from its environment variable or file.

    Raises:
        ConfigError: neither holds a key.
    """
    if config.api_key_env and os.environ.get(config.api_key_env):
        return os.environ[config.api_key_env].strip()
    if config.api_key_file:
        path = Path(config.api_key_file).expanduser()
        path = path if path.is_absolute() else base_dir / path
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read the API key file {path}: {exc.strerror}",
                key="edge.api_key",
                field="uplink.api_key_file",
            ) from None
    raise ConfigError(
        f"no API key: set {config.api_key_env or 'uplink.api_key_env'} or uplink.api_key_file "
        "(create one with 'werk keys create --edge NAME')",
        key="edge.api_key",
        field="uplink.api_key_env",
    )


@dataclass(slots=True)
class UplinkState:
    """What the uplink has done, for the health report."""

    connected: bool = False
    last_ack_at: datetime | None = None
    last_error: str | None = None
    sent_batches: int = 0
    sent_rows: int = 0
    retries: int = 0
    dead_batches: int = 0
    recent_dead: list[str] = field(default_factory=list)


class Uplink:
    """The connection to the platform (an async context manager)."""

    def __init__(
        self,
        config: UplinkConfig,
        *,
        edge: str,
        buffer: Buffer,
        key: str,
        backlog_rate: float = 200_000,
        concurrency: int = 2,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.edge = edge
        self.buffer = buffer
        self.backlog_rate = backlog_rate
        self.concurrency = concurrency
        self.state = UplinkState()
        self._key = key
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._backoff = Backoff()
        self._tokens = 0.0
        self._refilled = time.monotonic()

    async def __aenter__(self) -> Self:
        verify: bool | str = self.config.ca_file or self.config.verify
        self._client = httpx.AsyncClient(
            base_url=self.config.url.rstrip("/"),
            headers={"Authorization": f"Bearer {self._key}"},
            timeout=self.config.timeout_s,
            verify=verify,
            transport=self._transport,
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _lost(self, reason: str) -> None:
        if self.state.connected or self.state.last_error is None:
            log.warning(
                "edge %s: platform unreachable (%s); keeping batches on disk", self.edge, reason
            )
        self.state.connected = False
        self.state.last_error = reason

    async def send(self, batch: Pending) -> Outcome:
        """POST one batch and say what became of it (the buffer is not touched)."""
        assert self._client is not None, "use 'async with uplink:' first"
        try:
            response = await self._client.post(
                "/api/v1/ingest",
                content=batch.body,
                headers={
                    "Content-Type": ARROW_STREAM,
                    "Idempotency-Key": f"{self.edge}:{batch.seq}",
                },
            )
        except httpx.HTTPError as exc:
            self._lost(f"{type(exc).__name__}: {exc}")
            return "retry"
        status = response.status_code
        if status == 200:
            if not self.state.connected:
                log.info("edge %s: platform reachable at %s", self.edge, self.config.url)
            self.state.connected = True
            self.state.last_error = None
            self.state.last_ack_at = datetime.now(UTC)
            return "acked"
        detail = response.text[:500]
        if status in DEAD:
            log.error(
                "edge %s: batch %d (%d %s) refused by the platform with %d, dead-lettered "
                "there and dropped here: %s",
                self.edge,
                batch.seq,
                batch.rows,
                batch.kind,
                status,
                detail,
            )
            self.state.recent_dead = [*self.state.recent_dead[-9:], f"{batch.seq}: {detail}"]
            return "dead"
        self._lost(f"HTTP {status}: {detail}")
        return "retry"

    def _may_send_backlog(self, rows: int) -> float:
        """Return seconds to wait before ``rows`` of backlog may go (token bucket)."""
        now = time.monotonic()
        self._tokens = min(
            self.backlog_rate, self._tokens + (now - self._refilled) * self.backlog_rate
        )
        self._refilled = now
        if self._tokens >= rows or self._tokens >= self.backlog_rate:
            self._tokens -= rows
            return 0.0
        return (min(rows, self.backlog_rate) - self._tokens) / self.backlog_rate

    async def round(self) -> int:
        """Send one window of batches (live first); return how many were settled.

        Returns -1 when a batch has to be retried (the caller backs off).
        """
        batches = await asyncio.to_thread(self.buffer.take, self.concurrency, lane="live")
        if not batches:
            batches = await asyncio.to_thread(self.buffer.take, self.concurrency, lane="backlog")
            if batches:
                wait = self._may_send_backlog(sum(b.rows for b in batches))
                if wait > 0:
                    await asyncio.sleep(wait)
        if not batches:
            return 0
        outcomes = await asyncio.gather(*(self.send(b) for b in batches))
        acked = [b.seq for b, o in zip(batches, outcomes, strict=True) if o == "acked"]
        dead = [b.seq for b, o in zip(batches, outcomes, strict=True) if o == "dead"]
        await asyncio.to_thread(self.buffer.ack, acked)
        await asyncio.to_thread(self.buffer.dead, dead)
        self.state.sent_batches += len(acked)
        self.state.sent_rows += sum(
            b.rows for b, o in zip(batches, outcomes, strict=True) if o == "acked"
        )
        self.state.dead_batches += len(dead)
        if "retry" in outcomes:
            self.state.retries += 1
            return -1
        return len(batches)

    async def run(self, wake: asyncio.Event) -> None:
        """Deliver batches forever: send while there are any, else wait to be woken."""
        while True:
            settled = await self.round()
            if settled < 0:
                await asyncio.sleep(self._backoff.next_delay())
                continue
            self._backoff.reset()
            if settled == 0:
                wake.clear()
                try:
                    async with asyncio.timeout(self.config.flush_interval_s):
                        await wake.wait()
                except TimeoutError:
                    pass

    async def drain(self, seconds: float) -> bool:
        """Send what the buffer holds for at most ``seconds``; True if it is empty after."""
        try:
            async with asyncio.timeout(seconds):
                while True:
                    settled = await self.round()
                    if settled == 0:
                        return True
                    if settled < 0:
                        await asyncio.sleep(min(1.0, self._backoff.next_delay()))
        except TimeoutError:
            return False

    async def report(self, body: dict[str, object]) -> bool:
        """POST the agent's health to the platform; False if it did not take it."""
        assert self._client is not None, "use 'async with uplink:' first"
        try:
            response = await self._client.post("/api/v1/edge/health", json=body)
        except httpx.HTTPError as exc:
            log.debug("edge %s: health report not sent: %s", self.edge, exc)
            return False
        if response.status_code != 200:
            log.debug(
                "edge %s: health report refused: %d %s",
                self.edge,
                response.status_code,
                response.text[:200],
            )
        return response.status_code == 200
