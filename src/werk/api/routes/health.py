"""Tell load balancers and people whether the server and its store are up."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from pydantic import BaseModel

import werk

router = APIRouter(tags=["health"])


class HealthPublic(BaseModel):
    """Server and store state."""

    status: str
    version: str
    store: str
    schema_version: int


@router.get("/health", operation_id="health", summary="Server and store health")
async def health(request: Request) -> HealthPublic:
    """Answer 200 when the store answers, else a 503 problem."""
    store = request.app.state.store
    version = await asyncio.to_thread(store.schema_version)
    return HealthPublic(
        status="ok", version=werk.__version__, store=store.backend, schema_version=version
    )
