"""``werk assets load FILE | export``: the asset model through the running server's API."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from werk.cli.output import emit_json
from werk.cli.query import DEFAULT_URL, KeyOption, UrlOption, _get

app = typer.Typer(help="Load and export the asset model.", no_args_is_help=True)


def _post(url: str, key: str | None, route: str, body: bytes) -> dict[str, Any]:
    import httpx

    from werk.errors import AuthError, StoreUnavailable, WerkError

    secret = key or os.environ.get("WERK_ADMIN_KEY")
    if not secret:
        raise AuthError("give --key or set WERK_API_KEY", field="key")
    try:
        response = httpx.post(
            f"{url.rstrip('/')}/api/v1/{route}",
            content=body,
            headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/yaml"},
            timeout=60,
        )
    except httpx.TransportError as exc:
        raise StoreUnavailable(
            f"cannot reach the werk server at {url}: {exc}", field="url"
        ) from exc
    answer: dict[str, Any] = response.json()
    if response.status_code >= 400:
        fields = {
            k: v for k, v in answer.items() if k not in ("type", "title", "status", "detail", "key")
        }
        raise WerkError(
            str(answer.get("detail", response.text)), key=str(answer.get("key")), **fields
        )
    return answer


@app.command("load")
def load(
    file: Annotated[Path, typer.Argument(help="Asset model document (YAML or JSON).")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
) -> None:
    """Load (merge) an asset model document into the registry. The file is checked here first."""
    from werk.assets.document import parse_assets
    from werk.errors import ConfigError

    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror}", file=str(file)) from exc
    parse_assets(text, str(file))
    emit_json(_post(url, key, "assets", text.encode()))


@app.command("export")
def export(
    path: Annotated[str, typer.Option(help="Only the model at or under this path.")] = "",
    fleet: Annotated[
        Path | None,
        typer.Option(help="Export a simulator fleet file's asset model instead (no server)."),
    ] = None,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
) -> None:
    """Print the asset model as JSON (a document ``werk assets load`` reads back)."""
    if fleet is not None:
        from werk.assets.document import dump_assets
        from werk.sim.assets import asset_model
        from werk.sim.fleet import load_fleet

        print(dump_assets(asset_model(load_fleet(fleet))))
        return
    emit_json(_get(url, key, "assets", {"path": path or None}))
