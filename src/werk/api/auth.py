"""Authenticate callers by API key and name what they may do."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request

from werk.api.credentials import hash_secret
from werk.errors import AuthError, Forbidden
from werk.store import Store


class Role(StrEnum):
    """What a principal may do."""

    ADMIN = "admin"
    ENGINEER = "engineer"
    VIEWER = "viewer"
    EDGE = "edge"


READ_ROLES = frozenset({Role.ADMIN, Role.ENGINEER, Role.VIEWER})
INGEST_ROLES = frozenset({Role.ADMIN, Role.EDGE})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling."""

    name: str
    role: Role
    edge: str | None = None


def authenticate(store: Store, admin_key: str | None, authorization: str | None) -> Principal:
    """Return the principal for an ``Authorization`` header value.

    Raises:
        AuthError: no bearer token, an unknown one, or a revoked one.
    """
    if not authorization or not authorization.lower().startswith("bearer "):
        raise AuthError("send an API key as 'Authorization: Bearer <key>'", field="Authorization")
    secret = authorization[7:].strip()
    if admin_key and hmac.compare_digest(secret.encode(), admin_key.encode()):
        return Principal(name="admin", role=Role.ADMIN)
    key = store.key_by_hash(hash_secret(secret))
    if key is None:
        raise AuthError("API key is not known", key="auth.unknown_key", field="Authorization")
    if key.revoked_at is not None:
        raise AuthError(
            f"API key {key.name!r} was revoked at {key.revoked_at.isoformat()}",
            key="auth.revoked_key",
            field="Authorization",
        )
    return Principal(name=key.name, role=Role(key.role), edge=key.edge)


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
