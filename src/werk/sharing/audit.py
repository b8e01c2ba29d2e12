"""Keep the audit trail: every read decision and every sharing change, hash-chained.

Each record is canonical JSON (who, participant, what, path, agreement, policy hash, decision,
reasons, rows returned, time) appended to the store's ``audit_log``, where the store chains it to
the one before (``hash = sha256(prev_hash, seq, body)``, :func:`werk.store.base.chain_hash`).
:func:`verify` recomputes the chain: an altered record breaks its own hash, a removed one leaves
a gap in the sequence or a broken link, a removed last one disagrees with the appended count.

Reads must stay fast, so :class:`AuditLog` does not write per read: records go into a bounded
queue drained by a background thread every ``interval`` (default 50 ms) in one transaction per
batch. Overflow policy: **block** — a full queue makes the reading thread wait; a record is never
dropped (``blocked`` counts the waits). A reader that waited ``block_timeout`` (the store is
gone) fails with :class:`~werk.errors.StoreUnavailable`: a read that cannot be audited is not
served. :meth:`AuditLog.close` flushes what is left.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from werk.errors import StoreUnavailable
from werk.sharing.door import Decision
from werk.sharing.policy import canonical_json
from werk.sharing.principal import Principal
from werk.store import Store
from werk.store.base import GENESIS, AuditAppend, AuditEntry, chain_hash

log = logging.getLogger("werk.sharing.audit")

OwnerOf = Callable[[str], str | None]


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def decision_record(
    decision: Decision, rows: int | None, now: datetime, owner_of: OwnerOf
) -> AuditAppend:
    """Return the audit record of one read decision."""
    principal, request = decision.principal, decision.request
    owner = decision.owner or owner_of(request.path) or principal.participant
    if not decision.permitted:
        verdict = "deny"
    elif decision.narrowed:
        verdict = "narrow"
    else:
        verdict = "permit"
    scope = decision.scope
    body: dict[str, object] = {
        "type": "read",
        "time": _iso(now),
        "actor": principal.name,
        "actor_kind": principal.kind,
        "participant": principal.participant,
        "owner": owner,
        "what": str(request.kind),
        "category": str(request.data_category),
        "path": request.path,
        "signals": sorted(request.signals) if request.signals else None,
        "window": [_iso(request.start), _iso(request.end)],
        "bucket": request.bucket.total_seconds() if request.bucket else None,
        "purpose": request.purpose,
        "agreement": request.agreement,
        "policy_hash": decision.policy_hash,
        "decision": verdict,
        "reasons": [{"code": r.code, "detail": r.detail} for r in decision.reasons],
        "scope": list(scope.paths) if scope is not None else None,
        "rows": rows,
    }
    return AuditAppend(now, principal.participant, owner, request.agreement, canonical_json(body))


def change_record(
    *,
    actor: Principal,
    action: str,
    owner: str,
    participant: str | None = None,
    agreement: str | None = None,
    policy_hash: str | None = None,
    subject: str | None = None,
    detail: dict[str, object] | None = None,
    now: datetime | None = None,
) -> AuditAppend:
    """Return the audit record of a sharing change (offer published, agreement revoked, ...)."""
    at = now or datetime.now(UTC)
    who = participant or actor.participant
    body: dict[str, object] = {
        "type": "change",
        "time": _iso(at),
        "actor": actor.name,
        "actor_kind": actor.kind,
        "participant": who,
        "owner": owner,
        "what": action,
        "subject": subject,
        "agreement": agreement,
        "policy_hash": policy_hash,
        "detail": detail or {},
    }
    return AuditAppend(at, who, owner, agreement, canonical_json(body))


@dataclass
class _Stats:
    appended: int = 0
    blocked: int = 0
    failures: int = 0


class AuditLog:
    """The door's :class:`~werk.sharing.door.AuditSink`: batches records to the store.

    Args:
        store: Where the log is kept.
        owner_of: Participant owning a path (for reads decided by roles).
        interval: Seconds between flushes.
        capacity: Records the queue holds before a reader waits.
        block_timeout: Seconds a reader waits on a full queue before its read fails.
    """

    def __init__(
        self,
        store: Store,
        owner_of: OwnerOf,
        *,
        interval: float = 0.05,
        capacity: int = 10_000,
        block_timeout: float = 30.0,
    ) -> None:
        self.store = store
        self.block_timeout = block_timeout
        self.owner_of = owner_of
        self.interval = interval
        self.stats = _Stats()
        self._queue: queue.Queue[AuditAppend] = queue.Queue(maxsize=capacity)
        self._enqueued = 0
        self._written = 0
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="werk[sharing].audit", daemon=True)
        self._thread.start()

    # -- AuditSink ------------------------------------------------------------------------------
    def record(self, decision: Decision, rows: int | None) -> None:
        """Queue the record of one decision (blocks only while the queue is full)."""
        self.append(decision_record(decision, rows, datetime.now(UTC), self.owner_of))

    def append(self, record: AuditAppend) -> None:
        """Queue one record."""
        with self._lock:
            self._enqueued += 1
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.stats.blocked += 1
            try:
                self._queue.put(record, timeout=self.block_timeout)
            except queue.Full:
                # fail closed: a read that cannot be audited is not served
                with self._lock:
                    self._enqueued -= 1
                raise StoreUnavailable(
                    f"the audit log has not been written for {self.block_timeout:.0f} s",
                    key="sharing.audit_unavailable",
                ) from None

    # -- flushing -------------------------------------------------------------------------------
    def _drain(self) -> list[AuditAppend]:
        out: list[AuditAppend] = []
        while len(out) < 5000:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return out

    def _write(self, batch: list[AuditAppend]) -> None:
        delay = self.interval
        while True:
            try:
                self.store.append_audit(batch)
            except Exception as exc:  # the store may be down; keep the batch and try again
                self.stats.failures += 1
                if self.stats.failures == 1 or self.stats.failures % 100 == 0:
                    log.warning("audit records not written yet (%d waiting): %s", len(batch), exc)
                if self._stop.is_set():
                    # shutting down with the store gone: say what is lost, loudly, once
                    log.error("audit: %d records not written at shutdown: %s", len(batch), exc)
                    return
                self._stop.wait(min(delay, 2.0))
                delay *= 2
                continue
            break
        with self._lock:
            self._written += len(batch)
            self.stats.appended += len(batch)
            self._done.notify_all()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(self.interval)
            batch = self._drain()
            if batch:
                self._write(batch)
        batch = self._drain()
        while batch:
            self._write(batch)
            batch = self._drain()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every record queued so far is written; return False on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            target = self._enqueued
            while self._written < target:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return self._written >= target
                self._done.wait(min(left, self.interval))
        return True

    def close(self) -> None:
        """Flush what is queued and stop the writer thread."""
        self._stop.set()
        self._thread.join(timeout=30)


# -- verification ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Verification:
    """What :func:`verify` found."""

    records: int
    appended: int
    problems: tuple[str, ...] = field(default=())
    first_bad: int | None = None

    @property
    def ok(self) -> bool:
        """Whether the chain is intact."""
        return not self.problems


def entries(
    store: Store, *, participant: str | None = None, page: int = 5000
) -> Iterator[AuditEntry]:
    """Yield every audit record (of ``participant``), oldest first."""
    after = 0
    while True:
        chunk = store.audit_entries(after=after, limit=page, participant=participant)
        yield from chunk
        if len(chunk) < page:
            return
        after = chunk[-1].seq


def verify(store: Store) -> Verification:
    """Recompute the chain over the whole log; report every altered, removed or moved record."""
    found: list[str] = []
    prev, expected, count = GENESIS, 1, 0
    for entry in entries(store):
        count += 1
        if entry.seq != expected:
            found.append(f"records {expected}..{entry.seq - 1} are missing")
        if entry.prev_hash != prev:
            found.append(f"record {entry.seq}: link to the record before is broken")
        if chain_hash(entry.prev_hash, entry.seq, entry.body) != entry.hash:
            found.append(f"record {entry.seq}: content does not match its hash (altered)")
        try:
            json.loads(entry.body)
        except ValueError:
            found.append(f"record {entry.seq}: body is not JSON")
        prev, expected = entry.hash, entry.seq + 1
    appended = store.audit_length()
    if appended != expected - 1:
        found.append(f"{appended} records were appended but the log ends at {expected - 1}")
    first_bad = None
    for problem in found:
        digits = "".join(ch if ch.isdigit() else " " for ch in problem).split()
        if digits:
            first_bad = int(digits[0]) if first_bad is None else min(first_bad, int(digits[0]))
    return Verification(count, appended, tuple(found), first_bad)
