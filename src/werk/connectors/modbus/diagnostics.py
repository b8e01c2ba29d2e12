"""Report a Modbus source's state for support."""

from __future__ import annotations

from collections.abc import Mapping

from werk.connectors.base import SourceHealth
from werk.connectors.derive import bad_reasons
from werk.connectors.modbus.config import ModbusConfig


def diagnostics(
    config: ModbusConfig,
    health: SourceHealth,
    requests: int,
    exceptions: int,
    reasons: Mapping[str, int],
) -> dict[str, object]:
    """Return server, devices, request counts and BAD reasons (Modbus has no secrets)."""
    return {
        "type": "modbus",
        "name": config.name,
        "endpoint": f"{config.host}:{config.port}",
        "devices": [
            {"path": d.path, "unit_id": d.unit_id, "points": len(d.points)} for d in config.devices
        ],
        "connected": health.connected,
        "last_value_at": None if health.last_value_at is None else health.last_value_at.isoformat(),
        "reconnects": health.reconnects,
        "requests": requests,
        "exception_responses": exceptions,
        "bad_values": health.bad_values,
        "bad_reasons": bad_reasons(reasons),
        "last_error": health.last_error,
    }
