"""``werk sim fleet|history|truth|run|opcua-load``: simulate a plant fleet, to Parquet or live.

``history`` and ``truth`` write days of simulated data (see :mod:`werk.sim.history`); ``run``
starts one protocol server per site (:func:`werk.sim.servers.open_silo`) and ticks the live
simulation in real time or faster; ``opcua-load`` serves N OPC UA load tags for sizing an edge
agent (:mod:`werk.sim.servers.opcua_load`). Errors are raised as werk errors; ``werk.cli.main``
prints them and picks the exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Protocol, cast

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from werk.cli.output import console, emit_json, emit_rows
from werk.errors import ConfigError, WerkError

if TYPE_CHECKING:
    from collections.abc import Callable

    from werk.sim.fleet import Fleet
    from werk.sim.history import HistoryProgress, HistoryStats
    from werk.sim.runtime import Runtime
    from werk.sim.view import SiteView


class _Server(Protocol):
    """What ``run`` needs of a silo server (see ``werk.sim.servers.silo.SiloServer``)."""

    endpoint: str

    async def update(self) -> None: ...


class _OpenSilo(Protocol):
    """The call shape agreed with ``werk.sim.servers.open_silo``."""

    def __call__(
        self,
        site: SiteView,
        *,
        host: str,
        port: int,
        mqtt_host: str,
        mqtt_port: int,
        drop_dir: Path,
    ) -> contextlib.AbstractAsyncContextManager[_Server]: ...


app = typer.Typer(
    help="Simulate a car maker's plant fleet: history to Parquet, ground truth, or live servers.",
    no_args_is_help=True,
)

FleetOption = Annotated[
    Path | None,
    typer.Option("--fleet", "-f", help="Fleet file (YAML); the default fleet if omitted."),
]
SeedOption = Annotated[int | None, typer.Option(help="Seed; overrides the fleet file's.")]
DaysOption = Annotated[int, typer.Option(min=1, help="Days to simulate (UTC days).")]
OutOption = Annotated[Path, typer.Option(help="Output directory.")]
StartOption = Annotated[
    datetime | None,
    typer.Option(
        formats=["%Y-%m-%d"], help="First day (UTC), YYYY-MM-DD; default: DAYS days before today."
    ),
]
OverwriteOption = Annotated[
    bool, typer.Option(help="Replace simulator output already in the directory.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _fleet(path: Path | None, seed: int | None) -> Fleet:
    from werk.sim.fleet import load_fleet

    return load_fleet(path, seed=seed)


def _first_day(start: datetime | None, days: int) -> date:
    if start is not None:
        return start.date()
    return datetime.now(UTC).date() - timedelta(days=days)


@app.command("fleet")
def fleet_command(
    fleet: FleetOption = None, seed: SeedOption = None, json_: JsonOption = False
) -> None:
    """List the fleet's sites, lines and machines."""
    the_fleet = _fleet(fleet, seed)
    machines = [
        {
            "path": machine.path,
            "site": site.name,
            "tz": site.tz,
            "silo": site.silo.value,
            "line": line.path.split("/", 2)[2],
            "position": machine.position,
            "machine": machine.name,
            "type": machine.type.value,
            "vendor": machine.vendor,
            "serial": machine.serial,
            "signals": [s.name for s in machine.signal_specs],
        }
        for site in the_fleet.sites
        for line in site.lines
        for machine in line.machines
    ]
    if json_:
        emit_json(
            {"enterprise": the_fleet.enterprise, "seed": the_fleet.seed, "machines": machines}
        )
        return
    sites = [
        {
            "site": site.name,
            "time zone": site.tz,
            "silo": site.silo.value,
            "lines": len(site.lines),
            "machines": len(site.machines),
        }
        for site in the_fleet.sites
    ]
    emit_rows(sites, as_json=False, title=f"{the_fleet.enterprise} (seed {the_fleet.seed})")
    emit_rows(
        [
            {k: m[k] for k in ("site", "line", "machine", "type", "vendor", "serial")}
            for m in machines
        ],
        as_json=False,
    )


@contextlib.contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[HistoryProgress], None]]:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("site-days"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[detail]}"),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(label, total=total, detail="")

        def update(p: HistoryProgress) -> None:
            progress.update(
                task,
                completed=p.done,
                detail=f"{p.site} {p.day.isoformat()}  {p.samples / 1e6:,.1f} M samples",
            )

        yield update


def _report(stats: HistoryStats, out: Path, as_json: bool) -> None:
    data = {**asdict(stats), "samples_per_s": round(stats.samples_per_s), "out": str(out)}
    if as_json:
        emit_json(data)
        return
    console.print(
        f"wrote {stats.samples:,} samples, {stats.events:,} events and {stats.truth_rows:,} "
        f"truth rows in {stats.files} files ({stats.bytes / 1e6:,.1f} MB) to {out} "
        f"in {stats.seconds:.1f} s — {stats.samples_per_s / 1e6:.1f} M samples/s, "
        f"{stats.cpu_seconds / max(stats.samples, 1) * 1e9:.0f} ns of CPU per sample"
    )


@app.command()
def history(
    out: OutOption,
    fleet: FleetOption = None,
    days: DaysOption = 1,
    start: StartOption = None,
    seed: SeedOption = None,
    samples: Annotated[bool, typer.Option(help="Write signal samples.")] = True,
    overwrite: OverwriteOption = False,
    json_: JsonOption = False,
) -> None:
    """Write days of samples, events and ground truth to Parquet, at full speed."""
    from werk.sim.history import write_history

    the_fleet = _fleet(fleet, seed)
    first = _first_day(start, days)
    with _progress(len(the_fleet.sites) * days, "history") as progress:
        stats = write_history(
            the_fleet, first, days, out, samples=samples, overwrite=overwrite, progress=progress
        )
    _report(stats, out, json_)


@app.command()
def truth(
    out: OutOption,
    fleet: FleetOption = None,
    days: DaysOption = 1,
    start: StartOption = None,
    seed: SeedOption = None,
    overwrite: OverwriteOption = False,
    json_: JsonOption = False,
) -> None:
    """Write only the ground truth (states, counts, scrap, failures, orders, calendars)."""
    from werk.sim.history import write_truth

    the_fleet = _fleet(fleet, seed)
    first = _first_day(start, days)
    with _progress(len(the_fleet.sites) * days, "truth") as progress:
        stats = write_truth(the_fleet, first, days, out, overwrite=overwrite, progress=progress)
    _report(stats, out, json_)


@app.command()
def run(
    fleet: FleetOption = None,
    speed: Annotated[
        float, typer.Option(min=0.001, help="Simulated seconds per real second.")
    ] = 1.0,
    seed: SeedOption = None,
    start: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"],
            help="Simulated start, UTC (YYYY-MM-DD[THH:MM[:SS]]); default: now.",
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface the OPC UA and Modbus servers use.")] = (
        "127.0.0.1"
    ),
    port: Annotated[
        int, typer.Option(help="Port of the first site's server; the next sites count up.")
    ] = 4840,
    mqtt_host: Annotated[str, typer.Option(help="MQTT broker for Sparkplug B and JSON.")] = (
        "127.0.0.1"
    ),
    mqtt_port: Annotated[int, typer.Option(help="Port of the MQTT broker.")] = 1883,
    drop_dir: Annotated[
        Path, typer.Option(help="Folder for MES file drops (one subfolder per site).")
    ] = Path(".werk/sim/drops"),
    stop_after_s: Annotated[
        float | None, typer.Option(help="Stop after this many real seconds (default: Ctrl-C).")
    ] = None,
) -> None:
    """Run the fleet live behind one protocol server per site and print their endpoints."""
    from werk.sim.runtime import Runtime

    the_fleet = _fleet(fleet, seed)
    _check_ports(the_fleet, host, port)
    open_silo = _open_silo()
    runtime = Runtime(
        the_fleet, speed=speed, start=None if start is None else start.replace(tzinfo=UTC)
    )
    try:
        asyncio.run(
            _serve(
                runtime,
                open_silo,
                host=host,
                port=port,
                mqtt_host=mqtt_host,
                mqtt_port=mqtt_port,
                drop_dir=drop_dir,
                stop_after_s=stop_after_s,
            )
        )
    except BaseExceptionGroup as group:
        # Servers start their tasks in task groups; show the werk error inside, not the group.
        werk_errors = group.subgroup(WerkError)
        if werk_errors is not None:
            raise _first_leaf(werk_errors) from None
        raise


def _check_ports(fleet: Fleet, host: str, port: int) -> None:
    """Refuse at once, naming port and site, when a server's port is taken (before any starts)."""
    from werk.sim.view import Silo

    if port == 0:
        return
    for index, site in enumerate(fleet.sites):
        if site.silo not in (Silo.OPCUA, Silo.MODBUS):
            continue
        with socket.socket() as probe:
            # As asyncio servers do: a port in TIME_WAIT is free, one with a listener is not.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port + index))
            except OSError as exc:
                raise ConfigError(
                    f"port {port + index} on {host} is already in use ({exc.strerror}); the "
                    f"{site.silo} server of site {site.path} cannot listen there — pick "
                    "another --port or stop the other process",
                    key="sim.port_in_use",
                    field="port",
                    port=port + index,
                    host=host,
                    site=site.path,
                ) from None


def _first_leaf(group: BaseExceptionGroup[WerkError]) -> WerkError:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


def _open_silo() -> _OpenSilo:
    """Import the protocol servers lazily: they need asyncua, pymodbus and an MQTT client."""
    try:
        servers = import_module("werk.sim.servers")
    except ModuleNotFoundError as exc:
        if exc.name == "werk.sim.servers":
            raise WerkError(
                "this build of werk has no protocol servers (werk.sim.servers); "
                "`werk sim history` and `werk sim truth` work without them",
                key="sim.no_servers",
            ) from None
        raise WerkError(
            f"the protocol servers need the package {exc.name!r}: pip install 'werk[all]'",
            key="sim.missing_dependency",
            module=exc.name,
        ) from None
    return cast(_OpenSilo, servers.open_silo)


def stop_event() -> asyncio.Event:
    """Return an event set by SIGINT or SIGTERM (call inside the running loop).

    Off the main thread (tests drive the commands from one) or where the loop has no signal
    support, Ctrl-C still arrives as KeyboardInterrupt; stop-after and Ctrl-C both work.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    return stop


async def _serve(
    runtime: Runtime,
    open_silo: _OpenSilo,
    *,
    host: str,
    port: int,
    mqtt_host: str,
    mqtt_port: int,
    drop_dir: Path,
    stop_after_s: float | None,
) -> None:
    stop = stop_event()
    async with contextlib.AsyncExitStack() as stack:
        servers: list[_Server] = []
        for index, site in enumerate(runtime.sites):
            site_port = port + index if port else 0
            try:
                server = open_silo(
                    site,
                    host=host,
                    port=site_port,
                    mqtt_host=mqtt_host,
                    mqtt_port=mqtt_port,
                    drop_dir=drop_dir / site.site.name,
                )
            except ModuleNotFoundError as exc:
                raise WerkError(
                    f"site {site.path} needs the {site.silo} server, which this build of werk "
                    f"cannot load: no module {exc.name!r}",
                    key="sim.missing_dependency",
                    site=site.path,
                    module=exc.name,
                ) from None
            try:
                entered = await stack.enter_async_context(server)
            except OSError as exc:
                raise ConfigError(
                    f"the {site.silo} server of site {site.path} cannot start on {host}:"
                    f"{site_port}: {exc.strerror or exc}",
                    key="sim.server_failed",
                    field="port",
                    port=site_port,
                    site=site.path,
                ) from None
            servers.append(entered)
            console.print(f"{site.path:<28} {site.silo.value:<10} {entered.endpoint}")
        console.print(
            f"simulating from {runtime.now():%Y-%m-%d %H:%M:%S} UTC at ×{runtime.speed:g}; "
            "Ctrl-C stops"
        )

        async def tick() -> None:
            for server in servers:
                await server.update()

        if stop_after_s is not None:
            asyncio.get_running_loop().call_later(stop_after_s, stop.set)
        await runtime.run(tick, stop=stop)


@app.command("plantfile")
def plantfile_command(
    site: Annotated[str, typer.Argument(help="Site slug or path, e.g. wob or acme/wob.")],
    fleet: FleetOption = None,
    seed: SeedOption = None,
    silo: Annotated[
        str | None,
        typer.Option(help="opcua, modbus, sparkplug or mqtt_json; the site's own by default."),
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(
            help="opc.tcp://host:port/ or modbus+tcp://host:port; default: where `werk sim run "
            "--port PORT` serves the site."
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Server host for the default endpoint.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="The --port given to `werk sim run`.")] = 4840,
    mqtt_host: Annotated[str, typer.Option(help="MQTT broker of Sparkplug B and JSON.")] = (
        "127.0.0.1"
    ),
    mqtt_port: Annotated[int, typer.Option(help="Port of the MQTT broker.")] = 1883,
    expand: Annotated[
        bool, typer.Option(help="Write points inline instead of device templates.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the YAML here, not to stdout.")
    ] = None,
) -> None:
    """Write the edge plant file that reads a simulated site back through its silo."""
    import yaml

    from werk.sim.plantfile import plant_file
    from werk.sim.view import Silo

    the_fleet = _fleet(fleet, seed)
    try:
        the_site = the_fleet.site(site)
    except KeyError:
        known = ", ".join(s.name for s in the_fleet.sites)
        raise ConfigError(
            f"the fleet has no site {site!r}; its sites: {known}", key="sim.no_site", field="site"
        ) from None
    kind = Silo(silo) if silo is not None else the_site.silo
    if endpoint is None:
        # `werk sim run` gives the n-th site of the fleet the port PORT + n.
        site_port = port + the_fleet.sites.index(the_site)
        endpoint = (
            f"opc.tcp://{host}:{site_port}/"
            if kind is Silo.OPCUA
            else f"modbus+tcp://{host}:{site_port}"
        )
    data = plant_file(
        the_site,
        endpoint=endpoint,
        silo=kind,
        mqtt_host=mqtt_host,
        mqtt_port=mqtt_port,
        expand=expand,
    )
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    if out is None:
        print(text, end="")
        return
    out.write_text(text, encoding="utf-8")
    console.print(f"wrote the {kind} plant file of {the_site.path} to {out}")


@app.command("opcua-load")
def opcua_load_command(
    tags: Annotated[int, typer.Option(min=1, help="Tags served, each changing every interval.")],
    host: Annotated[str, typer.Option(help="Interface the server listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: a free one).")] = 4840,
    interval_s: Annotated[
        float, typer.Option(min=0.01, help="Seconds between two changes of every tag.")
    ] = 1.0,
    plant_file: Annotated[
        Path | None,
        typer.Option(help="Write an edge plant file monitoring every tag here (YAML)."),
    ] = None,
    items_per_session: Annotated[
        int, typer.Option(min=1, help="Monitored items per client session in the plant file.")
    ] = 2500,
    workers: Annotated[
        int, typer.Option(min=0, help="Worker processes of the plant file's OPC UA source.")
    ] = 2,
    stop_after_s: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: Ctrl-C).")
    ] = None,
) -> None:
    """Serve N OPC UA tags changing every interval, to size an edge agent (not a PLC model)."""
    from werk.sim.servers.opcua_load import NAMESPACE, OpcUaLoad, load_plant_file

    async def serve() -> None:
        stop = stop_event()
        async with OpcUaLoad(tags, host=host, port=port, interval_s=interval_s) as load:
            if plant_file is not None:
                import yaml

                data = load_plant_file(
                    tags,
                    load.endpoint,
                    items_per_session=items_per_session,
                    workers=workers,
                    interval_s=interval_s,
                )
                plant_file.write_text(yaml.safe_dump(data, sort_keys=False))
                console.print(f"plant file: {plant_file}")
            console.print(
                f"{tags:,} tags every {interval_s:g} s on {load.endpoint} "
                f"(nsu={NAMESPACE};s=tag/0 … tag/{tags - 1}); Ctrl-C stops",
                highlight=False,
            )
            if stop_after_s is not None:
                asyncio.get_running_loop().call_later(stop_after_s, stop.set)
            await stop.wait()

    asyncio.run(serve())
