"""Hold agreements: the ODRL ``Agreement`` a negotiation ends in, and its platform lifecycle.

An agreement is the terms a consumer (assignee) may read an owner's (assigner's) asset under:
the asset snapshot, the usage policy in canonical form and its hash, the offer version it came
from. DSP has no way to cancel an agreement; like Tractus-X's provider-side retirement, werk gives
it a status the read door checks on every read::

    ACTIVE ⇄ SUSPENDED
    ACTIVE | SUSPENDED → EXPIRED | REVOKED | SUPERSEDED   (terminal)

``EXPIRED`` is set when a read finds the use period (``dateTime``) over; ``SUPERSEDED`` when a
newer agreement between the same parties for the same asset is finalized (no gap between them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final

from werk.errors import Conflict
from werk.sharing.catalog import DataAsset
from werk.sharing.policy import Policy


class Status(StrEnum):
    """Where an agreement stands."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"


LIFECYCLE: Final[dict[Status, frozenset[Status]]] = {
    Status.ACTIVE: frozenset({Status.SUSPENDED, Status.EXPIRED, Status.REVOKED, Status.SUPERSEDED}),
    Status.SUSPENDED: frozenset({Status.ACTIVE, Status.EXPIRED, Status.REVOKED, Status.SUPERSEDED}),
    Status.EXPIRED: frozenset(),
    Status.REVOKED: frozenset(),
    Status.SUPERSEDED: frozenset(),
}
"""Legal status changes."""


def change_status(current: Status, new: Status, agreement_id: str) -> Status:
    """Return ``new`` if an agreement may go there from ``current``.

    Raises:
        Conflict: the change is not allowed (a terminal agreement stays terminal).
    """
    if new not in LIFECYCLE[current]:
        raise Conflict(
            f"agreement {agreement_id} is {current.value}; it cannot become {new.value}",
            key="sharing.illegal_status",
            agreement=agreement_id,
            current=current.value,
        )
    return new


@dataclass(frozen=True, slots=True)
class Agreement:
    """An agreement and its status.

    Attributes:
        id: ``urn:uuid:...``.
        offer: The offer it came from, and that offer's version.
        offer_version: Version of the offer document it was made from.
        negotiation: Provider pid of the negotiation that made it.
        asset: The asset snapshot (target).
        assigner: Owner participant.
        assignee: Consumer participant.
        policy: Canonical usage policy.
        policy_hash: Its hash.
        timestamp: When it was agreed.
        status: Current status.
        reason: Why it got its current status (revocation reason, ...).
        version: Stored document version.
    """

    id: str
    offer: str
    offer_version: int
    negotiation: str
    asset: DataAsset
    assigner: str
    assignee: str
    policy: dict[str, object]
    policy_hash: str
    timestamp: datetime
    status: Status = Status.ACTIVE
    reason: str | None = None
    version: int = field(default=0, compare=False)

    def body(self) -> dict[str, object]:
        """Return the stored JSON form."""
        return {
            "id": self.id,
            "offer": self.offer,
            "offer_version": self.offer_version,
            "negotiation": self.negotiation,
            "asset": self.asset.body(),
            "assigner": self.assigner,
            "assignee": self.assignee,
            "policy": self.policy,
            "policy_hash": self.policy_hash,
            "timestamp": self.timestamp.isoformat(),
            "status": self.status.value,
            "reason": self.reason,
        }

    @classmethod
    def from_body(cls, body: Mapping[str, object], version: int = 0) -> Agreement:
        """Build an agreement from its stored form."""
        asset, policy = body["asset"], body["policy"]
        assert isinstance(asset, dict)
        assert isinstance(policy, dict)
        reason = body.get("reason")
        return cls(
            id=str(body["id"]),
            offer=str(body["offer"]),
            offer_version=int(str(body["offer_version"])),
            negotiation=str(body["negotiation"]),
            asset=DataAsset.from_body(asset),
            assigner=str(body["assigner"]),
            assignee=str(body["assignee"]),
            policy=policy,
            policy_hash=str(body["policy_hash"]),
            timestamp=datetime.fromisoformat(str(body["timestamp"])),
            status=Status(str(body["status"])),
            reason=str(reason) if reason is not None else None,
            version=version,
        )

    def parsed_policy(self) -> Policy:
        """Return the usage policy parsed."""
        return Policy.parse(self.policy)

    def odrl(self) -> dict[str, object]:
        """Return the agreement as an ODRL ``Agreement`` (as in a ContractAgreementMessage)."""
        return {
            "@id": self.id,
            "@type": "Agreement",
            "target": f"urn:werk:asset:{self.asset.id}",
            "assigner": self.assigner,
            "assignee": self.assignee,
            "timestamp": self.timestamp.isoformat().replace("+00:00", "Z"),
            **self.policy,
        }
