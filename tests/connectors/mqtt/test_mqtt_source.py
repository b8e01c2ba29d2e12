"""MQTT JSON connector against the simulator's UNS publisher and the real Mosquitto."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import aiomqtt
import pytest

from tests.connectors.broker import PASSWORD, USER, Broker, anonymous_broker, free_port
from tests.connectors.conftest import connected, gather_until, later, until
from werk.connectors.base import Source, connector
from werk.connectors.derive import BadReason
from werk.connectors.mqtt import MqttConfig, MqttRoute
from werk.connectors.mqtt.mapping import extract, map_payload, parse
from werk.errors import ConnectorError
from werk.samples import EventKind, Quality
from werk.sim.plantfile import plant_file
from werk.sim.servers import open_silo
from werk.sim.servers.static import StaticSite
from werk.sim.view import MachineState, Silo

pytestmark = [pytest.mark.anyio, pytest.mark.mqtt]


def test_route_templates_match_and_subscribe() -> None:
    r = MqttRoute(topic="umh/v1/{path...}/_historian/{signal}")
    m = r.regex().match("umh/v1/acme/wob/body/l1/m1/_historian/spindle_temp")
    assert m is not None
    assert m.groupdict() == {"path": "acme/wob/body/l1/m1", "signal": "spindle_temp"}
    assert r.subscription() == "umh/v1/#"
    r2 = MqttRoute(topic="plant/+/{machine}/{signal}", path="acme/wob/body/l1/{machine}")
    assert r2.subscription() == "plant/+/+/+"
    assert r2.regex().match("plant/x/m1/temp") is not None
    assert r2.regex().match("plant/x/m1/temp/extra") is None


def test_payload_mapping_reasons() -> None:
    assert extract({"a": {"b": [1, {"c": 2}]}}, "a.b.1.c") == 2
    now = 1_000
    ok = map_payload(*parse(b'{"v": {"x": 2.5}, "t": 1700000000000}'), "v.x", "t", "ms", now)
    assert (ok.value, ok.quality, ok.ts_ns) == (2.5, Quality.GOOD, 1_700_000_000_000_000_000)
    text = map_payload(*parse(b'{"value": "hot"}'), "value", None, "ms", now)
    assert (text.quality, text.reason) == (Quality.BAD, BadReason.WRONG_TYPE)
    garbage = map_payload(*parse(b"\xff\x00garbage"), "value", None, "ms", now)
    assert (garbage.quality, garbage.status) == (Quality.BAD, BadReason.UNDECODABLE.status)
    missing = map_payload(*parse(b'{"other": 1}'), "value", None, "ms", now)
    assert missing.reason is BadReason.MISSING
    iso = map_payload(
        *parse(b'{"value": 1, "ts": "2026-03-02T06:00:00Z"}'), "value", "ts", "iso", 0
    )
    assert iso.ts_ns == 1_772_431_200_000_000_000


def _config(site: StaticSite, port: int, **extra: object) -> MqttConfig:
    sources = plant_file(site, mqtt_port=port, expand=True)["sources"]
    assert isinstance(sources, list)
    cfg = connector("mqtt").config.model_validate(
        {**sources[0], "flush_interval_ms": 50, "client_id": f"t-{uuid.uuid4().hex[:8]}", **extra}
    )
    assert isinstance(cfg, MqttConfig)
    return cfg


async def test_uns_points_states_counts(
    site_of: Callable[[Silo], StaticSite], mqtt_port: int
) -> None:
    site = site_of(Silo.MQTT_JSON)
    press, robot = site.machines
    cfg = _config(site, mqtt_port)
    async with connector("mqtt").open(cfg) as source:
        await connected(source)  # the silo's first, full publish must find the subscription
        async with open_silo(site, port=0, mqtt_port=mqtt_port) as silo:
            got = await gather_until(
                source,
                lambda g: (
                    g.latest(robot.path, "spindle_temp") is not None
                    and g.latest(press.path, "good_counter") is not None
                ),
            )
            energy = got.latest(press.path, "energy")
            assert energy is not None
            assert energy.value == 123456.75
            assert energy.ts == site.clock
            assert {e.code for e in got.events if e.kind is EventKind.STATE} >= {"failure"}
            press.good_counter = 5  # wraps from 65534: 7 parts
            press.state = MachineState.STARVED
            later(site)
            await silo.update()
            got = await gather_until(
                source, lambda g: any(e.kind is EventKind.COUNT for e in g.events), got=got
            )
            assert next(e for e in got.events if e.kind is EventKind.COUNT).good == 7


async def test_routes_and_garbage_payloads(
    site_of: Callable[[Silo], StaticSite], mqtt_port: int
) -> None:
    site = site_of(Silo.MQTT_JSON)
    press = site.machines[0]
    route = {
        "topic": f"umh/v1/{site.path}/{{rest...}}/_historian/{{signal}}",
        "path": f"{site.path}/{{rest}}",
        "roles": {"state": "state"},
        "exclude": ["state_name", "reason", "product", "order"],
    }
    cfg = MqttConfig(
        name="uns",
        host="127.0.0.1",
        port=mqtt_port,
        flush_interval_ms=50,
        routes=[MqttRoute.model_validate(route)],
    )
    topic = f"umh/v1/{press.path}/_historian/"
    async with connector("mqtt").open(cfg) as source:
        await connected(source)
        async with open_silo(site, port=0, mqtt_port=mqtt_port):
            got = await gather_until(source, lambda g: g.latest(press.path, "energy") is not None)
            assert {s.signal for s in got.samples} >= {
                "state",
                "good_counter",
                "hydraulic_pressure",
            }
            assert not any(s.signal == "state_name" for s in got.samples)
            async with aiomqtt.Client("127.0.0.1", mqtt_port) as pub:
                await pub.publish(topic + "motor_current", b"{not json", qos=1)
                await pub.publish(topic + "hydraulic_pressure", b'{"value": "high"}', qos=1)
                await pub.publish(topic + "energy", b'{"value": 1.5, "timestamp_ms": 1}', qos=1)
            got = await gather_until(
                source,
                lambda g: (s := g.latest(press.path, "energy")) is not None and s.value == 1.5,
                got=got,
            )
        current = got.latest(press.path, "motor_current")
        pressure = got.latest(press.path, "hydraulic_pressure")
        assert current is not None
        assert pressure is not None
        assert (current.quality, current.status) == (Quality.BAD, BadReason.UNDECODABLE.status)
        assert (pressure.quality, pressure.status) == (Quality.BAD, BadReason.WRONG_TYPE.status)
        assert source.health.bad_values >= 2
        assert "wrong type" in str(source.diagnostics()["bad_reasons"])


def _secured(broker: Broker, *, tls: bool, password: str, ca: str | None = None) -> MqttConfig:
    return MqttConfig.model_validate(
        {
            "name": "secured",
            "host": "localhost" if tls else "127.0.0.1",
            "port": broker.tls_port if tls else broker.port,
            "username": USER,
            "password": password,
            "tls": {"ca": ca or str(broker.ca)} if tls else None,
            "flush_interval_ms": 50,
            "devices": [
                {
                    "path": "acme/sec/body/line-1/m1",
                    "topic_prefix": "secure/m1/",
                    "points": [{"signal": "temp", "topic": "temp", "timestamp_field": None}],
                }
            ],
        }
    )


async def test_wrong_credentials_and_untrusted_ca_are_clear_errors(
    private_broker: Broker,
) -> None:
    wrong = connector("mqtt").open(_secured(private_broker, tls=False, password="nope"))
    with pytest.raises(ConnectorError) as refused:
        await wrong.read_once()
    assert refused.value.key == "connector.mqtt_auth"
    assert "not authorised" in refused.value.message
    untrusted = _secured(
        private_broker, tls=True, password=PASSWORD, ca=str(private_broker.other_ca)
    )
    with pytest.raises(ConnectorError) as tls:
        await connector("mqtt").open(untrusted).read_once()
    assert tls.value.key == "connector.mqtt_tls"
    # A running source with wrong credentials keeps retrying and says why in its health.
    async with connector("mqtt").open(_secured(private_broker, tls=False, password="nope")) as s:
        await asyncio.sleep(0.5)
        assert not s.health.connected
        assert "not authorised" in (s.health.last_error or "")


async def test_tls_with_credentials_delivers(private_broker: Broker) -> None:
    cfg = _secured(private_broker, tls=True, password=PASSWORD)
    async with connector("mqtt").open(cfg) as source:
        await connected(source)
        async with aiomqtt.Client(
            "127.0.0.1", private_broker.port, username=USER, password=PASSWORD
        ) as pub:
            await pub.publish("secure/m1/temp", json.dumps({"value": 21.5}).encode(), qos=1)
        got = await gather_until(source, lambda g: bool(g.samples))
    assert got.samples[0].value == 21.5
    assert source.diagnostics()["password"] == "***"


@contextlib.contextmanager
def _aiomqtt_writer_race_ignored() -> Iterator[None]:
    """Ignore one known upstream race while a broker is killed under a connected client.

    aiomqtt registers its socket writer from paho's thread with ``call_soon_threadsafe``; when
    the broker dies in between, the loop reports adding a writer for a descriptor that is already
    closed. The client still fails over cleanly (the source reconnects); asyncio would only log
    it, but the test runner turns every loop error into a failure.
    """
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
        exc = context.get("exception")
        if (
            isinstance(exc, OSError)
            and exc.errno == errno.EBADF
            and "add_writer" in str(context.get("message"))
        ):
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
    try:
        yield
    finally:
        loop.set_exception_handler(previous)


async def test_broker_gone_and_back(tmp_path: Path) -> None:
    port = free_port()
    cfg = MqttConfig.model_validate(
        {
            "name": "flaky",
            "host": "127.0.0.1",
            "port": port,
            "flush_interval_ms": 50,
            "devices": [
                {
                    "path": "acme/flaky/body/line-1/m1",
                    "points": [{"signal": "temp", "topic": "flaky/temp", "timestamp_field": None}],
                }
            ],
        }
    )
    with _aiomqtt_writer_race_ignored():
        source = await _through_outage(cfg, tmp_path, port)
        await asyncio.sleep(0.2)  # callbacks paho's thread scheduled during the teardown
    assert source.health.reconnects == 1


async def _through_outage(cfg: MqttConfig, tmp_path: Path, port: int) -> Source:
    async with connector("mqtt").open(cfg) as source:
        with anonymous_broker(tmp_path, port):
            await connected(source)
        await until(lambda: not source.health.connected)  # the broker is gone
        assert source.health.last_error
        with anonymous_broker(tmp_path, port):
            await connected(source, within_s=40)  # back, after the backoff
            async with aiomqtt.Client("127.0.0.1", port) as pub:
                await pub.publish("flaky/temp", b'{"value": 3}', qos=1)
            got = await gather_until(source, lambda g: bool(g.samples))
    assert got.samples[0].value == 3.0
    return source
