"""An API app over each store backend, with an admin key and an edge key."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from werk.api import create_app
from werk.api.credentials import create_key
from werk.settings import Settings
from werk.store import Store, open_store

ADMIN = "test-admin-secret"


@dataclass
class Api:
    """A test client with the keys it may use."""

    client: TestClient
    store: Store
    edge_key: str
    viewer_key: str

    def headers(self, key: str = ADMIN, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}", **extra}


@pytest.fixture(params=["duckdb", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'werk.duckdb'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def api(store_url: str, tmp_path: Path) -> Iterator[Api]:
    store = open_store(store_url)
    _, edge = create_key(store, name="edge-plant-a", role="edge", edge="plant-a")
    _, viewer = create_key(store, name="viewer", role="viewer", edge=None)
    settings = Settings(
        data_dir=tmp_path, admin_key=SecretStr(ADMIN), max_body_bytes=8 * 1024 * 1024
    )
    with TestClient(create_app(settings, store=store)) as client:
        yield Api(client=client, store=store, edge_key=edge, viewer_key=viewer)
    store.close()
