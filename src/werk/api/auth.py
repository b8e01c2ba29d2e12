"""Authenticate callers (admin key, API key, login token) and name what they may do.

Roles are granted on asset paths (:mod:`werk.sharing.principal`). The dependencies here gate
routes coarsely — may this principal read somewhere, ingest, administer the platform — and the
read door (:data:`Door`) decides each read path by path.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State

from werk.api.identity import COOKIE, Identity
from werk.errors import Forbidden
from werk.sharing.door import ReadDoor
from werk.sharing.principal import Principal, Role
from werk.store import Store

READ_ROLES = frozenset({Role.ADMIN, Role.ENGINEER, Role.VIEWER})
INGEST_ROLES = frozenset({Role.ADMIN, Role.EDGE})


def identity_of(state: State) -> Identity:
    """Return the app's identity resolver (made on first use from its store and settings)."""
    found: Identity | None = getattr(state, "identity", None)
    store: Store = state.store
    if found is None or found.store is not store:
        found = Identity(store, state.settings)
        state.identity = found
    return found


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the authenticated caller (bearer header first, then the cookie)."""
    identity = identity_of(request.app.state)
    authorization = request.headers.get("authorization")
    admin = identity.admin(authorization)
    if admin is not None:
        return admin
    # keys and tokens are checked against the store on every request (a revocation holds at
    # once): a blocking read, so in a worker thread — FastAPI's pool, as for a plain function
    # dependency, not the one the reads of data queue in
    return await run_in_threadpool(identity.principal, authorization, request.cookies.get(COOKIE))


def require(
    principal: Principal, roles: frozenset[Role], what: str, *, everywhere: bool = False
) -> Principal:
    """Return ``principal`` if its role is one of ``roles``; raise Forbidden otherwise.

    ``everywhere``: a role granted on one site does not make a platform administrator.
    """
    if principal.role not in roles or (
        everywhere and principal.role == Role.ADMIN and not principal.may(Role.ADMIN, "")
    ):
        raise Forbidden(
            f"{principal.kind} {principal.name!r} may not {what}",
            key="auth.forbidden",
            role=principal.role,
        )
    return principal


def _needs(roles: frozenset[Role], what: str, *, everywhere: bool = False) -> object:
    # async although it awaits nothing: FastAPI runs a plain function dependency in its thread
    # pool, a hop per request for a check of a few attribute reads
    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        return require(principal, roles, what, everywhere=everywhere)

    return check


async def writer(request: Request) -> Principal:
    """The authenticated caller, if it may ingest (what :data:`Writer` resolves, without
    FastAPI's dependency machinery: see :func:`werk.api.routes.ingest.answer`)."""
    return require(await current_principal(request), INGEST_ROLES, "ingest data", everywhere=True)


Authenticated = Annotated[Principal, Depends(current_principal)]
"""Any authenticated caller."""
Reader = Annotated[Principal, Depends(_needs(READ_ROLES, "read data"))]
Writer = Annotated[Principal, Depends(_needs(INGEST_ROLES, "ingest data", everywhere=True))]
Admin = Annotated[
    Principal, Depends(_needs(frozenset({Role.ADMIN}), "administer the platform", everywhere=True))
]
"""Admin on the root: the platform administrators."""
SubtreeAdmin = Annotated[Principal, Depends(_needs(frozenset({Role.ADMIN}), "manage users"))]
"""Admin somewhere: manages users within its subtrees (routes check each path)."""


async def read_door(request: Request) -> ReadDoor:
    """FastAPI dependency: the app's one read door (every read of stored data passes it)."""
    door: ReadDoor = request.app.state.door
    return door


Door = Annotated[ReadDoor, Depends(read_door)]
