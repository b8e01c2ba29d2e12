"""Sparkplug B host against the simulator's edge nodes on the real Mosquitto.

Births, data by alias, counts and states; node death marks signals stale and a rebirth brings
them back; a seq gap and an unknown alias force a rebirth request; an NDEATH of an older session
is ignored; the host's STATE is retained online and goes offline when it leaves.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable

import aiomqtt
import pytest

from tests.connectors.broker import PASSWORD, USER, Broker
from tests.connectors.conftest import connected, gather_until, later, until
from werk.codecs.sparkplug import DataType, Metric, Payload, encode_payload
from werk.connectors.base import PointRole, connector
from werk.connectors.derive import BadReason
from werk.connectors.sparkplug import SparkplugConfig
from werk.connectors.sparkplug.mapping import NodeSession
from werk.samples import EventKind, Quality
from werk.sim.plantfile import plant_file
from werk.sim.servers import open_silo
from werk.sim.servers.sparkplug import SparkplugSilo
from werk.sim.servers.static import StaticSite
from werk.sim.view import MachineState, Silo

pytestmark = [pytest.mark.anyio, pytest.mark.mqtt]


def test_seq_and_bdseq_rules() -> None:
    node = NodeSession()
    bd = Metric("bdSeq", 1, 0, DataType.UINT64, 4)
    node.birth(Payload(timestamp=0, metrics=(bd,), seq=0))
    assert node.check_seq(1)
    assert node.check_seq(2)
    assert not node.check_seq(4)  # 3 is missing
    assert node.suspect
    node.seq = 255
    assert node.check_seq(0)  # wraps
    assert node.death_matches(Payload(metrics=(Metric("bdSeq", None, 0, DataType.UINT64, 4),)))
    assert not node.death_matches(Payload(metrics=(Metric("bdSeq", None, 0, DataType.UINT64, 3),)))


def _config(site: StaticSite, port: int, **extra: object) -> SparkplugConfig:
    sources = plant_file(site, mqtt_port=port, expand=True)["sources"]
    assert isinstance(sources, list)
    data = {
        **sources[0],
        "host_id": f"werk-test-{uuid.uuid4().hex[:6]}",
        "flush_interval_ms": 50,
        "rebirth_interval_s": 0.2,
        **extra,
    }
    cfg = connector("sparkplug").config.model_validate(data)
    assert isinstance(cfg, SparkplugConfig)
    return cfg


async def test_births_data_counts_and_state(
    site_of: Callable[[Silo], StaticSite], mqtt_port: int
) -> None:
    site = site_of(Silo.SPARKPLUG)
    press, robot = site.machines
    cfg = _config(site, mqtt_port)
    async with connector("sparkplug").open(cfg) as host:
        await connected(host)
        async with aiomqtt.Client("127.0.0.1", mqtt_port) as watcher:
            await watcher.subscribe(f"spBv1.0/STATE/{cfg.host_id}", qos=1)
            async with asyncio.timeout(5):
                message = await anext(aiter(watcher.messages))
            assert message.retain
            assert isinstance(message.payload, bytes)
            state = json.loads(message.payload)
            assert state["online"] is True
            assert isinstance(state["timestamp"], int)
        async with open_silo(site, port=0, mqtt_port=mqtt_port) as silo:
            got = await gather_until(
                host,
                lambda g: (
                    g.latest(robot.path, "spindle_temp") is not None
                    and g.latest(press.path, "energy") is not None
                ),
            )
            assert got.latest(press.path, "energy").value == 123456.75  # type: ignore[union-attr]
            assert got.latest(robot.path, "state").value == 3.0  # type: ignore[union-attr]
            assert {(e.path, e.code) for e in got.events} >= {(robot.path, "failure")}
            press.good_counter = 0  # wraps from 65534: 2 parts
            press.values["energy"] = 123457.0
            robot.state = MachineState.EXECUTING
            later(site)
            await silo.update()  # DDATA by alias only
            got = await gather_until(
                host,
                lambda g: (
                    any(e.kind is EventKind.COUNT for e in g.events)
                    and (s := g.latest(press.path, "energy")) is not None
                    and s.value == 123457.0
                ),
                got=got,
            )
            assert next(e for e in got.events if e.kind is EventKind.COUNT).good == 2
            assert any(e.code == "executing" for e in got.events)
    async with aiomqtt.Client("127.0.0.1", mqtt_port) as watcher:
        await watcher.subscribe(f"spBv1.0/STATE/{cfg.host_id}", qos=1)
        async with asyncio.timeout(5):
            message = await anext(aiter(watcher.messages))
        assert isinstance(message.payload, bytes)
        assert json.loads(message.payload)["online"] is False
        await watcher.publish(f"spBv1.0/STATE/{cfg.host_id}", b"", qos=1, retain=True)


async def test_node_death_marks_stale_and_rebirth_resumes(
    site_of: Callable[[Silo], StaticSite], mqtt_port: int
) -> None:
    site = site_of(Silo.SPARKPLUG)
    press = site.machines[0]
    cfg = _config(site, mqtt_port)
    async with connector("sparkplug").open(cfg) as host:
        await connected(host)
        async with open_silo(site, port=0, mqtt_port=mqtt_port):
            got = await gather_until(host, lambda g: g.latest(press.path, "energy") is not None)
        # Leaving the silo published the NDEATH (bdSeq of its NBIRTH): signals go stale.
        got = await gather_until(
            host,
            lambda g: (
                (s := g.latest(press.path, "energy")) is not None and s.quality is Quality.BAD
            ),
            got=got,
        )
        stale = got.latest(press.path, "energy")
        assert stale is not None
        assert stale.value == 123456.75  # the last value, marked stale
        assert stale.status == BadReason.STALE.status
        assert host.diagnostics()["deaths"] == 1
        press.values["energy"] = 5.0
        async with open_silo(site, port=0, mqtt_port=mqtt_port):
            got = await gather_until(
                host,
                lambda g: (
                    (s := g.latest(press.path, "energy")) is not None
                    and s.quality is Quality.GOOD
                    and s.value == 5.0
                ),
                got=got,
            )


async def test_seq_gap_unknown_alias_and_stale_death(
    site_of: Callable[[Silo], StaticSite], mqtt_port: int
) -> None:
    site = site_of(Silo.SPARKPLUG)
    press = site.machines[0]
    cfg = _config(site, mqtt_port)
    async with connector("sparkplug").open(cfg) as host:
        await connected(host)
        async with SparkplugSilo(site, mqtt_port=mqtt_port) as silo:
            node = silo.nodes[0]
            group, edge = node.group_id, node.edge_node_id
            await gather_until(host, lambda g: g.latest(press.path, "energy") is not None)
            assert node.births == 1
            async with aiomqtt.Client("127.0.0.1", mqtt_port) as rogue:
                # A DDATA that skips seq numbers: the host must ask for a rebirth.
                gap = Payload(timestamp=0, metrics=(), seq=(node.seq + 5) & 0xFF)
                await rogue.publish(
                    f"spBv1.0/{group}/DDATA/{edge}/{press.path.rsplit('/', 1)[1]}",
                    encode_payload(gap),
                )
                await until(lambda: node.births >= 2, within_s=10)
                assert host.diagnostics()["seq_gaps"] == 1
                await asyncio.sleep(0.3)  # past rebirth_interval_s
                # A DDATA in sequence but with an alias no birth declared.
                unknown = Payload(
                    timestamp=0,
                    metrics=(Metric(None, 9999, 0, DataType.DOUBLE, 1.0),),
                    seq=node.seq,
                )
                await rogue.publish(
                    f"spBv1.0/{group}/DDATA/{edge}/{press.path.rsplit('/', 1)[1]}",
                    encode_payload(unknown, datatypes=False),
                )
                await until(lambda: node.births >= 3, within_s=10)
                assert host.diagnostics()["unknown_aliases"] == 1
                # An NDEATH from an older MQTT session (another bdSeq) must not kill the node.
                old = Payload(timestamp=0, metrics=(Metric("bdSeq", None, 0, DataType.UINT64, 77),))
                await rogue.publish(f"spBv1.0/{group}/NDEATH/{edge}", encode_payload(old), qos=1)
                await until(lambda: host.diagnostics()["stale_deaths_ignored"] != 0, within_s=5)
            assert host.diagnostics()["deaths"] == 0
            assert host.diagnostics()["rebirth_requests"] == 2


async def test_host_over_tls_with_credentials(private_broker: Broker) -> None:
    base = {
        "name": "spb-tls",
        "host": "localhost",
        "port": private_broker.tls_port,
        "tls": {"ca": str(private_broker.ca)},
        "username": USER,
        "group_id": "tls",
        "host_id": "werk-tls",
    }
    wrong = SparkplugConfig.model_validate({**base, "password": "nope"})
    async with connector("sparkplug").open(wrong) as host:
        await asyncio.sleep(0.5)
        assert not host.health.connected
        assert "not authorised" in (host.health.last_error or "")
    right = SparkplugConfig.model_validate({**base, "password": PASSWORD})
    async with connector("sparkplug").open(right) as host:
        await connected(host)
        assert host.diagnostics()["password"] == "***"


async def test_auto_devices_from_asset_path(
    site_of: Callable[[Silo], StaticSite], mqtt_port: int
) -> None:
    site = site_of(Silo.SPARKPLUG)
    press, robot = site.machines
    cfg = SparkplugConfig(
        name="auto",
        host="127.0.0.1",
        port=mqtt_port,
        group_id=site.path.split("/")[1],
        host_id=f"werk-auto-{uuid.uuid4().hex[:6]}",
        flush_interval_ms=50,
        auto_devices=True,
        auto_roles={"Status/State": PointRole.STATE, "Production/GoodParts": PointRole.GOOD},
    )
    async with connector("sparkplug").open(cfg) as host:
        await connected(host)
        async with open_silo(site, port=0, mqtt_port=mqtt_port):
            got = await gather_until(
                host,
                lambda g: (
                    g.latest(robot.path, "weld_current") is not None
                    and g.latest(press.path, "good_parts") is not None
                ),
            )
    assert got.latest(robot.path, "weld_current").value == 7.5  # type: ignore[union-attr]
    assert {(e.path, e.code) for e in got.events} >= {(robot.path, "3")}
