"""Identical reads at once: one shared computation, yet every request is decided and audited."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.api.conftest import Api
from tests.api.test_ingest_api import ARROW, arrow, sample_table
from werk.api.flights import Flights


def _audited(api: Api) -> int:
    api.client.app.state.sharing.audit.flush()  # type: ignore[attr-defined]
    return api.store.audit_length()


def _burst(api: Api, url: str, params: dict[str, str], n: int) -> list[bytes]:
    def one(_: int) -> bytes:
        answer = api.client.get(url, params=params, headers=api.headers())
        assert answer.status_code == 200, answer.text
        return answer.content

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(n)))


def test_concurrent_reads_each_pass_the_door_and_see_the_same_data(api: Api) -> None:
    headers = api.headers(
        api.edge_key, **{"Content-Type": ARROW, "Idempotency-Key": "plant-a:burst"}
    )
    posted = api.client.post("/api/v1/ingest", content=arrow(sample_table(40)), headers=headers)
    assert posted.status_code == 200, posted.text
    before = _audited(api)
    bodies = _burst(api, "/api/v1/latest", {}, 24)
    assert len(set(bodies)) == 1
    assert api.client.get("/api/v1/latest", headers=api.headers()).json()["count"] == 10
    assert _audited(api) - before == 25  # one record per request, shared computation or not
    flights: Flights[object] = api.client.app.state.flights  # type: ignore[attr-defined]
    assert flights.passengers >= 25
    assert flights.flights <= flights.passengers

    before = _audited(api)
    overviews = _burst(api, "/api/v1/overview", {}, 16)
    assert all(b.startswith(b'{"path":""') for b in overviews)
    assert _audited(api) - before == 16 * 4  # assets, events, latest and KPI reads each


def test_a_read_after_a_write_sees_it(api: Api) -> None:
    for i in range(3):
        headers = api.headers(
            api.edge_key, **{"Content-Type": ARROW, "Idempotency-Key": f"plant-a:seq:{i}"}
        )
        body = arrow(sample_table(30, series=10 + i))
        assert api.client.post("/api/v1/ingest", content=body, headers=headers).status_code == 200
        counts = {b.count(b'"signal"') for b in _burst(api, "/api/v1/latest", {}, 8)}
        assert counts == {10 + i}
