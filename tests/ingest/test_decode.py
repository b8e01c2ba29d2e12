"""Bodies are decoded or refused with a clear reason: corrupt, truncated, unknown type, too big."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pytest

from werk.errors import InvalidInput, PayloadError, PayloadTooLarge, UnsupportedMedia
from werk.ingest.decode import ARROW_STREAM, JSON, decode, decompress, media_type


def arrow_body(table: pa.Table, compression: str | None = None) -> bytes:
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression=compression)
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


TABLE = pa.table(
    {
        "path": ["a/b/c/d/e"] * 1000,
        "signal": ["x"] * 1000,
        "ts": pa.array(range(1000), pa.int64()).cast(pa.timestamp("ns", tz="UTC")),
        "value": [float(i) for i in range(1000)],
        "quality": pa.array([0] * 1000, pa.uint8()),
    }
)


@pytest.mark.parametrize("compression", [None, "zstd", "lz4"])
def test_arrow_streams_with_buffer_compression(compression: str | None) -> None:
    decoded = decode(arrow_body(TABLE, compression), ARROW_STREAM)
    assert decoded.samples is not None
    assert decoded.samples.equals(TABLE)


def test_truncated_arrow_stream() -> None:
    body = arrow_body(TABLE)
    with pytest.raises(PayloadError) as info:
        decode(body[: len(body) // 2], ARROW_STREAM)
    assert "Arrow" in info.value.message


def test_garbage_arrow_stream() -> None:
    with pytest.raises(PayloadError):
        decode(b"\x00\x01not arrow at all" * 10, ARROW_STREAM)


def test_unknown_content_type() -> None:
    with pytest.raises(UnsupportedMedia) as info:
        media_type("text/csv")
    assert info.value.status == 415
    assert media_type("application/json; charset=utf-8") == JSON


def test_content_encoding_and_size_limit() -> None:
    body = arrow_body(TABLE)
    assert decompress(gzip.compress(body), "gzip", len(body)) == body
    with pytest.raises(PayloadTooLarge):
        decompress(gzip.compress(body), "gzip", len(body) - 1)
    with pytest.raises(PayloadTooLarge):
        decompress(body, None, 10)
    with pytest.raises(PayloadError):
        decompress(b"not gzip", "gzip", 1000)
    with pytest.raises(UnsupportedMedia):
        decompress(body, "brotli", 10**9)


def test_json_samples_and_events() -> None:
    doc = {
        "samples": [
            {"path": "a/b", "signal": "x", "ts": "2026-11-23T10:00:00Z", "value": 1, "quality": 0},
            {"path": "a/b", "signal": "x", "ts": 1_795_000_000_000_000_000, "value": 2.5},
        ],
        "events": [{"path": "a/b", "ts": "2026-11-23T10:00:00+01:00", "kind": "count", "good": 5}],
    }
    decoded = decode(json.dumps(doc).encode(), JSON)
    assert decoded.samples is not None
    assert decoded.events is not None
    assert decoded.samples.column("value").to_pylist() == [1.0, 2.5]
    assert decoded.events.column("good").to_pylist() == [5]
    assert decoded.rows == 3


@pytest.mark.parametrize(
    ("doc", "field", "row"),
    [
        ({"samples": [{"path": "a", "signal": "x", "ts": "2026-11-23T10:00:00"}]}, "ts", None),
        ({"samples": [{"path": "a", "signal": "x", "ts": 1, "value": "hot"}]}, "value", 0),
        ({"samples": [{"signal": "x", "ts": 1, "value": 1}]}, "path", 0),
        ({"events": [{"path": "a", "ts": 1, "kind": "count", "good": "5"}]}, "good", 0),
    ],
)
def test_json_errors_name_the_field(doc: dict[str, object], field: str, row: int | None) -> None:
    with pytest.raises(InvalidInput) as info:
        decode(json.dumps(doc).encode(), JSON)
    assert info.value.fields.get("field") == field
    assert info.value.fields.get("row") == row


def test_invalid_json() -> None:
    with pytest.raises(PayloadError) as info:
        decode(b'{"samples": [', JSON)
    assert info.value.fields["line"] == 1
