"""``werk demo``: the platform on the embedded store, filled with simulated plant history.

Steps: copy the simulator's default fleet into the demo folder, simulate its history to Parquet,
start the server on a fresh DuckDB store, send the history through the real ingest door (Arrow
over HTTP, one idempotency key per batch, exactly as an edge agent would), print the URL and an
admin key, and serve until Ctrl-C.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from werk.cli.output import console

BATCH_ROWS = 100_000


def _fleet_file(folder: Path, source: Path | None, sample_period_s: int) -> Path:
    """Write the fleet the demo simulates into ``folder``, with the given sample period."""
    from werk.sim.fleet import default_fleet_path

    text = (source or default_fleet_path()).read_text()
    text, found = re.subn(
        r"^sample_period:.*$", f"sample_period: {sample_period_s}", text, flags=re.M
    )
    if not found:
        text = f"sample_period: {sample_period_s}\n{text}"
    target = folder / "fleet.yaml"
    target.write_text(text)
    return target


def _batches(folder: Path) -> Iterator[bytes]:
    """Yield the Parquet files under ``folder`` as Arrow IPC stream bodies of BATCH_ROWS rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for file in sorted(folder.rglob("*.parquet")):
        parquet = pq.ParquetFile(file)
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
            table = pa.Table.from_batches([batch])
            # Dictionary-encoded columns are a storage detail of the Parquet file.
            table = table.cast(
                pa.schema(
                    [
                        f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f
                        for f in table.schema
                    ]
                )
            )
            sink = pa.BufferOutputStream()
            options = pa.ipc.IpcWriteOptions(compression="lz4")
            with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
                writer.write_table(table)
            yield sink.getvalue().to_pybytes()


def _rows(folder: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(f).metadata.num_rows for f in folder.rglob("*.parquet"))


def demo(
    days: Annotated[int, typer.Option(help="Days of history to simulate and load.")] = 7,
    sample_period: Annotated[
        int, typer.Option(help="Seconds between simulated samples (divides 600).")
    ] = 10,
    fleet: Annotated[
        Path | None, typer.Option(help="Fleet file (default: the simulator's default fleet).")
    ] = None,
    port: Annotated[int, typer.Option(help="Port to serve on.", envvar="WERK_PORT")] = 8600,
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its files.")] = Path(
        ".werk/demo"
    ),
    exit_after_load: Annotated[
        bool, typer.Option(help="Stop once the history is loaded (for smoke tests).")
    ] = False,
) -> None:
    """Start the platform with simulated history and print its URL and a login key."""
    import httpx
    import uvicorn
    from rich.progress import Progress

    from werk.api import create_app
    from werk.api.credentials import create_key
    from werk.errors import StoreUnavailable
    from werk.settings import Settings
    from werk.sim.fleet import load_fleet
    from werk.sim.history import write_history
    from werk.store import open_store

    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    fleet_path = _fleet_file(data_dir, fleet, sample_period)
    the_fleet = load_fleet(fleet_path)
    start = (datetime.now(UTC) - timedelta(days=days)).date()
    history = data_dir / "history"
    with Progress(console=console) as progress:
        task = progress.add_task("simulating history", total=None)

        def advance(_: object) -> None:
            progress.advance(task)

        stats = write_history(the_fleet, start, days, history, truth=False, progress=advance)
        progress.update(task, total=1, completed=1)
    console.print(f"simulated {stats.samples:,} samples and {stats.events:,} events")

    settings = Settings(data_dir=data_dir, port=port)
    store = open_store(settings.resolved_store_url())
    _, secret = create_key(store, name="demo-admin", role="admin", edge=None)
    (data_dir / "admin-key").write_text(secret + "\n")
    (data_dir / "admin-key").chmod(0o600)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, store=store), host=settings.host, port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, name="werk[demo].server", daemon=True)
    thread.start()
    url = f"http://{settings.host}:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise StoreUnavailable(f"the server did not start on port {port}", field="port")
        time.sleep(0.05)

    headers = {
        "Authorization": f"Bearer {secret}",
        "Content-Type": "application/vnd.apache.arrow.stream",
    }
    try:
        with (
            httpx.Client(base_url=url, headers=headers, timeout=120) as client,
            Progress(console=console) as progress,
        ):
            for kind in ("samples", "events"):
                folder = history / kind
                task = progress.add_task(f"ingesting {kind}", total=_rows(folder))
                for index, body in enumerate(_batches(folder)):
                    answer = client.post(
                        "/api/v1/ingest",
                        content=body,
                        headers={"Idempotency-Key": f"demo:{kind}:{index}"},
                    )
                    answer.raise_for_status()
                    done = answer.json()
                    progress.advance(task, done["samples"] + done["events"])
        console.print(
            f"\n[bold green]werk is running[/bold green] at {url}\n"
            f"  API docs:   {url}/api/v1/docs\n"
            f"  admin key:  {secret}   (also in {data_dir / 'admin-key'})\n"
            f"  try:        WERK_API_KEY=$(cat {data_dir / 'admin-key'}) "
            f"werk query latest --path {the_fleet.sites[0].path}\n"
        )
        if exit_after_load:
            return
        console.print("Ctrl-C stops it.")
        while thread.is_alive():
            thread.join(0.5)
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        server.should_exit = True
        thread.join(15)
        store.close()


def register(app: typer.Typer) -> None:
    """Add ``werk demo`` to the top-level CLI."""
    app.command("demo")(demo)
