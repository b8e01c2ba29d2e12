"""OPC UA load server: independent clients receive the deterministic values, item by item."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import yaml
from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.subscription import DataChangeNotif
from asyncua.ua.status_codes import StatusCodes
from typer.testing import CliRunner

from werk.cli import sim as sim_cli
from werk.connectors.opcua import OpcUaConfig
from werk.connectors.opcua.source import OpcUaSource
from werk.edge.plant import load_plant
from werk.errors import ConfigError
from werk.samples import Quality
from werk.sim.servers.opcua_load import NAMESPACE, OpcUaLoad, load_plant_file, load_values

pytestmark = pytest.mark.anyio

INTERVAL_S = 0.2


def _nid(ns: int, text: str) -> ua.NodeId:
    return ua.NodeId(ua.String(text), ua.Int16(ns))


def _check(index: int, value: object, source: datetime | None, server: datetime | None) -> None:
    """A value is f(index, cycle of its SourceTimestamp), stamped at the start of its cycle."""
    assert isinstance(value, float)
    assert source is not None
    assert server is not None
    cycle = round(source.replace(tzinfo=UTC).timestamp() / INTERVAL_S)
    assert source.replace(tzinfo=UTC).timestamp() == pytest.approx(cycle * INTERVAL_S, abs=1e-6)
    assert value == float(load_values(index, cycle))
    assert server >= source


class _Handler:
    def __init__(self) -> None:
        self.got: list[tuple[ua.NodeId, ua.DataValue]] = []

    def datachange_notification(self, node: object, val: object, data: DataChangeNotif) -> None:
        node_ = data.subscription_data.node
        assert node_ is not None
        self.got.append((node_.nodeid, data.monitored_item.Value))


def test_values_are_deterministic() -> None:
    values = load_values(np.array([0, 1, 1234]), 2005)
    assert values.tolist() == [0.005, 1.005, 234.005]
    with pytest.raises(ConfigError):
        OpcUaLoad(0)


async def test_plain_client_subscribes_and_reads() -> None:
    tags = 300
    async with OpcUaLoad(tags, interval_s=INTERVAL_S) as load, Client(load.endpoint) as client:
        ns = await client.get_namespace_index(NAMESPACE)
        assert ns == load.ns
        # Read: the current value and the stamp of its cycle, GOOD.
        dv = await client.get_node(_nid(ns, "tag/42")).read_data_value()
        assert dv.StatusCode is not None
        assert dv.StatusCode.is_good()
        assert dv.Value is not None
        _check(42, dv.Value.Value, dv.SourceTimestamp, dv.ServerTimestamp)
        handler = _Handler()
        sub = await client.create_subscription(100, handler)
        nodes = [client.get_node(_nid(ns, f"tag/{i}")) for i in range(tags)]
        ghost = client.get_node(_nid(ns, f"tag/{tags}"))  # one past the last tag
        handles = await sub.subscribe_data_change([*nodes[:150], ghost, *nodes[150:]])
        assert isinstance(handles, list)
        bad = handles[150]
        assert isinstance(bad, ua.StatusCode)
        assert bad.value == StatusCodes.BadNodeIdUnknown
        assert all(isinstance(h, int) for i, h in enumerate(handles) if i != 150)
        # Three cycles: every tag reports each of them (the first value, then every change).
        await asyncio.sleep(INTERVAL_S * 3.5)
        await sub.delete()
    per_tag: dict[int, list[ua.DataValue]] = {}
    for node, dv in handler.got:
        assert isinstance(node.Identifier, str)
        per_tag.setdefault(int(node.Identifier.removeprefix("tag/")), []).append(dv)
    assert sorted(per_tag) == list(range(tags))
    for index, dvs in per_tag.items():
        assert len(dvs) >= 3
        stamps = [dv.SourceTimestamp for dv in dvs if dv.SourceTimestamp is not None]
        assert stamps == sorted(set(stamps))  # one value per cycle, in order
        for dv in dvs:
            assert dv.StatusCode is not None
            assert dv.StatusCode.is_good()
            assert dv.Value is not None
            _check(index, dv.Value.Value, dv.SourceTimestamp, dv.ServerTimestamp)
    assert load.values_published() == 0  # the subscription is gone


async def test_absolute_deadband_holds_back_small_changes() -> None:
    async with OpcUaLoad(10, interval_s=INTERVAL_S) as load, Client(load.endpoint) as client:
        handler = _Handler()
        sub = await client.create_subscription(50, handler)
        node = client.get_node(_nid(load.ns, "tag/3"))
        # Each cycle moves a value by 0.001: a 0.5 deadband reports the first value only.
        await sub.deadband_monitor(node, ua.Double(0.5), deadbandtype=ua.UInt32(1))
        await asyncio.sleep(INTERVAL_S * 3.5)
        assert len(handler.got) == 1


async def test_werk_source_receives_load_tags() -> None:
    tags = 400
    async with OpcUaLoad(tags, interval_s=INTERVAL_S) as load:
        cfg = OpcUaConfig.model_validate(
            {
                "name": "load",
                "endpoint": load.endpoint,
                "publishing_interval_ms": 100,
                "flush_interval_ms": 50,
                "items_per_session": 150,
                "devices": [
                    {
                        "path": f"acme/load/area/line-01/machine-{m:03d}",
                        "points": [
                            {"signal": f"t{i}", "node": f"nsu={NAMESPACE};s=tag/{i}"}
                            for i in range(m * 100, m * 100 + 100)
                        ]
                        + ([{"signal": "ghost", "node": f"nsu={NAMESPACE};s=tag/x"}] if m else []),
                    }
                    for m in range(tags // 100)
                ],
            }
        )
        rows: list[dict[str, object]] = []
        async with OpcUaSource(cfg) as source:
            stream = source.readings()
            async with asyncio.timeout(20):
                while len({r["signal"] for r in rows if r["quality"] == Quality.GOOD}) < tags:
                    rows += (await anext(stream)).samples.to_pylist()
            read = await source.read_once()
        ghosts = [r for r in rows if r["signal"] == "ghost"]
        assert len(ghosts) == 3
        assert all(r["quality"] == Quality.BAD for r in ghosts)
        assert all(r["status"] == StatusCodes.BadNodeIdUnknown for r in ghosts)
        for r in rows:
            if r["signal"] == "ghost":
                continue
            assert r["quality"] == Quality.GOOD
            ts = r["ts"]
            assert isinstance(ts, datetime)
            cycle = round(ts.timestamp() / INTERVAL_S)
            index = int(str(r["signal"])[1:])
            assert r["value"] == float(load_values(index, cycle))
        by_signal = {r["signal"]: r for r in read.samples.to_pylist()}
        assert by_signal["t7"]["quality"] == Quality.GOOD
        ghost_value = by_signal["ghost"]["value"]
        assert isinstance(ghost_value, float)
        assert math.isnan(ghost_value)


def test_plant_file_monitors_every_tag(tmp_path: Path) -> None:
    data = load_plant_file(120, "opc.tcp://127.0.0.1:4841/", items_per_session=50, workers=2)
    file = tmp_path / "load.yaml"
    file.write_text(yaml.safe_dump(data))
    plant = load_plant(file)
    (source,) = plant.sources
    assert isinstance(source, OpcUaConfig)
    points = source.points()
    assert [p.node for p in points] == [f"nsu={NAMESPACE};s=tag/{i}" for i in range(120)]
    assert {p.path for p in points} == {
        f"acme/load/area/line-01/machine-{m:03d}" for m in (1, 2, 3)
    }
    assert (source.items_per_session, source.workers) == (50, 2)


def test_cli_serves_and_writes_the_plant_file(tmp_path: Path) -> None:
    out = tmp_path / "load.yaml"
    args = ["opcua-load", "--tags", "60", "--port", "0", "--plant-file", str(out)]
    result = CliRunner().invoke(sim_cli.app, [*args, "--stop-after-s", "0.5"])
    assert result.exit_code == 0, result.output
    assert "60 tags every 1 s on opc.tcp://127.0.0.1:" in result.output
    plant = load_plant(out)
    (source,) = plant.sources
    assert len(source.points()) == 60


def test_a_late_publish_carries_the_cycles_it_missed_up_to_the_queue_size() -> None:
    from asyncua.common.utils import Buffer
    from asyncua.ua.ua_binary import struct_from_binary

    from werk.sim.servers.opcua_load import LoadTags, _LoadItems

    tags = LoadTags(100, 1.0)
    items = _LoadItems()
    items.add(handle=7, index=3, deadband=0.0, enabled=True, queue=2)
    items.add(handle=8, index=4, deadband=0.0, enabled=True, queue=1)
    items.add(handle=9, index=5, deadband=0.0, enabled=True, queue=5)

    def sent(cycle: int) -> list[tuple[int, float, int]]:
        encoded = items.encode(tags, cycle, now=cycle + 0.5)
        assert encoded is not None
        body, n = encoded
        note = struct_from_binary(ua.DataChangeNotification, Buffer(body))
        assert len(note.MonitoredItems) == n
        return [
            (
                m.ClientHandle,
                m.Value.Value.Value,
                int(m.Value.SourceTimestamp.replace(tzinfo=UTC).timestamp()),
            )
            for m in note.MonitoredItems
        ]

    first = sent(100)  # first report: the newest value only
    assert first == [(7, 3.1, 100), (8, 4.1, 100), (9, 5.1, 100)]
    assert items.encode(tags, 100, now=100.9) is None  # nothing new within the cycle
    # Three cycles pass before the next publish: each item gets what its queue holds.
    late = sent(103)
    assert late == [
        (7, 3.102, 102),
        (7, 3.103, 103),
        (8, 4.103, 103),
        (9, 5.101, 101),
        (9, 5.102, 102),
        (9, 5.103, 103),
    ]
