"""Evaluate a usage policy against one read: permit, narrow or deny, with reasons (pure).

The semantics (documented for users in ``docs/sharing.md``):

1. The read's action is ``distribute`` for exports (data leaving the platform) and ``read`` for
   everything else. A rule *applies* when its action covers the read's action
   (:data:`werk.sharing.policy.ACTIONS`).
2. Anything the vocabulary does not know — left operand, operator, action, duty — denies
   (``policy.unknown``), whatever else the policy says (fail closed).
3. **Prohibitions win.** A prohibition that applies and whose constraints all hold for the
   (already narrowed) read denies it (``policy.prohibited``). Narrowing operands in a prohibition
   hold when the read *overlaps* them (a prohibition on signal ``x`` denies a read that could
   return ``x``).
4. Permissions are tried in document order; the first that applies and whose deciding
   constraints hold permits the read, narrowed by its narrowing constraints (path, signal,
   dataDateTime, dataAge, bucket). If none does, the read is denied with the reasons of every
   permission that applied (``policy.no_permission`` when none applied).
5. Obligations and duties must be ones werk honours (``inform``: the audit record every read
   writes; ``attribute``: a legal term kept with the agreement).
6. ``count`` is checked against the uses so far *and* returned as a limit, so the caller consumes
   the use atomically (the store's counter) only when the read is permitted.

Every function here is pure: the caller passes the time, the first use and the uses so far.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from werk.sharing.door import Category, ReadKind, ReadRequest, Reason, Scope
from werk.sharing.policy import (
    ACTIONS,
    OPERANDS,
    Constraint,
    Logical,
    Node,
    Policy,
    Rule,
    parse_duration,
    problems,
)
from werk.sharing.principal import covers

RAW_ONLY_KINDS = frozenset(
    {ReadKind.LATEST, ReadKind.STREAM, ReadKind.EXPORT, ReadKind.PREDICTIONS}
)
"""Reads that return raw samples and cannot be raised to a bucket: denied under a bucket floor."""


@dataclass(frozen=True, slots=True)
class Context:
    """What a decision needs besides the request.

    Attributes:
        now: When the read happens (UTC).
        participant: The consumer's participant id.
        participant_kind: Its kind (``supplier``, ``machine_builder``, ...), when known.
        first_use: First permitted read under the agreement, None before it.
        uses: Permitted reads so far.
    """

    now: datetime
    participant: str
    participant_kind: str | None = None
    first_use: datetime | None = None
    uses: int = 0


@dataclass(frozen=True, slots=True)
class Outcome:
    """The evaluator's answer."""

    effect: Literal["permit", "narrow", "deny"]
    scope: Scope | None
    reasons: tuple[Reason, ...] = ()
    count_limit: int | None = None
    """Consume one use only while the uses stay at or below this."""
    duties: tuple[str, ...] = ()

    @property
    def permitted(self) -> bool:
        """Whether the read may go ahead (possibly narrowed)."""
        return self.effect != "deny"


def action_of(request: ReadRequest) -> str:
    """Return the ODRL action a read performs."""
    return "distribute" if request.kind == ReadKind.EXPORT else "read"


def request_scope(request: ReadRequest) -> Scope:
    """Return the scope a read asks for, before any narrowing."""
    return Scope(
        paths=(request.path,),
        signals=frozenset(request.signals) if request.signals else None,
        start=request.start,
        end=request.end,
    )


# -- narrowing (shared with the asset check in the enforcer) ---------------------------------
def narrow_paths(scope: Scope, prefixes: tuple[str, ...]) -> Scope | Reason:
    """Keep the parts of ``scope.paths`` under one of ``prefixes``."""
    kept: list[str] = []
    for path in scope.paths:
        if any(covers(p, path) for p in prefixes):
            kept.append(path)
        else:
            kept += [p for p in prefixes if covers(path, p)]
    kept = sorted(set(kept))
    kept = [p for p in kept if not any(q != p and covers(q, p) for q in kept)]
    if not kept:
        return Reason(
            "path.outside",
            f"{', '.join(repr(p or '/') for p in scope.paths)} lies outside "
            f"{', '.join(repr(p) for p in prefixes)}",
        )
    return replace(scope, paths=tuple(kept))


def narrow_signals(scope: Scope, allowed: frozenset[str]) -> Scope | Reason:
    """Keep only allowed signals."""
    signals = allowed if scope.signals is None else scope.signals & allowed
    if not signals:
        asked = ", ".join(sorted(scope.signals or ()))
        return Reason("signal.outside", f"signals {asked} are not in the allow-list")
    return replace(scope, signals=frozenset(signals))


def narrow_window(scope: Scope, start: datetime | None, end: datetime | None) -> Scope | Reason:
    """Clamp the data time window."""
    new_start = scope.start if start is None else max(start, scope.start or start)
    new_end = scope.end if end is None else min(end, scope.end or end)
    if new_start is not None and new_end is not None and new_start >= new_end:
        return Reason(
            "window.outside",
            f"the data window allowed is [{_iso(start)}, {_iso(end)}); asked for "
            f"[{_iso(scope.start)}, {_iso(scope.end)})",
        )
    return replace(scope, start=new_start, end=new_end)


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else "…"


def changes(before: Scope, after: Scope, bucket: timedelta | None = None) -> list[Reason]:
    """Return the ``narrowed.*`` reasons for going from ``before`` to ``after``."""
    out: list[Reason] = []
    if before.paths != after.paths:
        out.append(Reason("narrowed.paths", f"only {', '.join(after.paths)}"))
    if before.signals != after.signals:
        out.append(
            Reason("narrowed.signals", f"only signals {', '.join(sorted(after.signals or ()))}")
        )
    if (before.start, before.end) != (after.start, after.end):
        out.append(
            Reason("narrowed.window", f"only data in [{_iso(after.start)}, {_iso(after.end)})")
        )
    floor = after.bucket_floor
    if floor is not None and floor != before.bucket_floor and (bucket is None or bucket < floor):
        out.append(
            Reason("narrowed.bucket", f"aggregated to buckets of at least {after.bucket_floor}")
        )
    return out


# -- deciding constraints -------------------------------------------------------------------
def _names(value: object) -> frozenset[str]:
    if isinstance(value, list):
        return frozenset(str(v) for v in value)
    return frozenset({str(value)})


def _compare(op: str, left: object, right: object) -> bool:
    if op == "eq":
        return left == right
    if op == "neq":
        return left != right
    assert isinstance(left, datetime | timedelta | int)
    assert type(left) is type(right)
    a, b = left, right
    return {
        "lt": lambda: a < b,  # type: ignore[operator]
        "lteq": lambda: a <= b,  # type: ignore[operator]
        "gt": lambda: a > b,  # type: ignore[operator]
        "gteq": lambda: a >= b,  # type: ignore[operator]
    }[op]()


def _set_test(op: str, value: str | None, right: object) -> bool:
    names = _names(right)
    if op in ("eq", "isAnyOf"):
        return value is not None and value in names
    return value is None or value not in names  # neq, isNoneOf


def _time(value: object) -> datetime:
    assert isinstance(value, str)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class _Eval:
    """One evaluation: the request, the context and the scope narrowed so far."""

    def __init__(self, request: ReadRequest, context: Context, scope: Scope) -> None:
        self.request = request
        self.context = context
        self.scope = scope
        self.count_limit: int | None = None

    def holds(self, node: Node, *, prohibition: bool = False) -> Reason | None:
        """Return None when ``node`` holds (narrowing the scope for a permission), else why not."""
        if isinstance(node, Logical):
            return self._logical(node, prohibition)
        operand = OPERANDS.get(node.left)
        if operand is None or node.operator not in operand.operators:
            return Reason("policy.unknown", f"unknown constraint {node.left} {node.operator}")
        if operand.narrows:
            return self._overlap(node) if prohibition else self._narrow(node)
        return self._decide(node)

    def _logical(self, node: Logical, prohibition: bool) -> Reason | None:
        results = [self.holds(item, prohibition=prohibition) for item in node.items]
        failed = [r for r in results if r is not None]
        if node.op == "and":
            return failed[0] if failed else None
        passed = len(results) - len(failed)
        if node.op == "or" and passed >= 1:
            return None
        if node.op == "xone" and passed == 1:
            return None
        detail = "; ".join(r.detail for r in failed) or f"{passed} alternatives hold, not one"
        return Reason("constraint.failed", f"{node.op}: {detail}")

    def _decide(self, node: Constraint) -> Reason | None:
        ctx, op, right = self.context, node.operator, node.right
        left = node.left
        ok: bool
        shown: object
        if left == "purpose":
            shown = self.request.purpose
            ok = _set_test(op, self.request.purpose, right)
        elif left == "participant":
            shown = ctx.participant
            ok = _set_test(op, ctx.participant, right)
        elif left == "participantKind":
            shown = ctx.participant_kind
            ok = _set_test(op, ctx.participant_kind, right)
        elif left == "category":
            shown = str(self.request.data_category)
            ok = _set_test("isAnyOf" if op == "eq" else op, shown, right)
        elif left == "dateTime":
            shown = ctx.now.isoformat()
            ok = _compare(op, ctx.now, _time(right))
        elif left == "elapsedTime":
            elapsed = ctx.now - ctx.first_use if ctx.first_use else timedelta(0)
            shown = str(elapsed)
            ok = _compare(op, elapsed, parse_duration(str(right)))
        else:  # count
            assert isinstance(right, int)
            limit = right if op == "lteq" else right - 1
            self.count_limit = limit if self.count_limit is None else min(limit, self.count_limit)
            shown = ctx.uses
            ok = ctx.uses + 1 <= limit
        if ok:
            return None
        code = {
            "purpose": "purpose.mismatch",
            "dateTime": "period.over",
            "elapsedTime": "period.elapsed",
            "count": "count.exhausted",
        }.get(left, f"{left}.mismatch")
        return Reason(code, f"{left} {op} {right!r} does not hold (it is {shown!r})")

    def _narrow(self, node: Constraint) -> Reason | None:
        right, before = node.right, self.scope
        result: Scope | Reason
        if node.left == "path":
            result = narrow_paths(before, tuple(sorted(_names(right))))
        elif node.left == "signal":
            result = narrow_signals(before, _names(right))
        elif node.left == "dataDateTime":
            at = _time(right)
            result = (
                narrow_window(before, at, None)
                if node.operator == "gteq"
                else narrow_window(before, None, at)
            )
        elif node.left == "dataAge":
            result = narrow_window(before, self.context.now - parse_duration(str(right)), None)
        else:  # bucket
            floor = parse_duration(str(right))
            if self.request.data_category == Category.RAW:
                if self.request.kind in RAW_ONLY_KINDS and self.request.bucket is None:
                    return Reason(
                        "aggregation.raw_forbidden",
                        f"only aggregates of at least {floor} may be read, not raw samples",
                    )
                current = before.bucket_floor
                result = replace(before, bucket_floor=max(floor, current) if current else floor)
            else:
                result = before
        if isinstance(result, Reason):
            return result
        self.scope = result
        return None

    def _overlap(self, node: Constraint) -> Reason | None:
        """A narrowing operand inside a prohibition: holds when the read overlaps it."""
        scope, right = self.scope, node.right
        if node.left == "path":
            hit = any(covers(p, q) or covers(q, p) for p in scope.paths for q in _names(right))
        elif node.left == "signal":
            hit = scope.signals is None or bool(scope.signals & _names(right))
        elif node.left == "dataDateTime":
            at = _time(right)
            if node.operator == "gteq":
                hit = scope.end is None or scope.end > at
            else:
                hit = scope.start is None or scope.start < at
        elif node.left == "dataAge":
            hit = True  # any read may touch recent data
        else:  # bucket: prohibited to read buckets at least this wide
            width = self.request.bucket or scope.bucket_floor
            hit = width is not None and width >= parse_duration(str(right))
        return None if hit else Reason("constraint.failed", f"{node.left} does not overlap")


def operands(policy: Policy) -> frozenset[str]:
    """Return every left operand a policy uses (in any rule, at any depth)."""

    def walk(node: Node) -> list[str]:
        if isinstance(node, Logical):
            return [name for item in node.items for name in walk(item)]
        return [node.left]

    rules = (*policy.permissions, *policy.prohibitions, *policy.obligations)
    return frozenset(name for rule in rules for node in rule.constraints for name in walk(node))


def _applies(rule: Rule, action: str) -> bool:
    return action in ACTIONS.get(rule.action, frozenset())


def evaluate(
    policy: Policy, request: ReadRequest, context: Context, scope: Scope | None = None
) -> Outcome:
    """Decide ``request`` under ``policy``; ``scope`` is the read as narrowed so far (by the
    agreement's asset), the request's own when not given."""
    start = scope if scope is not None else request_scope(request)
    unknown = problems(policy)
    if unknown:
        return Outcome("deny", None, (Reason("policy.unknown", unknown[0]),))
    action = action_of(request)
    chosen: _Eval | None = None
    failures: list[Reason] = []
    duties: tuple[str, ...] = ()
    for i, rule in enumerate(policy.permissions):
        if not _applies(rule, action):
            continue
        run = _Eval(request, context, start)
        failed = [r for r in (run.holds(c) for c in rule.constraints) if r is not None]
        if failed:
            failures += [Reason(r.code, f"permission[{i}]: {r.detail}") for r in failed]
            continue
        chosen, duties = run, tuple(d.action for d in rule.duties)
        break
    if chosen is None:
        if not failures:
            failures = [Reason("policy.no_permission", f"no permission covers {action!r}")]
        return Outcome("deny", None, tuple(failures))
    for i, rule in enumerate(policy.prohibitions):
        if not action_covered_by_prohibition(rule, action):
            continue
        probe = _Eval(request, context, chosen.scope)
        if all(probe.holds(c, prohibition=True) is None for c in rule.constraints):
            return Outcome(
                "deny",
                None,
                (Reason("policy.prohibited", f"prohibition[{i}] forbids {rule.action!r}"),),
            )
    narrowed = changes(start, chosen.scope, request.bucket)
    return Outcome(
        "narrow" if narrowed else "permit",
        chosen.scope,
        tuple(narrowed),
        count_limit=chosen.count_limit,
        duties=duties + tuple(o.action for o in policy.obligations),
    )


def action_covered_by_prohibition(rule: Rule, action: str) -> bool:
    """Whether a prohibition of ``rule.action`` forbids ``action`` (``use`` forbids all)."""
    if rule.action == "use":
        return True
    return _applies(rule, action)


def access_permitted(policy: Policy, context: Context) -> tuple[bool, tuple[Reason, ...]]:
    """Decide an access policy (who may see an offer): no read, only the requester."""
    unknown = problems(policy, access=True)
    if unknown:
        return False, (Reason("policy.unknown", unknown[0]),)
    probe_request = ReadRequest(ReadKind.SERIES)
    reasons: list[Reason] = []
    for rule in policy.prohibitions:
        run = _Eval(probe_request, context, request_scope(probe_request))
        if all(run.holds(c) is None for c in rule.constraints):
            return False, (Reason("policy.prohibited", f"access prohibited ({rule.action})"),)
    for rule in policy.permissions:
        run = _Eval(probe_request, context, request_scope(probe_request))
        failed = [r for r in (run.holds(c) for c in rule.constraints) if r is not None]
        if not failed:
            return True, ()
        reasons += failed
    return False, tuple(reasons) or (Reason("policy.no_permission", "no access permission"),)
