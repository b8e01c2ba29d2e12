"""``werk keys create|list|revoke``: API keys, kept hashed in the store."""

from __future__ import annotations

from typing import Annotated

import typer

from werk.cli.output import emit_json, emit_rows
from werk.cli.server import StoreOption, settings_from

app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)

ROLES = ("admin", "engineer", "viewer", "edge")


@app.command("create")
def create(
    edge: Annotated[str | None, typer.Option(help="Create a key for this edge agent.")] = None,
    name: Annotated[str | None, typer.Option(help="Key name (default: edge-<edge>).")] = None,
    role: Annotated[str | None, typer.Option(help=f"One of {', '.join(ROLES)}.")] = None,
    grant: Annotated[
        list[str] | None,
        typer.Option(help="Role on a path, PATH=ROLE (acme/wob=viewer); repeat for more."),
    ] = None,
    participant: Annotated[
        str | None, typer.Option(help="Participant the key belongs to (default: platform).")
    ] = None,
    store: StoreOption = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a key and print its secret once; only its hash is stored.

    A key without --grant holds its role on everything when it belongs to the platform, and
    nothing (only what agreements give) when it belongs to another participant.
    """
    from werk.api.credentials import create_key, parse_grant, top_role
    from werk.errors import InvalidInput
    from werk.store import open_store

    grants = [parse_grant(g, field="--grant") for g in grant or ()]
    granted = top_role(grants)
    the_role = role or ("edge" if edge else None) or (granted.value if granted else None)
    if the_role not in ROLES:
        raise InvalidInput(f"give --edge NAME, or --role one of {', '.join(ROLES)}", field="role")
    if the_role == "edge" and not edge:
        raise InvalidInput("an edge key needs --edge NAME", field="edge")
    key_name = name or (f"edge-{edge}" if edge else None)
    if not key_name:
        raise InvalidInput("give the key a --name", field="name")
    the_store = open_store(settings_from(store).resolved_store_url())
    try:
        key, secret = create_key(
            the_store,
            name=key_name,
            role=the_role,
            edge=edge,
            participant=participant,
            grants=grants,
        )
    finally:
        the_store.close()
    if json_:
        emit_json(
            {
                "name": key.name,
                "role": key.role,
                "edge": key.edge,
                "participant": participant or "platform",
                "grants": [f"{g.path}={g.role}" for g in grants],
                "secret": secret,
            }
        )
    else:
        typer.echo(f"created key {key.name!r} (role {key.role}); its secret, shown only now:")
        typer.echo(secret)


@app.command("list")
def list_(
    store: StoreOption = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List keys (never their secrets)."""
    from werk.api.credentials import key_grants
    from werk.store import open_store

    the_store = open_store(settings_from(store).resolved_store_url())
    try:
        stored = the_store.keys()
        keys = [(k, key_grants(the_store, k.name)) for k in stored]
    finally:
        the_store.close()
    rows = [
        {
            "name": k.name,
            "role": k.role,
            "edge": k.edge,
            "participant": participant,
            "grants": " ".join(f"{g.path}={g.role}" for g in grants),
            "prefix": k.prefix,
            "created_at": k.created_at,
            "revoked_at": k.revoked_at,
        }
        for k, (participant, grants) in keys
    ]
    emit_rows(rows, as_json=json_, title="API keys")


@app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="Name of the key.")],
    store: StoreOption = None,
) -> None:
    """Revoke a key: requests with it are refused from the next one on."""
    from werk.store import open_store

    the_store = open_store(settings_from(store).resolved_store_url())
    try:
        key = the_store.revoke_key(name)
    finally:
        the_store.close()
    typer.echo(f"revoked {key.name!r}")
