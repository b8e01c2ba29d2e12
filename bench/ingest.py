"""Measure ingest throughput: werk's HTTP door and the peers, on the same batches, same clients.

Every target is driven the same way: the payloads are prepared before the clock starts (Arrow
IPC bodies for werk, line protocol for InfluxDB, as a load generator would have them ready; the
direct COPY peer encodes inside the clock, because that is the work werk's PostgreSQL path does in
the server), then ``clients`` threads, each with its own connection, take the next payload until
none is left. The clock stops when the last write is acknowledged.
"""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Final, Generic, TypeVar
from urllib.parse import urlsplit

import pyarrow as pa
from rich.progress import Progress

from bench.data import Batch
from werk.samples import SAMPLE_SCHEMA

ARROW_STREAM: Final = "application/vnd.apache.arrow.stream"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class IngestRow:
    """One measured ingest phase of one target."""

    target: str
    system: str
    """``werk`` or ``peer``."""
    batch: int
    batches: int
    samples: int
    seconds: float

    @property
    def rate(self) -> float:
        """Samples per second."""
        return self.samples / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Payload(Generic[T]):
    """What one request carries, and how many samples that is."""

    body: T
    rows: int
    key: str


Writer = Callable[[Payload[T]], None]
"""Write one payload over a worker's own connection; raise if it was not acknowledged."""


def drive(
    payloads: Sequence[Payload[T]],
    connect: Callable[[], AbstractContextManager[Writer[T]]],
    *,
    clients: int,
    progress: Progress | None = None,
    label: str = "",
) -> float:
    """Send ``payloads`` over ``clients`` concurrent connections; return the seconds it took.

    Connections are opened before the clock starts and closed after it stops.
    """
    task = progress.add_task(label, total=len(payloads)) if progress is not None else None
    lock = threading.Lock()
    cursor: Iterator[int] = iter(range(len(payloads)))
    ready = threading.Barrier(clients + 1)
    done = threading.Barrier(clients + 1)

    def next_index() -> int | None:
        with lock:
            return next(cursor, None)

    def worker() -> None:
        with connect() as write:
            try:
                ready.wait()
                while (index := next_index()) is not None:
                    write(payloads[index])
                    if progress is not None and task is not None:
                        progress.advance(task)
            finally:
                done.wait()

    with ThreadPoolExecutor(clients, thread_name_prefix="bench-client") as pool:
        futures = [pool.submit(worker) for _ in range(clients)]
        try:
            ready.wait(timeout=120)
            start = time.perf_counter()
            done.wait()
            seconds = time.perf_counter() - start
        except threading.BrokenBarrierError:
            seconds = float("nan")
        for future in futures:
            future.result()  # re-raise a worker's failure
    if progress is not None and task is not None:
        progress.remove_task(task)
    return seconds


def arrow_body(table: pa.Table, compression: str | None) -> bytes:
    """Serialise a sample table as an Arrow IPC stream with compressed buffers."""
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression=compression)
    with pa.ipc.new_stream(sink, SAMPLE_SCHEMA, options=options) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()  # type: ignore[no-any-return]


def werk_payloads(
    batches: Sequence[Batch], *, edge: str, first_seq: int, compression: str | None
) -> list[Payload[bytes]]:
    """Encode batches for ``POST /api/v1/ingest``, keyed ``<edge>:<seq>``."""
    return [
        Payload(arrow_body(b.samples, compression), b.rows, f"{edge}:{seq}")
        for seq, b in zip(itertools.count(first_seq), batches, strict=False)
    ]


class WerkHttp:
    """Connections to a werk server's ingest door."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url = url
        self.headers = {**headers, "Content-Type": ARROW_STREAM}

    def connect(self) -> AbstractContextManager[Writer[bytes]]:
        """Open one keep-alive connection; its writer checks every acknowledgement."""
        return _WerkConnection(self.url, self.headers)


class _WerkConnection:
    """One keep-alive HTTP/1.1 connection on the standard library's client.

    A load generator should spend as little of the machine as it can: httpx measured ~1.6 ms of
    CPU per 10k-sample request on this 2-core machine, taken from the server it measures;
    ``http.client`` sends the same request for a fraction of that.
    """

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port, timeout=600
        )
        self.headers = headers

    def __enter__(self) -> Writer[bytes]:
        return self.write

    def __exit__(self, *exc: object) -> None:
        self.conn.close()

    def write(self, payload: Payload[bytes]) -> None:
        self.conn.request(
            "POST",
            "/api/v1/ingest",
            body=payload.body,
            headers={**self.headers, "Idempotency-Key": payload.key},
        )
        response = self.conn.getresponse()
        text = response.read()
        if response.status != 200:
            raise RuntimeError(
                f"werk refused batch {payload.key}: {response.status} {text[:500]!r}"
            )
        ack = json.loads(text)
        if ack["duplicate"] or ack["samples"] != payload.rows:
            raise RuntimeError(f"werk acknowledged batch {payload.key} wrongly: {ack}")
