"""``werk store info|migrate``: look after the store directly (not through the server)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from werk.cli.output import emit_json, emit_rows
from werk.cli.server import StoreOption, settings_from

app = typer.Typer(help="Inspect and migrate the store.", no_args_is_help=True)


@app.command("info")
def info(
    store: StoreOption = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the backend, schema version and how much the store holds."""
    from werk.store import open_store

    the_store = open_store(settings_from(store).resolved_store_url(), migrate=False)
    try:
        data = asdict(the_store.info())
    finally:
        the_store.close()
    if json_:
        emit_json(data)
    else:
        extra = data.pop("extra")
        emit_rows([{"field": k, "value": v} for k, v in {**data, **extra}.items()], as_json=False)


@app.command("migrate")
def migrate(store: StoreOption = None) -> None:
    """Bring the store's schema to the newest version."""
    from werk.store import open_store

    the_store = open_store(settings_from(store).resolved_store_url(), migrate=False)
    try:
        before = the_store.schema_version()
        after = the_store.migrate()
    finally:
        the_store.close()
    typer.echo(
        f"schema version {before} -> {after}"
        if after != before
        else f"schema version {after}, nothing to do"
    )


@app.command("dead-letters")
def dead_letters(
    store: StoreOption = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List rejected input with the reason and place it was rejected."""
    from werk.store import open_store

    the_store = open_store(settings_from(store).resolved_store_url())
    try:
        letters = the_store.dead_letters(limit)
    finally:
        the_store.close()
    rows = [
        {
            "id": d.id,
            "received_at": d.received_at,
            "source": d.source,
            "key": d.key,
            "location": d.location,
            "reason": d.reason,
            "batch_key": d.batch_key,
            "payload_bytes": len(d.payload or b""),
        }
        for d in letters
    ]
    emit_rows(rows, as_json=json_, title="dead letters")


retention = typer.Typer(
    help="Keep data under a path prefix only for a while.", no_args_is_help=True
)
app.add_typer(retention, name="retention")


@retention.command("set")
def retention_set(
    prefix: Annotated[str, typer.Argument(help="Asset path prefix, e.g. acme/berlin.")],
    keep: Annotated[str, typer.Option(help="How long to keep data, e.g. 30d or 52w.")],
    store: StoreOption = None,
) -> None:
    """Keep samples and events under PREFIX for KEEP; the most specific prefix wins."""
    from werk.api.params import parse_duration, parse_path
    from werk.store import open_store

    path = parse_path(prefix, "prefix") or ""
    duration = parse_duration(keep, "keep")
    the_store = open_store(settings_from(store).resolved_store_url())
    try:
        the_store.set_retention(path, duration)
    finally:
        the_store.close()
    typer.echo(f"keeping data under {path or '(everything)'} for {duration}")


@retention.command("clear")
def retention_clear(
    prefix: Annotated[str, typer.Argument(help="Asset path prefix of the rule.")],
    store: StoreOption = None,
) -> None:
    """Remove the retention rule of PREFIX."""
    from werk.api.params import parse_path
    from werk.store import open_store

    the_store = open_store(settings_from(store).resolved_store_url())
    try:
        the_store.set_retention(parse_path(prefix, "prefix") or "", None)
    finally:
        the_store.close()
    typer.echo(f"removed the rule for {prefix}")


@retention.command("list")
def retention_list(
    store: StoreOption = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List retention rules, most specific first."""
    from werk.store import open_store

    the_store = open_store(settings_from(store).resolved_store_url())
    try:
        rules = the_store.retention_rules()
    finally:
        the_store.close()
    rows = [{"prefix": r.prefix or "(everything)", "keep": r.keep} for r in rules]
    emit_rows(rows, as_json=json_, title="retention rules")


@retention.command("apply")
def retention_apply(store: StoreOption = None) -> None:
    """Delete what the rules no longer keep (the server also does this every hour)."""
    from datetime import UTC, datetime

    from werk.store import open_store

    the_store = open_store(settings_from(store).resolved_store_url())
    try:
        deleted = the_store.apply_retention(datetime.now(UTC))
    finally:
        the_store.close()
    typer.echo(f"deleted {deleted} rows")
