"""``werk assets load FILE | export | import FILE``: the asset model through the server's API.

``export --format aas-json|aasx`` writes Asset Administration Shells (the conversion runs here,
from the model the server holds); ``import FILE`` loads AAS JSON or AASX, checked here first.
"""

from __future__ import annotations

from enum import StrEnum
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


class Format(StrEnum):
    """What ``werk assets export`` writes."""

    JSON = "json"
    AAS_JSON = "aas-json"
    AASX = "aasx"


@app.command("export")
def export(
    path: Annotated[str, typer.Option(help="Only the model at or under this path.")] = "",
    fleet: Annotated[
        Path | None,
        typer.Option(help="Export a simulator fleet file's asset model instead (no server)."),
    ] = None,
    format: Annotated[
        Format,
        typer.Option(help="json: werk's document; aas-json / aasx: Asset Administration Shells."),
    ] = Format.JSON,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (aasx needs a file).")
    ] = None,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
) -> None:
    """Print the asset model as JSON (a document ``werk assets load`` reads back), or write it
    as AAS JSON or an AASX package (``werk assets import`` reads those back)."""
    from werk.assets.document import assets_from_data, dump_assets
    from werk.errors import ConfigError

    if fleet is not None:
        from werk.sim.assets import asset_model
        from werk.sim.fleet import load_fleet

        model = asset_model(load_fleet(fleet))
    else:
        model = assets_from_data(get(url, key, "assets", {"path": path or None}), "server answer")
    if format is Format.JSON:
        data = dump_assets(model).encode()
    else:
        from werk.assets.aas import to_aas_json, to_aasx

        endpoint = f"{url.rstrip('/')}/api/v1/range"
        data = (to_aasx if format is Format.AASX else to_aas_json)(model, endpoint)
    if output is None:
        if format is Format.AASX:
            raise ConfigError("an AASX package is binary: give --output FILE", field="output")
        print(data.decode())
        return
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise ConfigError(f"cannot write {output}: {exc.strerror}", file=str(output)) from exc
    print(f"wrote {output} ({len(data):,} bytes, {len(model.instances)} machines)")


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="AAS JSON environment or AASX package.")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
) -> None:
    """Load (merge) Asset Administration Shells into the registry; the file is checked first."""
    from werk.assets.aas import AASX_MEDIA_TYPE, from_aas
    from werk.errors import ConfigError

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror}", file=str(file)) from exc
    from_aas(data, str(file))
    kind = AASX_MEDIA_TYPE if data[:2] == b"PK" else "application/json"
    emit_json(call(url, key, "POST", "assets/aas", content=data, content_type=kind))
