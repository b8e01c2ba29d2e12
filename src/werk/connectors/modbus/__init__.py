"""Speak Modbus TCP: poll register tables per device (pymodbus client)."""

from __future__ import annotations

from werk.connectors.base import Connector, Source, SourceConfig
from werk.connectors.modbus.config import ModbusConfig, ModbusDevice, ModbusPoint


def _open(config: SourceConfig) -> Source:
    from werk.connectors.modbus.source import ModbusSource

    assert isinstance(config, ModbusConfig)
    return ModbusSource(config)


CONNECTOR = Connector(name="modbus", config=ModbusConfig, open=_open)

__all__ = ["CONNECTOR", "ModbusConfig", "ModbusDevice", "ModbusPoint"]
