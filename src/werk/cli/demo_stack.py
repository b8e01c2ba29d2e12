"""Run the demo's live plant side: an MQTT broker, the simulator's silos and one edge per site.

The simulator (``werk sim run``) and every edge agent (``werk edge run``) run as child processes,
exactly as they would in a plant, each writing its log under ``<demo>/logs``. Children get their
own session, so a Ctrl-C in the terminal reaches only the demo, which then stops them in order
(edges first, so they can deliver what they hold while the server still listens). On Linux each
child also asks the kernel to send it SIGTERM when the demo dies (``PR_SET_PDEATHSIG``), so even a
killed demo leaves no orphans behind.

The broker is the local Mosquitto when one answers an MQTT CONNECT on 127.0.0.1:1883; otherwise
an embedded amqtt broker (pure Python, the ``demo`` extra) runs on a thread of the demo process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from werk.errors import ConfigError, WerkError

if TYPE_CHECKING:
    from werk.sim.fleet import Fleet
    from werk.store import Store

LOCAL_MQTT: Final = ("127.0.0.1", 1883)
"""Where a local Mosquitto is looked for."""

# Exec the real command only once the kernel will signal the child when its parent dies
# (prctl 1 = PR_SET_PDEATHSIG); if the parent is already gone, do not start at all.
_LAUNCH: Final = """\
import ctypes, os, signal, sys
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
except (OSError, AttributeError):
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit(0)
os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
"""


def port_free(host: str, port: int) -> bool:
    """Tell whether a listener could bind ``host:port`` now (a port in TIME_WAIT is free)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def require_free(host: str, port: int, what: str) -> None:
    """Raise a :class:`ConfigError` naming the port when ``what`` cannot listen on it."""
    if not port_free(host, port):
        raise ConfigError(
            f"port {port} on {host} is already in use, so {what} cannot listen there; stop the "
            "other process or pick another port (--port for the web server)",
            key="demo.port_in_use",
            field="port",
            port=port,
            host=host,
        )


def free_ports(host: str, first: int, count: int) -> int:
    """Return the first port from ``first`` on (in steps of 10) with ``count`` free after it."""
    for base in range(first, first + 1000, 10):
        if all(port_free(host, base + i) for i in range(count)):
            return base
    raise ConfigError(
        f"found no {count} free ports in a row on {host} between {first} and {first + 1000}",
        key="demo.no_free_port",
        field="port",
        port=first,
    )


def mqtt_answers(host: str, port: int, timeout_s: float = 2.0) -> bool:
    """Tell whether an MQTT broker accepts a connection on ``host:port`` (CONNECT → CONNACK 0)."""
    client_id = f"werk-demo-probe-{os.getpid()}".encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x0a" + len(client_id).to_bytes(2, "big") + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.settimeout(timeout_s)
            sock.sendall(bytes([0x10, len(body)]) + body)
            answer = sock.recv(4)
            with contextlib.suppress(OSError):
                sock.sendall(b"\xe0\x00")  # DISCONNECT: no will message, no log noise
    except OSError:
        return False
    return answer[:2] == b"\x20\x02" and answer[3:4] == b"\x00"


class EmbeddedBroker:
    """An amqtt broker on its own thread and event loop, for machines without Mosquitto.

    Args:
        host: Interface to listen on.
        port: Port to listen on.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="werk[demo].mqtt", daemon=True)

    def start(self, timeout_s: float = 15.0) -> None:
        """Start listening; raise a :class:`WerkError` when amqtt is missing or cannot start."""
        try:
            import amqtt.broker  # noqa: F401  (checked here to name the extra in the error)
        except ModuleNotFoundError:
            raise WerkError(
                "no MQTT broker answers on 127.0.0.1:1883 and the embedded one needs the package "
                "'amqtt': pip install 'werk[demo]', or start Mosquitto",
                key="demo.no_broker",
            ) from None
        logging.getLogger("amqtt").setLevel(logging.WARNING)
        logging.getLogger("transitions").setLevel(logging.WARNING)
        self._thread.start()
        if not self._ready.wait(timeout_s) or self._error is not None:
            raise WerkError(
                f"the embedded MQTT broker did not start on {self.host}:{self.port}: "
                f"{self._error or 'timed out'}",
                key="demo.broker_failed",
                port=self.port,
            )

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start(); the thread must not die silently
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        from amqtt.broker import Broker

        config: dict[str, object] = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        broker = Broker(config)
        await broker.start()
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await broker.shutdown()

    def stop(self) -> None:
        """Stop the broker and wait for its thread (a few seconds at most)."""
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # its loop already ended
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread.is_alive():
            self._thread.join(5)


@dataclass
class Child:
    """A child process of the demo, its log file and what it is called in messages."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    offset: int = 0
    """Where this run's part of the log begins (earlier runs of the demo wrote before it)."""

    def output(self) -> str:
        """Return what this run wrote to the log."""
        try:
            with self.log.open("rb") as log:
                log.seek(self.offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    @classmethod
    def start(cls, name: str, args: Sequence[str], log: Path, cwd: Path | None = None) -> Child:
        """Start ``python -m werk.cli ARGS`` in its own session, appending to ``log``."""
        log.parent.mkdir(parents=True, exist_ok=True)
        offset = log.stat().st_size if log.exists() else 0
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "160"}
        command = [sys.executable, "-c", _LAUNCH, str(os.getpid()), "-m", "werk.cli", *args]
        with log.open("ab") as out:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
                start_new_session=True,  # Ctrl-C reaches the demo only; it stops us in order
            )
        return cls(name, process, log, offset)

    def alive(self) -> bool:
        """Tell whether the process still runs."""
        return self.process.poll() is None

    def tail(self, lines: int = 12) -> str:
        """Return the last lines of the log."""
        return "\n".join(self.output().rstrip().splitlines()[-lines:])

    def died(self) -> WerkError:
        """Build the error for a child that exited when it should run."""
        return WerkError(
            f"{self.name} stopped (exit {self.process.returncode}); its log {self.log} ends:\n"
            f"{self.tail()}",
            key="demo.child_died",
            child=self.name,
            log=str(self.log),
        )

    def signal(self, signum: int) -> None:
        """Send ``signum`` if the process still runs."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signum)


def stop_children(children: Sequence[Child], signum: int, timeout_s: float) -> list[Child]:
    """Signal every child, wait up to ``timeout_s`` for all; return those still running."""
    for child in children:
        child.signal(signum)
    deadline = time.monotonic() + timeout_s
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(max(0.0, deadline - time.monotonic()))
    return [c for c in children if c.alive()]


def wait_for_line(child: Child, text: str, timeout_s: float) -> None:
    """Wait until ``text`` appears in the child's log; raise if it dies or takes too long."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if text in child.output():
            return
        if not child.alive():
            raise child.died()
        time.sleep(0.2)
    raise WerkError(
        f"{child.name} did not start within {timeout_s:g} s; its log {child.log} ends:\n"
        f"{child.tail()}",
        key="demo.child_slow",
        child=child.name,
    )


@dataclass(frozen=True, slots=True)
class Mqtt:
    """The broker the Sparkplug B silo and its edge use."""

    host: str
    port: int
    embedded: bool


def open_broker(
    host: str = LOCAL_MQTT[0], *, embedded: bool = False
) -> tuple[Mqtt, EmbeddedBroker | None]:
    """Use the local Mosquitto when it answers, else start the embedded broker on a free port.

    Args:
        host: Interface the embedded broker listens on.
        embedded: Start the embedded broker even when Mosquitto answers.
    """
    if not embedded and mqtt_answers(*LOCAL_MQTT):
        return Mqtt(*LOCAL_MQTT, embedded=False), None
    port = LOCAL_MQTT[1] if port_free(host, LOCAL_MQTT[1]) else free_ports(host, 18830, 1)
    broker = EmbeddedBroker(host, port)
    broker.start()
    return Mqtt(host, port, embedded=True), broker


def silo_endpoints(fleet: Fleet, host: str, base: int) -> dict[str, str]:
    """Return each OPC UA or Modbus site's endpoint (``werk sim run`` gives site i port base+i)."""
    from werk.sim.view import Silo

    endpoints = {}
    for index, site in enumerate(fleet.sites):
        if site.silo is Silo.OPCUA:
            endpoints[site.name] = f"opc.tcp://{host}:{base + index}/"
        elif site.silo is Silo.MODBUS:
            endpoints[site.name] = f"modbus+tcp://{host}:{base + index}"
    return endpoints


def edge_key(store: Store, folder: Path, edge: str) -> Path:
    """Return the file holding the edge's key, creating the key (as ``werk keys create --edge``)."""
    from werk.api.credentials import create_key
    from werk.errors import Conflict

    path = folder / "edge.key"
    if path.exists():
        return path  # a demo folder reused from an earlier run: its key is still valid
    try:
        _, secret = create_key(store, name=f"edge-{edge}", role="edge", edge=edge)
    except Conflict:  # the key file was removed by hand: a new key beside the old one
        name = f"edge-{edge}-{int(time.time())}"
        _, secret = create_key(store, name=name, role="edge", edge=edge)
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return path


def write_plant_files(
    store: Store, fleet: Fleet, folder: Path, *, url: str, endpoints: dict[str, str], mqtt: Mqtt
) -> dict[str, Path]:
    """Write ``<folder>/<site>/plant.yaml`` and ``edge.key`` for every site; return the files."""
    import yaml

    from werk.sim.plantfile import plant_file

    plants = {}
    for site in fleet.sites:
        site_folder = folder / site.name
        site_folder.mkdir(parents=True, exist_ok=True)
        edge_key(store, site_folder, site.name)
        plant = plant_file(
            site,
            endpoint=endpoints.get(site.name, ""),
            mqtt_host=mqtt.host,
            mqtt_port=mqtt.port,
            edge=site.name,  # the edge id its key was made for (idempotency keys start with it)
        )
        document: dict[str, object] = {
            "plant": plant["plant"],
            "edge": site.name,
            "uplink": {
                "url": url,
                "api_key_file": "edge.key",
                "flush_interval_s": 1.0,
                "health_interval_s": 5.0,
            },
            "buffer": {"path": "buffer.sqlite", "disk_budget_mb": 256},
            **{k: v for k, v in plant.items() if k not in ("plant", "edge")},
        }
        path = site_folder / "plant.yaml"
        path.write_text(
            f"# werk demo: the edge of {site.path}, written by `werk demo`\n"
            + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
        )
        plants[site.name] = path
    return plants


class Live:
    """The running plant side: simulator, edges, and the embedded broker if one was started.

    Args:
        folder: The demo folder (logs go to ``logs/``, plant files to ``edges/``).
        broker: The embedded broker to stop last, or None when Mosquitto serves.
        mqtt: Where the broker listens.
    """

    def __init__(self, folder: Path, broker: EmbeddedBroker | None, mqtt: Mqtt) -> None:
        self.folder = folder
        self.broker = broker
        self.mqtt = mqtt
        self.base = 0
        self.sim: Child | None = None
        self.edges: list[Child] = []

    def start_sim(self, fleet_path: Path, *, host: str, base: int) -> None:
        """Start ``werk sim run`` (see :meth:`wait_sim`)."""
        args = ["sim", "run", "--fleet", str(fleet_path), "--host", host, "--port", str(base)]
        self.base = base
        args += ["--mqtt-host", self.mqtt.host, "--mqtt-port", str(self.mqtt.port)]
        args += ["--drop-dir", str(self.folder / "drops")]
        self.sim = Child.start("the simulator", args, self.folder / "logs" / "sim.log")

    def wait_sim(self, timeout_s: float = 90) -> None:
        """Wait until the simulator's silos serve (it prints "simulating from" then)."""
        if self.sim is not None:
            wait_for_line(self.sim, "simulating from", timeout_s=timeout_s)

    def start_edges(self, plants: dict[str, Path]) -> None:
        """Start ``werk edge run`` for every plant file."""
        for name, plant in plants.items():
            # Warnings only: at info the edge logs every request, every second, for days.
            args = ["edge", "run", str(plant), "--grace-s", "5", "--log-level", "warning"]
            log = self.folder / "logs" / f"edge-{name}.log"
            self.edges.append(Child.start(f"the edge of {name}", args, log))

    def check(self) -> None:
        """Raise when a child stopped on its own (the simulator or an edge)."""
        for child in [*([self.sim] if self.sim else []), *self.edges]:
            if not child.alive():
                raise child.died()

    def stop(self) -> None:
        """Stop edges first (they deliver what they hold), then the simulator, then the broker.

        A KeyboardInterrupt while waiting (the second Ctrl-C) kills what is left at once.
        """
        try:
            left = stop_children(self.edges, signal.SIGTERM, timeout_s=12)
            if self.sim is not None:
                left += stop_children([self.sim], signal.SIGTERM, timeout_s=10)
        except KeyboardInterrupt:
            self.kill()
            raise
        if left:
            stop_children(left, signal.SIGKILL, timeout_s=5)
        if self.broker is not None:
            self.broker.stop()

    def kill(self) -> None:
        """Kill every child now (the forced stop)."""
        stop_children([*self.edges, *([self.sim] if self.sim else [])], signal.SIGKILL, 5)
