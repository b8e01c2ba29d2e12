"""Print results for people (rich tables) or programs (``--json``), and errors in one shape."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from werk.errors import ConfigError, InvalidInput, WerkError

console = Console()
err_console = Console(stderr=True)


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def emit_json(data: object) -> None:
    """Print ``data`` as JSON on stdout (one document)."""
    print(json.dumps(data, default=_default, indent=2))


def emit_rows(
    rows: Sequence[Mapping[str, Any]], *, as_json: bool, title: str | None = None
) -> None:
    """Print rows as a table, or as a JSON list with ``--json``."""
    if as_json:
        emit_json(list(rows))
        return
    if not rows:
        console.print(f"[dim]no {title or 'rows'}[/dim]")
        return
    table = Table(title=title)
    for column in rows[0]:
        table.add_column(column)
    for row in rows:
        table.add_row(
            *(
                "" if v is None else str(_default(v) if not isinstance(v, str) else v)
                for v in row.values()
            )
        )
    console.print(table)


def fail(exc: WerkError) -> int:
    """Print a werk error for a person and return the exit code for it."""
    where = ", ".join(f"{k} {v}" for k, v in exc.fields.items())
    err_console.print(f"[bold red]error[/bold red] {escape(f'[{exc.key}] {exc.message}')}")
    if where:
        err_console.print(f"  at: {escape(where)}")
    return 2 if isinstance(exc, InvalidInput | ConfigError) else 1
