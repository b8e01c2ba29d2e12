"""Take batches in: ``POST /api/v1/ingest`` answers 200 only after the batch is committed.

The route is declared here for the OpenAPI document; the app answers it through :func:`answer`,
called by :class:`werk.api.app.WerkApp` before its middleware stack, which runs the same steps
(:func:`take`) without FastAPI's middleware, routing, dependency resolution and response
validation: on a 10k-sample batch those cost the event loop as much CPU as decoding and
writing the batch did.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from werk.api.auth import Writer, writer
from werk.api.problems import problem, werk_problem
from werk.api.routes.kpi import after_ingest
from werk.errors import Forbidden, InvalidInput, PayloadTooLarge, WerkError
from werk.ingest import Ingest
from werk.sharing.principal import Principal

PATH = "/api/v1/ingest"

log = logging.getLogger("werk.api.ingest")

router = APIRouter(tags=["ingest"])


class IngestPublic(BaseModel):
    """The acknowledgement of a committed batch (the same for a repeated key)."""

    batch_key: str
    duplicate: bool
    samples: int
    events: int
    new_series: int
    committed_at: datetime


async def read_body(request: Request, limit: int) -> bytes:
    """Read the request body, refusing more than ``limit`` bytes without buffering them all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(
            f"body of {declared} bytes is over the limit of {limit}", field="Content-Length"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body is over the limit of {limit} bytes", field="body")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/ingest",
    operation_id="ingest",
    summary="Store a batch of samples or events",
    response_model=IngestPublic,
    responses={
        400: {"description": "Undecodable body"},
        401: {"description": "No, unknown or revoked key"},
        413: {"description": "Body over the size limit"},
        415: {"description": "Unknown content type"},
        422: {"description": "A row breaks the contract (the problem names row and column)"},
        503: {"description": "Store unavailable; retry the same key later"},
    },
)
async def ingest(
    request: Request,
    principal: Writer,
    idempotency_key: Annotated[
        str | None,
        Header(
            description="Edge id and sequence number, e.g. 'plant-a:1042'; a repeated key "
            "is acknowledged and not stored again."
        ),
    ] = None,
) -> IngestPublic:
    """Store one Arrow IPC stream (samples or events) or one JSON document."""
    return await take(request, principal, idempotency_key)


async def take(request: Request, principal: Principal, idempotency_key: str | None) -> IngestPublic:
    """Check the key space, read the body, store it, feed live streams and KPIs; acknowledge."""
    door: Ingest = request.app.state.ingest
    if principal.edge is not None:
        if not idempotency_key:
            raise InvalidInput(
                "edge keys must send an Idempotency-Key header '<edge>:<sequence>'",
                key="ingest.missing_idempotency_key",
                field="Idempotency-Key",
            )
        if not idempotency_key.startswith(f"{principal.edge}:"):
            raise Forbidden(
                f"Idempotency-Key {idempotency_key!r} must start with this edge's id "
                f"'{principal.edge}:'",
                key="ingest.foreign_idempotency_key",
                field="Idempotency-Key",
            )
    body = await read_body(request, door.max_body_bytes)
    result = await asyncio.to_thread(
        door.ingest,
        body,
        content_type=request.headers.get("content-type"),
        content_encoding=request.headers.get("content-encoding"),
        batch_key=idempotency_key,
        source=principal.name,
    )
    if not result.duplicate:  # live streams see committed rows only (werk.api.hub)
        await request.app.state.hub.publish(
            body, request.headers.get("content-type"), request.headers.get("content-encoding")
        )
    if result.events and not result.duplicate:  # late events re-derive the KPI windows they touch
        await after_ingest(
            request.app.state,
            body,
            request.headers.get("content-type"),
            request.headers.get("content-encoding"),
        )
    return IngestPublic.model_validate(result, from_attributes=True)


def answers(scope: Scope) -> bool:
    """Whether :func:`answer` is the one to answer this ASGI request."""
    return bool(scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == PATH)


async def answer(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer ``POST /api/v1/ingest`` with :func:`take` directly, ahead of the app's middleware,
    routing, dependency resolution and response validation (see the module docstring). Same
    authentication, same problem+json errors, same answer as the declared route."""
    scope["app"] = app  # what Starlette sets for request.app
    request = Request(scope, receive)
    response: Response
    try:
        principal = await writer(request)
        ack = await take(request, principal, request.headers.get("idempotency-key"))
        response = Response(ack.model_dump_json(), media_type="application/json")
    except WerkError as exc:
        response = werk_problem(request, exc)
    except Exception:  # what the middleware stack would have answered: a logged 500
        log.exception("ingest failed")
        response = problem(500, "server.error", "the server failed to store the batch")
    await response(scope, receive, send)
