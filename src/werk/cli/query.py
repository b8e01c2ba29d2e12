"""``werk query latest|range|series``: read through the running server's API."""

from __future__ import annotations

from typing import Annotated

import typer

from werk.cli.client import DEFAULT_URL, JsonOption, KeyOption, UrlOption, get
from werk.cli.output import emit_json, emit_rows

app = typer.Typer(help="Query the platform through its API.", no_args_is_help=True)


@app.command("latest")
def latest(
    path: Annotated[str, typer.Option(help="Asset path (everything at or below it).")] = "",
    signal: Annotated[list[str] | None, typer.Option(help="Only these signals.")] = None,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    json_: JsonOption = False,
) -> None:
    """Show the newest value of every series under a path."""
    body = get(url, key, "latest", {"path": path or None, "signal": signal})
    emit_rows(body["rows"], as_json=json_, title="latest values")


@app.command("series")
def series(
    path: Annotated[str, typer.Option(help="Asset path (everything at or below it).")] = "",
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    json_: JsonOption = False,
) -> None:
    """List the series under a path."""
    body = get(url, key, "series", {"path": path or None})
    emit_rows(body["rows"], as_json=json_, title="series")


@app.command("range")
def range_(
    path: Annotated[str, typer.Option(help="Asset path of the machine.")],
    signal: Annotated[list[str] | None, typer.Option(help="Signals (default: all).")] = None,
    from_: Annotated[str, typer.Option("--from", help="ISO 8601, now, or -7d.")] = "-1h",
    to: Annotated[str, typer.Option(help="ISO 8601, now, or -1h.")] = "now",
    bucket: Annotated[str | None, typer.Option(help="1s..1w, e.g. 1m (none: raw).")] = None,
    agg: Annotated[str, typer.Option(help="avg|min|max|first|last|count|twa.")] = "avg",
    tz: Annotated[str, typer.Option(help="Time zone buckets align to.")] = "UTC",
    descendants: Annotated[bool, typer.Option(help="Include assets below the path.")] = False,
    plot: Annotated[bool, typer.Option(help="Draw a chart in the terminal.")] = False,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    json_: JsonOption = False,
) -> None:
    """Show samples over time, raw or downsampled."""
    body = get(
        url,
        key,
        "range",
        {
            "path": path,
            "signal": signal,
            "from": from_,
            "to": to,
            "bucket": bucket,
            "agg": agg,
            "tz": tz,
            "descendants": str(descendants).lower(),
        },
    )
    if json_:
        emit_json(body)
    elif plot:
        from werk.cli.chart import line_chart

        line_chart(body["rows"])
    else:
        emit_rows(body["rows"], as_json=False, title=f"{path} {bucket or 'raw'} {agg}")
