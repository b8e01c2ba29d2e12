"""Speak Sparkplug B as a host application (births, aliases, deaths, rebirths, STATE)."""

from __future__ import annotations

from werk.connectors.base import Connector, Source, SourceConfig
from werk.connectors.sparkplug.config import SparkplugConfig, SparkplugDevice, SparkplugPoint


def _open(config: SourceConfig) -> Source:
    from werk.connectors.sparkplug.source import SparkplugSource

    assert isinstance(config, SparkplugConfig)
    return SparkplugSource(config)


CONNECTOR = Connector(name="sparkplug", config=SparkplugConfig, open=_open)

__all__ = ["CONNECTOR", "SparkplugConfig", "SparkplugDevice", "SparkplugPoint"]
