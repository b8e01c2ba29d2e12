"""Know every edge: agents report their health here, the dashboard and people read it.

``POST /api/v1/edge/health`` takes an agent's report (edge keys only report for their own edge);
``GET /api/v1/edge`` lists every edge with its latest report. The latest report per edge is kept
in memory and, where the store keeps documents, as the document (``edge_health``, edge id), so
it survives a restart of the server (history is not kept: reports arrive every few seconds).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Final

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from werk.api.auth import Reader, Writer
from werk.errors import Forbidden, WerkError
from werk.sharing.principal import Role

router = APIRouter(tags=["edge"])
log = logging.getLogger("werk.api.edge")

DOCUMENT_KIND: Final = "edge_health"


class EdgeHealthCreate(BaseModel):
    """An edge agent's health report (see werk.edge.health)."""

    model_config = ConfigDict(extra="allow")

    edge: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Id of the reporting edge.")
    site: str = Field(description="Site path of the plant the edge serves.")
    at: datetime = Field(description="When the agent built the report.")
    agent: dict[str, object] = Field(default_factory=dict)
    sources: dict[str, dict[str, object]] = Field(default_factory=dict)
    buffer: dict[str, object] = Field(default_factory=dict)
    uplink: dict[str, object] = Field(default_factory=dict)
    completeness: dict[str, float] = Field(default_factory=dict)


class EdgePublic(BaseModel):
    """One edge and its latest report."""

    edge: str
    site: str
    received_at: datetime
    report: dict[str, object]


class EdgesPublic(BaseModel):
    """Every edge that has reported."""

    edges: list[EdgePublic]


def _latest(request: Request) -> dict[str, EdgePublic]:
    state = request.app.state
    if not hasattr(state, "edges"):
        state.edges = {}
    edges: dict[str, EdgePublic] = state.edges
    return edges


@router.post(
    "/edge/health",
    operation_id="edge_health_report",
    summary="Report an edge agent's health",
    response_model=EdgePublic,
)
async def report(request: Request, principal: Writer, body: EdgeHealthCreate) -> EdgePublic:
    """Keep the report as the edge's latest."""
    if principal.role == Role.EDGE and principal.edge != body.edge:
        raise Forbidden(
            f"this key belongs to edge {principal.edge!r}, not {body.edge!r}",
            key="edge.foreign_report",
            field="edge",
        )
    entry = EdgePublic(
        edge=body.edge,
        site=body.site,
        received_at=datetime.now(UTC),
        report=body.model_dump(mode="json"),
    )
    _latest(request)[body.edge] = entry
    store = request.app.state.store
    if hasattr(store, "put_document"):
        try:
            await asyncio.to_thread(
                store.put_document,
                DOCUMENT_KIND,
                body.edge,
                entry.model_dump(mode="json"),
                keep_history=False,
            )
        except WerkError as exc:  # the report is in memory; the store may be down for a while
            log.warning("edge %s: health not stored: %s", body.edge, exc)
    return entry


@router.get("/edge", operation_id="edges", summary="Every edge with its latest health report")
async def edges(request: Request, principal: Reader) -> EdgesPublic:
    """List edges: those reported since the server started, and those kept in the store."""
    found = dict(_latest(request))
    store = request.app.state.store
    if hasattr(store, "documents"):
        for doc in await asyncio.to_thread(store.documents, DOCUMENT_KIND):
            if doc.key not in found:
                found[doc.key] = EdgePublic.model_validate(doc.body)
    return EdgesPublic(edges=[found[k] for k in sorted(found)])
