"""Run sharing over the store: data assets, offers, the catalog, negotiations and agreements.

Everything is a versioned store document (kinds ``data-asset``, ``offer``, ``negotiation``,
``agreement``), written with optimistic concurrency, and every change is an audit record. The
pure parts — policies, the negotiation state machine, the DCAT shapes — live in their own
modules; this one applies them to stored state on behalf of a principal.

Negotiations follow DSP: the consumer's ``ContractRequestMessage`` opens one (``REQUESTED``);
when the owner pre-approved the offer (``auto_accept``) and the request asks for the offer's
exact terms (same policy hash), the provider side answers with a ``ContractAgreementMessage`` at
once (``AGREED``); otherwise the owner approves or counter-offers by hand. The consumer verifies
(``VERIFIED``) and the provider finalizes (``FINALIZED``) right away: the agreement is active.
Every message is kept in the negotiation document; a terminated one keeps its code and reasons.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime

from werk.errors import Conflict, Forbidden, InvalidInput, NotFound
from werk.sharing.agreements import Agreement, Status, change_status
from werk.sharing.audit import AuditLog, change_record
from werk.sharing.catalog import DataAsset, Offer
from werk.sharing.evaluation import Context, access_permitted
from werk.sharing.negotiation import BadMessage, Message, Party, State, transition
from werk.sharing.participants import Participant, Participants, owner_of
from werk.sharing.policy import Policy, canonical, checked
from werk.sharing.principal import PLATFORM, Principal, Role
from werk.store import Store

ASSET, OFFER, NEGOTIATION, AGREEMENT = "data-asset", "offer", "negotiation", "agreement"
GENERATION = "sharing.generation"
"""Counter bumped on every agreement change, so other processes drop cached agreements."""
OPEN_ACCESS: dict[str, object] = {"permission": [{"action": "use"}]}


def agent(participant: str) -> Principal:
    """Return the principal werk acts as on a participant's behalf (pre-approved agreements,
    finalization), so the audit log says it was automatic."""
    return Principal("werk-auto", Role.ADMIN, participant, kind="key")


def _urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _now() -> datetime:
    return datetime.now(UTC)


def _not_found(what: str, ident: str) -> NotFound:
    return NotFound(
        f"no {what} {ident!r}", key=f"sharing.{what.replace(' ', '_')}_not_found", id=ident
    )


class Exchange:
    """Sharing state over the store, on behalf of principals.

    Args:
        store: Where everything is kept.
        audit: Where changes are recorded (created over ``store`` when not given).
    """

    def __init__(self, store: Store, audit: AuditLog | None = None) -> None:
        self.store = store
        self.participants = Participants(store)
        self._people: tuple[float, list[Participant]] = (0.0, [])
        self._people_lock = threading.Lock()
        self.audit = audit if audit is not None else AuditLog(store, self.owner_of)
        self.listeners: list[Callable[[str], None]] = []
        """Called with an agreement id whenever it changes (the enforcer's cache)."""

    def close(self) -> None:
        """Flush the audit log and stop its writer."""
        self.audit.close()

    # -- participants (cached: every read asks who owns a path) ----------------------------------
    def people(self) -> list[Participant]:
        """Return the participants, re-read at most every 2 s."""
        with self._people_lock:
            at, cached = self._people
            if time.monotonic() - at > 2.0:
                cached = self.participants.list()
                self._people = (time.monotonic(), cached)
            return cached

    def forget_people(self) -> None:
        """Drop the cached participants (after one was changed)."""
        with self._people_lock:
            self._people = (0.0, [])

    def owner_of(self, path: str) -> str | None:
        """Return the participant owning ``path`` (data and the KPIs computed from it)."""
        return owner_of(self.people(), path)

    def kind_of(self, participant: str) -> str | None:
        """Return the kind of a participant, None when unknown."""
        for p in self.people():
            if p.id == participant:
                return p.kind.value
        return None

    def _record(self, actor: Principal, action: str, owner: str, **fields: object) -> None:
        self.audit.append(change_record(actor=actor, action=action, owner=owner, **fields))  # type: ignore[arg-type]

    @staticmethod
    def _acts_for(principal: Principal, participant: str) -> bool:
        """Whether ``principal`` may act for ``participant`` (its own, or a platform admin)."""
        if principal.participant == participant:
            return principal.role != Role.EDGE
        return principal.participant == PLATFORM and principal.role == Role.ADMIN

    def _manage(self, principal: Principal, participant: str, path: str, what: str) -> None:
        """Require that ``principal`` may make sharing decisions for ``participant`` on ``path``:
        an admin of that participant there (sharing is the owner's decision, not a viewer's), or a
        platform admin.

        Raises:
            Forbidden: it may not.
        """
        if principal.participant == PLATFORM and principal.may(Role.ADMIN, ""):
            return
        if principal.participant == participant and principal.may(Role.ADMIN, path):
            return
        raise Forbidden(
            f"{principal.name} may not {what}: only an admin of {participant} on {path!r} may",
            key="sharing.not_owner",
            path=path,
            owner=participant,
        )

    # -- data assets -------------------------------------------------------------------------------
    def create_asset(self, principal: Principal, body: Mapping[str, object]) -> DataAsset:
        """Register a data asset owned by the principal's participant (an admin may name one).

        Raises:
            Forbidden: the owner does not own the asset's scope.
            Conflict: an asset with that id exists.
        """
        data = dict(body)
        data.setdefault("owner", principal.participant)
        asset = DataAsset.from_body(data)
        self._manage(principal, asset.owner, asset.scope, f"register data of {asset.owner}")
        self.forget_people()
        holder = self.owner_of(asset.scope)
        if holder != asset.owner:
            raise Forbidden(
                f"{asset.scope!r} belongs to {holder or 'nobody'}, not to {asset.owner}",
                key="sharing.not_owner",
                path=asset.scope,
                owner=holder,
            )
        try:
            self.store.put_document(ASSET, asset.id, asset.body(), expected_version=0)
        except Conflict as exc:
            raise Conflict(
                f"data asset {asset.id!r} exists", key="sharing.exists", id=asset.id
            ) from exc
        self._record(principal, "asset.created", asset.owner, subject=asset.id, detail=asset.body())
        return asset

    def asset(self, asset_id: str) -> DataAsset:
        """Return a data asset.

        Raises:
            NotFound: no such asset.
        """
        doc = self.store.document(ASSET, asset_id)
        if doc is None:
            raise _not_found("data asset", asset_id)
        return DataAsset.from_body(doc.body)

    def assets(self, principal: Principal) -> list[DataAsset]:
        """Return the assets the principal's participant owns (all, for the platform)."""
        out = [DataAsset.from_body(d.body) for d in self.store.documents(ASSET)]
        return [a for a in out if self._acts_for(principal, a.owner)]

    # -- offers ------------------------------------------------------------------------------------
    def publish(
        self,
        principal: Principal,
        asset_id: str,
        usage_policy: Mapping[str, object],
        access_policy: Mapping[str, object] | None = None,
        *,
        auto_accept: bool = False,
    ) -> Offer:
        """Offer an asset under a usage policy (and an access policy: who sees it).

        Raises:
            NotFound: no such asset.
            Forbidden: the principal does not act for the asset's owner.
            InvalidInput: a policy werk cannot enforce (``problems`` lists what).
        """
        asset = self.asset(asset_id)
        if not self._acts_for(principal, asset.owner):
            raise _not_found("data asset", asset_id)
        self._manage(principal, asset.owner, asset.scope, f"offer {asset_id}")
        usage = checked(usage_policy, where="usage_policy")
        access = checked(access_policy or OPEN_ACCESS, where="access_policy", access=True)
        offer = Offer(
            id=_urn(),
            asset=asset,
            access_policy=access.document,
            usage_policy=usage.document,
            usage_hash=usage.hash,
            auto_accept=auto_accept,
            created_at=_now(),
        )
        doc = self.store.put_document(OFFER, offer.id, offer.body(), expected_version=0)
        self._record(
            principal,
            "offer.published",
            asset.owner,
            subject=offer.id,
            policy_hash=usage.hash,
            detail={"asset": asset.id, "auto_accept": auto_accept},
        )
        return replace(offer, version=doc.version)

    def offer(self, offer_id: str) -> Offer:
        """Return an offer.

        Raises:
            NotFound: no such offer.
        """
        doc = self.store.document(OFFER, offer_id)
        if doc is None:
            raise _not_found("offer", offer_id)
        return Offer.from_body(doc.body, doc.version)

    def offers(self, principal: Principal) -> list[Offer]:
        """Return the offers of the principal's participant (all, for the platform)."""
        out = [Offer.from_body(d.body, d.version) for d in self.store.documents(OFFER)]
        return [o for o in out if self._acts_for(principal, o.owner)]

    def withdraw(self, principal: Principal, offer_id: str) -> Offer:
        """Withdraw an offer: no new negotiations; existing agreements stay."""
        offer = self.offer(offer_id)
        if not self._acts_for(principal, offer.owner):
            raise _not_found("offer", offer_id)
        self._manage(principal, offer.owner, offer.asset.scope, f"withdraw {offer_id}")
        gone = replace(offer, active=False)
        doc = self.store.put_document(OFFER, offer.id, gone.body(), expected_version=offer.version)
        self._record(principal, "offer.withdrawn", offer.owner, subject=offer.id)
        return replace(gone, version=doc.version)

    def context(self, principal: Principal) -> Context:
        """Return the decision context of a principal now."""
        return Context(_now(), principal.participant, self.kind_of(principal.participant))

    def visible(self, principal: Principal, offer: Offer) -> bool:
        """Whether the principal may see ``offer`` in its catalog."""
        if not offer.active or offer.owner == principal.participant:
            return False
        if principal.role == Role.EDGE:
            return False
        ok, _ = access_permitted(Policy.parse(offer.access_policy), self.context(principal))
        return ok

    def catalog(
        self, principal: Principal, *, page: int = 1, size: int = 50
    ) -> tuple[list[Offer], int]:
        """Return one page of the offers the principal may see, and how many there are."""
        if page < 1 or not 1 <= size <= 500:
            raise InvalidInput(
                "page must be >= 1 and size 1..500", key="request.invalid", field="size"
            )
        seen = [
            o
            for o in (Offer.from_body(d.body, d.version) for d in self.store.documents(OFFER))
            if self.visible(principal, o)
        ]
        return seen[(page - 1) * size : page * size], len(seen)

    # -- negotiations ------------------------------------------------------------------------------
    def _load(self, pid: str) -> tuple[dict[str, object], int]:
        doc = self.store.document(NEGOTIATION, pid)
        if doc is None:
            raise _not_found("negotiation", pid)
        return dict(doc.body), doc.version

    def _party(self, principal: Principal, body: Mapping[str, object]) -> Party | None:
        if principal.participant == body["consumer"] and principal.role != Role.EDGE:
            return "consumer"
        if self._acts_for(principal, str(body["provider"])):
            return "provider"
        return None

    def negotiation(self, principal: Principal, pid: str) -> dict[str, object]:
        """Return a negotiation to one of its parties.

        Raises:
            NotFound: no such negotiation, or the principal is no party to it (DSP: 404).
        """
        body, _ = self._load(pid)
        if self._party(principal, body) is None:
            raise _not_found("negotiation", pid)
        return body

    def negotiations(self, principal: Principal) -> list[dict[str, object]]:
        """Return the negotiations the principal's participant is a party to."""
        out = [dict(d.body) for d in self.store.documents(NEGOTIATION)]
        return [b for b in out if self._party(principal, b) is not None]

    def _step(
        self,
        principal: Principal,
        body: dict[str, object],
        version: int,
        message: Message,
        sender: Party,
        payload: Mapping[str, object],
    ) -> tuple[dict[str, object], int]:
        before = State(str(body["state"])) if body.get("state") else None
        after = transition(before, message, sender)
        at = _now()
        messages = list(body.get("messages", []))  # type: ignore[call-overload]
        messages.append(
            {
                "type": message.value,
                "sender": sender,
                "by": principal.name,
                "at": at.isoformat(),
                "from": before.value if before else None,
                "to": after.value,
                "body": dict(payload),
            }
        )
        body = {**body, "state": after.value, "messages": messages, "updated_at": at.isoformat()}
        doc = self.store.put_document(
            NEGOTIATION, str(body["providerPid"]), body, expected_version=version
        )
        self._record(
            principal,
            f"negotiation.{after.value.lower()}",
            str(body["provider"]),
            participant=str(body["consumer"]),
            subject=str(body["providerPid"]),
            agreement=str(body["agreement_id"]) if body.get("agreement_id") else None,
            policy_hash=str(body["policy_hash"]),
            detail={
                "message": message.value,
                "sender": sender,
                "from": before.value if before else None,
            },
        )
        return body, doc.version

    def request(self, principal: Principal, message: Mapping[str, object]) -> dict[str, object]:
        """Open a negotiation from a consumer's initial ``ContractRequestMessage``.

        Raises:
            InvalidInput: a malformed message, or an offer the consumer does not know (400).
        """
        offer_part = message.get("offer")
        if not isinstance(offer_part, dict) or not isinstance(offer_part.get("@id"), str):
            raise BadMessage(
                "the request needs offer.@id", key="dsp.invalid_message", field="offer"
            )
        consumer_pid = message.get("consumerPid") or _urn()
        try:
            offer = self.offer(str(offer_part["@id"]))
        except NotFound:
            offer = None
        if offer is None or not self.visible(principal, offer):
            raise BadMessage(
                f"offer {offer_part['@id']!r} is not known to this provider",
                key="dsp.unknown_offer",
                field="offer.@id",
            )
        rules = {
            k: v for k, v in offer_part.items() if k in ("permission", "prohibition", "obligation")
        }
        asked = checked(rules, where="offer") if rules else Policy.parse(offer.usage_policy)
        now = _now()
        body: dict[str, object] = {
            "providerPid": _urn(),
            "consumerPid": str(consumer_pid),
            "state": None,
            "offer": offer.id,
            "offer_version": offer.version,
            "asset": offer.asset.id,
            "consumer": principal.participant,
            "provider": offer.owner,
            "policy": asked.document,
            "policy_hash": asked.hash,
            "callbackAddress": message.get("callbackAddress"),
            "agreement_id": None,
            "agreement": None,
            "reason": None,
            "created_at": now.isoformat(),
            "messages": [],
        }
        self.store.put_document(NEGOTIATION, str(body["providerPid"]), body, expected_version=0)
        body, version = self._step(principal, body, 1, Message.REQUEST, "consumer", message)
        if offer.auto_accept and offer.active and asked.hash == offer.usage_hash:
            body, version = self._agree(agent(offer.owner), body, version, automatic=True)
        return body

    def _agree(
        self, principal: Principal, body: dict[str, object], version: int, *, automatic: bool
    ) -> tuple[dict[str, object], int]:
        agreement_id = _urn()
        offer = self.offer(str(body["offer"]))
        draft = Agreement(
            id=agreement_id,
            offer=offer.id,
            offer_version=int(str(body["offer_version"])),
            negotiation=str(body["providerPid"]),
            asset=offer.asset,
            assigner=offer.owner,
            assignee=str(body["consumer"]),
            policy=dict(body["policy"]),  # type: ignore[call-overload]
            policy_hash=str(body["policy_hash"]),
            timestamp=_now(),
        )
        body = {**body, "agreement_id": agreement_id, "agreement": draft.odrl(), "auto": automatic}
        payload = {
            "@type": "ContractAgreementMessage",
            "providerPid": body["providerPid"],
            "consumerPid": body["consumerPid"],
            "agreement": draft.odrl(),
        }
        return self._step(principal, body, version, Message.AGREEMENT, "provider", payload)

    def receive(
        self, principal: Principal, pid: str, message: Message, payload: Mapping[str, object]
    ) -> dict[str, object]:
        """Apply a message from a party to negotiation ``pid`` (DSP HTTPS binding and the owner's
        console); the provider finalizes at once after the consumer's verification.

        Raises:
            NotFound: no such negotiation, or the principal is no party to it.
            IllegalTransition: the message is not allowed now or from this party (400).
        """
        body, version = self._load(pid)
        sender = self._party(principal, body)
        if sender is None:
            raise _not_found("negotiation", pid)
        if sender == "provider":
            scope = self.offer(str(body["offer"])).asset.scope
            self._manage(principal, str(body["provider"]), scope, f"answer negotiation {pid}")
        if message == Message.AGREEMENT:
            transition(State(str(body["state"])), message, sender)  # check before drafting
            body, version = self._agree(principal, body, version, automatic=False)
            return body
        if message == Message.OFFER and sender == "provider":
            rules = payload.get("offer") or payload.get("policy")
            if rules is not None:
                policy = checked(rules, where="offer")
                body = {**body, "policy": policy.document, "policy_hash": policy.hash}
        if message == Message.REQUEST and sender == "consumer":
            offer_part = payload.get("offer")
            if isinstance(offer_part, dict):
                rules = {
                    k: v
                    for k, v in offer_part.items()
                    if k in ("permission", "prohibition", "obligation")
                }
                if rules:
                    policy = checked(rules, where="offer")
                    body = {**body, "policy": policy.document, "policy_hash": policy.hash}
        if message == Message.TERMINATION:
            reasons = payload.get("reason") or []
            body = {
                **body,
                "reason": {"code": payload.get("code"), "reason": reasons, "by": sender},
            }
        body, version = self._step(principal, body, version, message, sender, payload)
        if message == Message.VERIFICATION:
            body, version = self._finalize(agent(str(body["provider"])), body, version)
        return body

    def _finalize(
        self, principal: Principal, body: dict[str, object], version: int
    ) -> tuple[dict[str, object], int]:
        odrl = body["agreement"]
        assert isinstance(odrl, dict)
        offer = self.offer(str(body["offer"]))
        agreement = Agreement(
            id=str(body["agreement_id"]),
            offer=offer.id,
            offer_version=int(str(body["offer_version"])),
            negotiation=str(body["providerPid"]),
            asset=offer.asset,
            assigner=offer.owner,
            assignee=str(body["consumer"]),
            policy=dict(body["policy"]),  # type: ignore[call-overload]
            policy_hash=str(body["policy_hash"]),
            timestamp=datetime.fromisoformat(str(odrl["timestamp"]).replace("Z", "+00:00")),
        )
        self.store.put_document(AGREEMENT, agreement.id, agreement.body(), expected_version=0)
        payload = {"@type": "ContractNegotiationEventMessage", "eventType": "FINALIZED"}
        body, version = self._step(principal, body, version, Message.FINALIZED, "provider", payload)
        self._record(
            principal,
            "agreement.active",
            agreement.assigner,
            participant=agreement.assignee,
            agreement=agreement.id,
            policy_hash=agreement.policy_hash,
            subject=agreement.asset.id,
        )
        for older in self.store.documents(AGREEMENT):
            old = Agreement.from_body(older.body, older.version)
            if (
                old.id != agreement.id
                and old.assignee == agreement.assignee
                and old.asset.id == agreement.asset.id
                and old.status in (Status.ACTIVE, Status.SUSPENDED)
            ):
                self.set_status(
                    principal,
                    old.id,
                    Status.SUPERSEDED,
                    f"superseded by {agreement.id}",
                    check=False,
                )
        self._changed(agreement.id)
        return body, version

    # -- agreements --------------------------------------------------------------------------------
    def agreement(self, agreement_id: str) -> Agreement | None:
        """Return an agreement as stored now, or None."""
        doc = self.store.document(AGREEMENT, agreement_id)
        return Agreement.from_body(doc.body, doc.version) if doc else None

    def agreements(self, principal: Principal) -> list[Agreement]:
        """Return the agreements the principal's participant gave or holds (all, for the
        platform)."""
        out = [Agreement.from_body(d.body, d.version) for d in self.store.documents(AGREEMENT)]
        return [
            a
            for a in out
            if a.assignee == principal.participant or self._acts_for(principal, a.assigner)
        ]

    def visible_agreement(self, principal: Principal, agreement_id: str) -> Agreement:
        """Return an agreement to one of its parties.

        Raises:
            NotFound: no such agreement, or the principal is no party to it.
        """
        found = self.agreement(agreement_id)
        if found is None or not (
            found.assignee == principal.participant or self._acts_for(principal, found.assigner)
        ):
            raise _not_found("agreement", agreement_id)
        return found

    def set_status(
        self,
        principal: Principal,
        agreement_id: str,
        status: Status,
        reason: str | None,
        *,
        check: bool = True,
    ) -> Agreement:
        """Suspend, resume, revoke, expire or supersede an agreement; effective at the next read.

        Raises:
            NotFound: no such agreement visible to the principal.
            Forbidden: only the owner (or the platform) may change it.
            Conflict: the change is not allowed from its status.
        """
        for _attempt in range(5):
            current = (
                self.agreement(agreement_id)
                if not check
                else self.visible_agreement(principal, agreement_id)
            )
            if current is None:
                raise _not_found("agreement", agreement_id)
            if check:
                self._manage(
                    principal, current.assigner, current.asset.scope, f"change {agreement_id}"
                )
            change_status(current.status, status, agreement_id)
            changed = replace(current, status=status, reason=reason)
            try:
                self.store.put_document(
                    AGREEMENT, current.id, changed.body(), expected_version=current.version
                )
            except Conflict:
                continue
            break
        else:  # pragma: no cover - five concurrent changes in a row
            raise Conflict(f"agreement {agreement_id} keeps changing", key="store.version_conflict")
        self._changed(agreement_id)
        self._record(
            principal,
            f"agreement.{status.value}",
            current.assigner,
            participant=current.assignee,
            agreement=current.id,
            policy_hash=current.policy_hash,
            detail={"from": current.status.value, "reason": reason},
        )
        return changed

    def _changed(self, agreement_id: str) -> None:
        self.store.increment(GENERATION)
        for listener in self.listeners:
            listener(agreement_id)

    def terms(self, offer: Offer) -> dict[str, object]:
        """Return an offer's usage policy in canonical form (what a request must ask for)."""
        return canonical(offer.usage_policy)
