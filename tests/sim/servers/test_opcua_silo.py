"""OPC UA silo: an independent asyncua client reads exactly the view's values."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from asyncua import ua
from asyncua.client.client import Client

from werk.sim.servers import open_silo
from werk.sim.servers.opcua import OpcUaSilo, unit_id
from werk.sim.servers.static import StaticSite
from werk.sim.view import STATE_CODES, MachineState, Silo

pytestmark = pytest.mark.anyio


def _nid(path: str, ns: int) -> ua.NodeId:
    return ua.NodeId(ua.String(path), ua.Int16(ns))


async def _value(client: Client, ns: int, path: str) -> object:
    return await client.get_node(_nid(path, ns)).read_value()


async def test_client_reads_the_view(make_site: Callable[[Silo], StaticSite]) -> None:
    site = make_site(Silo.OPCUA)
    press, robot = site.machines
    async with open_silo(site, port=0) as silo:
        assert isinstance(silo, OpcUaSilo)
        async with Client(silo.endpoint) as client:
            ns = await client.get_namespace_index(f"urn:werk:sim:acme:{site.path.split('/')[1]}")
            p = press.path
            assert await _value(client, ns, f"{p}/Monitoring/hydraulic_pressure") == 182.25
            assert await _value(client, ns, f"{p}/Monitoring/energy") == 123456.75
            assert await _value(client, ns, f"{p}/Production/GoodParts") == 65534
            assert await _value(client, ns, f"{p}/Production/ScrapParts") == 3
            assert await _value(client, ns, f"{p}/Production/ProductId") == "door-left"
            assert await _value(client, ns, f"{p}/Production/OrderId") == "o-1001"
            assert (
                await _value(client, ns, f"{p}/Status/StateCode")
                == STATE_CODES[MachineState.EXECUTING]
            )
            assert await _value(client, ns, f"{p}/Status/StateName") == "executing"
            item = await _value(client, ns, f"{p}/MachineryItemState/CurrentState")
            assert isinstance(item, ua.LocalizedText)
            assert item.Text == "Executing"
            assert await _value(client, ns, f"{p}/MachineryItemState/CurrentState/Number") == 3
            mode = await _value(client, ns, f"{p}/MachineryOperationMode/CurrentState")
            assert isinstance(mode, ua.LocalizedText)
            assert mode.Text == "Processing"
            maker = await _value(client, ns, f"{p}/Identification/Manufacturer")
            assert isinstance(maker, ua.LocalizedText)
            assert maker.Text == "Schuler"
            assert await _value(client, ns, f"{p}/Identification/SerialNumber") == "SCH-4711"
            assert await _value(client, ns, f"{p}/Identification/AssetId") == p
            eu = await _value(client, ns, f"{p}/Monitoring/hydraulic_pressure/EngineeringUnits")
            assert isinstance(eu, ua.EUInformation)
            assert eu.DisplayName.Text == "bar"
            assert eu.UnitId == unit_id("bar") == 0x424152  # "BAR"
            rng = await _value(client, ns, f"{p}/Monitoring/hydraulic_pressure/EURange")
            assert isinstance(rng, ua.Range)
            assert (rng.Low, rng.High) == (0.0, 250.0)
            r = robot.path
            assert await _value(client, ns, f"{r}/Status/Reason") == "wire_feed"
            state = await _value(client, ns, f"{r}/MachineryItemState/CurrentState")
            assert isinstance(state, ua.LocalizedText)
            assert state.Text == "OutOfService"
            assert await _value(client, ns, f"{r}/Production/ProductId") == ""
            assert await _value(client, ns, f"{r}/Monitoring/spindle_temp") == -3.5

            # Browse from the Machines folder, as a generic client would.
            machines = await client.nodes.objects.get_child([f"{ns}:Machines"])
            names = sorted(
                [(await c.read_browse_name()).Name for c in await machines.get_children()]
            )
            assert names == ["body.line-1.press-01", "body.line-2.robot-07"]


class _Changes:
    def __init__(self) -> None:
        self.values: asyncio.Queue[tuple[str, object, object]] = asyncio.Queue()

    def datachange_notification(self, node: object, val: object, data: object) -> None:
        monitored = getattr(data, "monitored_item", None)
        source_ts = getattr(getattr(monitored, "Value", None), "SourceTimestamp", None)
        self.values.put_nowait((str(node), val, source_ts))


async def test_subscription_receives_changes(make_site: Callable[[Silo], StaticSite]) -> None:
    site = make_site(Silo.OPCUA)
    press = site.machines[0]
    async with open_silo(site, port=0) as silo, Client(silo.endpoint) as client:
        ns = await client.get_namespace_index(f"urn:werk:sim:acme:{site.path.split('/')[1]}")
        handler = _Changes()
        sub = await client.create_subscription(50, handler)
        nodes = [
            client.get_node(_nid(f"{press.path}/Monitoring/motor_current", ns)),
            client.get_node(_nid(f"{press.path}/Production/GoodParts", ns)),
        ]
        await sub.subscribe_data_change(nodes)
        initial = {(await asyncio.wait_for(handler.values.get(), 5))[1] for _ in nodes}
        assert initial == {41.5, 65534}

        press.values["motor_current"] = 43.0
        press.good_counter = (press.good_counter + 3) & 0xFFFF  # the PLC counter wraps
        site.advance(1)
        await silo.update()
        changed = {}
        for _ in nodes:
            node, value, ts = await asyncio.wait_for(handler.values.get(), 5)
            changed[node.rsplit("/", 1)[1]] = value
            assert ts == site.now()  # the simulated time, as SourceTimestamp
        assert changed == {"motor_current": 43.0, "GoodParts": 1}
        await sub.delete()


async def test_port_in_use_is_a_config_error(make_site: Callable[[Silo], StaticSite]) -> None:
    import socket

    from werk.errors import ConfigError

    site = make_site(Silo.OPCUA)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError) as info:
            async with open_silo(site, port=port):
                pass
    assert info.value.fields["port"] == port
    assert info.value.fields["site"] == site.path
    assert f"port {port}" in str(info.value)
    assert site.path in str(info.value)
