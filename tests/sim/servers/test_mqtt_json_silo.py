"""MQTT JSON silo: a plain subscriber reads the view's values on UNS topics."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable

import aiomqtt
import pytest

from werk.sim.servers import open_silo
from werk.sim.servers.static import StaticSite
from werk.sim.view import STATE_CODES, MachineState, Silo

pytestmark = [pytest.mark.anyio, pytest.mark.mqtt]


async def _collect(client: aiomqtt.Client, count: int) -> dict[str, tuple[dict[str, object], bool]]:
    got: dict[str, tuple[dict[str, object], bool]] = {}
    async with asyncio.timeout(10):
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            if message.payload:
                got[str(message.topic)] = (json.loads(message.payload), message.retain)
            if len(got) >= count:
                break
    return got


async def test_subscriber_reads_the_view(
    make_site: Callable[[Silo], StaticSite], mqtt_port: int
) -> None:
    site = make_site(Silo.MQTT_JSON)
    press, robot = site.machines
    ms = int(site.now().timestamp() * 1000)
    async with aiomqtt.Client("127.0.0.1", mqtt_port) as client:
        await client.subscribe(f"umh/v1/{site.path}/#")
        async with open_silo(site, port=0, mqtt_port=mqtt_port) as silo:
            assert silo.endpoint == f"mqtt://127.0.0.1:{mqtt_port}/umh/v1/{site.path}"
            # 2 machines × (3 signals + 7 context tags)
            got = await _collect(client, 20)
            p = f"umh/v1/{press.path}/_historian"
            assert got[f"{p}/hydraulic_pressure"][0] == {"timestamp_ms": ms, "value": 182.25}
            assert got[f"{p}/state"][0] == {
                "timestamp_ms": ms,
                "value": STATE_CODES[MachineState.EXECUTING],
            }
            assert got[f"{p}/good_counter"][0]["value"] == 65534
            assert got[f"{p}/product"][0]["value"] == "door-left"
            r = f"umh/v1/{robot.path}/_historian"
            assert got[f"{r}/reason"][0]["value"] == "wire_feed"
            assert got[f"{r}/product"][0]["value"] is None
            assert got[f"{r}/spindle_temp"][0]["value"] == -3.5

            # Only changes are sent.
            press.values["motor_current"] = 50.5
            press.state = MachineState.SETUP
            site.advance(2)
            await silo.update()
            changed = await _collect(client, 3)
            assert {t.rsplit("/", 1)[1]: v[0]["value"] for t, v in changed.items()} == {
                "motor_current": 50.5,
                "state": STATE_CODES[MachineState.SETUP],
                "state_name": "setup",
            }
            assert {v[0]["timestamp_ms"] for v in changed.values()} == {ms + 2000}

    # Closing cleared the retained context: a subscriber now finds nothing stale.
    async with aiomqtt.Client("127.0.0.1", mqtt_port) as late:
        await late.subscribe(f"umh/v1/{site.path}/#")
        stale: list[str] = []

        async def listen() -> None:
            async for message in late.messages:
                if message.payload:
                    stale.append(str(message.topic))

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(listen(), 0.5)
        assert stale == []


async def test_late_subscriber_sees_retained_state(
    make_site: Callable[[Silo], StaticSite], mqtt_port: int
) -> None:
    site = make_site(Silo.MQTT_JSON)
    press = site.machines[0]
    async with open_silo(site, port=0, mqtt_port=mqtt_port):
        await asyncio.sleep(0.5)  # join late: after the snapshot went out
        async with aiomqtt.Client("127.0.0.1", mqtt_port) as late:
            await late.subscribe(f"umh/v1/{press.path}/_historian/#")
            got = await _collect(late, 7)
    assert all(retained for _, retained in got.values())
    assert got[f"umh/v1/{press.path}/_historian/order"][0]["value"] == "o-1001"
