"""Speak the Dataspace Protocol 2025-1 (HTTPS binding) for catalogs and contract negotiation.

``GET /.well-known/dspace-version`` (unversioned, unauthenticated) says which protocol version
lives where. Under ``/api/v1/dsp`` the provider endpoints of the catalog and contract negotiation
bindings: messages are plain JSON (``dspace:``-prefixed keys are accepted too), answers are
``ContractNegotiation`` objects. An illegal transition is a 400; a negotiation the caller is not
a party to does not exist for it (404). Both sides are participants of this platform, so the
bearer token names the caller; the consumer's callback address is kept but not called back.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Final

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

from werk.api.auth import Authenticated
from werk.api.routes.sharing import dsp_endpoint, exchange_of
from werk.errors import NotFound
from werk.sharing.catalog import DSPACE_CONTEXT, dcat_catalog
from werk.sharing.negotiation import BadMessage, Message, message_of

VERSION: Final = "2025-1"

well_known = APIRouter(tags=["dsp"])
router = APIRouter(prefix="/dsp", tags=["dsp"])

Payload = Annotated[dict[str, object], Body(description="A DSP message (JSON).")]


def plain(message: dict[str, object]) -> dict[str, object]:
    """Return a message with ``dspace:`` prefixes dropped from its keys (2024-1 spelling)."""
    return {k.removeprefix("dspace:"): v for k, v in message.items()}


def negotiation_object(body: dict[str, object]) -> dict[str, object]:
    """Return the DSP ``ContractNegotiation`` (the ACK) for a stored negotiation."""
    out: dict[str, object] = {
        "@context": [DSPACE_CONTEXT],
        "@type": "ContractNegotiation",
        "providerPid": body["providerPid"],
        "consumerPid": body["consumerPid"],
        "state": body["state"],
    }
    if body.get("agreement_id"):
        out["werk:agreementId"] = body["agreement_id"]
    if body.get("reason"):
        out["werk:reason"] = body["reason"]
    return out


@well_known.get(
    "/.well-known/dspace-version", operation_id="dspace_version", summary="DSP versions"
)
async def dspace_version(request: Request) -> JSONResponse:
    """Return the protocol versions this connector speaks (DSP ``VersionResponse``)."""
    return JSONResponse(
        {
            "protocolVersions": [
                {
                    "version": VERSION,
                    "path": "/api/v1/dsp",
                    "binding": "HTTPS",
                    "serviceId": str(request.base_url).rstrip("/"),
                    "identifierType": "werk:participant",
                    "auth": {"protocol": "bearer", "version": "1"},
                }
            ]
        }
    )


@router.post("/catalog/request", operation_id="dsp_catalog_request", summary="Catalog")
async def catalog_request(
    request: Request, principal: Authenticated, message: Payload
) -> JSONResponse:
    """Answer a ``CatalogRequestMessage`` with the requester's catalog (filters unsupported)."""
    body = plain(message)
    if body.get("filter"):
        raise BadMessage("catalog filters are not supported", key="dsp.filter", field="filter")
    offers, total = await asyncio.to_thread(exchange_of(request).catalog, principal, size=500)
    return JSONResponse(
        dcat_catalog(
            offers,
            participant=principal.participant,
            endpoint=dsp_endpoint(request),
            total=total,
            page=1,
            size=500,
        )
    )


@router.get("/catalog/datasets/{dataset_id:path}", operation_id="dsp_dataset", summary="Dataset")
async def dataset(request: Request, principal: Authenticated, dataset_id: str) -> JSONResponse:
    """Return one dataset of the requester's catalog (404 if it may not see it)."""
    offers, _ = await asyncio.to_thread(exchange_of(request).catalog, principal, size=500)
    for offer in offers:
        shown = offer.dataset(dsp_endpoint(request))
        if dataset_id in (shown["@id"], offer.asset.id):
            return JSONResponse({"@context": [DSPACE_CONTEXT], **shown})
    raise NotFound(f"no dataset {dataset_id!r}", key="dsp.unknown_dataset", id=dataset_id)


@router.post(
    "/negotiations/request", operation_id="dsp_negotiation_request", summary="Contract request"
)
async def negotiation_request(
    request: Request, principal: Authenticated, message: Payload
) -> JSONResponse:
    """Open a negotiation with an initial ``ContractRequestMessage`` (201)."""
    body = plain(message)
    if str(body.get("@type", "")).removeprefix("dspace:") != "ContractRequestMessage":
        raise BadMessage(
            "expected a ContractRequestMessage", key="dsp.invalid_message", field="@type"
        )
    if body.get("providerPid"):
        raise BadMessage(
            "an initial request has no providerPid", key="dsp.invalid_message", field="providerPid"
        )
    found = await asyncio.to_thread(exchange_of(request).request, principal, body)
    return JSONResponse(negotiation_object(found), status_code=201)


@router.get("/negotiations/{pid}", operation_id="dsp_negotiation", summary="Negotiation state")
async def negotiation(request: Request, principal: Authenticated, pid: str) -> JSONResponse:
    """Return the negotiation's state (404 unless the caller is a party)."""
    found = await asyncio.to_thread(exchange_of(request).negotiation, principal, pid)
    return JSONResponse(negotiation_object(found))


async def _message(
    request: Request,
    principal: Authenticated,
    pid: str,
    message: dict[str, object],
    expect: set[str],
) -> JSONResponse:
    body = plain(message)
    kind = message_of(str(body.get("@type", "")), body.get("eventType"))  # type: ignore[arg-type]
    if kind.value.split(":")[0] not in expect:
        raise BadMessage(
            f"{kind.value} does not belong on this endpoint",
            key="dsp.invalid_message",
            field="@type",
        )
    if body.get("providerPid") not in (None, pid):
        raise BadMessage(
            "providerPid does not match", key="dsp.invalid_message", field="providerPid"
        )
    found = await asyncio.to_thread(exchange_of(request).receive, principal, pid, kind, body)
    return JSONResponse(negotiation_object(found))


@router.post("/negotiations/{pid}/request", operation_id="dsp_counter_request", summary="Counter")
async def counter_request(
    request: Request, principal: Authenticated, pid: str, message: Payload
) -> JSONResponse:
    """A consumer's counter-request (``ContractRequestMessage``)."""
    return await _message(request, principal, pid, message, {Message.REQUEST.value})


@router.post("/negotiations/{pid}/events", operation_id="dsp_negotiation_event", summary="Event")
async def event(
    request: Request, principal: Authenticated, pid: str, message: Payload
) -> JSONResponse:
    """``ContractNegotiationEventMessage``: ACCEPTED from the consumer, FINALIZED from the
    provider (400 from the wrong party or state)."""
    return await _message(request, principal, pid, message, {"ContractNegotiationEventMessage"})


@router.post(
    "/negotiations/{pid}/agreement/verification",
    operation_id="dsp_agreement_verification",
    summary="Verification",
)
async def verification(
    request: Request, principal: Authenticated, pid: str, message: Payload
) -> JSONResponse:
    """The consumer's ``ContractAgreementVerificationMessage``; the provider finalizes."""
    return await _message(request, principal, pid, message, {Message.VERIFICATION.value})


@router.post("/negotiations/{pid}/agreement", operation_id="dsp_agreement", summary="Agreement")
async def agreement(
    request: Request, principal: Authenticated, pid: str, message: Payload
) -> JSONResponse:
    """The provider's ``ContractAgreementMessage`` (the owner agreeing by hand)."""
    return await _message(request, principal, pid, message, {Message.AGREEMENT.value})


@router.post("/negotiations/{pid}/offers", operation_id="dsp_counter_offer", summary="Offer")
async def offers(
    request: Request, principal: Authenticated, pid: str, message: Payload
) -> JSONResponse:
    """The provider's counter-offer (``ContractOfferMessage``)."""
    return await _message(request, principal, pid, message, {Message.OFFER.value})


@router.post(
    "/negotiations/{pid}/termination", operation_id="dsp_termination", summary="Termination"
)
async def termination(
    request: Request, principal: Authenticated, pid: str, message: Payload
) -> JSONResponse:
    """``ContractNegotiationTerminationMessage`` from either party (optional code, reason)."""
    return await _message(request, principal, pid, message, {Message.TERMINATION.value})
