"""``werk audit verify``: recompute the sharing audit log's hash chain.

Reads the store directly (``--store``), so it works with the server stopped (DuckDB lets one
process open the file; stop the server or use ``--url`` to ask it instead). Exit code 1 when a
record was altered or removed.
"""

from __future__ import annotations

from typing import Annotated

import typer

from werk.cli.client import KeyOption, call
from werk.cli.output import console, emit_json
from werk.cli.server import StoreOption, settings_from

app = typer.Typer(help="Check the sharing audit log.", no_args_is_help=True)


@app.command("verify")
def verify(
    store: StoreOption = None,
    url: Annotated[
        str | None, typer.Option("--url", help="Ask this running server instead of the store.")
    ] = None,
    key: KeyOption = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Find any altered or removed audit record (exit 1 if there is one)."""
    if url:
        body = call(url, key, "GET", "sharing/audit/verify")
        ok, records, problems = bool(body["ok"]), int(body["records"]), list(body["problems"])
    else:
        from werk.sharing.audit import verify as check
        from werk.store import open_store

        the_store = open_store(settings_from(store).resolved_store_url())
        try:
            result = check(the_store)
        finally:
            the_store.close()
        ok, records, problems = result.ok, result.records, list(result.problems)
    if json_:
        emit_json({"ok": ok, "records": records, "problems": problems})
    elif ok:
        console.print(f"[green]ok[/green] {records} audit records, chain intact")
    else:
        console.print(f"[bold red]TAMPERED[/bold red] {records} records checked:")
        for problem in problems:
            console.print(f"  {problem}")
    if not ok:
        raise typer.Exit(1)
