"""Talk to a werk server over HTTP: :class:`Client` returns Arrow tables, streams and dicts.

Tables travel as Arrow IPC streams (``Accept: application/vnd.apache.arrow.stream``), so a week
of one-minute buckets of a machine arrives as columns, not as JSON rows. Problem answers
(``application/problem+json``) are raised as the :mod:`werk.errors` class of their status with
the server's ``key`` and fields, exactly as the server raised them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Final

import httpx
import pyarrow as pa

from werk.errors import (
    AuthError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadError,
    PayloadTooLarge,
    StoreError,
    StoreUnavailable,
    UnsupportedMedia,
    WerkError,
)

ARROW: Final = "application/vnd.apache.arrow.stream"
DEFAULT_URL: Final = "http://127.0.0.1:8600"
_PROBLEM_META: Final = ("type", "title", "status", "detail", "key")
_BY_STATUS: Final[dict[int, type[WerkError]]] = {
    400: PayloadError,
    401: AuthError,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMedia,
    422: InvalidInput,
    500: StoreError,
    503: StoreUnavailable,
}

Time = datetime | str
"""A time: an aware datetime, ISO 8601 text, ``now`` or relative text like ``-7d``."""

Params = Mapping[str, str | int | float | bool | Sequence[str] | None]


def error_of(response: httpx.Response) -> WerkError:
    """Return the werk error a problem answer describes (the class of its status, its key)."""
    try:
        body = response.json()
    except ValueError:
        body = {"detail": response.text or response.reason_phrase}
    if not isinstance(body, dict):
        body = {"detail": str(body)}
    cls = _BY_STATUS.get(response.status_code, WerkError)
    fields = {k: v for k, v in body.items() if k not in _PROBLEM_META}
    return cls(str(body.get("detail", "")), key=body.get("key") or None, **fields)


def _time(value: Time) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidInput(
                f"{value.isoformat()} has no time zone; werk takes aware datetimes",
                key="client.naive_datetime",
                field="time",
            )
        return value.isoformat()
    return value


def _clean(params: Params) -> dict[str, str | int | float | bool | list[str]]:
    out: dict[str, str | int | float | bool | list[str]] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = list(value) if isinstance(value, list | tuple) else value  # type: ignore[assignment]
    return out


@dataclass(frozen=True, slots=True)
class StreamMessage:
    """One message of a live stream: ``event`` (latest, sample, event, dropped, end) and data."""

    event: str
    data: dict[str, object]


class Client:
    """A connection to one werk server.

    Args:
        url: Base URL (default: ``WERK_URL`` or http://127.0.0.1:8600).
        api_key: API key (default: ``WERK_API_KEY``).
        token: A login token (from ``POST /api/v1/auth/login``) instead of an API key.
        timeout: Seconds to wait for an answer.
        transport: An httpx transport (tests pass an in-process one).

    Example::

        with Client() as werk:
            table = werk.range("acme/plant/body/line-1/press-01", "-1d", bucket="1m")
    """

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = (url or os.environ.get("WERK_URL") or DEFAULT_URL).rstrip("/")
        secret = token or api_key or os.environ.get("WERK_API_KEY")
        if not secret:
            raise AuthError(
                "give api_key= or token=, or set WERK_API_KEY", key="auth.missing", field="api_key"
            )
        self._http = httpx.Client(
            base_url=f"{self.url}/api/v1",
            headers={"Authorization": f"Bearer {secret}"},
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # -- plumbing ----------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        route: str,
        params: Params | None = None,
        *,
        accept: str = "application/json",
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        try:
            response = self._http.request(
                method,
                route,
                params=_clean(params or {}),
                content=content,
                headers={"Accept": accept, **(headers or {})},
            )
        except httpx.TransportError as exc:
            raise StoreUnavailable(
                f"cannot reach the werk server at {self.url}: {exc}", field="url"
            ) from exc
        if response.status_code >= 400:
            raise error_of(response)
        return response

    def get_json(self, route: str, params: Params | None = None) -> dict[str, object]:
        """GET ``/api/v1/<route>`` and return its JSON answer."""
        body: dict[str, object] = self._send("GET", route, params).json()
        return body

    def get_table(self, route: str, params: Params | None = None) -> pa.Table:
        """GET ``/api/v1/<route>`` as an Arrow IPC stream and return the table."""
        response = self._send("GET", route, params, accept=ARROW)
        return pa.ipc.open_stream(pa.py_buffer(response.content)).read_all()

    def _pages(self, route: str, params: Params) -> pa.Table:
        tables: list[pa.Table] = []
        cursor: str | None = None
        while True:
            response = self._send("GET", route, {**params, "cursor": cursor}, accept=ARROW)
            tables.append(pa.ipc.open_stream(pa.py_buffer(response.content)).read_all())
            cursor = response.headers.get("Werk-Next-Cursor")
            if not cursor:
                break
        return pa.concat_tables(tables) if len(tables) > 1 else tables[0]

    # -- reads -------------------------------------------------------------------------------

    def series(self, path: str | None = None) -> pa.Table:
        """Return the series at or below ``path``: path, signal, unit, value type."""
        return self.get_table("series", {"path": path})

    def signals(self, path: str | None = None) -> pa.Table:
        """Return the signals at or below ``path`` with unit, type and newest value."""
        return self._pages("signals", {"path": path, "limit": 50_000})

    def latest(self, path: str | None = None, signals: Sequence[str] | None = None) -> pa.Table:
        """Return the newest sample of every series at or below ``path``."""
        return self.get_table("latest", {"path": path, "signal": signals})

    def range(
        self,
        path: str,
        start: Time,
        end: Time = "now",
        *,
        signals: Sequence[str] | None = None,
        bucket: str | None = None,
        agg: str = "avg",
        tz: str = "UTC",
        descendants: bool = False,
    ) -> pa.Table:
        """Return samples of ``path`` in ``[start, end)``: raw, or one row per ``bucket``
        (``1m``, ``1h``, ``1d``...) aggregated with ``agg`` and aligned to midnight in ``tz``."""
        return self.get_table(
            "range",
            {
                "path": path,
                "from": _time(start),
                "to": _time(end),
                "signal": signals,
                "bucket": bucket,
                "agg": agg if bucket else None,
                "tz": tz,
                "descendants": descendants,
            },
        )

    def events(
        self,
        path: str | None,
        start: Time,
        end: Time = "now",
        *,
        kinds: Sequence[str] | None = None,
        page_size: int = 50_000,
    ) -> pa.Table:
        """Return the events at or below ``path`` in ``[start, end)`` (every page, in order)."""
        return self._pages(
            "events",
            {
                "path": path,
                "from": _time(start),
                "to": _time(end),
                "kind": kinds,
                "limit": page_size,
            },
        )

    def kpi(
        self,
        path: str,
        start: Time,
        end: Time = "now",
        *,
        by: str = "shift",
        kpis: Sequence[str] | None = None,
    ) -> pa.Table:
        """Return ISO 22400 KPIs of ``path`` per shift, day, week or month (one row a window)."""
        body = self.get_json(
            "kpi",
            {
                "path": path,
                "from": _time(start),
                "to": _time(end),
                "by": by,
                "kpi": ",".join(kpis) if kpis else None,
            },
        )
        rows = body.get("rows")
        assert isinstance(rows, list)
        flat = [
            {
                **{k: v for k, v in row.items() if k not in ("model", "findings")},
                "findings": len(row.get("findings") or ()),
            }
            for row in rows
        ]
        table = (
            pa.Table.from_pylist(flat) if flat else pa.table({"path": pa.array([], pa.string())})
        )
        for name in ("start", "end"):
            if name in table.column_names:
                parsed = pa.array(
                    [datetime.fromisoformat(v) for v in table.column(name).to_pylist()],
                    pa.timestamp("us", tz="UTC"),
                )
                table = table.set_column(table.column_names.index(name), name, parsed)
        return table

    def losses(self, path: str, start: Time, end: Time = "now") -> dict[str, object]:
        """Return the loss tree and downtime Pareto of ``path`` over the range."""
        return self.get_json("losses", {"path": path, "from": _time(start), "to": _time(end)})

    def benchmark(self, path: str, start: Time, end: Time = "now") -> pa.Table:
        """Return the sites under ``path`` side by side, ranked by OEE."""
        body = self.get_json(
            "kpi/benchmark", {"path": path, "from": _time(start), "to": _time(end)}
        )
        rows = body.get("rows")
        assert isinstance(rows, list)
        return pa.Table.from_pylist([{k: v for k, v in r.items() if k != "model"} for r in rows])

    def overview(self, path: str | None = None) -> dict[str, object]:
        """Return the dashboard summary of ``path``: children, states, alarms, freshness."""
        return self.get_json("overview", {"path": path})

    def export(
        self,
        path: str | None,
        start: Time,
        end: Time = "now",
        *,
        kind: str = "samples",
        chunk: str = "1h",
    ) -> Iterator[pa.RecordBatch]:
        """Yield the history at or below ``path`` as record batches, as the server streams them."""
        params = _clean(
            {"path": path, "from": _time(start), "to": _time(end), "kind": kind, "chunk": chunk}
        )
        try:
            with self._http.stream("GET", "export", params=params, headers={"Accept": ARROW}) as r:
                if r.status_code >= 400:
                    r.read()
                    raise error_of(r)
                reader = pa.ipc.open_stream(_Chunks(r.iter_bytes()))
                yield from reader
        except httpx.TransportError as exc:
            raise StoreUnavailable(
                f"the export from {self.url} broke off: {exc}", field="url"
            ) from exc

    def stream(
        self,
        path: str | None = None,
        *,
        signals: Sequence[str] | None = None,
        snapshot: bool = True,
        max_s: float = 3600,
    ) -> Iterator[StreamMessage]:
        """Yield the messages of a live stream (see ``GET /api/v1/stream``) until it ends."""
        params = _clean({"path": path, "signal": signals, "snapshot": snapshot, "max_s": max_s})
        timeout = httpx.Timeout(self._http.timeout.connect, read=None)
        with self._http.stream(
            "GET", "stream", params=params, headers={"Accept": "text/event-stream"}, timeout=timeout
        ) as r:
            if r.status_code >= 400:
                r.read()
                raise error_of(r)
            event, data = "message", ""
            for line in r.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data += line[6:]
                elif not line and data:
                    yield StreamMessage(event, json.loads(data))
                    if event == "end":
                        return
                    event, data = "message", ""

    # -- writes ------------------------------------------------------------------------------

    def ingest(self, table: pa.Table, *, key: str | None = None) -> dict[str, object]:
        """Store a batch of samples (path, signal, ts, value, quality) or events (path, ts,
        kind, ...); ``key`` makes a retry store it once. Return the acknowledgement."""
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        headers = {"Content-Type": ARROW}
        if key:
            headers["Idempotency-Key"] = key
        response = self._send(
            "POST", "ingest", content=sink.getvalue().to_pybytes(), headers=headers
        )
        body: dict[str, object] = response.json()
        return body


class _Chunks:
    """A read-only file over an iterator of byte chunks (what the Arrow reader needs)."""

    closed = False

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = bytearray()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer.extend(chunk)
        if size < 0:
            size = len(self._buffer)
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out

    def close(self) -> None:
        self.closed = True
