"""``werk assets load FILE | export``: the asset model through the running server's API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from werk.cli.client import DEFAULT_URL, KeyOption, UrlOption, call, get
from werk.cli.output import emit_json

app = typer.Typer(help="Load and export the asset model.", no_args_is_help=True)


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
    emit_json(
        call(url, key, "POST", "assets", content=text.encode(), content_type="application/yaml")
    )


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
    emit_json(get(url, key, "assets", {"path": path or None}))
