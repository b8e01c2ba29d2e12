"""Log in and out with a password; ask who you are: ``/auth/login``, ``/auth/logout``, ``/auth/me``.

A login answers a short-lived token (bearer, for scripts) and sets the same token as an
httpOnly, SameSite=Strict cookie (for the dashboard: scripts in the page cannot read it, and
other sites cannot make the browser send it). Failed logins are limited per user and per client
address; past the limit the answer is 429 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, SecretStr

from werk.api.auth import Authenticated, identity_of
from werk.api.identity import COOKIE, TOKEN_PREFIX, TooManyAttempts
from werk.api.problems import problem
from werk.sharing.principal import Principal, Role

router = APIRouter(tags=["auth"])


class LoginRequest(BaseModel):
    """A user name and password."""

    user: Annotated[str, Field(min_length=1, max_length=100, description="User name.")]
    password: Annotated[SecretStr, Field(min_length=1, max_length=1024, description="Password.")]


class GrantOut(BaseModel):
    """A role on an asset path and everything below it ("" is the root)."""

    path: str
    role: Role


class MePublic(BaseModel):
    """Who the caller is and what it may see."""

    name: str = Field(description="User or key name.")
    kind: str = Field(description="admin, key, user or edge.")
    role: Role = Field(description="Highest role held anywhere.")
    participant: str = Field(description="The participant the caller belongs to.")
    grants: list[GrantOut] = Field(description="Roles on paths (inherited down the tree).")
    edge: str | None = Field(default=None, description="Edge id, for edge keys.")

    @classmethod
    def of(cls, principal: Principal) -> MePublic:
        """Describe a principal."""
        return cls(
            name=principal.name,
            kind=principal.kind,
            role=principal.role,
            participant=principal.participant,
            grants=[GrantOut(path=g.path, role=g.role) for g in principal.effective_grants()],
            edge=principal.edge,
        )


class SessionPublic(MePublic):
    """A new login session: the token and when it expires."""

    token: str = Field(description="Bearer token; also set as the session cookie.")
    expires_at: datetime = Field(description="When the token stops working.")


@router.post(
    "/auth/login",
    operation_id="login",
    summary="Log in with a password",
    response_model=SessionPublic,
    responses={
        401: {"description": "Wrong user or password, or a disabled user"},
        429: {"description": "Too many failed logins; see Retry-After"},
    },
)
async def login(
    request: Request, body: LoginRequest, response: Response
) -> SessionPublic | JSONResponse:
    """Check the password and answer a short-lived token (also set as an httpOnly cookie)."""
    identity = identity_of(request.app.state)
    address = request.client.host if request.client else "unknown"
    try:
        token, claims, user = await asyncio.to_thread(
            identity.login, body.user, body.password.get_secret_value(), address
        )
    except TooManyAttempts as exc:
        retry = str(exc.fields.get("retry_after", identity.throttle.window_s))
        answer = problem(429, exc.key, exc.message, **exc.fields)
        answer.headers["Retry-After"] = retry
        return answer
    response.set_cookie(
        COOKIE,
        token,
        max_age=identity.settings.token_ttl_s,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return SessionPublic(
        **MePublic.of(user.principal()).model_dump(), token=token, expires_at=claims.expires
    )


@router.post("/auth/logout", operation_id="logout", summary="End this login session")
async def logout(request: Request) -> JSONResponse:
    """End the session's token now (not only when it expires) and clear the cookie."""
    authorization = request.headers.get("authorization") or ""
    token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
    token = token or request.cookies.get(COOKIE, "")
    if token.startswith(TOKEN_PREFIX):
        await asyncio.to_thread(identity_of(request.app.state).logout, token)
    answer = JSONResponse({"logged_out": token.startswith(TOKEN_PREFIX)})
    answer.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return answer


@router.get("/auth/me", operation_id="me", summary="Who am I")
async def me(principal: Authenticated) -> MePublic:
    """Answer the caller's name, participant, role and grants."""
    return MePublic.of(principal)
