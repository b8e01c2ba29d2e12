"""Decide every read of stored data: the one door (ARCHITECTURE.md, "Reads go through one door").

Every read — API, dashboard, KPIs for a caller, export, live stream — is described as a
:class:`ReadRequest` and handed to :meth:`ReadDoor.decide` with the calling
:class:`~werk.sharing.principal.Principal`. The answer is a :class:`Decision`: permitted or not,
the :class:`Scope` the read is narrowed to (paths, signals, time window, aggregation floor) and
machine-readable reasons. The caller reads only inside the scope, then reports how many rows it
returned with :meth:`ReadDoor.record`, which writes the audit record.

Two ways through the door:

* **Roles** (the owner's own people): a request without an agreement is decided by the
  principal's role grants. A path covered by a grant is permitted as asked; a prefix of which
  only parts are granted is narrowed to those parts; a path with no grant is *not found* — the
  caller learns nothing about it, not even that it exists.
* **Agreements** (everyone else): a request naming an agreement is decided by the
  :class:`AgreementDecider` plugged in by :mod:`werk.sharing` (policies, use counters, lifecycle).
  Without one, it is denied.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc

from werk.errors import Forbidden, NotFound
from werk.sharing.principal import Principal, Role, covers
from werk.store.series import under


class ReadKind(StrEnum):
    """What is being read."""

    SERIES = "series"
    LATEST = "latest"
    RANGE = "range"
    EVENTS = "events"
    KPI = "kpi"
    LOSSES = "losses"
    ASSETS = "assets"
    EXPORT = "export"
    STREAM = "stream"
    PREDICTIONS = "predictions"


class Category(StrEnum):
    """Data categories an owner offers separately (ODRL targets)."""

    RAW = "raw"
    """Samples of signals, raw or downsampled."""
    STATES = "states"
    """Machine state changes, alarms, orders and products (events)."""
    KPIS = "kpis"
    """ISO 22400 KPIs and losses computed from the owner's data."""
    QUALITY = "quality"
    """Part counts, scrap and quality results."""
    METADATA = "metadata"
    """The asset tree and the list of series."""


CATEGORY_OF: dict[ReadKind, Category] = {
    ReadKind.SERIES: Category.METADATA,
    ReadKind.ASSETS: Category.METADATA,
    ReadKind.LATEST: Category.RAW,
    ReadKind.RANGE: Category.RAW,
    ReadKind.EXPORT: Category.RAW,
    ReadKind.STREAM: Category.RAW,
    ReadKind.PREDICTIONS: Category.RAW,
    ReadKind.EVENTS: Category.STATES,
    ReadKind.KPI: Category.KPIS,
    ReadKind.LOSSES: Category.KPIS,
}


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """A read as the caller asked for it.

    Attributes:
        kind: What is read.
        path: Asset path or prefix ("" for everything).
        signals: Only these signals (None: all).
        start: Start of the time window (None: unbounded or not time-based).
        end: End of the time window, exclusive.
        bucket: Aggregation bucket width; None means raw samples.
        agreement: The agreement a non-owner reads under.
        purpose: The purpose the read is made for (ODRL ``purpose``).
        category: Data category; derived from ``kind`` when not given.
    """

    kind: ReadKind
    path: str = ""
    signals: tuple[str, ...] | None = None
    start: datetime | None = None
    end: datetime | None = None
    bucket: timedelta | None = None
    agreement: str | None = None
    purpose: str | None = None
    category: Category | None = None

    @property
    def data_category(self) -> Category:
        """The category this read touches."""
        return self.category or CATEGORY_OF[self.kind]


@dataclass(frozen=True, slots=True)
class Scope:
    """What a permitted read may return.

    Attributes:
        paths: Path prefixes the read may touch (never wider than the request's path).
        signals: Signals it may return (None: all).
        start: Earliest time it may return (None: as asked).
        end: Latest time, exclusive (None: as asked).
        bucket_floor: Narrowest aggregation bucket allowed (None: raw samples allowed).
    """

    paths: tuple[str, ...]
    signals: frozenset[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    bucket_floor: timedelta | None = None

    def window(
        self, start: datetime | None, end: datetime | None
    ) -> tuple[datetime | None, datetime | None]:
        """Clamp a requested window to the scope's."""
        if self.start is not None and (start is None or start < self.start):
            start = self.start
        if self.end is not None and (end is None or end > self.end):
            end = self.end
        return start, end

    def bucket(self, requested: timedelta | None) -> timedelta | None:
        """Return the bucket to read with: the requested one, raised to the floor."""
        if self.bucket_floor is None:
            return requested
        if requested is None or requested < self.bucket_floor:
            return self.bucket_floor
        return requested

    def filter(self, table: pa.Table) -> pa.Table:
        """Keep only the rows of ``table`` inside the scope (columns ``path``, ``signal``, ``ts``
        where present); vectorised, so a 100k-row latest table costs milliseconds."""
        mask: pa.ChunkedArray | pa.Array | None = None

        def both(
            a: pa.ChunkedArray | pa.Array | None, b: pa.ChunkedArray | pa.Array
        ) -> pa.ChunkedArray | pa.Array:
            return b if a is None else pc.and_(a, b)

        names = table.column_names
        if "path" in names and self.paths != ("",):
            paths = table.column("path")
            keep = None
            for prefix in self.paths:
                one = under(paths, prefix)
                keep = one if keep is None else pc.or_(keep, one)
            if keep is None:
                return table.slice(0, 0)
            mask = keep
        if "signal" in names and self.signals is not None:
            mask = both(mask, pc.is_in(table.column("signal"), pa.array(sorted(self.signals))))
        if "ts" in names and self.start is not None:
            mask = both(mask, pc.greater_equal(table.column("ts"), pa.scalar(self.start)))
        if "ts" in names and self.end is not None:
            mask = both(mask, pc.less(table.column("ts"), pa.scalar(self.end)))
        return table if mask is None else table.filter(mask)

    def allows(self, path: str) -> bool:
        """Return whether ``path`` lies inside the scope."""
        return any(covers(p, path) for p in self.paths)


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a read was narrowed or denied, machine-readable (``code``) and for people."""

    code: str
    detail: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The door's answer to one read."""

    principal: Principal
    request: ReadRequest
    permitted: bool
    scope: Scope | None = None
    reasons: tuple[Reason, ...] = ()
    agreement: str | None = None
    policy_hash: str | None = None
    owner: str | None = None
    """Participant that owns the data read (None when the read is the owner's own)."""
    hidden: bool = False
    """Deny as *not found*: the caller may not learn the thing exists."""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def narrowed(self) -> bool:
        """Whether the scope is narrower than what was asked."""
        return any(r.code.startswith("narrowed.") for r in self.reasons)

    def check(self) -> Scope:
        """Return the scope of a permitted read; raise for a denied one.

        Raises:
            NotFound: the read is denied and the caller may not learn the path exists.
            Forbidden: the read is denied; the reasons say why.
        """
        if self.permitted and self.scope is not None:
            return self.scope
        detail = "; ".join(r.detail for r in self.reasons) or "read denied"
        codes = [r.code for r in self.reasons]
        if self.hidden:
            raise NotFound(
                f"nothing at {self.request.path or '/'!r}",
                key="access.not_found",
                path=self.request.path,
            )
        raise Forbidden(
            detail,
            key="sharing.denied",
            path=self.request.path,
            agreement=self.request.agreement,
            reasons=codes,
        )


class AgreementDecider(Protocol):
    """Decides reads made under an agreement (implemented by :mod:`werk.sharing`)."""

    def decide(self, principal: Principal, request: ReadRequest) -> Decision:
        """Permit, narrow or deny a read naming ``request.agreement``."""
        ...


class AuditSink(Protocol):
    """Keeps the record of every decision (implemented by :mod:`werk.sharing`)."""

    def record(self, decision: Decision, rows: int | None) -> None:
        """Append one record: who, what, agreement, policy hash, decision, rows returned."""
        ...


class ReadDoor:
    """The one decision point every read passes.

    Args:
        agreements: Decides reads under agreements; without one, such reads are denied.
        audit: Where decisions are recorded; without one, nothing is recorded.
    """

    def __init__(
        self, agreements: AgreementDecider | None = None, audit: AuditSink | None = None
    ) -> None:
        self.agreements = agreements
        self.audit = audit

    def decide(self, principal: Principal, request: ReadRequest) -> Decision:
        """Return the decision for ``request`` made by ``principal`` (not yet recorded)."""
        if request.agreement is not None:
            if self.agreements is None:
                return Decision(
                    principal,
                    request,
                    permitted=False,
                    reasons=(Reason("sharing.disabled", "this server does not share data"),),
                    agreement=request.agreement,
                )
            return self.agreements.decide(principal, request)
        return decide_by_roles(principal, request)

    def record(self, decision: Decision, rows: int | None = None) -> None:
        """Record a decision and how many rows the read returned (None: denied, nothing read)."""
        if self.audit is not None:
            self.audit.record(decision, rows)

    def check(self, principal: Principal, request: ReadRequest) -> tuple[Decision, Scope]:
        """Decide, record a denial at once, and return (decision, scope) of a permitted read.

        Raises:
            NotFound: see :meth:`Decision.check`.
            Forbidden: see :meth:`Decision.check`.
        """
        decision = self.decide(principal, request)
        if not decision.permitted:
            self.record(decision, None)
        return decision, decision.check()


def decide_by_roles(principal: Principal, request: ReadRequest) -> Decision:
    """Decide a read without an agreement from the principal's role grants alone."""
    if principal.role == Role.EDGE:
        return Decision(
            principal,
            request,
            permitted=False,
            reasons=(Reason("access.edge_key", "edge keys may only send data"),),
        )
    visible = principal.visible_under(request.path)
    if not visible:
        return Decision(
            principal,
            request,
            permitted=False,
            hidden=True,
            reasons=(Reason("access.no_grant", f"no role on {request.path or '/'!r}"),),
        )
    reasons: tuple[Reason, ...] = ()
    if visible != (request.path,):
        reasons = (
            Reason("narrowed.paths", f"only {', '.join(visible)} of {request.path or '/'!r}"),
        )
    scope = Scope(paths=visible, signals=frozenset(request.signals) if request.signals else None)
    return Decision(principal, request, permitted=True, scope=scope, reasons=reasons)


def with_reason(decision: Decision, reason: Reason) -> Decision:
    """Return ``decision`` with one more reason."""
    return replace(decision, reasons=(*decision.reasons, reason))
