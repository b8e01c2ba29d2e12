"""Manage API keys over HTTP (admin only); ``werk keys`` does the same against the store."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from werk.api.auth import Admin
from werk.api.credentials import create_key, key_grants, make_grant
from werk.sharing.principal import Role
from werk.store import ApiKey, Store

router = APIRouter(tags=["keys"])


class GrantPublic(BaseModel):
    """A role on an asset path and everything below it ("" is the root)."""

    path: str = Field(description="Asset path the role holds on and below.")
    role: Role = Field(description="The role.")


class KeyCreate(BaseModel):
    """A key to create."""

    name: str = Field(min_length=1, max_length=100, description="Unique name of the key.")
    role: Role = Field(default=Role.EDGE, description="What the key may do.")
    edge: str | None = Field(default=None, description="Edge id, for edge keys.")
    participant: str | None = Field(
        default=None, description="Participant the key belongs to (default: platform)."
    )
    grants: list[GrantPublic] = Field(
        default_factory=list,
        description="Roles on paths. None: the role on everything (platform keys) or on what "
        "the participant owns.",
    )


class KeyPublic(BaseModel):
    """A key as listed (never with its secret)."""

    name: str
    role: str
    edge: str | None
    participant: str
    grants: list[GrantPublic]
    prefix: str
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey, store: Store) -> KeyPublic:
        """Build from the stored key and its grants."""
        participant, grants = key_grants(store, key.name)
        return cls(
            name=key.name,
            role=key.role,
            edge=key.edge,
            participant=participant,
            grants=[GrantPublic(path=g.path, role=g.role) for g in grants],
            prefix=key.prefix,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )


class KeyCreated(KeyPublic):
    """A new key, with its secret: shown once, never again."""

    secret: str


class KeysPublic(BaseModel):
    """All keys."""

    data: list[KeyPublic]
    count: int


@router.get("/keys", operation_id="list_keys", summary="List API keys")
async def list_keys(request: Request, _: Admin) -> KeysPublic:
    """List every key, revoked ones too."""
    store: Store = request.app.state.store

    def listed() -> list[KeyPublic]:
        stored = store.keys()
        return [KeyPublic.of(k, store) for k in stored]

    keys = await asyncio.to_thread(listed)
    return KeysPublic(data=keys, count=len(keys))


@router.post("/keys", operation_id="create_key", summary="Create an API key", status_code=201)
async def create(request: Request, _: Admin, body: KeyCreate) -> KeyCreated:
    """Create a key; the answer holds its secret, which is not stored."""
    store: Store = request.app.state.store
    grants = [make_grant(g.path, g.role, field="grants") for g in body.grants]

    def created() -> tuple[KeyPublic, str]:
        key, secret = create_key(
            store,
            name=body.name,
            role=body.role,
            edge=body.edge,
            participant=body.participant,
            grants=grants,
        )
        return KeyPublic.of(key, store), secret

    key, secret = await asyncio.to_thread(created)
    return KeyCreated(**key.model_dump(), secret=secret)


@router.delete("/keys/{name}", operation_id="revoke_key", summary="Revoke an API key")
async def revoke(
    request: Request, _: Admin, name: Annotated[str, Path(description="Key name.")]
) -> KeyPublic:
    """Revoke a key; requests with it fail from the next one on."""
    store: Store = request.app.state.store
    return KeyPublic.of(await asyncio.to_thread(store.revoke_key, name), store)
