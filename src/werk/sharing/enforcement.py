"""Decide reads made under agreements: the door's :class:`~werk.sharing.door.AgreementDecider`.

For a read naming an agreement, in this order (the first failure denies):

1. the agreement exists and the caller's participant is its assignee — otherwise the caller may
   not learn it exists (*not found*);
2. it is ``active`` (suspended, expired, revoked and superseded agreements deny, saying which);
3. the read names a purpose;
4. the data category is one the asset covers (the list of series is always covered);
5. the read is narrowed to the asset's scope and signal list;
6. the usage policy is evaluated (:func:`werk.sharing.evaluation.evaluate`): purpose, use
   period, elapsed time, counts, path, signals, data window, aggregation floor, prohibitions;
7. a ``count`` limit consumes one use with the store's atomic counter, so N parallel reads under
   ``count <= N`` get exactly N permits, across processes; a live stream is one use however
   often it is re-decided.

Agreements are cached in memory by id. The cache is dropped for an agreement the moment this
process changes it (:class:`~werk.sharing.exchange.Exchange` calls :meth:`Enforcer.forget`), and
entirely whenever the store's ``sharing.generation`` counter moved — checked at most every
``recheck`` seconds (another process changed an agreement). So a revocation made through this
server takes effect on the very next read, and one made by another process within ``recheck``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from werk.errors import Conflict
from werk.samples import from_ns, to_ns
from werk.sharing.agreements import Agreement, Status
from werk.sharing.audit import AuditLog
from werk.sharing.door import Category, Decision, ReadDoor, ReadKind, ReadRequest, Reason, Scope
from werk.sharing.evaluation import (
    Context,
    changes,
    evaluate,
    narrow_paths,
    narrow_signals,
    operands,
    request_scope,
)
from werk.sharing.exchange import GENERATION, Exchange, agent
from werk.sharing.policy import Policy
from werk.sharing.principal import Principal
from werk.store import Store

Clock = Callable[[], datetime]
STREAMS_KEPT = 10_000
"""Live streams remembered as counted (a re-decision of a stream is not another use)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Enforcer:
    """Permit, narrow or deny reads under agreements.

    Args:
        exchange: Sharing state (agreements, participants).
        clock: The time decisions are made at (tests move it).
        recheck: Seconds between looks at the store's generation counter.
    """

    def __init__(self, exchange: Exchange, *, clock: Clock = _utcnow, recheck: float = 0.5) -> None:
        self.exchange = exchange
        self.store: Store = exchange.store
        self.clock = clock
        self.recheck = recheck
        self._cache: dict[str, tuple[Agreement, Policy]] = {}
        self._first_use: dict[str, datetime] = {}
        self._generation = -1
        self._epoch = 0
        # live streams re-decide the very same request object every few seconds: that is one
        # use, not one per re-decision (bounded: the oldest streams are forgotten first)
        self._streams: OrderedDict[int, ReadRequest] = OrderedDict()
        self._checked = 0.0
        self._lock = threading.Lock()
        exchange.listeners.append(self.forget)

    def forget(self, agreement_id: str) -> None:
        """Drop a cached agreement (it changed in this process)."""
        with self._lock:
            self._cache.pop(agreement_id, None)
            self._epoch += 1

    def _agreement(self, agreement_id: str) -> tuple[Agreement, Policy] | None:
        now = time.monotonic()
        if now - self._checked > self.recheck:
            generation = self.store.counter(GENERATION)
            with self._lock:
                if generation != self._generation:
                    self._cache.clear()
                    self._epoch += 1
                    self._generation = generation
                self._checked = now
        with self._lock:
            hit = self._cache.get(agreement_id)
        if hit is not None:
            return hit
        with self._lock:
            epoch = self._epoch
        found = self.exchange.agreement(agreement_id)
        if found is None:
            return None
        entry = (found, found.parsed_policy())
        with self._lock:
            # a change made while we read may have been read too late: cache only a clean read
            if self._epoch == epoch:
                self._cache[agreement_id] = entry
        return entry

    def _streaming(self, request: ReadRequest) -> bool:
        """Whether ``request`` is a live stream already counted (a re-decision of it)."""
        if request.kind != ReadKind.STREAM:
            return False
        with self._lock:
            seen = self._streams.get(id(request))
            if seen is request:
                self._streams.move_to_end(id(request))
                return True
            self._streams[id(request)] = request
            while len(self._streams) > STREAMS_KEPT:
                self._streams.popitem(last=False)
            return False

    def _stored_first(self, agreement: Agreement) -> datetime | None:
        """Return the first use recorded in the store (by any process), None before it."""
        stamp = self.store.counter(f"sharing.first_use:{agreement.id}")
        if not stamp:
            return None
        first = from_ns(stamp)
        self._first_use[agreement.id] = first
        return first

    def _first(self, agreement: Agreement, now: datetime) -> datetime:
        """Return the first use of ``agreement``, recording ``now`` if this is it (exactly once,
        across processes: a counter that can only move from 0)."""
        known = self._first_use.get(agreement.id)
        if known is not None:
            return known
        name = f"sharing.first_use:{agreement.id}"
        stamp = to_ns(now)
        self.store.increment(name, by=stamp, limit=stamp)  # only succeeds when still 0
        first = from_ns(self.store.counter(name))
        self._first_use[agreement.id] = first
        return first

    def decide(self, principal: Principal, request: ReadRequest) -> Decision:
        """Decide a read naming ``request.agreement``."""
        agreement_id = request.agreement or ""

        def deny(
            code: str, detail: str, *, hidden: bool = False, agreement: Agreement | None = None
        ) -> Decision:
            return Decision(
                principal,
                request,
                permitted=False,
                reasons=(Reason(code, detail),),
                agreement=agreement_id,
                policy_hash=agreement.policy_hash if agreement else None,
                owner=agreement.assigner if agreement else None,
                hidden=hidden,
            )

        entry = self._agreement(agreement_id)
        if entry is None:
            return deny("agreement.unknown", f"no agreement {agreement_id!r}", hidden=True)
        agreement, policy = entry
        if principal.participant != agreement.assignee:
            return deny("agreement.not_assignee", f"no agreement {agreement_id!r}", hidden=True)
        if agreement.status != Status.ACTIVE:
            why = f": {agreement.reason}" if agreement.reason else ""
            return deny(
                f"agreement.{agreement.status.value}",
                f"agreement {agreement_id} is {agreement.status.value}{why}",
                agreement=agreement,
            )
        if not request.purpose:
            return deny(
                "purpose.missing",
                "a read under an agreement must name its purpose",
                agreement=agreement,
            )
        category = request.data_category
        asset = agreement.asset
        if category != Category.METADATA and category not in asset.categories:
            return deny(
                "category.not_covered",
                f"{category.value} is not part of asset {asset.id} "
                f"({', '.join(sorted(c.value for c in asset.categories))})",
                agreement=agreement,
            )
        asked = request_scope(request)
        scope: Scope | Reason = narrow_paths(asked, (asset.scope,))
        if isinstance(scope, Scope) and asset.signals is not None and category == Category.RAW:
            scope = narrow_signals(scope, asset.signals)
        if isinstance(scope, Reason):
            return deny(scope.code, scope.detail, agreement=agreement)
        now = self.clock()
        uses_policy = "elapsedTime" in operands(policy)
        first = self._first_use.get(agreement.id)
        if uses_policy and first is None:
            first = self._stored_first(agreement)
        context = Context(
            now=now,
            participant=principal.participant,
            participant_kind=self.exchange.kind_of(principal.participant),
            first_use=first,
        )
        outcome = evaluate(policy, request, context, scope)
        if not outcome.permitted:
            if any(r.code == "period.over" for r in outcome.reasons):
                self._expire(agreement)
            return replace(deny("policy.denied", "", agreement=agreement), reasons=outcome.reasons)
        if outcome.count_limit is not None and not self._streaming(request):
            used = self.store.increment(f"sharing.uses:{agreement.id}", 1, outcome.count_limit)
            if used is None:
                return deny(
                    "count.exhausted",
                    f"all {outcome.count_limit} uses of agreement {agreement.id} are spent",
                    agreement=agreement,
                )
        if uses_policy and first is None:
            self._first(agreement, now)
        assert outcome.scope is not None
        return Decision(
            principal,
            request,
            permitted=True,
            scope=outcome.scope,
            reasons=tuple(changes(asked, outcome.scope, request.bucket)),
            agreement=agreement.id,
            policy_hash=agreement.policy_hash,
            owner=agreement.assigner,
        )

    def _expire(self, agreement: Agreement) -> None:
        """Mark an agreement whose use period is over as expired (once)."""
        with contextlib.suppress(Conflict):  # another read expired it first
            self.exchange.set_status(
                agent(agreement.assigner),
                agreement.id,
                Status.EXPIRED,
                "use period over",
                check=False,
            )


def open_door(store: Store) -> tuple[ReadDoor, Exchange]:
    """Return the read door for ``store`` with agreements enforced and every decision audited,
    and the exchange behind it (close its ``audit`` on shutdown to flush the last records)."""
    exchange = Exchange(store)
    enforcer = Enforcer(exchange)
    return ReadDoor(agreements=enforcer, audit=exchange.audit), exchange


__all__ = ["AuditLog", "Enforcer", "open_door"]
