"""``werk export parquet``: bulk history as a Parquet lake, through the server's read door.

The range is fetched one UTC day at a time from ``GET /api/v1/export`` (a streamed Arrow IPC
answer) and written as hive-style partitions ``DIR/site=<slug>/day=YYYY-MM-DD/part-0.parquet``:
DuckDB reads the lake with ``read_parquet('DIR/**/*.parquet', hive_partitioning=true)`` and Spark
with ``spark.read.parquet(DIR)``. Memory stays at one streamed chunk per open site file.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from werk.cli.client import DEFAULT_URL, JsonOption, KeyOption, UrlOption
from werk.cli.output import console, emit_json

app = typer.Typer(help="Export history for the lake.", no_args_is_help=True)


def _when(text: str, field: str) -> datetime:
    from werk.api.params import parse_time

    return parse_time(text, field)


def _days(start: datetime, end: datetime) -> list[tuple[date, datetime, datetime]]:
    out = []
    day = start.date()
    while True:
        lo = max(start, datetime(day.year, day.month, day.day, tzinfo=UTC))
        hi = min(end, datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1))
        if lo >= end:
            break
        out.append((day, lo, hi))
        day += timedelta(days=1)
    return out


@app.command("parquet")
def parquet(
    out: Annotated[Path, typer.Option("--out", help="Folder of the lake (created).")],
    from_: Annotated[str, typer.Option("--from", help="Start: ISO 8601, now, or -7d.")],
    to: Annotated[str, typer.Option("--to", help="End (exclusive): ISO 8601 or now.")] = "now",
    path: Annotated[str, typer.Option(help="Asset path prefix (empty: everything).")] = "",
    kind: Annotated[str, typer.Option(help="samples or events.")] = "samples",
    chunk: Annotated[str, typer.Option(help="Time slice the server reads at once.")] = "1h",
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    json_: JsonOption = False,
) -> None:
    """Write the history under a path as Parquet, partitioned by site and UTC day."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from werk.client import Client
    from werk.errors import InvalidInput

    if kind not in ("samples", "events"):
        raise InvalidInput(f"--kind {kind!r}: use samples or events", field="kind")
    start, end = _when(from_, "from"), _when(to, "to")
    if end <= start:
        raise InvalidInput("--to must be after --from", field="to")
    days = _days(start, end)
    files: list[str] = []
    rows = 0
    with (
        Client(url, api_key=key) as client,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} days · {task.fields[rows]:,} rows"),
            TimeRemainingColumn(),
            console=console,
            disable=json_,
        ) as progress,
    ):
        task = progress.add_task(f"exporting {kind}", total=len(days), rows=0)
        for day, lo, hi in days:
            writers: dict[str, pq.ParquetWriter] = {}
            try:
                for batch in client.export(path or None, lo, hi, kind=kind, chunk=chunk):
                    if batch.num_rows == 0:
                        continue
                    table = pa.Table.from_batches([batch])
                    sites = pc.struct_field(
                        pc.extract_regex(table.column("path"), r"^[^/]+/(?P<site>[^/]+)"), [0]
                    )
                    for site in pc.unique(sites).to_pylist():
                        part = table.filter(pc.equal(sites, site))
                        writer = writers.get(site)
                        if writer is None:
                            folder = out / f"site={site}" / f"day={day.isoformat()}"
                            folder.mkdir(parents=True, exist_ok=True)
                            target = folder / "part-0.parquet"
                            writer = pq.ParquetWriter(target, part.schema, compression="zstd")
                            writers[site] = writer
                            files.append(str(target))
                        writer.write_table(part)
                        rows += part.num_rows
            finally:
                for writer in writers.values():
                    writer.close()
            progress.update(task, advance=1, rows=rows)
    summary = {"out": str(out), "kind": kind, "rows": rows, "files": len(files), "days": len(days)}
    if json_:
        emit_json(summary)
    else:
        console.print(
            f"wrote {rows:,} {kind} rows in {len(files)} files under {out}; read them with "
            f"duckdb: SELECT * FROM read_parquet('{out}/**/*.parquet', hive_partitioning=true)"
        )
    (out / "_export.json").write_text(
        json.dumps({**summary, "from": start.isoformat(), "to": end.isoformat(), "path": path})
    )
