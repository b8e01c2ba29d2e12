"""Register and list participants (tenants): ``/participants`` (changes: platform admins only)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from werk.api.auth import Admin, Authenticated
from werk.sharing.participants import Participant, ParticipantKind, Participants
from werk.sharing.principal import Principal, Role
from werk.store import Store

router = APIRouter(tags=["participants"])


class ParticipantCreate(BaseModel):
    """A participant to register."""

    id: str = Field(min_length=1, max_length=63, description="Slug: a-z, 0-9, '-'.")
    name: str = Field(min_length=1, max_length=200, description="Name shown to people.")
    kind: ParticipantKind = Field(description="What kind of tenant it is.")
    owns: list[str] = Field(
        default_factory=list, description="Asset path prefixes whose data belongs to it."
    )


class ParticipantUpdate(BaseModel):
    """Changes to a participant (absent fields stay)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: ParticipantKind | None = None
    owns: list[str] | None = None


class ParticipantPublic(BaseModel):
    """A participant. ``owns`` is shown to platform admins and to the participant's own people."""

    id: str
    name: str
    kind: ParticipantKind
    owns: list[str] | None
    version: int

    @classmethod
    def of(cls, participant: Participant, viewer: Principal) -> ParticipantPublic:
        """Describe ``participant`` as ``viewer`` may see it."""
        show = viewer.may(Role.ADMIN, "") or viewer.participant == participant.id
        return cls(
            id=participant.id,
            name=participant.name,
            kind=participant.kind,
            owns=list(participant.owns) if show else None,
            version=participant.version,
        )


class ParticipantsPublic(BaseModel):
    """Participants."""

    data: list[ParticipantPublic]
    count: int


def _registry(request: Request) -> Participants:
    store: Store = request.app.state.store
    return Participants(store)


@router.get("/participants", operation_id="list_participants", summary="List participants")
async def list_participants(request: Request, principal: Authenticated) -> ParticipantsPublic:
    """List every participant (who is in this data space is not secret; what they own is)."""
    found = await asyncio.to_thread(_registry(request).list)
    data = [ParticipantPublic.of(p, principal) for p in found]
    return ParticipantsPublic(data=data, count=len(data))


@router.post(
    "/participants",
    operation_id="create_participant",
    summary="Register a participant",
    status_code=201,
)
async def create_participant(
    request: Request, principal: Admin, body: ParticipantCreate
) -> ParticipantPublic:
    """Register a participant and the path prefixes it owns."""
    participant = Participant(body.id, body.name, body.kind, tuple(body.owns))
    created = await asyncio.to_thread(_registry(request).create, participant)
    return ParticipantPublic.of(created, principal)


@router.get("/participants/{id}", operation_id="read_participant", summary="One participant")
async def read_participant(
    request: Request,
    principal: Authenticated,
    id: Annotated[str, Path(description="Participant id.")],
) -> ParticipantPublic:
    """Return one participant."""
    found = await asyncio.to_thread(_registry(request).get, id)
    return ParticipantPublic.of(found, principal)


@router.patch("/participants/{id}", operation_id="update_participant", summary="Change one")
async def update_participant(
    request: Request,
    principal: Admin,
    id: Annotated[str, Path(description="Participant id.")],
    body: ParticipantUpdate,
) -> ParticipantPublic:
    """Change a participant's name, kind or owned prefixes."""
    changed = await asyncio.to_thread(
        _registry(request).update, id, name=body.name, kind=body.kind, owns=body.owns
    )
    return ParticipantPublic.of(changed, principal)
