"""``werk users ...`` and ``werk participants ...``: people, their grants, and the tenants.

Both work on the store directly, like ``werk keys`` (the server need not run): the platform
operator sets up participants and the first users before anyone logs in.
"""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING, Annotated

import typer

from werk.cli.output import emit_json, emit_rows
from werk.cli.server import StoreOption, settings_from
from werk.sharing.participants import ParticipantKind

if TYPE_CHECKING:
    from werk.api.users import User
    from werk.sharing.participants import Participant
    from werk.store import Store

app = typer.Typer(help="Create users, grant roles on paths, disable users.", no_args_is_help=True)
participants_app = typer.Typer(help="Register and list participants.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
PasswordOption = Annotated[
    str | None,
    typer.Option(
        envvar="WERK_PASSWORD",
        help="Password (default: asked for; or set WERK_PASSWORD). Never put it in shell history.",
    ),
]


def _open(store: str | None) -> Store:
    from werk.store import open_store

    return open_store(settings_from(store).resolved_store_url())


def _row(user: User) -> dict[str, object]:
    return {
        "name": user.name,
        "participant": user.participant,
        "grants": [f"{g.path}={g.role}" for g in user.grants],
        "disabled": user.disabled,
        "created_at": user.created_at,
    }


def _emit_user(user: User, as_json: bool, what: str) -> None:
    if as_json:
        emit_json(_row(user))
    else:
        grants = ", ".join(f"{g.path or '/'}={g.role}" for g in user.grants) or "none"
        typer.echo(f"{what} {user.name!r} ({user.participant}); grants: {grants}")


def _password(given: str | None) -> str:
    if given:
        return given
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        from werk.errors import InvalidInput

        raise InvalidInput("the two passwords differ", field="password")
    return first


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="User name.")],
    participant: Annotated[str, typer.Option(help="Participant the user belongs to.")] = "platform",
    grant: Annotated[
        list[str] | None, typer.Option(help="Role on a path, PATH=ROLE; repeat for more.")
    ] = None,
    password: PasswordOption = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    """Create a user with a password and role grants."""
    from werk.api.credentials import parse_grant
    from werk.api.users import Users

    grants = [parse_grant(g, field="--grant") for g in grant or ()]
    secret = _password(password)
    the_store = _open(store)
    try:
        user = Users(the_store).create(name, secret, participant=participant, grants=grants)
    finally:
        the_store.close()
    _emit_user(user, json_, "created user")


@app.command("list")
def list_(
    participant: Annotated[str | None, typer.Option(help="Only this participant's.")] = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    """List users (never their password hashes)."""
    from werk.api.users import Users

    the_store = _open(store)
    try:
        users = Users(the_store).list(participant)
    finally:
        the_store.close()
    rows = [_row(u) for u in users]
    if not json_:  # one cell per grant list in the table
        rows = [
            {**r, "grants": " ".join(f"{g.path}={g.role}" for g in u.grants)}
            for r, u in zip(rows, users, strict=True)
        ]
    emit_rows(rows, as_json=json_, title="users")


@app.command("grant")
def grant(
    name: Annotated[str, typer.Argument(help="User name.")],
    grant: Annotated[str, typer.Argument(help="PATH=ROLE, e.g. acme/wob=viewer.")],
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    """Grant a role on a path (and everything below it)."""
    from werk.api.credentials import parse_grant
    from werk.api.users import Users

    the_grant = parse_grant(grant)
    the_store = _open(store)
    try:
        user = Users(the_store).grant(name, the_grant)
    finally:
        the_store.close()
    _emit_user(user, json_, "granted")


@app.command("revoke-grant")
def revoke_grant(
    name: Annotated[str, typer.Argument(help="User name.")],
    path: Annotated[str, typer.Argument(help="Path of the grant ('' for the root).")],
    role: Annotated[str | None, typer.Option(help="Only this role.")] = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    """Take a user's role(s) on a path away; holds from the user's next request."""
    from werk.api.users import Users
    from werk.sharing.principal import Role

    the_store = _open(store)
    try:
        user = Users(the_store).revoke_grant(name, path, Role(role) if role else None)
    finally:
        the_store.close()
    _emit_user(user, json_, "revoked; now")


@app.command("disable")
def disable(
    name: Annotated[str, typer.Argument(help="User name.")],
    enable: Annotated[bool, typer.Option("--enable", help="Enable again instead.")] = False,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    """Disable a user: no more logins, and its sessions end now."""
    from werk.api.users import Users

    the_store = _open(store)
    try:
        user = Users(the_store).set_disabled(name, not enable)
    finally:
        the_store.close()
    _emit_user(user, json_, "enabled" if enable else "disabled")


@app.command("passwd")
def passwd(
    name: Annotated[str, typer.Argument(help="User name.")],
    password: PasswordOption = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    """Set a user's password; its sessions end."""
    from werk.api.users import Users

    secret = _password(password)
    the_store = _open(store)
    try:
        user = Users(the_store).set_password(name, secret)
    finally:
        the_store.close()
    _emit_user(user, json_, "new password for")


def _participant_row(p: Participant) -> dict[str, object]:
    return {"id": p.id, "name": p.name, "kind": p.kind.value, "owns": list(p.owns)}


@participants_app.command("create")
def create_participant(
    id_: Annotated[str, typer.Argument(metavar="ID", help="Slug: a-z, 0-9, '-'.")],
    name: Annotated[str, typer.Option(help="Name shown to people.")],
    kind: Annotated[ParticipantKind, typer.Option(help="What kind of tenant it is.")],
    owns: Annotated[
        list[str] | None, typer.Option(help="Asset path prefix it owns; repeat for more.")
    ] = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    """Register a participant and the path prefixes whose data belongs to it."""
    from werk.sharing.participants import Participant, Participants

    participant = Participant(id_, name, kind, tuple(owns or ()))
    the_store = _open(store)
    try:
        created = Participants(the_store).create(participant)
    finally:
        the_store.close()
    if json_:
        emit_json(_participant_row(created))
    else:
        typer.echo(f"registered {created.id!r} ({created.kind.value}), owns {list(created.owns)}")


@participants_app.command("list")
def list_participants(store: StoreOption = None, json_: JsonOption = False) -> None:
    """List participants."""
    from werk.sharing.participants import Participants

    the_store = _open(store)
    try:
        found = Participants(the_store).list()
    finally:
        the_store.close()
    rows = [_participant_row(p) for p in found]
    if not json_:
        rows = [{**r, "owns": " ".join(p.owns)} for r, p in zip(rows, found, strict=True)]
    emit_rows(rows, as_json=json_, title="participants")
