"""``werk serve`` and ``werk demo``: run the platform."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from werk.settings import Settings

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        envvar="WERK_STORE_URL",
        help="duckdb:///path/file.duckdb or postgresql://host/db (default: .werk/werk.duckdb).",
    ),
]


def settings_from(store: str | None, **overrides: object) -> Settings:
    """Build settings from the environment, with the CLI's options on top."""
    values = {k: v for k, v in overrides.items() if v is not None}
    if store:
        values["store_url"] = store
    return Settings(**values)  # type: ignore[arg-type]


def serve(
    store: StoreOption = None,
    host: Annotated[str | None, typer.Option(help="Address to bind.", envvar="WERK_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind.", envvar="WERK_PORT")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Data directory.", envvar="WERK_DATA_DIR")
    ] = None,
) -> None:
    """Run the API server (ingest, queries, dashboard) until Ctrl-C."""
    import uvicorn

    from werk.api import create_app

    settings = settings_from(store, host=host, port=port, data_dir=data_dir)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s %(message)s"
    )
    app = create_app(settings)
    typer.echo(
        f"werk serving on http://{settings.host}:{settings.port}  store: "
        f"{settings.resolved_store_url()}"
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=10,
    )


def register(app: typer.Typer) -> None:
    """Add the server commands to the top-level CLI."""
    app.command("serve")(serve)
