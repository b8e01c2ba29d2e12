"""Measure the connectors: protocol values → Readings per protocol, and OPC UA tags at 1 Hz.

Two tables, each beside a peer measured in the same run:

* **Mapping cost** (CPU only, no network): samples/s one core turns from protocol values into
  Arrow :class:`~werk.connectors.base.Readings` (OPC UA data-change notifications, Modbus register
  blocks, MQTT JSON messages, Sparkplug B DDATA by alias), events derived included. Peers: the
  bare library path for the same input — asyncua exploding a publish response into its
  per-item notification objects (its handler path, without the task it also creates per item),
  ``struct.unpack`` of the registers, ``json.loads`` of the payloads, the Sparkplug codec's
  decode-and-resolve.
* **OPC UA at 1 Hz, end to end**: the simulator's OPC UA server (a separate process) changes
  every one of N tags once a second; a plain asyncua client with one subscription to all of them
  (the peer), then werk's source with sessions in the agent and in worker processes, each count
  what they receive over the same window. "Tags at 1 Hz" is values received per second, at most N.

Anchors from elsewhere, not measured here: one asyncua client saturates near 4,000
notifications/s (opcua-asyncio #1516); a UMH instance is sized for about 900 tags at 1 Hz on 2
vCPU. On this 2-core machine the simulator's server itself needs about 0.7 core per 10,000 tags
(issue 3's table), so the server, not the client, bounds N here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench.report import Section
from werk.codecs.sparkplug import (
    AliasTable,
    DataType,
    Metric,
    Payload,
    encode_payload,
)
from werk.connectors.base import SourceHealth
from werk.connectors.derive import Collector
from werk.connectors.modbus import ModbusPoint
from werk.connectors.modbus.mapping import decode
from werk.connectors.mqtt import MqttConfig
from werk.connectors.opcua import OpcUaConfig
from werk.connectors.sparkplug import SparkplugConfig

ROOT = Path(__file__).resolve().parents[1]
PATH = "bench/site/body/line-1/cell-001"


def _rate(fn: Callable[[], int], min_s: float) -> float:
    """Run ``fn`` (returning samples done) until ``min_s`` of CPU passed; return samples/s."""
    fn()  # warm up: lazy imports (pyarrow loads pandas on its first timezone cast), caches
    done, cpu0 = 0, time.process_time()
    while (spent := time.process_time() - cpu0) < min_s:
        done += fn()
    return done / spent


# -- mapping cost ---------------------------------------------------------------------------------


def _opcua(n: int, min_s: float) -> tuple[float, float]:
    from asyncua import ua
    from asyncua.common.node import Node
    from asyncua.common.subscription import Subscription, SubscriptionItemData

    from werk.connectors.opcua.session import Session

    cfg = OpcUaConfig.model_validate(
        {
            "name": "b",
            "endpoint": "opc.tcp://x:1/",
            "devices": [
                {
                    "path": PATH,
                    "points": [{"signal": f"s{i}", "node": f"ns=2;s=x/{i}"} for i in range(n)],
                }
            ],
        }
    )
    t = datetime.now(UTC)
    now = ua.DateTime(t.year, t.month, t.day, t.hour, t.minute, t.second, tzinfo=UTC)
    items = [
        ua.MonitoredItemNotification(
            ClientHandle=i,
            Value=ua.DataValue(
                ua.Variant(float(i), ua.VariantType.Double),
                SourceTimestamp=now,
                ServerTimestamp=now,
            ),
        )
        for i in range(n)
    ]
    collector = Collector()
    session = Session(cfg, cfg.points(), collector, SourceHealth(), label="bench")

    def werk() -> int:
        session.on_data(items)
        return int(collector.flush().samples.num_rows)

    class _Handler:
        def __init__(self) -> None:
            self.values: list[object] = []

        def datachange_notification(self, node: object, val: object, data: object) -> None:
            self.values.append(val)

    handler = _Handler()
    sub = Subscription(None, ua.CreateSubscriptionParameters(), handler)  # type: ignore[arg-type]
    for i in range(n):
        data = SubscriptionItemData()
        data.client_handle = i
        data.node = Node(None, ua.NodeId(ua.Int32(i), ua.Int16(2)))  # type: ignore[arg-type]
        sub._monitored_items[i] = data
    change = ua.DataChangeNotification(MonitoredItems=items)

    def peer() -> int:
        handler.values.clear()
        for ev in sub._explode_datachange(change):
            handler.datachange_notification(ev.node, ev.value, ev.data)
        return len(handler.values)

    return _rate(werk, min_s), _rate(peer, min_s)


def _modbus(n: int, min_s: float) -> tuple[float, float]:
    points = [
        ModbusPoint(path=PATH, signal=f"s{i}", address=2 * i, type="float32") for i in range(n)
    ]
    regs = [r for i in range(n) for r in struct.unpack(">HH", struct.pack(">f", i * 0.5))]
    collector = Collector()
    now = datetime.now(UTC)

    def werk() -> int:
        for i, p in enumerate(points):
            value, _ = decode(p, regs[2 * i : 2 * i + 2])
            collector.add(p, now, value)
        return int(collector.flush().samples.num_rows)

    raw = struct.pack(f">{len(regs)}H", *regs)

    def peer() -> int:
        return len([struct.unpack_from(">f", raw, 4 * i)[0] for i in range(n)])

    return _rate(werk, min_s), _rate(peer, min_s)


def _mqtt(n: int, min_s: float) -> tuple[float, float]:
    from werk.connectors.mqtt.source import MqttSource

    cfg = MqttConfig.model_validate(
        {
            "name": "b",
            "host": "x",
            "devices": [
                {
                    "path": PATH,
                    "topic_prefix": f"umh/v1/{PATH}/_historian/",
                    "points": [{"signal": f"s{i}", "topic": f"s{i}"} for i in range(n)],
                }
            ],
        }
    )
    source = MqttSource(cfg)
    messages = [
        (f"umh/v1/{PATH}/_historian/s{i}", json.dumps({"timestamp_ms": 1, "value": i}).encode())
        for i in range(n)
    ]

    def werk() -> int:
        for topic, payload in messages:
            source.on_message(topic, payload)
        return int(source.collector.flush().samples.num_rows)

    def peer() -> int:
        return len([json.loads(p)["value"] for _, p in messages])

    return _rate(werk, min_s), _rate(peer, min_s)


def _sparkplug(n: int, min_s: float) -> tuple[float, float]:
    from werk.connectors.sparkplug.source import SparkplugSource

    per = 50
    devices = max(1, n // per)
    cfg = SparkplugConfig.model_validate(
        {
            "name": "b",
            "host": "x",
            "group_id": "g",
            "host_id": "h",
            "devices": [
                {
                    "path": f"{PATH}{d}",
                    "edge_node_id": "e",
                    "device_id": f"d{d}",
                    "points": [{"signal": f"s{i}", "metric": f"m{i}"} for i in range(per)],
                }
                for d in range(devices)
            ],
        }
    )
    source = SparkplugSource(cfg)
    table = AliasTable()
    births = [
        Payload(
            timestamp=1,
            metrics=tuple(
                Metric(f"m{i}", d * per + i + 10, 1, DataType.DOUBLE, 0.0) for i in range(per)
            ),
            seq=d + 1,
        )
        for d in range(devices)
    ]
    nbirth = Payload(timestamp=1, metrics=(Metric("bdSeq", 1, 1, DataType.UINT64, 0),), seq=0)
    # One full cycle of seq numbers (256 messages), so repeated runs keep the sequence unbroken.
    stream = []
    for k in range(256):
        d = k % devices
        metrics = tuple(
            Metric(None, d * per + i + 10, 1, DataType.DOUBLE, i * 0.5 + k) for i in range(per)
        )
        payload = Payload(timestamp=1, metrics=metrics, seq=(devices + 1 + k) & 0xFF)
        stream.append((d, encode_payload(payload, datatypes=False)))

    async def setup() -> None:
        await source.on_message("spBv1.0/g/NBIRTH/e", encode_payload(nbirth))
        for d, b in enumerate(births):
            await source.on_message(f"spBv1.0/g/DBIRTH/e/d{d}", encode_payload(b))
            table.learn(b, f"d{d}")
        source.collector.flush()

    loop = asyncio.new_event_loop()
    loop.run_until_complete(setup())

    def werk() -> int:
        async def run() -> None:
            for d, payload in stream:
                await source.on_message(f"spBv1.0/g/DDATA/e/d{d}", payload)

        loop.run_until_complete(run())
        return int(source.collector.flush().samples.num_rows)

    def peer() -> int:
        return sum(len(table.decode(p, f"d{d}").metrics) for d, p in stream)

    try:
        werk_rate, peer_rate = _rate(werk, min_s), _rate(peer, min_s)
    finally:
        loop.close()
    if source.counters["seq_gaps"]:
        raise RuntimeError("the Sparkplug benchmark broke its own sequence")
    return werk_rate, peer_rate


def mapping_section(*, smoke: bool) -> Section:
    """CPU cost of turning protocol values into Readings, per protocol, beside the bare path."""
    n = 1000
    min_s = 0.2 if smoke else 2.0
    rows = []
    for name, fn, peer_name in (
        ("opcua", _opcua, "asyncua notification objects"),
        ("modbus", _modbus, "struct.unpack per value"),
        ("mqtt", _mqtt, "json.loads of the payloads"),
        ("sparkplug", _sparkplug, "codec decode + alias resolve"),
    ):
        werk, peer = fn(n, min_s)
        rows.append([name, f"{werk:,.0f}", peer_name, f"{peer:,.0f}", f"{werk / peer:.2f}"])
    return Section(
        title="Connectors: protocol values → Readings, CPU only (issue 4)",
        header=["protocol", "werk samples/s", "peer", "peer values/s", "werk / peer"],
        rows=rows,
        notes=[
            "One core, no network: what each connector costs per value, from decoded protocol "
            "data to Arrow batches with events derived; the peer is the bare library path for "
            "the same input, doing less (no batches, no quality, no events).",
        ],
    )


# -- OPC UA end to end ----------------------------------------------------------------------------

_SERVER = """
import asyncio, random, sys, time
from werk.sim.servers.opcua import OpcUaSilo
from werk.sim.servers.static import jiggle, synthetic_site
from werk.sim.view import Silo

async def main(machines, per, path):
    site = synthetic_site(path, Silo.OPCUA, lines=1, machines_per_line=machines,
                          signals_per_machine=per)
    rng = random.Random(3)
    async with OpcUaSilo(site, port=0) as silo:
        print("ready", silo.endpoint, flush=True)
        nxt = time.perf_counter()
        while True:
            jiggle(site, rng)
            await silo.update()
            nxt += 1.0
            await asyncio.sleep(max(0.0, nxt - time.perf_counter()))

asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))
"""

_PEER = """
import asyncio, os, sys, time
from asyncua import ua
from asyncua.client.client import Client

class H:
    n = 0
    def datachange_notification(self, node, val, data):
        H.n += 1

async def main(url, seconds, nodes):
    async with Client(url, timeout=60) as c:
        ns = await c.get_namespace_index(sys.argv[4])
        ids = [c.get_node(ua.NodeId.from_string(f"ns={ns};s={n}")) for n in nodes]
        sub = await c.create_subscription(1000, H())
        for i in range(0, len(ids), 1000):
            await sub.subscribe_data_change(ids[i:i + 1000], queuesize=1)
        await asyncio.sleep(3)
        H.n = 0
        t, cpu = time.perf_counter(), time.process_time()
        await asyncio.sleep(seconds)
        wall = time.perf_counter() - t
        print(H.n / wall, (time.process_time() - cpu) / wall, flush=True)
        os._exit(0)

asyncio.run(main(sys.argv[1], float(sys.argv[2]), sys.stdin.read().split()))
"""


def _cpu_s(pids: list[int]) -> float:
    """Return the CPU seconds (user + system) other processes used so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


async def _werk_rate(
    cfg: OpcUaConfig, seconds: float, server_pid: int
) -> tuple[float, float, float]:
    """Return values/s received, the client's CPU share (agent + workers) and the server's."""
    from werk.connectors.opcua.source import OpcUaSource

    source = OpcUaSource(cfg)
    async with source:
        stream = source.readings()
        # Warm up: until most tags have reported once (subscriptions made, first full round).
        seen = 0
        async with asyncio.timeout(300):
            while seen < len(cfg.points()) * 0.9:
                seen += (await anext(stream)).samples.num_rows
        pool = source.pool
        pids = [w.process.pid for w in pool.workers if w.process and w.process.pid] if pool else []
        got, t0 = 0, time.perf_counter()
        cpu0 = time.process_time() + _cpu_s(pids)
        server0 = _cpu_s([server_pid])
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    got += (await anext(stream)).samples.num_rows
        wall = time.perf_counter() - t0
        cpu = time.process_time() + _cpu_s(pids) - cpu0
        return got / wall, cpu / wall, (_cpu_s([server_pid]) - server0) / wall


def _row(
    name: str, shape: str, label: str, tags: int, rate: float, cpu: float, server: float | None
) -> list[str]:
    if math.isnan(rate):
        return [name, shape, label, "failed (connection dropped)", "", "", "", ""]
    per_core = rate / cpu if cpu > 0 else math.nan
    return [
        name,
        shape,
        label,
        f"{rate:,.0f}",
        f"{min(rate, tags) / tags:.0%}",
        f"{cpu:.2f}",
        f"{per_core:,.0f}",
        "" if server is None else f"{server:.2f}",
    ]


def _scenario(machines: int, per: int, fanout: int, seconds: float) -> list[list[str]]:
    """Serve ``machines × per`` variables changing once a second; each is watched by ``fanout``
    monitored items (tags). Return the peer's row and werk's rows."""
    from werk.sim.plantfile import plant_file
    from werk.sim.servers.static import synthetic_site
    from werk.sim.view import Silo

    site_path = f"bench/b{os.getpid()}x{fanout}"
    variables = machines * per
    tags = variables * fanout
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"}
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(machines), str(per), site_path],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    rows: list[list[str]] = []
    label = f"{tags:,}" if fanout == 1 else f"{tags:,} over {variables:,} variables"
    try:
        assert server.stdout is not None
        line = server.stdout.readline().split()
        if not line or line[0] != "ready":
            raise RuntimeError("the benchmark's OPC UA server did not start")
        endpoint = line[1]
        site = synthetic_site(
            site_path, Silo.OPCUA, lines=1, machines_per_line=machines, signals_per_machine=per
        )
        source = plant_file(site, endpoint=endpoint, expand=True)["sources"]
        assert isinstance(source, list)
        base = {**source[0], "name": "bench", "publishing_interval_ms": 1000, "timeout_s": 60}
        for d in base["devices"]:
            signals = [p for p in d["points"] if p.get("role") is None]
            # Fan-out: the same node behind several points (distinct signals, one item each).
            d["points"] = [
                {**p, "signal": p["signal"] if r == 0 else f"{p['signal']}_r{r}"}
                for r in range(fanout)
                for p in signals
            ]
        nodes = [f"{m.path}/Monitoring/{s.name}" for m in site.machines for s in m.signal_specs]
        peer = subprocess.run(
            [
                sys.executable,
                "-c",
                _PEER,
                endpoint,
                str(seconds),
                "",
                f"urn:werk:sim:{site_path.replace('/', ':')}",
            ],
            input=" ".join(nodes * fanout),
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        out = peer.stdout.strip().splitlines()
        if peer.returncode != 0 or not out:
            print(f"the asyncua peer failed: {peer.stderr[-2000:]}", file=sys.stderr)
        peer_rate, peer_cpu = (
            (float(out[-1].split()[0]), float(out[-1].split()[1]))
            if peer.returncode == 0 and out
            else (math.nan, math.nan)
        )
        rows.append(
            _row(
                "asyncua, one client, one subscription (peer)",
                "1 × 1",
                label,
                tags,
                peer_rate,
                peer_cpu,
                None,
            )
        )
        for workers, size in ((0, 2500), (2, 2500)):
            cfg = OpcUaConfig.model_validate(
                {**base, "workers": workers, "items_per_session": size}
            )
            shares = math.ceil(tags / size)
            procs = min(max(workers, 1), shares)
            rate, cpu, server_cpu = asyncio.run(_werk_rate(cfg, seconds, server.pid))
            where = "in the agent" if workers == 0 else f"in {procs} worker processes"
            shape = f"{procs} × {math.ceil(shares / procs)}"
            name = f"werk opcua source, sessions {where}"
            rows.append(_row(name, shape, label, tags, rate, cpu, server_cpu))
    finally:
        server.terminate()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()
    return rows


def opcua_section(*, smoke: bool) -> Section:
    """Tags at 1 Hz through one plain asyncua client and through werk's sharded source."""
    seconds = 3.0 if smoke else 10.0
    rows = _scenario(6 if smoke else 40, 50, 1, seconds)
    rows += _scenario(2 if smoke else 20, 50, 3 if smoke else 25, seconds)
    return Section(
        title="Connectors: OPC UA tags at 1 Hz, end to end (issue 4)",
        header=[
            "client",
            "processes × sessions",
            "tags (1 Hz)",
            "values/s received",
            "of tags",
            "client CPU (cores)",
            "values/s per client core",
            "server CPU (cores)",
        ],
        rows=rows,
        notes=[
            "The simulator's OPC UA server runs in its own process and changes every variable "
            "once a second; clients subscribe with a 1 s publishing interval and count values "
            "over the "
            "same window after a warm-up. Client CPU is the client's own processes (agent and "
            "workers; the peer's process) over the window; values/s per client core is what one "
            "core of the client carries at that cost, were the server to offer more. Server CPU "
            "near 1.0 means the one-process Python server, not the client, set the rate.",
            "Fan-out rows: each server variable is watched by several monitored items (distinct "
            "tags to the client, each decoded, mapped and batched on its own), so the Python "
            "server — which costs ~70 µs per variable write — can offer tens of thousands of "
            "values/s on this machine.",
            "Published anchors (from elsewhere): one asyncua client saturates near 4,000 "
            "notifications/s (opcua-asyncio #1516); UMH is sized for ~900 tags at 1 Hz on "
            "2 vCPU. Target: ≥ 50,000 tags at 1 Hz through one agent (sharded OPC UA) — on this "
            "2-core machine the Python server bounds the tags offered (≈ 0.7 core per 10,000).",
        ],
    )


def sections(*, smoke: bool, pg_admin_url: str = "") -> list[Section]:
    """Every connector measurement of a run."""
    return [mapping_section(smoke=smoke), opcua_section(smoke=smoke)]
