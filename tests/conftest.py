"""Shared fixtures: real local services (PostgreSQL, MQTT), each test run in its own database."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from typing import NoReturn

import pytest
from hypothesis import HealthCheck, settings

# Two cores shared by two test workers, servers and databases: generation speed and per-example
# time say nothing about correctness here, so those health checks would only make runs flaky.
settings.register_profile(
    "werk", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile("werk")

REQUIRE_SERVICES = os.environ.get("WERK_REQUIRE_SERVICES") == "1"
PG_ADMIN_URL = os.environ.get("WERK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Tell whether something listens on ``host:port``."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def need_service(name: str, port: int) -> None:
    """Skip the test when a local service is down; fail instead when services are required."""
    if port_open(port):
        return
    unavailable(f"{name} is not running on 127.0.0.1:{port}")


def unavailable(message: str) -> NoReturn:
    """Skip a test whose prerequisite is missing; fail instead when services are required."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and WERK_REQUIRE_SERVICES=1")
    pytest.skip(message)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """Yield the URL of a fresh, empty PostgreSQL database, dropped afterwards."""
    need_service("PostgreSQL", 5432)
    import psycopg

    name = f"werk_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def mqtt_port() -> int:
    """Return the port of the local MQTT broker (Mosquitto)."""
    need_service("Mosquitto", 1883)
    return 1883
