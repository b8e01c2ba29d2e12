"""Report an MQTT source's state for support, without passwords or keys."""

from __future__ import annotations

from collections.abc import Mapping

from werk.connectors.base import SourceHealth
from werk.connectors.derive import bad_reasons
from werk.connectors.mqtt.config import MqttConnection
from werk.connectors.outbox import Outbox


def connection(conn: MqttConnection) -> dict[str, object]:
    """Describe a connection: broker, user, TLS files (paths only), password hidden."""
    return {
        "broker": f"{conn.host}:{conn.port}",
        "client_id": conn.client_id,
        "user": conn.username,
        "password": "***" if conn.password is not None else None,
        "tls": None
        if conn.tls is None
        else {
            "ca": str(conn.tls.ca) if conn.tls.ca else None,
            "cert": str(conn.tls.cert) if conn.tls.cert else None,
            "key": "***" if conn.tls.key else None,
            "insecure": conn.tls.insecure,
        },
    }


def diagnostics(
    conn: MqttConnection,
    health: SourceHealth,
    counters: Mapping[str, int],
    reasons: Mapping[str, int],
    outbox: Outbox,
) -> dict[str, object]:
    """Return connection, health, message counts and BAD reasons."""
    return {
        "type": "mqtt",
        **connection(conn),
        "connected": health.connected,
        "last_value_at": None if health.last_value_at is None else health.last_value_at.isoformat(),
        "reconnects": health.reconnects,
        "bad_values": health.bad_values,
        "bad_reasons": bad_reasons(reasons),
        "last_error": health.last_error,
        "dropped_batches": outbox.dropped_batches,
        **dict(counters),
        **dict(health.extra),
    }
