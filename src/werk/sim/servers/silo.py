"""Hold what every silo server shares: its protocol, port claims and names derived from paths.

A silo server exposes one simulated site through one kind of shop-floor system. The runtime opens
it with :func:`werk.sim.servers.open_silo`, calls :meth:`SiloServer.update` after every simulation
tick, and closes it when the site stops.
"""

from __future__ import annotations

import errno
import random
import socket
from collections.abc import Iterator
from types import TracebackType
from typing import Protocol

from werk.errors import ConfigError
from werk.sim.view import MachineView, SiteView


class SiloServer(Protocol):
    """A running protocol server for one site (an async context manager).

    Attributes:
        endpoint: Where a client connects (``opc.tcp://...``, ``modbus+tcp://...``,
            ``mqtt://host:port/<topic prefix>``, ``file:///drop/dir``).
    """

    endpoint: str

    async def __aenter__(self) -> SiloServer:
        """Start serving."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop serving and release the port or connection."""
        ...

    async def update(self) -> None:
        """Publish the site's current values (called after every simulation tick)."""
        ...


def port_in_use(site: SiteView, host: str, port: int, cause: OSError | None = None) -> ConfigError:
    """Build the error for a port another process already listens on."""
    reason = f" ({cause.strerror})" if cause is not None and cause.strerror else ""
    return ConfigError(
        f"port {port} on {host} is already in use{reason}; the {site.silo} server of site "
        f"{site.path} cannot listen there — pick another port or stop the other process",
        key="sim.port_in_use",
        field="port",
        port=port,
        host=host,
        site=site.path,
    )


def claim_port(site: SiteView, host: str, port: int) -> int:
    """Return a port the site's server can listen on, or raise a :class:`ConfigError`.

    Port 0 picks a free ephemeral port (handy for tests running in parallel). Any other port is
    test-bound first, so a clash is reported with the port and the site instead of surfacing as a
    library traceback from deep inside the server's start.
    """
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        # asyncio servers set SO_REUSEADDR too: a port lingering in TIME_WAIT is not "in use".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise port_in_use(site, host, port, exc) from None
            raise ConfigError(
                f"cannot listen on {host}:{port} for site {site.path}: {exc.strerror}",
                key="sim.bad_listen_address",
                field="host",
                host=host,
                port=port,
                site=site.path,
            ) from None
        return int(sock.getsockname()[1])


def site_segments(site: SiteView) -> tuple[str, str]:
    """Return the ``(enterprise, site)`` slugs of a site path."""
    enterprise, _, name = site.path.partition("/")
    return enterprise, name or enterprise


def relative_path(site: SiteView, machine: MachineView) -> str:
    """Return the machine's path below its site (``area/line[/cell]/machine``)."""
    prefix = site.path.rstrip("/") + "/"
    if not machine.path.startswith(prefix):
        raise ConfigError(
            f"machine {machine.path} is not below its site {site.path}",
            key="sim.machine_outside_site",
            path=machine.path,
            site=site.path,
        )
    return machine.path[len(prefix) :]


def line_path(machine: MachineView) -> str:
    """Return the production line a machine belongs to (the first four path levels)."""
    return "/".join(machine.path.split("/")[:4])


def backoff_delays(first: float = 0.2, cap: float = 10.0) -> Iterator[float]:
    """Yield capped, jittered exponential reconnect delays (jitter over the doubling ceiling)."""
    ceiling = first
    while True:
        yield random.uniform(first / 2, ceiling)
        ceiling = min(cap, ceiling * 2)
