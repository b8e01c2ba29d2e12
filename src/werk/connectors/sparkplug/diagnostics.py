"""Report a Sparkplug host's state for support: nodes, sequences, rebirths; no secrets."""

from __future__ import annotations

from collections.abc import Mapping

from werk.connectors.base import SourceHealth
from werk.connectors.derive import bad_reasons
from werk.connectors.mqtt.diagnostics import connection
from werk.connectors.sparkplug.config import SparkplugConfig
from werk.connectors.sparkplug.mapping import NodeSession


def diagnostics(
    config: SparkplugConfig,
    health: SourceHealth,
    counters: Mapping[str, int],
    reasons: Mapping[str, int],
    nodes: Mapping[tuple[str, str], NodeSession],
) -> dict[str, object]:
    """Return connection, host id, per-node session state and counters."""
    return {
        "type": "sparkplug",
        **connection(config),
        "host_id": config.host_id,
        "group_id": config.group_id,
        "connected": health.connected,
        "last_value_at": None if health.last_value_at is None else health.last_value_at.isoformat(),
        "reconnects": health.reconnects,
        "last_error": health.last_error,
        "bad_values": health.bad_values,
        "bad_reasons": bad_reasons(reasons),
        "nodes": {
            f"{g}/{e}": {
                "online": n.online,
                "bdSeq": n.bd_seq,
                "seq": n.seq,
                "suspect": n.suspect,
                "devices": sorted(n.devices),
            }
            for (g, e), n in nodes.items()
        },
        **dict(counters),
    }
