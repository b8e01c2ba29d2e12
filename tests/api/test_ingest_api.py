"""The ingest door over HTTP: acknowledged after commit, idempotent, bad input named and kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from tests.api.conftest import Api
from werk.samples import SAMPLE_SCHEMA, UTC_NS, to_ns

ARROW = "application/vnd.apache.arrow.stream"
NOW = datetime.now(UTC).replace(microsecond=0)
MACHINE = "acme/berlin/body/line-1/press-01"


def sample_table(n: int, start: datetime = NOW - timedelta(hours=1), series: int = 10) -> pa.Table:
    return pa.table(
        {
            "path": [f"acme/berlin/body/line-1/press-{i % series:02d}" for i in range(n)],
            "signal": ["hydraulic_pressure"] * n,
            "ts": pa.array([to_ns(start) + i * 1_000_000_000 for i in range(n)]).cast(UTC_NS),
            "value": [float(i) for i in range(n)],
            "quality": pa.array([0] * n, pa.uint8()),
        },
        schema=SAMPLE_SCHEMA,
    )


def arrow(table: pa.Table, compression: str | None = "zstd") -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(
        sink, table.schema, options=pa.ipc.IpcWriteOptions(compression=compression)
    ) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def post(api: Api, body: bytes, key: str | None = None, **headers: str) -> object:
    all_headers = {"Content-Type": ARROW, **headers}
    return api.client.post(
        "/api/v1/ingest", content=body, headers=api.headers(key or api.edge_key, **all_headers)
    )


def test_arrow_batch_is_committed_then_acknowledged(api: Api) -> None:
    response = api.client.post(
        "/api/v1/ingest",
        content=arrow(sample_table(100)),
        headers=api.headers(
            api.edge_key, **{"Content-Type": ARROW, "Idempotency-Key": "plant-a:1"}
        ),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["samples"] == 100
    assert body["duplicate"] is False
    assert api.store.info().samples == 100


def test_repeated_key_is_stored_once_and_answered_the_same(api: Api) -> None:
    body = arrow(sample_table(50))
    headers = api.headers(api.edge_key, **{"Content-Type": ARROW, "Idempotency-Key": "plant-a:7"})
    first = api.client.post("/api/v1/ingest", content=body, headers=headers).json()
    again = api.client.post("/api/v1/ingest", content=body, headers=headers).json()
    assert again["duplicate"] is True
    assert again["samples"] == first["samples"] == 50
    assert again["committed_at"] == first["committed_at"]
    assert api.store.info().samples == 50


def test_json_batch_with_events(api: Api) -> None:
    doc = {
        "samples": [
            {"path": MACHINE, "signal": "energy", "ts": NOW.isoformat(), "value": 3.5, "quality": 0}
        ],
        "events": [{"path": MACHINE, "ts": NOW.isoformat(), "kind": "count", "good": 12}],
    }
    response = api.client.post(
        "/api/v1/ingest",
        content=json.dumps(doc),
        headers=api.headers(**{"Content-Type": "application/json"}),
    )
    assert response.status_code == 200, response.text
    assert response.json()["events"] == 1
    events = api.store.events("acme", NOW - timedelta(minutes=1), NOW + timedelta(minutes=1))
    assert events.column("good").to_pylist() == [12]


def test_query_routes(api: Api) -> None:
    api.client.post(
        "/api/v1/ingest",
        content=arrow(sample_table(120, series=2)),
        headers=api.headers(**{"Content-Type": ARROW}),
    )
    series = api.client.get("/api/v1/series", params={"path": "acme/berlin"}, headers=api.headers())
    assert series.json()["count"] == 2
    latest = api.client.get(
        "/api/v1/latest", params={"path": "acme/berlin/body"}, headers=api.headers(api.viewer_key)
    )
    assert latest.status_code == 200
    assert sorted(r["value"] for r in latest.json()["rows"]) == [118.0, 119.0]
    ranged = api.client.get(
        "/api/v1/range",
        params={
            "path": "acme/berlin/body/line-1/press-00",
            "signal": "hydraulic_pressure",
            "from": (NOW - timedelta(hours=2)).isoformat(),
            "to": "now",
            "bucket": "1m",
            "agg": "count",
        },
        headers=api.headers(),
    )
    assert ranged.status_code == 200, ranged.text
    assert sum(r["value"] for r in ranged.json()["rows"]) == 60
    as_arrow = api.client.get(
        "/api/v1/latest", headers=api.headers(Accept=ARROW), params={"path": "acme"}
    )
    table = pa.ipc.open_stream(as_arrow.content).read_all()
    assert table.num_rows == 2
    # path and signal travel dictionary-encoded, the rows are those of the JSON answer
    coded = pa.dictionary(pa.int32(), pa.string())
    assert (table.schema.field("path").type, table.schema.field("signal").type) == (coded, coded)
    as_json = api.client.get("/api/v1/latest", headers=api.headers(), params={"path": "acme"})
    assert table.column("path").to_pylist() == [r["path"] for r in as_json.json()["rows"]]


def problem_of(response: object) -> dict[str, object]:
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    return body


def test_bad_rows_answer_422_name_the_row_and_land_in_dead_letters(api: Api) -> None:
    table = sample_table(10)
    values = table.column("value").to_pylist()
    values[4] = float("inf")
    table = table.set_column(3, "value", pa.array(values))
    response = post(api, arrow(table), **{"Idempotency-Key": "plant-a:9"})
    assert response.status_code == 422  # type: ignore[attr-defined]
    problem = problem_of(response)
    assert problem["key"] == "ingest.non_finite"
    assert problem["row"] == 4
    assert problem["column"] == "value"
    letters = api.store.dead_letters()
    assert letters[0].key == "ingest.non_finite"
    assert letters[0].batch_key == "plant-a:9"
    assert letters[0].payload is not None
    assert api.store.info().samples == 0
    # the server keeps serving
    assert post(api, arrow(sample_table(3)), **{"Idempotency-Key": "plant-a:10"}).status_code == 200  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "key"),
    [
        (b"\xff\x00garbage", ARROW, 400, "input.undecodable"),
        (b"path,signal\n", "text/csv", 415, "input.unsupported_media_type"),
        (b'{"samples": [', "application/json", 400, "input.undecodable"),
    ],
)
def test_undecodable_bodies(
    api: Api, body: bytes, content_type: str, status: int, key: str
) -> None:
    response = post(api, body, **{"Content-Type": content_type, "Idempotency-Key": "plant-a:x"})
    assert response.status_code == status  # type: ignore[attr-defined]
    assert problem_of(response)["key"] == key


def test_truncated_arrow(api: Api) -> None:
    body = arrow(sample_table(1000), compression=None)
    response = post(api, body[: len(body) - 100], **{"Idempotency-Key": "plant-a:t"})
    assert response.status_code == 400  # type: ignore[attr-defined]


def test_wrong_column_type_and_missing_column(api: Api) -> None:
    table = sample_table(5)
    wrong = table.set_column(3, "value", pa.array(["1"] * 5))
    response = post(api, arrow(wrong), **{"Idempotency-Key": "plant-a:w"})
    assert problem_of(response)["column"] == "value"
    missing = table.drop_columns(["ts"])
    response = post(api, arrow(missing), **{"Idempotency-Key": "plant-a:m"})
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert problem_of(response)["column"] == "ts"


def test_body_over_limit(api: Api) -> None:
    response = post(api, b"\0" * (9 * 1024 * 1024), **{"Idempotency-Key": "plant-a:big"})
    assert response.status_code == 413  # type: ignore[attr-defined]


def test_keys_wrong_revoked_and_roles(api: Api) -> None:
    body = arrow(sample_table(3))
    assert post(api, body, key="werk_not-a-key").status_code == 401  # type: ignore[attr-defined]
    none = api.client.post("/api/v1/ingest", content=body, headers={"Content-Type": ARROW})
    assert none.status_code == 401
    # a viewer may read but not ingest
    assert post(api, body, key=api.viewer_key).status_code == 403  # type: ignore[attr-defined]
    # an edge key may not use another edge's key space, and must send a key
    foreign = post(api, body, **{"Idempotency-Key": "plant-b:1"})
    assert foreign.status_code == 403  # type: ignore[attr-defined]
    assert post(api, body).status_code == 422  # type: ignore[attr-defined]
    # revoke it over the API; the next request fails
    revoked = api.client.delete("/api/v1/keys/edge-plant-a", headers=api.headers())
    assert revoked.status_code == 200
    after = post(api, body, **{"Idempotency-Key": "plant-a:2"})
    assert after.status_code == 401  # type: ignore[attr-defined]
    assert problem_of(after)["key"] == "auth.revoked_key"
    # an edge key cannot read
    listing = api.client.get("/api/v1/keys", headers=api.headers(api.viewer_key))
    assert listing.status_code == 403


def test_bad_query_parameters(api: Api) -> None:
    response = api.client.get(
        "/api/v1/range",
        params={"path": MACHINE, "from": "yesterday", "bucket": "1m"},
        headers=api.headers(),
    )
    assert response.status_code == 422
    assert problem_of(response)["field"] == "from"
    response = api.client.get(
        "/api/v1/range",
        params={"path": MACHINE, "from": "-1h", "bucket": "3y"},
        headers=api.headers(),
    )
    assert problem_of(response)["field"] == "bucket"
    response = api.client.get("/api/v1/latest", params={"path": "Acme"}, headers=api.headers())
    assert problem_of(response)["field"] == "path"
