"""Sparkplug B silo: a plain MQTT subscriber decodes births and data with werk's codec.

Checks the spec's rules: NBIRTH seq 0 with bdSeq and Node Control/Rebirth, DBIRTH names,
aliases and datatypes, DDATA by alias with only the changes, seq wrapping after 255, NDEATH as
the Will with the bdSeq of the NBIRTH it pairs with, bdSeq + 1 on a new CONNECT, rebirth on NCMD.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest

from tests.conftest import unavailable
from werk.codecs.sparkplug import (
    AliasTable,
    DataType,
    MessageType,
    Metric,
    Payload,
    Topic,
    decode_payload,
    encode_payload,
)
from werk.errors import ConfigError
from werk.sim.servers import open_silo
from werk.sim.servers.sparkplug import SparkplugSilo
from werk.sim.servers.static import StaticSite
from werk.sim.view import STATE_CODES, MachineState, Silo

pytestmark = [pytest.mark.anyio, pytest.mark.mqtt]


@dataclass
class Received:
    topic: Topic
    payload: Payload


class Inbox:
    """Sparkplug messages of one group as a subscriber got them, decoded without context."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Received] = asyncio.Queue()
        self.pending: list[Received] = []  # read past while looking for something else

    async def next(self, kind: MessageType, edge: str | None = None, wait_s: float = 5) -> Received:
        """Return the first message of a kind (and edge node), keeping the others for later."""

        def match(r: Received) -> bool:
            return r.topic.message_type is kind and edge in (None, r.topic.edge_node_id)

        for i, r in enumerate(self.pending):
            if match(r):
                return self.pending.pop(i)
        async with asyncio.timeout(wait_s):
            while True:
                r = await self.queue.get()
                if match(r):
                    return r
                self.pending.append(r)


@contextlib.asynccontextmanager
async def subscriber(port: int, group: str) -> AsyncIterator[Inbox]:
    """Collect every Sparkplug message of a group."""
    inbox = Inbox()
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.subscribe(f"spBv1.0/{group}/#", qos=1)

        async def pump() -> None:
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                inbox.queue.put_nowait(
                    Received(Topic.parse(str(message.topic)), decode_payload(message.payload))
                )

        task = asyncio.create_task(pump())
        try:
            yield inbox
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _group(site: StaticSite) -> str:
    return site.path.split("/")[1]


async def test_births_and_data_carry_the_view(
    make_site: Callable[[Silo], StaticSite], mqtt_port: int
) -> None:
    site = make_site(Silo.SPARKPLUG)
    press = site.machines[0]
    group = _group(site)
    async with subscriber(mqtt_port, group) as queue:
        async with open_silo(site, port=0, mqtt_port=mqtt_port) as silo:
            assert silo.endpoint == f"mqtt://127.0.0.1:{mqtt_port}/spBv1.0/{group}"
            nbirth = await queue.next(MessageType.NBIRTH, "body.line-1")
            assert nbirth.payload.seq == 0
            bd = nbirth.payload.metric("bdSeq")
            assert bd is not None
            assert (bd.datatype, bd.value) == (DataType.UINT64, 0)
            rebirth = nbirth.payload.metric("Node Control/Rebirth")
            assert rebirth is not None
            assert (rebirth.datatype, rebirth.value) == (DataType.BOOLEAN, False)
            table = AliasTable()
            table.learn(nbirth.payload)

            dbirth = await queue.next(MessageType.DBIRTH, "body.line-1")
            assert dbirth.topic.device_id == "press-01"
            assert dbirth.payload.seq == 1
            assert all(
                m.name and m.alias is not None and m.datatype and m.timestamp
                for m in dbirth.payload.metrics
            )
            table.learn(dbirth.payload, "press-01")
            values = {m.name: (m.datatype, m.value) for m in dbirth.payload.metrics}
            assert values["Status/State"] == (DataType.UINT16, STATE_CODES[MachineState.EXECUTING])
            assert values["Production/GoodParts"] == (DataType.UINT16, 65534)
            assert values["Production/Product"] == (DataType.STRING, "door-left")
            assert values["Signals/hydraulic_pressure"] == (DataType.DOUBLE, 182.25)
            assert values["Properties/AssetPath"] == (DataType.STRING, press.path)
            pressure = dbirth.payload.metric("Signals/hydraulic_pressure")
            assert pressure is not None
            assert pressure.properties is not None
            unit = pressure.properties.get("engUnit")
            assert unit is not None
            assert unit.value == "bar"

            robot_birth = await queue.next(MessageType.DBIRTH, "body.line-2")
            robot_values = {m.name: m.value for m in robot_birth.payload.metrics}
            assert robot_values["Status/Reason"] == "wire_feed"
            assert robot_values["Production/Product"] is None  # is_null
            assert robot_values["Signals/spindle_temp"] == -3.5

            press.values["motor_current"] = 44.0
            press.good_counter = (press.good_counter + 2) & 0xFFFF  # wraps: 65534 + 2 → 0
            press.state = MachineState.STARVED
            site.advance(1)
            await silo.update()
            ddata = await queue.next(MessageType.DDATA, "body.line-1")
            assert ddata.payload.seq == 2
            # DATA: alias only, no name, no datatype, only what changed.
            assert all(m.name is None and m.datatype is None for m in ddata.payload.metrics)
            resolved = table.resolve(ddata.payload, "press-01")
            assert {m.name: m.value for m in resolved.metrics} == {
                "Status/State": STATE_CODES[MachineState.STARVED],
                "Status/StateName": "starved",
                "Production/GoodParts": 0,
                "Signals/motor_current": 44.0,
            }
            assert {m.timestamp for m in resolved.metrics} == {int(site.now().timestamp() * 1000)}
        # Leaving the context publishes NDEATH itself, with the session's bdSeq.
        death = await queue.next(MessageType.NDEATH, "body.line-1")
        assert death.payload.seq is None
        assert [(m.name, m.value) for m in death.payload.metrics] == [("bdSeq", 0)]


async def test_seq_wraps_after_255(make_site: Callable[[Silo], StaticSite], mqtt_port: int) -> None:
    site = make_site(Silo.SPARKPLUG)
    press = site.machines[0]
    async with (
        subscriber(mqtt_port, _group(site)) as queue,
        open_silo(site, port=0, mqtt_port=mqtt_port) as silo,
    ):
        for i in range(300):
            press.values["motor_current"] = float(i)
            await silo.update()
        seqs: list[int | None] = []
        async with asyncio.timeout(10):
            while len(seqs) < 302:  # NBIRTH, DBIRTH, 300 DDATA of edge node body.line-1
                r = await queue.queue.get()
                if r.topic.edge_node_id == "body.line-1":
                    seqs.append(r.payload.seq)
    assert seqs == [i % 256 for i in range(302)]


async def test_rebirth_on_ncmd(make_site: Callable[[Silo], StaticSite], mqtt_port: int) -> None:
    site = make_site(Silo.SPARKPLUG)
    group = _group(site)
    async with (
        subscriber(mqtt_port, group) as queue,
        open_silo(site, port=0, mqtt_port=mqtt_port) as silo,
    ):
        assert isinstance(silo, SparkplugSilo)
        first = await queue.next(MessageType.NBIRTH, "body.line-1")
        site.machines[0].values["energy"] = 1.0
        await silo.update()
        await queue.next(MessageType.DDATA, "body.line-1")
        queue.pending.clear()  # forget the first births: the rebirth must come anew
        site.machines[0].values["energy"] = 2.0
        # A host asks for a rebirth by name, without datatype (spec: omitted in CMD).
        cmd = Payload(
            timestamp=1,
            metrics=(Metric("Node Control/Rebirth", None, 1, DataType.BOOLEAN, True),),
        )
        async with aiomqtt.Client("127.0.0.1", mqtt_port) as host:
            await host.publish(
                f"spBv1.0/{group}/NCMD/body.line-1", encode_payload(cmd, datatypes=False)
            )
        again = await queue.next(MessageType.NBIRTH, "body.line-1")
        assert again.payload.seq == 0
        assert again.payload.metric("bdSeq") == first.payload.metric("bdSeq")  # same session
        dbirth = await queue.next(MessageType.DBIRTH, "body.line-1")
        assert dbirth.payload.seq == 1
        energy = dbirth.payload.metric("Signals/energy")
        assert energy is not None
        assert energy.value == 2.0  # current values
        # The other line was not asked.
        assert silo.nodes[1].births == 1


_CHILD = """
import asyncio, sys
from werk.sim.servers import open_silo
from werk.sim.servers.static import synthetic_site
from werk.sim.view import Silo

async def main() -> None:
    site = synthetic_site(sys.argv[1], Silo.SPARKPLUG, lines=1, machines_per_line=1)
    async with open_silo(site, port=0, mqtt_port=int(sys.argv[2])):
        print("ready", flush=True)
        await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_ndeath_will_pairs_with_nbirth_when_killed(mqtt_port: int) -> None:
    group = f"k{uuid.uuid4().hex[:10]}"
    async with subscriber(mqtt_port, group) as queue:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _CHILD,
            f"acme/{group}",
            str(mqtt_port),
            stdout=subprocess.PIPE,
        )
        try:
            assert proc.stdout is not None
            async with asyncio.timeout(20):
                assert (await proc.stdout.readline()).strip() == b"ready"
            birth = await queue.next(MessageType.NBIRTH)
            proc.send_signal(signal.SIGKILL)  # no DISCONNECT: the broker must send the Will
            death = await queue.next(MessageType.NDEATH, wait_s=20)
        finally:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    assert death.topic.edge_node_id == birth.topic.edge_node_id == "body.line-1"
    assert death.payload.seq is None
    bd_birth, bd_death = birth.payload.metric("bdSeq"), death.payload.metric("bdSeq")
    assert bd_birth is not None
    assert bd_death is not None
    assert bd_death.value == bd_birth.value == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def private_broker(port: int) -> AsyncIterator[None]:
    """Run a Mosquitto of our own, so the test can take it away."""
    binary = shutil.which("mosquitto") or shutil.which("/usr/sbin/mosquitto")
    if binary is None:
        unavailable("mosquitto binary not installed")
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "m.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        proc = await asyncio.create_subprocess_exec(
            binary, "-c", str(conf), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            async with asyncio.timeout(10):
                while True:
                    with socket.socket() as s:
                        if s.connect_ex(("127.0.0.1", port)) == 0:
                            break
                    await asyncio.sleep(0.05)
            yield
        finally:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            await proc.wait()


async def test_bdseq_increments_on_reconnect(make_site: Callable[[Silo], StaticSite]) -> None:
    port = _free_port()
    site = make_site(Silo.SPARKPLUG)
    group = _group(site)
    silo = SparkplugSilo(site, mqtt_port=port)
    try:
        async with private_broker(port), subscriber(port, group) as queue:
            await silo.__aenter__()
            first = await queue.next(MessageType.NBIRTH, "body.line-1")
            assert first.payload.metric("bdSeq") == Metric(
                "bdSeq", 1, first.payload.timestamp, DataType.UINT64, 0
            )
        # The broker is gone. A new one comes up on the same port; the node reconnects.
        async with private_broker(port), subscriber(port, group) as queue:
            birth = await queue.next(MessageType.NBIRTH, "body.line-1", wait_s=30)
            bd = birth.payload.metric("bdSeq")
            assert bd is not None
            assert bd.value == 1  # a new CONNECT, so bdSeq + 1
            assert birth.payload.seq == 0
            site.machines[0].values["energy"] = 5.0
            await silo.update()
            data = await queue.next(MessageType.DDATA, "body.line-1")
            assert data.payload.seq == 2  # NBIRTH 0, DBIRTH 1, DDATA 2: seq restarted
    finally:
        await silo.__aexit__(None, None, None)


async def test_unreachable_broker_is_a_config_error(
    make_site: Callable[[Silo], StaticSite],
) -> None:
    site = make_site(Silo.SPARKPLUG)
    port = _free_port()
    with pytest.raises(ConfigError, match=f"127.0.0.1:{port} of site {site.path}"):
        async with SparkplugSilo(site, mqtt_port=port, connect_timeout_s=1):
            pass
