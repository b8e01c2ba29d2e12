"""Authenticate callers by API key and name what they may do."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from werk.api.credentials import hash_secret
from werk.errors import AuthError, Forbidden
from werk.sharing.door import ReadDoor
from werk.sharing.principal import Principal, Role
from werk.store import Store

READ_ROLES = frozenset({Role.ADMIN, Role.ENGINEER, Role.VIEWER})
INGEST_ROLES = frozenset({Role.ADMIN, Role.EDGE})


def authenticate(store: Store, admin_key: str | None, authorization: str | None) -> Principal:
    """Return the principal for an ``Authorization`` header value.

    Raises:
        AuthError: no bearer token, an unknown one, or a revoked one.
    """
    if not authorization or not authorization.lower().startswith("bearer "):
        raise AuthError("send an API key as 'Authorization: Bearer <key>'", field="Authorization")
    secret = authorization[7:].strip()
    if admin_key and hmac.compare_digest(secret.encode(), admin_key.encode()):
        return Principal(name="admin", role=Role.ADMIN, kind="admin")
    key = store.key_by_hash(hash_secret(secret))
    if key is None:
        raise AuthError("API key is not known", key="auth.unknown_key", field="Authorization")
    if key.revoked_at is not None:
        raise AuthError(
            f"API key {key.name!r} was revoked at {key.revoked_at.isoformat()}",
            key="auth.revoked_key",
            field="Authorization",
        )
    role = Role(key.role)
    return Principal(
        name=key.name, role=role, edge=key.edge, kind="edge" if role == Role.EDGE else "key"
    )


def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the authenticated caller."""
    state = request.app.state
    admin = state.settings.admin_key.get_secret_value() if state.settings.admin_key else None
    return authenticate(state.store, admin, request.headers.get("authorization"))


def _needs(roles: frozenset[Role], what: str) -> object:
    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in roles:
            raise Forbidden(
                f"role {principal.role} may not {what}", key="auth.forbidden", role=principal.role
            )
        return principal

    return check


Reader = Annotated[Principal, Depends(_needs(READ_ROLES, "read data"))]
Writer = Annotated[Principal, Depends(_needs(INGEST_ROLES, "ingest data"))]
Admin = Annotated[Principal, Depends(_needs(frozenset({Role.ADMIN}), "manage keys"))]


def read_door(request: Request) -> ReadDoor:
    """FastAPI dependency: the app's one read door (every read of stored data passes it)."""
    door: ReadDoor = request.app.state.door
    return door


Door = Annotated[ReadDoor, Depends(read_door)]
