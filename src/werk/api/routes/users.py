"""Manage users over HTTP: create, list, grant and revoke roles, disable, set passwords.

Platform administrators (admin on the root) manage every user. An admin grant on a subtree
manages the users of its own participant within that subtree: it may create them, grant and
revoke roles on paths under its admin grants, disable them and reset their passwords — never
touch a user who holds anything outside its subtrees.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field, SecretStr

from werk.api.auth import SubtreeAdmin, identity_of
from werk.api.credentials import make_grant
from werk.api.routes.auth import GrantOut
from werk.api.users import User, Users
from werk.errors import Forbidden, NotFound
from werk.sharing.principal import PLATFORM, Grant, Principal, Role

router = APIRouter(tags=["users"])

UserName = Annotated[str, Path(description="User name.")]


class UserCreate(BaseModel):
    """A user to create."""

    name: str = Field(min_length=1, max_length=100, description="Unique user name.")
    password: SecretStr = Field(description="Initial password (at least 10 characters).")
    participant: str | None = Field(
        default=None, description="Participant (default: the creating admin's)."
    )
    grants: list[GrantOut] = Field(default_factory=list, description="Roles on paths.")


class PasswordSet(BaseModel):
    """A new password."""

    password: SecretStr = Field(description="New password (at least 10 characters).")


class UserPublic(BaseModel):
    """A user as listed (never with the password hash)."""

    name: str
    participant: str
    grants: list[GrantOut]
    role: Role
    disabled: bool
    created_at: datetime | None

    @classmethod
    def of(cls, user: User) -> UserPublic:
        """Build from the stored user."""
        return cls(
            name=user.name,
            participant=user.participant,
            grants=[GrantOut(path=g.path, role=g.role) for g in user.grants],
            role=user.role,
            disabled=user.disabled,
            created_at=user.created_at,
        )


class UsersPublic(BaseModel):
    """Users."""

    data: list[UserPublic]
    count: int


def _platform_admin(principal: Principal) -> bool:
    return principal.may(Role.ADMIN, "")


def _may_grant(principal: Principal, grant: Grant) -> None:
    if not principal.may(Role.ADMIN, grant.path):
        raise Forbidden(
            f"{principal.name!r} is no admin on {grant.path or '/'!r}",
            key="auth.forbidden",
            path=grant.path,
        )


def _manages(principal: Principal, user: User) -> bool:
    if _platform_admin(principal):
        return True
    return user.participant == principal.participant and all(
        principal.may(Role.ADMIN, g.path) for g in user.grants
    )


def _managed(principal: Principal, users: Users, name: str) -> User:
    user = users.get(name)
    if not _manages(principal, user):
        # a subtree admin learns nothing about users outside its reach
        raise NotFound(f"no user {name!r}", key="users.not_found", user=name)
    return user


def _users(request: Request) -> Users:
    return identity_of(request.app.state).users


@router.get("/users", operation_id="list_users", summary="List users")
async def list_users(
    request: Request,
    principal: SubtreeAdmin,
    participant: Annotated[str | None, Query(description="Only this participant's.")] = None,
) -> UsersPublic:
    """List the users the caller manages."""
    users = await asyncio.to_thread(_users(request).list, participant)
    shown = [UserPublic.of(u) for u in users if _manages(principal, u)]
    return UsersPublic(data=shown, count=len(shown))


@router.post("/users", operation_id="create_user", summary="Create a user", status_code=201)
async def create_user(request: Request, principal: SubtreeAdmin, body: UserCreate) -> UserPublic:
    """Create a user with a password and grants."""
    participant = body.participant or principal.participant
    if participant != principal.participant and not _platform_admin(principal):
        raise Forbidden(
            f"only platform admins create users of another participant ({participant!r})",
            key="auth.forbidden",
            field="participant",
        )
    grants = [make_grant(g.path, g.role, field="grants") for g in body.grants]
    for grant in grants:
        _may_grant(principal, grant)
    user = await asyncio.to_thread(
        _users(request).create,
        body.name,
        body.password.get_secret_value(),
        participant=participant or PLATFORM,
        grants=grants,
    )
    return UserPublic.of(user)


@router.get("/users/{name}", operation_id="read_user", summary="One user")
async def read_user(request: Request, principal: SubtreeAdmin, name: UserName) -> UserPublic:
    """Return one user."""
    users = _users(request)
    return UserPublic.of(await asyncio.to_thread(_managed, principal, users, name))


@router.post("/users/{name}/grants", operation_id="grant_role", summary="Grant a role on a path")
async def grant(
    request: Request, principal: SubtreeAdmin, name: UserName, body: GrantOut
) -> UserPublic:
    """Grant ``role`` on ``path`` (and everything below it) to a user."""
    the_grant = make_grant(body.path, body.role, field="path")
    _may_grant(principal, the_grant)
    users = _users(request)

    def change() -> User:
        _managed(principal, users, name)
        return users.grant(name, the_grant)

    return UserPublic.of(await asyncio.to_thread(change))


@router.delete(
    "/users/{name}/grants", operation_id="revoke_role", summary="Revoke a role on a path"
)
async def revoke_grant(
    request: Request,
    principal: SubtreeAdmin,
    name: UserName,
    path: Annotated[str, Query(description="Path of the grant ('' for the root).")],
    role: Annotated[Role | None, Query(description="Only this role (default: all).")] = None,
) -> UserPublic:
    """Take a user's role(s) on ``path`` away; it holds from the user's next request."""
    _may_grant(principal, Grant(path, role or Role.ADMIN))
    users = _users(request)

    def change() -> User:
        _managed(principal, users, name)
        return users.revoke_grant(name, path, role)

    return UserPublic.of(await asyncio.to_thread(change))


@router.post("/users/{name}/disable", operation_id="disable_user", summary="Disable a user")
async def disable(request: Request, principal: SubtreeAdmin, name: UserName) -> UserPublic:
    """Disable a user: no more logins, and its sessions end now."""
    users = _users(request)

    def change() -> User:
        _managed(principal, users, name)
        return users.set_disabled(name, True)

    return UserPublic.of(await asyncio.to_thread(change))


@router.post("/users/{name}/enable", operation_id="enable_user", summary="Enable a user")
async def enable(request: Request, principal: SubtreeAdmin, name: UserName) -> UserPublic:
    """Let a disabled user log in again."""
    users = _users(request)

    def change() -> User:
        _managed(principal, users, name)
        return users.set_disabled(name, False)

    return UserPublic.of(await asyncio.to_thread(change))


@router.put("/users/{name}/password", operation_id="set_password", summary="Set a password")
async def set_password(
    request: Request, principal: SubtreeAdmin, name: UserName, body: PasswordSet
) -> UserPublic:
    """Set a user's password; its sessions end."""
    users = _users(request)

    def change() -> User:
        _managed(principal, users, name)
        return users.set_password(name, body.password.get_secret_value())

    return UserPublic.of(await asyncio.to_thread(change))
