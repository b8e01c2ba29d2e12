"""Describe what owners offer: data assets, offers, and the DCAT catalog a requester sees (pure).

A :class:`DataAsset` is the unit of ownership: an owner participant, a scope (asset path prefix),
the data categories it covers and optionally a signal allow-list. An :class:`Offer` (EDC's
contract definition) puts an asset under two policies: the *access* policy decides who sees the
offer in the catalog, the *usage* policy becomes the terms of the agreement. :func:`dcat_catalog`
renders the offers visible to one requester in the shape of a DSP ``Catalog`` (DCAT 3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from werk.assets.paths import validate_path, validate_signal
from werk.errors import InvalidInput, PathError
from werk.sharing.door import Category
from werk.sharing.participants import validate_id

DSPACE_CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"


def _invalid(message: str, field_name: str) -> InvalidInput:
    return InvalidInput(message, key="sharing.invalid", field=field_name)


@dataclass(frozen=True, slots=True)
class DataAsset:
    """Data an owner may share.

    Attributes:
        id: Slug naming the asset (unique per platform).
        owner: The participant holding the data.
        scope: Asset path prefix the data lies under.
        categories: Data categories it covers.
        signals: Signals it is limited to (None: all under the scope).
        title: Shown in the catalog.
        description: Shown in the catalog.
    """

    id: str
    owner: str
    scope: str
    categories: frozenset[Category]
    signals: frozenset[str] | None = None
    title: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        validate_id(self.id)
        try:
            validate_path(self.scope)
            for signal in self.signals or ():
                validate_signal(signal)
        except PathError as exc:
            raise _invalid(exc.message, "scope") from exc
        if not self.categories:
            raise _invalid(f"data asset {self.id!r} needs at least one category", "categories")

    def body(self) -> dict[str, object]:
        """Return the JSON form."""
        return {
            "id": self.id,
            "owner": self.owner,
            "scope": self.scope,
            "categories": sorted(str(c) for c in self.categories),
            "signals": sorted(self.signals) if self.signals is not None else None,
            "title": self.title,
            "description": self.description,
        }

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> DataAsset:
        """Build an asset from its JSON form.

        Raises:
            InvalidInput: a field is missing or wrong; ``field`` names it.
        """
        try:
            categories = body.get("categories") or []
            signals = body.get("signals")
            assert isinstance(categories, list)
            assert signals is None or isinstance(signals, list)
            return cls(
                id=str(body["id"]),
                owner=str(body.get("owner", "")),
                scope=str(body["scope"]),
                categories=frozenset(Category(str(c)) for c in categories),
                signals=frozenset(str(s) for s in signals) if signals is not None else None,
                title=str(body.get("title") or ""),
                description=str(body.get("description") or ""),
            )
        except KeyError as exc:
            raise _invalid(f"data asset: {exc.args[0]!r} is missing", str(exc.args[0])) from exc
        except (ValueError, AssertionError) as exc:
            raise _invalid(f"data asset: {exc}", "categories") from exc


@dataclass(frozen=True, slots=True)
class Offer:
    """An asset offered under an access and a usage policy.

    Attributes:
        id: Offer id (``urn:uuid:...``), stable across versions.
        asset: The asset offered (a snapshot as published).
        access_policy: Canonical access policy (who sees the offer).
        usage_policy: Canonical usage policy (the agreement's terms).
        usage_hash: Hash of the usage policy.
        auto_accept: The owner pre-approved: matching requests are agreed without a person.
        active: False once withdrawn (existing agreements stay).
        created_at: When it was published.
        version: Stored version of the offer document.
    """

    id: str
    asset: DataAsset
    access_policy: dict[str, object]
    usage_policy: dict[str, object]
    usage_hash: str
    auto_accept: bool = False
    active: bool = True
    created_at: datetime | None = None
    version: int = field(default=0, compare=False)

    @property
    def owner(self) -> str:
        """The participant offering the data."""
        return self.asset.owner

    def body(self) -> dict[str, object]:
        """Return the JSON form."""
        return {
            "id": self.id,
            "asset": self.asset.body(),
            "access_policy": self.access_policy,
            "usage_policy": self.usage_policy,
            "usage_hash": self.usage_hash,
            "auto_accept": self.auto_accept,
            "active": self.active,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }

    @classmethod
    def from_body(cls, body: Mapping[str, object], version: int = 0) -> Offer:
        """Build an offer from its stored form."""
        asset = body["asset"]
        access, usage = body["access_policy"], body["usage_policy"]
        assert isinstance(asset, dict)
        assert isinstance(access, dict)
        assert isinstance(usage, dict)
        created = body.get("created_at")
        return cls(
            id=str(body["id"]),
            asset=DataAsset.from_body(asset),
            access_policy=access,
            usage_policy=usage,
            usage_hash=str(body["usage_hash"]),
            auto_accept=bool(body.get("auto_accept")),
            active=bool(body.get("active", True)),
            created_at=datetime.fromisoformat(created) if isinstance(created, str) else None,
            version=version,
        )

    def odrl_offer(self) -> dict[str, object]:
        """Return the offer as an ODRL ``Offer`` embedded in a dataset (no ``target``: DSP)."""
        return {
            "@id": self.id,
            "@type": "Offer",
            "assigner": self.owner,
            **self.usage_policy,
            "werk:policyHash": self.usage_hash,
            "werk:autoAccept": self.auto_accept,
        }

    def dataset(self, endpoint: str) -> dict[str, object]:
        """Return the DCAT ``Dataset`` of this offer."""
        asset = self.asset
        return {
            "@id": f"urn:werk:asset:{asset.id}",
            "@type": "Dataset",
            "title": asset.title or asset.id,
            "description": asset.description,
            "werk:owner": asset.owner,
            "werk:scope": asset.scope,
            "werk:categories": sorted(str(c) for c in asset.categories),
            "werk:signals": sorted(asset.signals) if asset.signals is not None else None,
            "hasPolicy": [self.odrl_offer()],
            "distribution": [
                {"@type": "Distribution", "format": "HttpData-PULL", "accessService": endpoint}
            ],
        }


def dcat_catalog(
    offers: Sequence[Offer],
    *,
    participant: str,
    endpoint: str,
    total: int,
    page: int,
    size: int,
) -> dict[str, object]:
    """Return one page of a DSP ``Catalog`` holding ``offers`` (already filtered and paged)."""
    return {
        "@context": [DSPACE_CONTEXT],
        "@id": f"urn:werk:catalog:{participant}",
        "@type": "Catalog",
        "participantId": participant,
        "service": [{"@id": "urn:werk:dsp", "@type": "DataService", "endpointURL": endpoint}],
        "dataset": [o.dataset(endpoint) for o in offers],
        "werk:total": total,
        "werk:page": page,
        "werk:size": size,
    }
