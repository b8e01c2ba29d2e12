"""Speak OPC UA: subscriptions per point, discovery by browsing, security, sharded sessions.

See ``docs/connectors.md`` for the settings and :mod:`.config` for the point table.
"""

from __future__ import annotations

from werk.connectors.base import Connector, Source, SourceConfig
from werk.connectors.opcua.browse import discover
from werk.connectors.opcua.config import OpcUaConfig, OpcUaDevice, OpcUaPoint


def _open(config: SourceConfig) -> Source:
    from werk.connectors.opcua.source import OpcUaSource

    assert isinstance(config, OpcUaConfig)
    return OpcUaSource(config)


CONNECTOR = Connector(name="opcua", config=OpcUaConfig, open=_open)

__all__ = ["CONNECTOR", "OpcUaConfig", "OpcUaDevice", "OpcUaPoint", "discover"]
