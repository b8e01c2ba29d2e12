"""Manage API keys over HTTP (admin only); ``werk keys`` does the same against the store."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from werk.api.auth import Admin
from werk.api.credentials import create_key
from werk.sharing.principal import Role
from werk.store import ApiKey, Store

router = APIRouter(tags=["keys"])


class KeyCreate(BaseModel):
    """A key to create."""

    name: str = Field(min_length=1, max_length=100, description="Unique name of the key.")
    role: Role = Field(default=Role.EDGE, description="What the key may do.")
    edge: str | None = Field(default=None, description="Edge id, for edge keys.")


class KeyPublic(BaseModel):
    """A key as listed (never with its secret)."""

    name: str
    role: str
    edge: str | None
    prefix: str
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> KeyPublic:
        """Build from the stored key."""
        return cls(
            name=key.name,
            role=key.role,
            edge=key.edge,
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
    keys = await asyncio.to_thread(store.keys)
    return KeysPublic(data=[KeyPublic.of(k) for k in keys], count=len(keys))


@router.post("/keys", operation_id="create_key", summary="Create an API key", status_code=201)
async def create(request: Request, _: Admin, body: KeyCreate) -> KeyCreated:
    """Create a key; the answer holds its secret, which is not stored."""
    store: Store = request.app.state.store
    key, secret = await asyncio.to_thread(
        create_key, store, name=body.name, role=body.role, edge=body.edge
    )
    return KeyCreated(**KeyPublic.of(key).model_dump(), secret=secret)


@router.delete("/keys/{name}", operation_id="revoke_key", summary="Revoke an API key")
async def revoke(
    request: Request, _: Admin, name: Annotated[str, Path(description="Key name.")]
) -> KeyPublic:
    """Revoke a key; requests with it fail from the next one on."""
    store: Store = request.app.state.store
    return KeyPublic.of(await asyncio.to_thread(store.revoke_key, name))
