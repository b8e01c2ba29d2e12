"""Speak MQTT with JSON payloads: topic templates and point tables (aiomqtt)."""

from __future__ import annotations

from werk.connectors.base import Connector, Source, SourceConfig
from werk.connectors.mqtt.config import MqttConfig, MqttConnection, MqttDevice, MqttPoint, MqttRoute


def _open(config: SourceConfig) -> Source:
    from werk.connectors.mqtt.source import MqttSource

    assert isinstance(config, MqttConfig)
    return MqttSource(config)


CONNECTOR = Connector(name="mqtt", config=MqttConfig, open=_open)

__all__ = ["CONNECTOR", "MqttConfig", "MqttConnection", "MqttDevice", "MqttPoint", "MqttRoute"]
