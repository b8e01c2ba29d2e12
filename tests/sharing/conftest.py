"""A live werk server (uvicorn on loopback) with three participants, data, offers and keys.

``acme`` (plant operator) owns ``acme/wob`` and has two days of samples of a robot and an oven;
``kuka`` (machine builder) and ``bosch`` (supplier) own nothing there and read only under
agreements. The server runs in a thread over a store the test also holds, so tests can look at
the store (audit, counters) directly.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pytest
import uvicorn
from pydantic import SecretStr

from tests.conftest import PG_ADMIN_URL, need_service
from werk.api import create_app
from werk.api.credentials import create_key
from werk.samples import SAMPLE_SCHEMA
from werk.settings import Settings
from werk.sharing.participants import Participant, ParticipantKind, Participants
from werk.store import Store, open_store

ADMIN = "sharing-test-admin-secret-0123456789"
DAY = datetime(2026, 11, 20, tzinfo=UTC)
"""Data covers [DAY - 1 day, DAY + 1 day) every 5 minutes."""
ROBOT = "acme/wob/body/line-1/robot-01"
OVEN = "acme/wob/paint/line-2/oven-01"
SIGNALS = ("temp", "current", "vibration")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def samples() -> pa.Table:
    """Two days of three signals on the robot and one on the oven, every 5 minutes."""
    ts = np.arange(
        np.datetime64((DAY - timedelta(days=1)).replace(tzinfo=None), "ns"),
        np.datetime64((DAY + timedelta(days=1)).replace(tzinfo=None), "ns"),
        np.timedelta64(5, "m"),
    )
    parts = []
    for path, signal in [(ROBOT, s) for s in SIGNALS] + [(OVEN, "temp")]:
        n = len(ts)
        parts.append(
            pa.table(
                {
                    "path": pa.array([path] * n),
                    "signal": pa.array([signal] * n),
                    "ts": pa.array(ts, pa.timestamp("ns", tz="UTC")),
                    "value": pa.array(np.linspace(1.0, 2.0, n)),
                    "quality": pa.array(np.zeros(n, dtype=np.uint8)),
                },
                schema=SAMPLE_SCHEMA,
            )
        )
    return pa.concat_tables(parts)


@dataclass
class World:
    """The running server and who may call it."""

    url: str
    store: Store
    keys: dict[str, str] = field(default_factory=dict)

    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def new_client(self, who: str) -> httpx.Client:
        """Return a new HTTP client authenticated as ``who`` (the caller closes it)."""
        secret = ADMIN if who == "admin" else self.keys[who]
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {secret}"}, timeout=30
        )

    def client(self, who: str) -> httpx.Client:
        """Return the shared HTTP client of ``who`` (admin, acme, kuka, bosch)."""
        if who not in self.clients:
            self.clients[who] = self.new_client(who)
        return self.clients[who]

    def close(self) -> None:
        """Close every shared client."""
        for client in self.clients.values():
            client.close()


def _serve(store: Store, tmp: Path) -> Iterator[str]:
    settings = Settings(
        data_dir=tmp,
        admin_key=SecretStr(ADMIN),
        retention_interval_s=0,
        token_secret=SecretStr("t" * 40),
    )
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, store=store),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        ws="none",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="sharing-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def populate(store: Store) -> dict[str, str]:
    """Register participants, keys and data; return the key secrets."""
    registry = Participants(store)
    registry.create(
        Participant("acme", "ACME Automotive", ParticipantKind.PLANT_OPERATOR, ("acme/wob",))
    )
    registry.create(Participant("kuka", "KUKA Service", ParticipantKind.MACHINE_BUILDER, ("kuka",)))
    registry.create(Participant("bosch", "Bosch Supply", ParticipantKind.SUPPLIER, ()))
    keys = {}
    for who, role in (("acme", "admin"), ("kuka", "viewer"), ("bosch", "viewer")):
        _, keys[who] = create_key(store, name=f"{who}-key", role=role, edge=None, participant=who)
    store.write("sharing-test-data", samples())
    return keys


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """A live server over a fresh store of each backend, shared by a module's tests."""
    tmp = tmp_path_factory.mktemp("sharing")
    database = None
    if request.param == "duckdb":
        url = f"duckdb:///{tmp / 'werk.duckdb'}"
    else:
        need_service("PostgreSQL", 5432)
        import psycopg

        database = f"werk_t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{database}"
    store = open_store(url)
    try:
        keys = populate(store)
        for base in _serve(store, tmp):
            world = World(base, store, keys)
            yield world
            world.close()
    finally:
        store.close()
        if database is not None:
            import psycopg

            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
