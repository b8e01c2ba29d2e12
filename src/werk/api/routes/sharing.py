"""Manage sharing: data assets, offers, the catalog, negotiations, agreements and the audit log.

Owners publish assets and offers, approve or counter requests and suspend or revoke agreements;
consumers browse their catalog, negotiate (the protocol side lives in :mod:`.dsp`) and list what
they were granted. Everyone sees the audit records that concern them: owners every access to
their data, consumers their own reads. Plain JSON; the policy schema is published at
``/api/v1/sharing/policy-schema.json``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from werk.api.auth import Authenticated
from werk.errors import Forbidden
from werk.sharing.agreements import Agreement, Status
from werk.sharing.audit import verify
from werk.sharing.catalog import DataAsset, Offer, dcat_catalog
from werk.sharing.exchange import Exchange
from werk.sharing.negotiation import Message
from werk.sharing.policy import ACTIONS, DUTIES, OPERANDS, schema
from werk.sharing.principal import PLATFORM, Role

router = APIRouter(prefix="/sharing", tags=["sharing"])


def exchange_of(request: Request) -> Exchange:
    """Return the app's sharing exchange (built with the read door)."""
    found: Exchange = request.app.state.sharing
    return found


def dsp_endpoint(request: Request) -> str:
    """Return the DSP base URL of this server."""
    return str(request.base_url).rstrip("/") + "/api/v1/dsp"


class AssetCreate(BaseModel):
    """A data asset to register."""

    id: str = Field(description="Slug naming the asset.")
    scope: str = Field(description="Asset path prefix the data lies under.")
    categories: list[Literal["raw", "states", "kpis", "quality", "metadata"]] = Field(
        description="Data categories it covers."
    )
    signals: list[str] | None = Field(None, description="Only these signals (none: all).")
    title: str = ""
    description: str = ""
    owner: str | None = Field(None, description="Owner participant (platform admins only).")


class OfferCreate(BaseModel):
    """An offer to publish."""

    asset: str = Field(description="Id of the data asset.")
    usage_policy: dict[str, object] = Field(description="ODRL usage policy (the terms).")
    access_policy: dict[str, object] | None = Field(
        None, description="ODRL access policy: who sees the offer (none: every participant)."
    )
    auto_accept: bool = Field(False, description="Agree to matching requests without a person.")


class NegotiationCreate(BaseModel):
    """Ask for an offer's terms (or others: then the owner decides by hand)."""

    offer: str = Field(description="Offer id.")
    policy: dict[str, object] | None = Field(
        None, description="Terms asked for (none: the offer's)."
    )


class StatusChange(BaseModel):
    """Why an agreement changes status."""

    reason: str | None = None


class Counter(BaseModel):
    """A provider's counter-offer."""

    policy: dict[str, object]


def asset_public(asset: DataAsset) -> dict[str, object]:
    """Return an asset's JSON form."""
    return asset.body()


def offer_public(offer: Offer) -> dict[str, object]:
    """Return an offer's JSON form with its version."""
    return {**offer.body(), "version": offer.version}


def agreement_public(agreement: Agreement) -> dict[str, object]:
    """Return an agreement's JSON form with its version."""
    return {**agreement.body(), "version": agreement.version}


@router.get("/policy-schema.json", operation_id="sharing_policy_schema", summary="Policy schema")
async def policy_schema() -> JSONResponse:
    """Return the JSON Schema of usage and access policies."""
    return JSONResponse(schema(), media_type="application/schema+json")


@router.get("/vocabulary", operation_id="sharing_vocabulary", summary="Policy vocabulary")
async def vocabulary() -> dict[str, object]:
    """Return the left operands (type, operators, narrows or decides, technical or legal), the
    actions and the duties werk enforces; anything else in a policy denies."""
    return {
        "operands": [
            {
                "name": o.name,
                "type": o.type,
                "operators": sorted(o.operators),
                "narrows": o.narrows,
                "access": o.access,
                "mode": o.mode,
                "description": o.description,
            }
            for o in OPERANDS.values()
        ],
        "actions": {name: sorted(covers) for name, covers in ACTIONS.items()},
        "duties": dict(DUTIES),
    }


@router.get("/assets", operation_id="list_data_assets", summary="Data assets you own")
async def list_assets(request: Request, principal: Authenticated) -> list[dict[str, object]]:
    """List the data assets of your participant."""
    found = await asyncio.to_thread(exchange_of(request).assets, principal)
    return [asset_public(a) for a in found]


@router.post("/assets", operation_id="create_data_asset", status_code=201, summary="Register")
async def create_asset(
    request: Request, principal: Authenticated, body: AssetCreate
) -> dict[str, object]:
    """Register a data asset under a path prefix your participant owns."""
    data = body.model_dump()
    if data["owner"] is None:
        data.pop("owner")
    asset = await asyncio.to_thread(exchange_of(request).create_asset, principal, data)
    return asset_public(asset)


@router.get("/offers", operation_id="list_offers", summary="Offers you published")
async def list_offers(request: Request, principal: Authenticated) -> list[dict[str, object]]:
    """List your participant's offers."""
    found = await asyncio.to_thread(exchange_of(request).offers, principal)
    return [offer_public(o) for o in found]


@router.post("/offers", operation_id="publish_offer", status_code=201, summary="Publish an offer")
async def publish(
    request: Request, principal: Authenticated, body: OfferCreate
) -> dict[str, object]:
    """Offer a data asset under a usage policy (422 with ``problems`` if werk cannot enforce
    it)."""
    offer = await asyncio.to_thread(
        exchange_of(request).publish,
        principal,
        body.asset,
        body.usage_policy,
        body.access_policy,
        auto_accept=body.auto_accept,
    )
    return offer_public(offer)


@router.delete("/offers/{offer_id}", operation_id="withdraw_offer", summary="Withdraw an offer")
async def withdraw(request: Request, principal: Authenticated, offer_id: str) -> dict[str, object]:
    """Withdraw an offer; agreements made from it stay."""
    offer = await asyncio.to_thread(exchange_of(request).withdraw, principal, offer_id)
    return offer_public(offer)


@router.get("/catalog", operation_id="sharing_catalog", summary="Offers you may request")
async def catalog(
    request: Request,
    principal: Authenticated,
    page: Annotated[int, Query(ge=1, description="Page, from 1.")] = 1,
    size: Annotated[int, Query(ge=1, le=500, description="Datasets per page.")] = 50,
) -> JSONResponse:
    """Return your catalog (DCAT): the offers whose access policy you satisfy. Pages are linked
    with ``Link: <...>; rel="next"`` as in the DSP catalog binding."""
    ex = exchange_of(request)
    offers, total = await asyncio.to_thread(ex.catalog, principal, page=page, size=size)
    body = dcat_catalog(
        offers,
        participant=principal.participant,
        endpoint=dsp_endpoint(request),
        total=total,
        page=page,
        size=size,
    )
    links = []
    base = str(request.url.remove_query_params(["page", "size"]))
    if page * size < total:
        links.append(f'<{base}?page={page + 1}&size={size}>; rel="next"')
    if page > 1:
        links.append(f'<{base}?page={page - 1}&size={size}>; rel="previous"')
    headers = {"Link": ", ".join(links)} if links else None
    return JSONResponse(body, headers=headers)


@router.get("/negotiations", operation_id="list_negotiations", summary="Your negotiations")
async def list_negotiations(request: Request, principal: Authenticated) -> list[dict[str, object]]:
    """List the negotiations your participant is a party to (with every message)."""
    return await asyncio.to_thread(exchange_of(request).negotiations, principal)


@router.post(
    "/negotiations", operation_id="start_negotiation", status_code=201, summary="Ask for an offer"
)
async def start(
    request: Request, principal: Authenticated, body: NegotiationCreate
) -> dict[str, object]:
    """Send a ``ContractRequestMessage`` for an offer; a pre-approved offer comes back AGREED
    and is verified at once, so the answer is FINALIZED with its ``agreement_id``."""
    message: dict[str, object] = {
        "@type": "ContractRequestMessage",
        "offer": {"@id": body.offer, **(body.policy or {})},
        "callbackAddress": dsp_endpoint(request),
    }
    ex = exchange_of(request)
    found = await asyncio.to_thread(ex.request, principal, message)
    if found["state"] == "AGREED":
        found = await asyncio.to_thread(
            ex.receive,
            principal,
            str(found["providerPid"]),
            Message.VERIFICATION,
            {"@type": "ContractAgreementVerificationMessage"},
        )
    return found


@router.get("/negotiations/{pid}", operation_id="get_negotiation", summary="One negotiation")
async def get_negotiation(
    request: Request, principal: Authenticated, pid: str
) -> dict[str, object]:
    """Return a negotiation with every message (404 unless you are a party)."""
    return await asyncio.to_thread(exchange_of(request).negotiation, principal, pid)


async def _send(
    request: Request,
    principal: Authenticated,
    pid: str,
    message: Message,
    payload: dict[str, object],
) -> dict[str, object]:
    return await asyncio.to_thread(exchange_of(request).receive, principal, pid, message, payload)


@router.post("/negotiations/{pid}/approve", operation_id="approve_negotiation", summary="Agree")
async def approve(request: Request, principal: Authenticated, pid: str) -> dict[str, object]:
    """As the owner, agree to a request (``ContractAgreementMessage``)."""
    return await _send(
        request, principal, pid, Message.AGREEMENT, {"@type": "ContractAgreementMessage"}
    )


@router.post("/negotiations/{pid}/offer", operation_id="counter_offer", summary="Counter-offer")
async def counter(
    request: Request, principal: Authenticated, pid: str, body: Counter
) -> dict[str, object]:
    """As the owner, answer with other terms (``ContractOfferMessage``)."""
    payload: dict[str, object] = {"@type": "ContractOfferMessage", "offer": body.policy}
    return await _send(request, principal, pid, Message.OFFER, payload)


@router.post("/negotiations/{pid}/accept", operation_id="accept_offer", summary="Accept")
async def accept(request: Request, principal: Authenticated, pid: str) -> dict[str, object]:
    """As the consumer, accept the owner's counter-offer (event ``ACCEPTED``)."""
    payload: dict[str, object] = {
        "@type": "ContractNegotiationEventMessage",
        "eventType": "ACCEPTED",
    }
    return await _send(request, principal, pid, Message.ACCEPTED, payload)


@router.post("/negotiations/{pid}/verify", operation_id="verify_agreement", summary="Verify")
async def verify_agreement(
    request: Request, principal: Authenticated, pid: str
) -> dict[str, object]:
    """As the consumer, verify the agreement; the owner's side finalizes it at once."""
    payload: dict[str, object] = {"@type": "ContractAgreementVerificationMessage"}
    return await _send(request, principal, pid, Message.VERIFICATION, payload)


@router.post("/negotiations/{pid}/terminate", operation_id="terminate_negotiation", summary="End")
async def terminate(
    request: Request, principal: Authenticated, pid: str, body: StatusChange
) -> dict[str, object]:
    """End a negotiation, as either party, with a reason."""
    payload: dict[str, object] = {
        "@type": "ContractNegotiationTerminationMessage",
        "code": "werk:rejected",
        "reason": [body.reason] if body.reason else [],
    }
    return await _send(request, principal, pid, Message.TERMINATION, payload)


@router.get("/agreements", operation_id="list_agreements", summary="Your agreements")
async def list_agreements(request: Request, principal: Authenticated) -> list[dict[str, object]]:
    """List the agreements your participant gave (as owner) or holds (as consumer)."""
    found = await asyncio.to_thread(exchange_of(request).agreements, principal)
    return [agreement_public(a) for a in found]


@router.get("/agreements/{agreement_id}", operation_id="get_agreement", summary="One agreement")
async def get_agreement(
    request: Request, principal: Authenticated, agreement_id: str
) -> dict[str, object]:
    """Return an agreement (404 unless you are a party)."""
    found = await asyncio.to_thread(exchange_of(request).visible_agreement, principal, agreement_id)
    return agreement_public(found)


@router.post(
    "/agreements/{agreement_id}/{action}", operation_id="change_agreement", summary="Lifecycle"
)
async def change(
    request: Request,
    principal: Authenticated,
    agreement_id: str,
    action: Literal["revoke", "suspend", "resume"],
    body: StatusChange | None = None,
) -> dict[str, object]:
    """As the owner, revoke, suspend or resume an agreement: effective at the next read, and
    live streams under it end within seconds."""
    status = {"revoke": Status.REVOKED, "suspend": Status.SUSPENDED, "resume": Status.ACTIVE}[
        action
    ]
    found = await asyncio.to_thread(
        exchange_of(request).set_status,
        principal,
        agreement_id,
        status,
        body.reason if body else None,
    )
    return agreement_public(found)


@router.get("/audit", operation_id="sharing_audit", summary="Access log")
async def audit(
    request: Request,
    principal: Authenticated,
    after: Annotated[int, Query(ge=0, description="Only records after this sequence number.")] = 0,
    limit: Annotated[int, Query(ge=1, le=5000, description="At most this many records.")] = 500,
    agreement: Annotated[str | None, Query(description="Only records of this agreement.")] = None,
) -> list[dict[str, object]]:
    """Return audit records that concern your participant (owners: every access to their data;
    consumers: their own reads); platform admins see all. Each record carries its hash."""
    ex = exchange_of(request)
    await asyncio.to_thread(ex.audit.flush)
    everyone = principal.participant == PLATFORM and principal.role == Role.ADMIN
    found = await asyncio.to_thread(
        ex.store.audit_entries,
        after=after,
        limit=limit,
        participant=None if everyone else principal.participant,
    )
    return [
        {"seq": e.seq, **json.loads(e.body), "prev_hash": e.prev_hash, "hash": e.hash}
        for e in found
        if agreement is None or e.agreement == agreement
    ]


@router.get("/audit/verify", operation_id="verify_audit", summary="Check the audit chain")
async def verify_audit(request: Request, principal: Authenticated) -> Response:
    """Recompute the audit chain (platform admins): altered or removed records are listed."""
    if not (principal.participant == PLATFORM and principal.role == Role.ADMIN):
        raise Forbidden("only platform admins verify the whole log", key="auth.forbidden")
    ex = exchange_of(request)
    await asyncio.to_thread(ex.audit.flush)
    result = await asyncio.to_thread(verify, ex.store)
    return JSONResponse(
        {
            "ok": result.ok,
            "records": result.records,
            "appended": result.appended,
            "problems": list(result.problems),
            "first_bad": result.first_bad,
        }
    )
