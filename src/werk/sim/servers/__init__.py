"""Expose simulated sites through the systems real plants use: one silo server per site.

================  =========================================  ====================================
silo              server                                      where it is documented
================  =========================================  ====================================
``opcua``         asyncua server, Machinery-style nodes       :mod:`werk.sim.servers.opcua`
``modbus``        pymodbus TCP server, a unit id per machine  :mod:`werk.sim.servers.modbus`
``sparkplug``     Sparkplug B edge nodes on an MQTT broker    :mod:`werk.sim.servers.sparkplug`
``mqtt_json``     JSON on unified-namespace MQTT topics       :mod:`werk.sim.servers.mqtt_json`
``mes_files``     CSV/JSON files dropped into a folder        :mod:`werk.sim.servers.mes_files`
================  =========================================  ====================================

Usage, from the simulation runtime::

    async with open_silo(site, port=4840) as silo:
        print(silo.endpoint)
        while running:
            advance_the_model()
            await silo.update()

Server modules are imported lazily, so a site that uses Modbus never imports asyncua.
This package imports only ``werk.samples``, ``werk.assets``, ``werk.errors``, ``werk.codecs`` and
``werk.sim``.
"""

from __future__ import annotations

from pathlib import Path

from werk.errors import ConfigError
from werk.sim.servers.silo import SiloServer
from werk.sim.view import Silo, SiteView

__all__ = ["SiloServer", "open_silo"]


def open_silo(
    site: SiteView,
    *,
    host: str = "127.0.0.1",
    port: int,
    mqtt_host: str = "127.0.0.1",
    mqtt_port: int = 1883,
    drop_dir: Path | None = None,
) -> SiloServer:
    """Return the server for ``site.silo``; enter it (``async with``) to start serving.

    Args:
        site: The site to expose.
        host: Interface the OPC UA and Modbus servers listen on.
        port: Port of the OPC UA or Modbus server; 0 picks a free one (see ``endpoint``).
            Ignored by the MQTT and file silos.
        mqtt_host: Broker the Sparkplug B and MQTT JSON silos publish to.
        mqtt_port: Port of that broker.
        drop_dir: Folder the MES file silo writes to (required for ``mes_files``).

    Raises:
        ConfigError: The silo needs a ``drop_dir`` that was not given. A port already in use is
            reported when the server is entered.
    """
    silo = Silo(site.silo)
    if silo is Silo.OPCUA:
        from werk.sim.servers.opcua import OpcUaSilo

        return OpcUaSilo(site, host=host, port=port)
    if silo is Silo.MODBUS:
        from werk.sim.servers.modbus import ModbusSilo

        return ModbusSilo(site, host=host, port=port)
    if silo is Silo.SPARKPLUG:
        from werk.sim.servers.sparkplug import SparkplugSilo

        return SparkplugSilo(site, mqtt_host=mqtt_host, mqtt_port=mqtt_port)
    if silo is Silo.MQTT_JSON:
        from werk.sim.servers.mqtt_json import MqttJsonSilo

        return MqttJsonSilo(site, mqtt_host=mqtt_host, mqtt_port=mqtt_port)
    if drop_dir is None:
        raise ConfigError(
            f"site {site.path} drops MES files but no drop folder was given",
            key="sim.no_drop_dir",
            field="drop_dir",
            site=site.path,
        )
    from werk.sim.servers.mes_files import MesFileSilo

    return MesFileSilo(site, drop_dir=drop_dir)
