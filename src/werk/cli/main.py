"""Assemble the ``werk`` command line from its command groups; the only place that exits."""

from __future__ import annotations

import sys

import typer

from werk.cli import demo, keys, query, server, store, users
from werk.cli.output import fail
from werk.errors import WerkError

app = typer.Typer(
    name="werk",
    help="werk: connect every plant, one model, ISO 22400 KPIs, owner-controlled sharing.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
server.register(app)
demo.register(app)
app.add_typer(query.app, name="query")
app.add_typer(store.app, name="store")
app.add_typer(keys.app, name="keys")
app.add_typer(users.app, name="users")
app.add_typer(users.participants_app, name="participants")


def _add_optional_groups() -> None:
    """Add command groups whose modules may not be present in every build of werk."""
    from importlib import import_module

    for module_name, group in (
        ("werk.cli.sim", "sim"),
        ("werk.cli.kpi", "kpi"),
        ("werk.cli.assets", "assets"),
        ("werk.cli.ml", "ml"),
        ("werk.cli.export", "export"),
        ("werk.cli.edge", "edge"),
        ("werk.cli.share", "share"),
        ("werk.cli.audit", "audit"),
    ):
        try:
            module = import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        app.add_typer(module.app, name=group)


_add_optional_groups()


def main() -> None:
    """Run the CLI; turn werk errors into a clear message and exit code 1 (2 for bad input)."""
    try:
        app()
    except WerkError as exc:
        sys.exit(fail(exc))
