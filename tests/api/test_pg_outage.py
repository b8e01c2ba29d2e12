"""PostgreSQL restarted during ingest: clear 503s while down, nothing partial, resumes by itself."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from tests.api.test_ingest_api import ARROW, arrow, sample_table
from tests.conftest import port_open
from werk.api import create_app
from werk.settings import Settings
from werk.store import open_store

ADMIN = "outage-admin"


def pg_ctl(action: str) -> None:
    version = sorted(Path("/etc/postgresql").iterdir())[0].name
    subprocess.run(
        [
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            version,
            "main",
            action,
            *(["-m", "fast"] if action == "stop" else []),
        ],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def postgres_back_up() -> Iterator[None]:
    yield
    if not port_open(5432):  # whatever happened, leave PostgreSQL running for everyone else
        pg_ctl("start")


@pytest.mark.serial
@pytest.mark.usefixtures("postgres_back_up")
def test_postgres_down_gives_503_then_ingest_resumes(pg_url: str, tmp_path: Path) -> None:
    store = open_store(pg_url)
    settings = Settings(data_dir=tmp_path, admin_key=SecretStr(ADMIN))
    headers = {"Authorization": f"Bearer {ADMIN}", "Content-Type": ARROW}
    body = arrow(sample_table(20_000, series=100))
    with TestClient(create_app(settings, store=store)) as client:
        first = client.post(
            "/api/v1/ingest", content=body, headers={**headers, "Idempotency-Key": "e:1"}
        )
        assert first.status_code == 200

        pg_ctl("stop")
        down = client.post(
            "/api/v1/ingest", content=body, headers={**headers, "Idempotency-Key": "e:2"}
        )
        assert down.status_code == 503
        assert down.headers["content-type"] == "application/problem+json"
        assert down.json()["key"] == "store.unavailable"
        assert down.headers["retry-after"]
        health = client.get("/api/v1/health")
        assert health.status_code == 503

        pg_ctl("start")
        deadline = time.monotonic() + 30
        status = 0
        while time.monotonic() < deadline:
            status = client.post(
                "/api/v1/ingest", content=body, headers={**headers, "Idempotency-Key": "e:2"}
            ).status_code
            if status == 200:
                break
            assert status == 503
            time.sleep(0.5)
        assert status == 200
        again = client.post(
            "/api/v1/ingest", content=body, headers={**headers, "Idempotency-Key": "e:2"}
        )
        assert again.json()["duplicate"] is True
    info = store.info()
    assert info.samples == 40_000
    assert info.batches == 2
    store.close()
