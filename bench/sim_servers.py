"""Measure how many signals at 1 Hz one process can serve per silo protocol, and its CPU share.

Builds a synthetic site (:func:`werk.sim.servers.static.synthetic_site`: 10 lines, 50 signals per
machine) with N signals, opens its silo server, then for ``seconds`` moves every signal once a
second and calls ``update()``, as the simulation runtime does at 1 Hz real time. Meanwhile one
independent client in a separate process consumes everything (an OPC UA subscription to every
signal variable, a Modbus poller reading every unit's float block once a second, an MQTT
subscriber to the site's topics), so the server process pays for serving, not only for updating.

Reported per protocol, beside a peer measured in the same run — the floor of reading the same
values out of the view without any protocol (``view read cpu ms``):

* ``server cpu share`` — process CPU time over the window, less the synthetic model's own tick,
  divided by wall time (1.0 = one core busy): what updating *and* serving the client costs;
* ``signals/s/core`` — signals at 1 Hz one core could carry at that cost (signals / share);
* ``update cpu ms`` — mean CPU time of one ``update()`` (CPU, not wall time: on a shared machine
  wall time mostly measures the neighbours);
* ``startup s`` — time to build and open the server;
* ``client got/s`` — values the client received per second (≈ N when it keeps up).

Usage::

    python bench/sim_servers.py --signals 10000 --seconds 10 [--silo opcua ...]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from werk.sim.servers import open_silo
from werk.sim.servers.static import StaticSite, jiggle, synthetic_site
from werk.sim.view import Silo

SIGNALS_PER_MACHINE = 50
LINES = 10


@dataclass(frozen=True, slots=True)
class Result:
    """One measurement."""

    silo: str
    signals: int
    seconds: float
    startup_s: float
    update_cpu_ms: float
    view_read_cpu_ms: float
    server_cpu_share: float
    client_values_per_s: float

    @property
    def signals_per_core(self) -> float:
        """Signals this server could keep at 1 Hz on one whole core, at the measured cost."""
        return self.signals / self.server_cpu_share if self.server_cpu_share else math.inf

    def row(self) -> str:
        """Format as a table row."""
        return (
            f"| {self.silo:<9} | {self.signals:>7} | {self.startup_s:>9.1f} | "
            f"{self.update_cpu_ms:>14.1f} | {self.view_read_cpu_ms:>17.2f} | "
            f"{self.server_cpu_share:>16.2f} | {self.signals_per_core:>16,.0f} | "
            f"{self.client_values_per_s:>12,.0f} |"
        )


HEADER = (
    "| silo      | signals | startup s | update cpu ms | view read cpu ms | server cpu share "
    "| signals/s/core | client got/s |\n"
    "|-----------|---------|-----------|---------------|------------------|------------------"
    "|----------------|--------------|"
)

_OPCUA_CLIENT = """
import asyncio, os, sys, time
from asyncua import Client, ua

class H:
    n = 0
    def datachange_notification(self, node, val, data):
        H.n += 1

async def main(url, seconds, ready):
    async with Client(url, timeout=60) as c:
        ns = await c.get_namespace_index(sys.argv[4])
        machines = await c.nodes.objects.get_child([f"{ns}:Machines"])
        nodes = []
        for m in await machines.get_children():
            mon = await m.get_child([f"{ns}:Monitoring"])
            nodes += await mon.get_children()
        sub = await c.create_subscription(500, H())
        for i in range(0, len(nodes), 1000):
            await sub.subscribe_data_change(nodes[i:i + 1000], queuesize=1)
        print("ready", flush=True)
        await asyncio.sleep(2)
        H.n = 0
        t = time.perf_counter()
        await asyncio.sleep(seconds)
        print(H.n / (time.perf_counter() - t), flush=True)
        os._exit(0)  # skip tearing down 10k monitored items: only the count matters

asyncio.run(main(sys.argv[1], float(sys.argv[2]), None))
"""

_MODBUS_CLIENT = """
import asyncio, sys, time
from pymodbus.client import AsyncModbusTcpClient

async def main(host, port, seconds, units, per_unit):
    c = AsyncModbusTcpClient(host, port=port)
    await c.connect()
    print("ready", flush=True)
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        start = time.perf_counter()
        for u in range(1, units + 1):
            r = await c.read_holding_registers(100, count=2 * per_unit, device_id=u)
            n += len(r.registers) // 2
        await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - start)))
    print(n / (time.perf_counter() - t0), flush=True)
    c.close()

host, port = sys.argv[1].removeprefix("modbus+tcp://").split(":")
asyncio.run(main(host, int(port), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
"""

_MQTT_CLIENT = """
import asyncio, sys, time
import aiomqtt
from werk.codecs.sparkplug import decode_payload

async def main(port, topic, seconds):
    async with aiomqtt.Client("127.0.0.1", int(port), max_queued_incoming_messages=0) as c:
        await c.subscribe(topic)
        print("ready", flush=True)
        n = 0
        t0 = None
        async def count():
            nonlocal n, t0
            async for m in c.messages:
                if t0 is None:
                    t0 = time.perf_counter()
                if str(m.topic).startswith("spBv1.0/"):
                    n += len(decode_payload(m.payload).metrics)  # values, not messages
                else:
                    n += 1
        task = asyncio.create_task(count())
        await asyncio.sleep(seconds + 2)
        task.cancel()
        print(n / seconds, flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
"""


def _client(
    silo: Silo, endpoint: str, site: StaticSite, seconds: float, mqtt_port: int
) -> subprocess.Popen[str] | None:
    if silo is Silo.OPCUA:
        enterprise, name = site.path.split("/")
        args = [_OPCUA_CLIENT, endpoint, str(seconds), "", f"urn:werk:sim:{enterprise}:{name}"]
    elif silo is Silo.MODBUS:
        per_unit = len(site.machines[0].signal_specs)
        args = [_MODBUS_CLIENT, endpoint, str(seconds), str(len(site.machines)), str(per_unit)]
    elif silo is Silo.SPARKPLUG:
        group = site.path.split("/")[1]
        args = [_MQTT_CLIENT, str(mqtt_port), f"spBv1.0/{group}/#", str(seconds)]
    elif silo is Silo.MQTT_JSON:
        args = [_MQTT_CLIENT, str(mqtt_port), f"umh/v1/{site.path}/#", str(seconds)]
    else:
        return None
    # The client's own logging (asyncua retries publishing after its deliberate disconnect)
    # says nothing about the server; only its count on stdout matters.
    return subprocess.Popen(
        [sys.executable, "-c", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        bufsize=1,
    )


def _view_read(site: StaticSite) -> float:
    """Peer: read every value out of the view once, without any protocol (seconds)."""
    t = time.perf_counter()
    total = 0.0
    for m in site.machines:
        values = m.signals()
        for s in m.signal_specs:
            total += float(values[s.name])
        _ = (m.state, m.good_counter, m.scrap_counter, m.product, m.order, m.reason)
    return time.perf_counter() - t


async def measure(
    silo: Silo,
    signals: int = 10_000,
    *,
    seconds: float = 10.0,
    mqtt_port: int = 1883,
    with_client: bool = True,
) -> Result:
    """Serve ``signals`` signals at 1 Hz for ``seconds`` and return the measurement."""
    machines_per_line = max(1, math.ceil(signals / (LINES * SIGNALS_PER_MACHINE)))
    per_machine = min(SIGNALS_PER_MACHINE, math.ceil(signals / (LINES * machines_per_line)))
    site = synthetic_site(
        f"bench/s{random.randrange(16**8):08x}",
        silo,
        lines=LINES,
        machines_per_line=machines_per_line,
        signals_per_machine=per_machine,
    )
    served = len(site.machines) * per_machine
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        server = open_silo(site, port=0, mqtt_port=mqtt_port, drop_dir=Path(tmp))
        async with server:
            startup = time.perf_counter() - t0
            client = (
                _client(silo, server.endpoint, site, seconds, mqtt_port) if with_client else None
            )
            if client is not None and client.stdout is not None:
                while (await asyncio.to_thread(client.stdout.readline)).strip() != "ready":
                    await server.update()
            update_cpu = 0.0
            model_cpu = 0.0
            view_read = 0.0
            ticks = 0
            cpu0, wall0 = time.process_time(), time.perf_counter()
            deadline = wall0 + seconds + (2 if client is not None else 0)
            next_tick = wall0
            while time.perf_counter() < deadline:
                c = time.process_time()
                jiggle(site, rng)  # the model's tick: not the server's cost
                view_read += _view_read(site)
                c1 = time.process_time()
                model_cpu += c1 - c
                await server.update()
                update_cpu += time.process_time() - c1
                ticks += 1
                next_tick += 1.0
                await asyncio.sleep(max(0.0, next_tick - time.perf_counter()))
            # Everything the process spent but the model: updates plus serving the client.
            wall = time.perf_counter() - wall0
            server_share = (time.process_time() - cpu0 - model_cpu) / wall
            got = 0.0
            if client is not None and client.stdout is not None:
                line = await asyncio.to_thread(client.stdout.readline)
                got = float(line or 0)
                client.wait(30)
                client.stdout.close()
    return Result(
        str(silo),
        served,
        seconds,
        startup,
        1000 * update_cpu / max(ticks, 1),
        1000 * view_read / max(ticks, 1),
        server_share,
        got,
    )


def main() -> None:
    """Run the measurement from the command line and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--mqtt-port", type=int, default=1883)
    parser.add_argument("--no-client", action="store_true")
    parser.add_argument(
        "--silo", action="append", choices=[s.value for s in Silo], help="repeatable"
    )
    args = parser.parse_args()
    silos = [Silo(s) for s in args.silo] if args.silo else list(Silo)
    print(HEADER)
    for silo in silos:
        result = asyncio.run(
            measure(
                silo,
                args.signals,
                seconds=args.seconds,
                mqtt_port=args.mqtt_port,
                with_client=not args.no_client,
            )
        )
        print(result.row(), flush=True)


if __name__ == "__main__":
    main()
