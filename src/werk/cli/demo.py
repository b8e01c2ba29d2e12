"""``werk demo``: the whole platform on one machine, with simulated plants feeding it live.

Steps, each shown as it happens:

1. backfill: simulate ``--days`` of the default fleet's history up to now and send it through the
   real ingest door (Arrow over HTTP, one idempotency key per batch, as an edge does), so the
   charts are full from the first minute;
2. live: run the same fleet at real time behind its three silos (``werk sim run``: OPC UA, Modbus
   TCP, Sparkplug B over MQTT — the local Mosquitto, or an embedded broker);
3. one edge key, plant file and ``werk edge run`` per site, delivering live data;
4. a ``demo`` login (admin on the enterprise) and the admin key, printed with things to try.

Ctrl-C (or SIGTERM) stops everything in order; a second Ctrl-C kills what is left. A demo folder
whose history was loaded is reused by the next run (live data goes on where it stopped);
``--fresh`` starts over. The processes it starts are in :mod:`werk.cli.demo_stack`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from werk.cli.output import console

if TYPE_CHECKING:
    import uvicorn

    from werk.cli.demo_stack import Live
    from werk.sim.fleet import Fleet
    from werk.store import Store

BATCH_ROWS = 100_000
HOST = "127.0.0.1"


def _fleet_file(target: Path, source: Path | None, sample_period_s: int | None) -> Path:
    """Copy the fleet file to ``target``, with another sample period when one is given."""
    from werk.sim.fleet import default_fleet_path

    text = (source or default_fleet_path()).read_text()
    if sample_period_s is not None:
        line = f"sample_period: {sample_period_s}"
        text, found = re.subn(r"^sample_period:.*$", line, text, flags=re.M)
        text = text if found else f"{line}\n{text}"
    target.write_text(text)
    return target


def _batches(folder: Path) -> Iterator[tuple[bytes, int]]:
    """Yield the Parquet files under ``folder`` as Arrow IPC stream bodies and their rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for file in sorted(folder.rglob("*.parquet")):
        for batch in pq.ParquetFile(file).iter_batches(batch_size=BATCH_ROWS):
            # Dictionary-encoded columns are a storage detail of the Parquet file.
            schema = pa.schema(
                [
                    f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f
                    for f in batch.schema
                ]
            )
            table = pa.Table.from_batches([batch]).cast(schema)
            sink = pa.BufferOutputStream()
            options = pa.ipc.IpcWriteOptions(compression="lz4")
            with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
                writer.write_table(table)
            yield sink.getvalue().to_pybytes(), table.num_rows


def _rows(folder: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(f).metadata.num_rows for f in folder.rglob("*.parquet"))


def _backfill(fleet: Fleet, days: int, folder: Path, url: str, secret: str) -> dict[str, object]:
    """Simulate ``days`` of history ending now (on whole ten minutes) and ingest it."""
    import httpx
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from werk.sim.history import write_history

    now = datetime.now(UTC)
    end = now.replace(minute=now.minute - now.minute % 10, second=0, microsecond=0)
    history = folder / "history"
    columns = ("[bold]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    began = time.perf_counter()
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(
            "1/4 simulating history (site-days)", total=len(fleet.sites) * days
        )
        stats = write_history(
            fleet,
            end - timedelta(days=days),
            days,
            history,
            truth=False,
            progress=lambda p: progress.update(task, completed=p.done),
        )
    simulated = time.perf_counter()
    headers = {
        "Authorization": f"Bearer {secret}",
        "Content-Type": "application/vnd.apache.arrow.stream",
    }
    with (
        httpx.Client(base_url=url, headers=headers, timeout=120) as client,
        Progress(*columns, console=console) as progress,
    ):
        for kind in ("samples", "events"):
            task = progress.add_task(f"1/4 ingesting {kind}", total=_rows(history / kind))
            for index, (body, rows) in enumerate(_batches(history / kind)):
                key = {"Idempotency-Key": f"demo:{kind}:{index}"}
                client.post("/api/v1/ingest", content=body, headers=key).raise_for_status()
                progress.advance(task, rows)
    done = time.perf_counter()
    shutil.rmtree(history)  # it is in the store now; the Parquet copy would only take space
    loaded: dict[str, object] = {
        "end": end.isoformat(),
        "days": days,
        "samples": stats.samples,
        "events": stats.events,
        "simulate_s": round(simulated - began, 1),
        "ingest_s": round(done - simulated, 1),
    }
    console.print(
        f"history: {stats.samples:,} samples and {stats.events:,} events over {days} days, "
        f"simulated in {simulated - began:.1f} s and ingested in {done - simulated:.1f} s "
        f"({stats.samples / max(done - simulated, 1e-9):,.0f} samples/s)"
    )
    return loaded


def _register_assets(fleet: Fleet, url: str, secret: str) -> None:
    """Load the fleet's asset model (sites, calendars, types, ideal cycles) so KPIs compute."""
    import httpx

    from werk.assets.document import dump_assets
    from werk.sim.assets import asset_model

    model = asset_model(fleet)
    answer = httpx.post(
        f"{url}/api/v1/assets",
        content=dump_assets(model).encode(),
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
        timeout=60,
    )
    answer.raise_for_status()
    console.print(
        f"1/4 asset model: {len(fleet.sites)} sites, {len(model.instances)} machines registered"
    )


def _secret(store: Store, file: Path) -> str:
    """Return the demo's admin key, made once per demo folder (kept in ``file``, mode 0600)."""
    from werk.api.credentials import create_key

    if file.exists():
        return file.read_text().strip()
    _, secret = create_key(store, name=f"demo-admin-{int(time.time())}", role="admin", edge=None)
    file.write_text(secret + "\n")
    file.chmod(0o600)
    return secret


def _login(store: Store, enterprise: str, file: Path) -> str | None:
    """Give the user ``demo`` a new password and admin on the enterprise; None without users."""
    try:
        from werk.api.users import Users
    except ModuleNotFoundError:  # a build without users: the admin key is the login
        return None
    from werk.sharing.principal import Grant, Role

    users = Users(store)
    password = secrets.token_urlsafe(12)
    if users.find("demo") is None:
        users.create("demo", password, grants=[Grant(enterprise, Role.ADMIN)])
    else:
        users.set_password("demo", password)
    file.write_text(f"demo {password}\n")
    file.chmod(0o600)
    return password


def _serve(settings: object, store: Store) -> tuple[uvicorn.Server, threading.Thread]:
    """Start the API server on a thread and wait until it listens."""
    import uvicorn

    from werk.api import create_app
    from werk.errors import StoreUnavailable
    from werk.settings import Settings

    assert isinstance(settings, Settings)
    config = uvicorn.Config(
        create_app(settings, store=store),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        timeout_graceful_shutdown=5,  # open live streams (the dashboard) must not hold the stop
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="werk[demo].server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise StoreUnavailable(
                f"the server did not start on port {settings.port}", field="port"
            )
        time.sleep(0.05)
    return server, thread


def _wait_for_edges(url: str, secret: str, edges: list[str], live: Live, timeout_s: float) -> None:
    """Wait until every edge has reported its health to the platform since it started."""
    import httpx

    since = datetime.now(UTC) - timedelta(seconds=5)  # the edges started just before
    headers = {"Authorization": f"Bearer {secret}"}
    deadline = time.monotonic() + timeout_s
    with console.status("3/4 waiting for every edge's first health report"):
        while time.monotonic() < deadline:
            live.check()
            answer = httpx.get(f"{url}/api/v1/edge", headers=headers, timeout=10)
            reports = answer.json().get("edges", []) if answer.is_success else []
            fresh = {e["edge"] for e in reports if datetime.fromisoformat(e["received_at"]) > since}
            if fresh >= set(edges):
                return
            time.sleep(0.5)
    logs = live.folder / "logs"
    console.print(f"[yellow]not every edge reported within {timeout_s:g} s; see {logs}[/yellow]")


def _banner(
    url: str, folder: Path, password: str | None, fleet: Fleet, days: int, live: bool
) -> None:
    site = fleet.sites[0]
    login = f"demo / {password}" if password else f"the admin key in {folder / 'admin-key'}"
    env = f"WERK_URL={url} WERK_API_KEY=$(cat {folder / 'admin-key'})"
    lines = [
        f"\n[bold green]werk is running[/bold green] at [link={url}]{url}[/link]",
        f"  log in:      {login}   (also in {folder / ('login' if password else 'admin-key')})",
        f"  API docs:    {url}/api/v1/docs",
        "  try:",
        f"    {env} werk kpi benchmark --path {fleet.enterprise} --from -{days}d",
        f"    {env} werk query latest --path {site.path}",
    ]
    if live:
        lines += [
            f"    open {url}/#/edge   (edge health: buffer, lag, completeness per site)",
            f"    werk edge status {folder / 'edges' / site.name / 'plant.yaml'}",
            f"  logs of the simulator and the edges: {folder / 'logs'}",
        ]
    for line in lines:
        console.print(line, soft_wrap=True)  # no hard wraps: the commands are for copying


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the demo like Ctrl-C does


def demo(
    days: Annotated[int, typer.Option(min=1, help="Days of history to backfill.")] = 7,
    sample_period: Annotated[
        int, typer.Option(help="Seconds between samples of the backfilled history (divides 600).")
    ] = 10,
    fleet: Annotated[
        Path | None, typer.Option(help="Fleet file (default: the simulator's default fleet).")
    ] = None,
    port: Annotated[int, typer.Option(help="Port of the web server.", envvar="WERK_PORT")] = 8600,
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its files.")] = Path(
        ".werk/demo"
    ),
    fresh: Annotated[
        bool, typer.Option(help="Start over: delete the demo folder and backfill again.")
    ] = False,
    live: Annotated[
        bool, typer.Option(help="Run the simulator and edge agents (--no-live: history only).")
    ] = True,
    embedded_broker: Annotated[
        bool, typer.Option(help="Use the embedded MQTT broker even when Mosquitto runs.")
    ] = False,
    stop_after_s: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: Ctrl-C).")
    ] = None,
) -> None:
    """Run the platform with simulated plants: history, live silos, edge agents, a login."""
    from werk.cli import demo_stack
    from werk.settings import Settings
    from werk.sim.fleet import load_fleet
    from werk.store import open_store

    demo_stack.require_free(HOST, port, "the werk web server")
    marker = data_dir / "history.json"
    if data_dir.exists() and (fresh or not marker.exists()):
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir = data_dir.resolve()
    live_fleet = load_fleet(_fleet_file(data_dir / "fleet.yaml", fleet, None))
    settings = Settings(
        data_dir=data_dir, host=HOST, port=port, store_url=f"duckdb:///{data_dir / 'werk.duckdb'}"
    )
    url = f"http://{HOST}:{port}"
    store = open_store(settings.resolved_store_url())
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    running: Live | None = None
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None
    try:
        secret = _secret(store, data_dir / "admin-key")
        password = _login(store, live_fleet.enterprise, data_dir / "login")
        server, thread = _serve(settings, store)
        console.print(f"serving {url} on {data_dir / 'werk.duckdb'}")
        _register_assets(live_fleet, url, secret)
        if live:  # the silos start while the history loads: both take a while
            running = _start_simulator(live_fleet, data_dir, embedded_broker)
        if marker.exists():
            console.print(f"1/4 history: kept from an earlier run ({marker}); --fresh starts over")
        else:
            history_fleet = _fleet_file(data_dir / "fleet-history.yaml", fleet, sample_period)
            loaded = _backfill(load_fleet(history_fleet), days, data_dir, url, secret)
            marker.write_text(json.dumps(loaded, indent=2) + "\n")
        if running is not None:
            _start_edges(running, live_fleet, url, store)
            _wait_for_edges(url, secret, [s.name for s in live_fleet.sites], running, 60)
        _banner(url, data_dir, password, live_fleet, days, live)
        console.print("Ctrl-C stops everything." if stop_after_s is None else "")
        deadline = None if stop_after_s is None else time.monotonic() + stop_after_s
        while deadline is None or time.monotonic() < deadline:
            if running is not None:
                running.check()
            if not thread.is_alive():
                break
            time.sleep(0.5)
    except KeyboardInterrupt:
        console.print("\nstopping (Ctrl-C again forces)")
    finally:
        try:
            _stop(running, server, thread, store)
        except KeyboardInterrupt:
            console.print("forced stop")
            console.file.flush()
            # The server thread may be inside DuckDB: exit without unwinding it (its WAL keeps
            # every committed write); the children were killed already.
            os._exit(130)
        finally:
            signal.signal(signal.SIGTERM, previous)
    console.print("stopped")


def _start_simulator(fleet: Fleet, folder: Path, embedded: bool) -> Live:
    """Start the broker (or find Mosquitto) and ``werk sim run`` with the fleet's silos."""
    from werk.cli import demo_stack

    with console.status("2/4 starting the MQTT broker"):
        mqtt, broker = demo_stack.open_broker(embedded=embedded)
    running = demo_stack.Live(folder, broker, mqtt)
    base = demo_stack.free_ports(HOST, 4840, len(fleet.sites))
    running.start_sim(folder / "fleet.yaml", host=HOST, base=base)
    return running


def _start_edges(running: Live, fleet: Fleet, url: str, store: Store) -> None:
    """Wait for the silos, then write a plant file and key per site and start its edge."""
    from werk.cli import demo_stack

    with console.status("2/4 waiting for the simulator's silos (werk sim run)"):
        running.wait_sim()
    mqtt = running.mqtt
    where = "embedded broker" if mqtt.embedded else "local Mosquitto"
    console.print(f"2/4 MQTT: {where} on {mqtt.host}:{mqtt.port}")
    endpoints = demo_stack.silo_endpoints(fleet, HOST, running.base)
    for site in fleet.sites:
        where = endpoints.get(site.name) or f"mqtt://{mqtt.host}:{mqtt.port}/spBv1.0/{site.name}"
        console.print(f"2/4 {site.path:<20} {site.silo.value:<10} {where}")
    plants = demo_stack.write_plant_files(
        store, fleet, running.folder / "edges", url=url, endpoints=endpoints, mqtt=mqtt
    )
    running.start_edges(plants)
    console.print(
        f"3/4 edge agents: {', '.join(plants)} (plant files in {running.folder / 'edges'})"
    )


def _stop(
    running: Live | None,
    server: uvicorn.Server | None,
    thread: threading.Thread | None,
    store: Store,
) -> None:
    """Stop the plant side first (edges deliver what they hold), then the server and store."""
    if running is not None:
        with console.status("stopping the edges (they deliver what they hold) and the simulator"):
            running.stop()
    if server is not None and thread is not None:
        server.should_exit = True
        thread.join(15)
    store.close()


def register(app: typer.Typer) -> None:
    """Add ``werk demo`` to the top-level CLI."""
    app.command("demo")(demo)
