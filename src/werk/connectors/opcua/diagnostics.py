"""Report an OPC UA source's state for support, without secrets."""

from __future__ import annotations

from collections.abc import Mapping

from werk.connectors.base import SourceHealth
from werk.connectors.opcua.config import OpcUaConfig


def diagnostics(
    config: OpcUaConfig, health: SourceHealth, counters: Mapping[str, int | float]
) -> dict[str, object]:
    """Return endpoint, security, sharding, health and counters; passwords and keys never."""
    sec = config.security
    return {
        "type": "opcua",
        "name": config.name,
        "endpoint": config.endpoint,
        "user": config.username,
        "password": "***" if config.password is not None else None,
        "security": None
        if sec is None
        else {
            "policy": sec.policy,
            "mode": sec.mode,
            "certificate": str(sec.certificate),
            "trust": [str(p) for p in sec.trust],
        },
        "points": len(config.points()),
        "items_per_session": config.items_per_session,
        "workers": config.workers,
        "connected": health.connected,
        "last_value_at": None if health.last_value_at is None else health.last_value_at.isoformat(),
        "reconnects": health.reconnects,
        "bad_values": health.bad_values,
        "last_error": health.last_error,
        **dict(health.extra),
        **dict(counters),
    }
