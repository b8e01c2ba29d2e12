"""Talk to the InfluxDB 1.x peer: line protocol built with Arrow compute, writes and InfluxQL.

Schema on the InfluxDB side, the idiomatic one for these rows: measurement ``samples``, tags
``path`` and ``signal`` (one InfluxDB series per werk series), fields ``value`` (float) and
``quality`` (integer, written only when not GOOD) — the same information werk stores. Line
protocol is built per batch without per-row Python: one precomputed
``samples,path=…,signal=… value=`` key per series, joined element-wise with the formatted values,
qualities and nanosecond timestamps; the request body is the string array's data buffer itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Final

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bench.data import Batch, Series

MEASUREMENT: Final = "samples"
DEFAULT_URL: Final = f"http://127.0.0.1:{os.environ.get('WERK_BENCH_INFLUX_PORT', '18086')}"


def _escape_tag(values: pa.Array) -> pa.Array:
    """Escape what line protocol reserves in tag values (comma, equals sign, space)."""
    for char in (",", "=", " "):
        values = pc.replace_substring(values, char, "\\" + char)
    return values


class LineProtocol:
    """Encode batches of one run's series as InfluxDB line protocol."""

    def __init__(self, series: Series) -> None:
        self._keys = pc.binary_join_element_wise(
            pa.scalar(f"{MEASUREMENT},path="),
            _escape_tag(series.paths),
            pa.scalar(",signal="),
            _escape_tag(series.signals),
            pa.scalar(" value="),
            "",
        )

    def encode(self, batch: Batch) -> bytes:
        """Return the line protocol body of ``batch`` (one line per sample, ns timestamps)."""
        raw = batch.raw
        quality = raw.column("quality")
        # Sparse quality: InfluxDB's write cost grows with every field value, so GOOD (the
        # vast majority) is the field's absence and only UNCERTAIN and BAD are written.
        # The same information as werk's column, at nearly the price of one field.
        flagged = pc.binary_join_element_wise(
            pa.scalar(",quality="), pc.cast(quality, pa.string()), pa.scalar("i"), ""
        )
        quality_text = pc.if_else(pc.equal(quality, 0), pa.scalar(""), flagged)
        lines = pc.binary_join_element_wise(
            pc.take(self._keys, raw.column("series_id")),
            pc.cast(raw.column("value"), pa.string()),
            quality_text,
            pa.scalar(" "),
            pc.cast(pc.cast(raw.column("ts"), pa.int64()), pa.string()),
            pa.scalar("\n"),
            "",
        )
        array = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
        if array.null_count:
            raise ValueError("line protocol has null lines; the batch holds nulls")
        _, offsets_buffer, data = array.buffers()
        offsets = np.frombuffer(offsets_buffer, np.int32)
        first, last = int(offsets[array.offset]), int(offsets[array.offset + len(array)])
        return data.slice(first, last - first).to_pybytes()  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class InfluxResult:
    """Rows an InfluxQL query answered (summed over its series)."""

    rows: int
    series: int


class Influx:
    """A small, synchronous InfluxDB 1.x HTTP client for set-up, queries and version."""

    def __init__(self, url: str, database: str) -> None:
        self.url = url
        self.database = database
        self.client = httpx.Client(base_url=url, timeout=httpx.Timeout(600.0))

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    def __enter__(self) -> Influx:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def available(self) -> bool:
        """Tell whether the server answers ``/ping``."""
        try:
            return self.client.get("/ping", timeout=2.0).status_code == 204
        except httpx.HTTPError:
            return False

    def version(self) -> str:
        """Return the server's version (the ``X-Influxdb-Version`` header of ``/ping``)."""
        return str(self.client.get("/ping").headers.get("x-influxdb-version", "?"))

    def _execute(self, statement: str, **params: str) -> dict[str, Any]:
        response = self.client.post("/query", params={"q": statement, **params})
        response.raise_for_status()
        doc: dict[str, Any] = response.json()
        for result in doc.get("results", []):
            if "error" in result:
                raise RuntimeError(f"InfluxDB refused {statement!r}: {result['error']}")
        return doc

    def recreate(self) -> None:
        """Drop and create the benchmark database."""
        self._execute(f'DROP DATABASE "{self.database}"')
        self._execute(f'CREATE DATABASE "{self.database}"')

    def drop(self) -> None:
        """Drop the benchmark database."""
        self._execute(f'DROP DATABASE "{self.database}"')

    def write(self, body: bytes) -> None:
        """Write one line protocol body (ns precision) and wait for InfluxDB's 204."""
        response = self.client.post(
            "/write", params={"db": self.database, "precision": "ns"}, content=body
        )
        if response.status_code != 204:
            raise RuntimeError(f"InfluxDB write failed: {response.status_code} {response.text}")

    def count(self) -> int:
        """Values of the ``value`` field stored, over every series."""
        doc = self._execute(f"SELECT count(value) FROM {MEASUREMENT}", db=self.database)
        series = doc["results"][0].get("series", [])
        return int(series[0]["values"][0][1]) if series else 0

    def query(self, statement: str) -> InfluxResult:
        """Run an InfluxQL query, parse the whole JSON answer, count its rows."""
        doc = self._execute(statement, db=self.database, epoch="ns")
        rows = series = 0
        for result in doc.get("results", []):
            for one in result.get("series", []):
                series += 1
                rows += len(one.get("values", []))
        return InfluxResult(rows=rows, series=series)


def regex_literal(prefix: str) -> str:
    """Return an InfluxQL regex matching tag values that start with ``prefix/``."""
    return "/^" + prefix.replace("/", "\\/").replace(".", "\\.").replace("-", "\\-") + "\\//"
