"""``werk query latest|range|series``: read through the running server's API."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from werk.cli.output import emit_json, emit_rows

app = typer.Typer(help="Query the platform through its API.", no_args_is_help=True)

UrlOption = Annotated[
    str, typer.Option("--url", envvar="WERK_URL", help="Base URL of the werk server.")
]
KeyOption = Annotated[
    str | None, typer.Option("--key", envvar="WERK_API_KEY", help="API key (or WERK_ADMIN_KEY).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
DEFAULT_URL = "http://127.0.0.1:8600"


def _get(url: str, key: str | None, route: str, params: dict[str, Any]) -> dict[str, Any]:
    import os

    import httpx

    from werk.errors import AuthError, StoreUnavailable, WerkError

    secret = key or os.environ.get("WERK_ADMIN_KEY")
    if not secret:
        raise AuthError("give --key or set WERK_API_KEY", field="key")
    try:
        response = httpx.get(
            f"{url.rstrip('/')}/api/v1/{route}",
            params={k: v for k, v in params.items() if v is not None},
            headers={"Authorization": f"Bearer {secret}"},
            timeout=60,
        )
    except httpx.TransportError as exc:
        raise StoreUnavailable(
            f"cannot reach the werk server at {url}: {exc}", field="url"
        ) from exc
    body: dict[str, Any] = response.json()
    if response.status_code >= 400:
        fields = {
            k: v for k, v in body.items() if k not in ("type", "title", "status", "detail", "key")
        }
        error = WerkError(
            str(body.get("detail", response.text)), key=str(body.get("key")), **fields
        )
        error.status = response.status_code  # type: ignore[misc]
        raise error
    return body


@app.command("latest")
def latest(
    path: Annotated[str, typer.Option(help="Asset path (everything at or below it).")] = "",
    signal: Annotated[list[str] | None, typer.Option(help="Only these signals.")] = None,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    json_: JsonOption = False,
) -> None:
    """Show the newest value of every series under a path."""
    body = _get(url, key, "latest", {"path": path or None, "signal": signal})
    emit_rows(body["rows"], as_json=json_, title="latest values")


@app.command("series")
def series(
    path: Annotated[str, typer.Option(help="Asset path (everything at or below it).")] = "",
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    json_: JsonOption = False,
) -> None:
    """List the series under a path."""
    body = _get(url, key, "series", {"path": path or None})
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
    body = _get(
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
