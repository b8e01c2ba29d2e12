"""Read, check and hash usage policies: an ODRL 2.2 subset as plain JSON.

A policy is a JSON object with ``permission``, ``prohibition`` and ``obligation`` lists of rules;
a rule has an ``action`` and ``constraint`` s; a constraint is ``leftOperand`` + ``operator`` +
``rightOperand`` or a logical ``and`` / ``or`` / ``xone`` of constraints. The published schema is
``policy.schema.json`` beside this module (served at ``/api/v1/sharing/policy-schema.json``).

The vocabulary is data (:data:`OPERANDS`, :data:`ACTIONS`): every left operand names its value
type, the operators it accepts, whether it narrows the read rather than deciding it, and whether
werk enforces it technically or records it as a legal term. A policy using anything else is
refused when it is published and denies when it is evaluated (fail closed).

Two policies are the same when their canonical forms are equal: :func:`canonical` drops JSON-LD
decoration (``@context``, ``odrl:`` prefixes, ``{"@value": ...}`` wrappers), writes times in UTC,
sorts set-valued operands and keeps only the rules; :func:`policy_hash` is the SHA-256 of its
sorted-key JSON. Offers and the agreements made from them carry the same hash.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Final, Literal

from werk.errors import InvalidInput

Value = str | int | float | list[str]
ValueType = Literal["string", "strings", "dateTime", "duration", "integer", "path", "signal"]


@dataclass(frozen=True, slots=True)
class Operand:
    """One left operand of the vocabulary.

    Attributes:
        name: As written in ``leftOperand``.
        type: Type of the right operand.
        operators: Operators it accepts.
        narrows: It narrows the read (paths, signals, window, bucket) instead of deciding it;
            such operands may appear only at the top of a rule or inside ``and``.
        access: It can be decided without a read (usable in access policies).
        mode: ``technical`` (enforced at every read) or ``legal`` (recorded, not enforceable).
        description: What it means.
    """

    name: str
    type: ValueType
    operators: frozenset[str]
    narrows: bool
    access: bool
    mode: Literal["technical", "legal"]
    description: str


_CMP = frozenset({"eq", "neq", "lt", "lteq", "gt", "gteq"})
_SET = frozenset({"eq", "neq", "isAnyOf", "isNoneOf"})

OPERANDS: Final[dict[str, Operand]] = {
    o.name: o
    for o in (
        Operand("purpose", "string", _SET, False, False, "technical", "declared purpose of a read"),
        Operand("dateTime", "dateTime", _CMP, False, True, "technical", "when the use happens"),
        Operand(
            "elapsedTime",
            "duration",
            frozenset({"lt", "lteq"}),
            False,
            False,
            "technical",
            "time since the first use under the agreement",
        ),
        Operand(
            "count",
            "integer",
            frozenset({"lt", "lteq"}),
            False,
            False,
            "technical",
            "number of uses (permitted reads) under the agreement, counted exactly",
        ),
        Operand(
            "participant", "string", _SET, False, True, "technical", "the consumer's participant"
        ),
        Operand(
            "participantKind",
            "string",
            _SET,
            False,
            True,
            "technical",
            "kind of the consumer: plant_operator, machine_builder, supplier, platform_operator",
        ),
        Operand(
            "category",
            "strings",
            frozenset({"isAnyOf", "isNoneOf", "eq"}),
            False,
            False,
            "technical",
            "data category read: raw, states, kpis, quality, metadata",
        ),
        Operand(
            "path",
            "path",
            frozenset({"isPartOf"}),
            True,
            False,
            "technical",
            "asset path prefixes the data may come from",
        ),
        Operand(
            "signal",
            "strings",
            frozenset({"isAnyOf"}),
            True,
            False,
            "technical",
            "signals that may be read (allow-list)",
        ),
        Operand(
            "dataDateTime",
            "dateTime",
            frozenset({"gteq", "lt"}),
            True,
            False,
            "technical",
            "time window of the data (not of the use)",
        ),
        Operand(
            "dataAge",
            "duration",
            frozenset({"lteq"}),
            True,
            False,
            "technical",
            "how old the data may be, counted back from the read",
        ),
        Operand(
            "bucket",
            "duration",
            frozenset({"gteq"}),
            True,
            False,
            "technical",
            "aggregation floor: only buckets at least this wide, no raw samples",
        ),
    )
}
"""The left operands werk understands; anything else denies."""

ACTIONS: Final[dict[str, frozenset[str]]] = {
    "use": frozenset({"use", "read", "aggregate"}),
    "read": frozenset({"read"}),
    "aggregate": frozenset({"aggregate"}),
    "distribute": frozenset({"distribute"}),
}
"""Rule actions and the request actions each covers. ``use`` does not include ``distribute``:
redistribution (taking data out of the platform) is never implied, only granted by name."""

DUTIES: Final[dict[str, Literal["technical", "legal"]]] = {
    "inform": "technical",
    "attribute": "legal",
}
"""Duty (obligation) actions werk can honour: ``inform`` is met by the audit record every read
writes (the owner sees it); ``attribute`` is a legal term, recorded with the agreement."""

LOGICAL: Final = ("and", "or", "xone")


@dataclass(frozen=True, slots=True)
class Constraint:
    """``leftOperand operator rightOperand``."""

    left: str
    operator: str
    right: Value


@dataclass(frozen=True, slots=True)
class Logical:
    """``and`` / ``or`` / ``xone`` over constraints."""

    op: str
    items: tuple[Node, ...]


Node = Constraint | Logical


@dataclass(frozen=True, slots=True)
class Rule:
    """A permission, prohibition or obligation."""

    action: str
    constraints: tuple[Node, ...] = ()
    duties: tuple[Rule, ...] = ()


@dataclass(frozen=True, slots=True)
class Policy:
    """A parsed policy in canonical form."""

    permissions: tuple[Rule, ...]
    prohibitions: tuple[Rule, ...]
    obligations: tuple[Rule, ...]
    document: dict[str, object]
    """The canonical JSON form."""
    hash: str

    @classmethod
    def parse(cls, data: object, *, where: str = "policy") -> Policy:
        """Parse a policy (any accepted spelling); shape errors raise, vocabulary is checked by
        :func:`problems`.

        Raises:
            InvalidInput: the JSON does not have the shape of a policy; ``field`` says where.
        """
        doc = canonical(data, where=where)
        return cls(
            permissions=tuple(_rule(r) for r in _rules(doc, "permission")),
            prohibitions=tuple(_rule(r) for r in _rules(doc, "prohibition")),
            obligations=tuple(_rule(r) for r in _rules(doc, "obligation")),
            document=doc,
            hash=_hash(doc),
        )


def _rules(doc: dict[str, object], name: str) -> list[dict[str, object]]:
    rules = doc.get(name, [])
    assert isinstance(rules, list)
    return rules


def _rule(data: dict[str, object]) -> Rule:
    constraints = data.get("constraint", [])
    duties = data.get("duty", [])
    assert isinstance(constraints, list)
    assert isinstance(duties, list)
    return Rule(
        action=str(data["action"]),
        constraints=tuple(_node(c) for c in constraints),
        duties=tuple(_rule(d) for d in duties),
    )


def _node(data: dict[str, object]) -> Node:
    for op in LOGICAL:
        if op in data:
            items = data[op]
            assert isinstance(items, list)
            return Logical(op, tuple(_node(i) for i in items))
    right = data["rightOperand"]
    assert isinstance(right, str | int | float | list)
    return Constraint(str(data["leftOperand"]), str(data["operator"]), right)


# -- canonical form -------------------------------------------------------------------------
def _strip(key: str) -> str:
    for prefix in ("odrl:", "dspace:", "werk:"):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def _bad(message: str, field: str) -> InvalidInput:
    return InvalidInput(message, key="sharing.invalid_policy", field=field)


def _plain(value: object, field: str) -> object:
    """Unwrap ``{"@value": v}`` and ``{"@id": v}``; strip prefixes of IRIs we know."""
    if isinstance(value, dict):
        if "@value" in value:
            return _plain(value["@value"], field)
        if "@id" in value and len(value) == 1:
            return _plain(value["@id"], field)
        raise _bad(f"{field}: expected a value, got an object", field)
    if isinstance(value, str):
        return _strip(value)
    return value


def canonical_time(value: str, field: str) -> str:
    """Return an ISO 8601 time with a zone as UTC ``YYYY-MM-DDTHH:MM:SSZ`` (with fractions when
    given)."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _bad(f"{field}: {value!r} is not an ISO 8601 date-time", field) from exc
    if parsed.tzinfo is None:
        raise _bad(f"{field}: {value!r} has no time zone (add Z)", field)
    return parsed.astimezone(UTC).isoformat().replace("+00:00", "Z")


_DURATION = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(value: str, field: str = "duration") -> timedelta:
    """Parse an ISO 8601 duration of weeks, days, hours, minutes and seconds (``P30D``,
    ``PT1H``); months and years are refused because their length varies.

    Raises:
        InvalidInput: not such a duration.
    """
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None or value in ("P", "PT") or value.endswith("T"):
        raise _bad(f"{field}: {value!r} is not a duration like P30D or PT1H (no months)", field)
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return timedelta(
        weeks=parts.get("w", 0),
        days=parts.get("d", 0),
        hours=parts.get("h", 0),
        minutes=parts.get("m", 0),
        seconds=parts.get("s", 0),
    )


def _canonical_constraint(data: object, field: str) -> dict[str, object]:
    if not isinstance(data, dict):
        raise _bad(f"{field}: a constraint must be an object", field)
    data = {_strip(k): v for k, v in data.items() if not k.startswith("@")}
    for op in LOGICAL:
        if op in data:
            items = data[op]
            if isinstance(items, dict) and "@list" in items:
                items = items["@list"]
            if not isinstance(items, list) or not items:
                raise _bad(f"{field}.{op}: must be a non-empty list of constraints", field)
            return {
                op: [_canonical_constraint(c, f"{field}.{op}[{i}]") for i, c in enumerate(items)]
            }
    missing = [k for k in ("leftOperand", "operator", "rightOperand") if k not in data]
    if missing:
        raise _bad(f"{field}: missing {', '.join(missing)}", f"{field}.{missing[0]}")
    left = _plain(data["leftOperand"], f"{field}.leftOperand")
    operator = _plain(data["operator"], f"{field}.operator")
    if not isinstance(left, str) or not isinstance(operator, str):
        raise _bad(f"{field}: leftOperand and operator must be names", field)
    right = data["rightOperand"]
    if isinstance(right, list):
        values = [_plain(v, f"{field}.rightOperand") for v in right]
        if not all(isinstance(v, str) for v in values):
            raise _bad(f"{field}.rightOperand: a list must hold strings", f"{field}.rightOperand")
        right_value: object = sorted(set(values), key=str)
    else:
        right_value = _plain(right, f"{field}.rightOperand")
        if not isinstance(right_value, str | int | float) or isinstance(right_value, bool):
            raise _bad(
                f"{field}.rightOperand: must be a string, number or list", f"{field}.rightOperand"
            )
    known = OPERANDS.get(left)
    if known is not None and known.type == "dateTime" and isinstance(right_value, str):
        right_value = canonical_time(right_value, f"{field}.rightOperand")
    if known is not None and known.type == "duration" and isinstance(right_value, str):
        parse_duration(right_value, f"{field}.rightOperand")
    return {"leftOperand": left, "operator": operator, "rightOperand": right_value}


def _canonical_rule(data: object, field: str) -> dict[str, object]:
    if not isinstance(data, dict):
        raise _bad(f"{field}: a rule must be an object", field)
    data = {_strip(k): v for k, v in data.items() if not k.startswith("@")}
    if "action" not in data:
        raise _bad(f"{field}: a rule needs an action", f"{field}.action")
    action = data["action"]
    if isinstance(action, list) and len(action) == 1:
        action = action[0]
    if isinstance(action, dict) and "rdf:value" in action:
        action = action["rdf:value"]
    action = _plain(action, f"{field}.action")
    if not isinstance(action, str):
        raise _bad(f"{field}.action: must be one action name", f"{field}.action")
    out: dict[str, object] = {"action": action}
    constraints = data.get("constraint", [])
    if isinstance(constraints, dict):
        constraints = [constraints]
    if not isinstance(constraints, list):
        raise _bad(f"{field}.constraint: must be a list", f"{field}.constraint")
    if constraints:
        out["constraint"] = [
            _canonical_constraint(c, f"{field}.constraint[{i}]") for i, c in enumerate(constraints)
        ]
    duties = data.get("duty", [])
    if isinstance(duties, dict):
        duties = [duties]
    if not isinstance(duties, list):
        raise _bad(f"{field}.duty: must be a list", f"{field}.duty")
    if duties:
        out["duty"] = [_canonical_rule(d, f"{field}.duty[{i}]") for i, d in enumerate(duties)]
    for ignored in ("target", "assigner", "assignee", "uid"):
        data.pop(ignored, None)
    extra = sorted(set(data) - {"action", "constraint", "duty"})
    if extra:
        raise _bad(f"{field}: unknown member {extra[0]!r}", f"{field}.{extra[0]}")
    return out


def canonical(data: object, *, where: str = "policy") -> dict[str, object]:
    """Return the canonical form of a policy: its rules only, plain names, UTC times, sorted
    sets (order of rules and constraints is kept: it is meaningful).

    Raises:
        InvalidInput: not the shape of a policy.
    """
    if not isinstance(data, dict):
        raise _bad(f"{where}: a policy must be a JSON object", where)
    body = {_strip(k): v for k, v in data.items() if not k.startswith("@")}
    out: dict[str, object] = {}
    for name in ("permission", "prohibition", "obligation"):
        rules = body.pop(name, [])
        if isinstance(rules, dict):
            rules = [rules]
        if not isinstance(rules, list):
            raise _bad(f"{where}.{name}: must be a list of rules", f"{where}.{name}")
        if rules:
            out[name] = [_canonical_rule(r, f"{where}.{name}[{i}]") for i, r in enumerate(rules)]
    for ignored in ("uid", "id", "target", "assigner", "assignee", "profile", "conflict"):
        body.pop(ignored, None)
    if body:
        first = sorted(body)[0]
        raise _bad(f"{where}: unknown member {first!r}", f"{where}.{first}")
    if data.get("conflict", "prohibit") not in ("prohibit", "odrl:prohibit"):
        raise _bad(
            f"{where}.conflict: only 'prohibit' (prohibitions win) is supported",
            f"{where}.conflict",
        )
    return out


def canonical_json(doc: object) -> str:
    """Serialise JSON canonically: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _hash(doc: dict[str, object]) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(doc).encode()).hexdigest()


def policy_hash(data: object) -> str:
    """Return ``sha256:<hex>`` of the canonical form of a policy."""
    return _hash(canonical(data))


# -- vocabulary check -----------------------------------------------------------------------
def _node_problems(node: Node, where: str, *, inside_or: bool, access: bool) -> list[str]:
    if isinstance(node, Logical):
        return [
            p
            for i, item in enumerate(node.items)
            for p in _node_problems(
                item,
                f"{where}.{node.op}[{i}]",
                inside_or=inside_or or node.op != "and",
                access=access,
            )
        ]
    operand = OPERANDS.get(node.left)
    if operand is None:
        return [f"{where}: unknown leftOperand {node.left!r}"]
    out: list[str] = []
    if node.operator not in operand.operators:
        out.append(
            f"{where}: operator {node.operator!r} is not allowed on {node.left!r} "
            f"(allowed: {', '.join(sorted(operand.operators))})"
        )
    if operand.narrows and inside_or:
        out.append(f"{where}: {node.left!r} narrows the read and may not appear inside or/xone")
    if node.left in ("count", "elapsedTime") and inside_or:
        out.append(f"{where}: {node.left!r} may not appear inside or/xone")
    if access and not operand.access:
        out.append(f"{where}: {node.left!r} cannot be decided before a read (access policy)")
    out += _type_problems(operand, node, where)
    return out


def _type_problems(operand: Operand, node: Constraint, where: str) -> list[str]:
    right = node.right
    many = node.operator in ("isAnyOf", "isNoneOf", "isPartOf")
    if operand.type == "integer":
        ok = isinstance(right, int) and right >= 0
        return [] if ok else [f"{where}: {node.left!r} needs a whole number >= 0"]
    if operand.type in ("dateTime", "duration"):
        return [] if isinstance(right, str) else [f"{where}: {node.left!r} needs a string"]
    if many or operand.type in ("strings", "path"):
        ok = isinstance(right, str) or (isinstance(right, list) and bool(right))
        return [] if ok else [f"{where}: {node.left!r} needs a name or a non-empty list"]
    return [] if isinstance(right, str) else [f"{where}: {node.left!r} needs a string"]


def problems(policy: Policy, *, access: bool = False) -> list[str]:
    """Return what in ``policy`` werk does not understand (empty: it can be enforced).

    With ``access``, the policy decides who sees an offer, so only operands that need no read
    (participant, participantKind, dateTime) are allowed.
    """
    out: list[str] = []
    for kind, rules in (
        ("permission", policy.permissions),
        ("prohibition", policy.prohibitions),
        ("obligation", policy.obligations),
    ):
        for i, rule in enumerate(rules):
            where = f"{kind}[{i}]"
            if kind == "obligation":
                if rule.action not in DUTIES:
                    out.append(f"{where}: unsupported duty action {rule.action!r}")
            elif rule.action not in ACTIONS:
                out.append(f"{where}: unknown action {rule.action!r}")
            for j, duty in enumerate(rule.duties):
                if duty.action not in DUTIES:
                    out.append(f"{where}.duty[{j}]: unsupported duty action {duty.action!r}")
            for j, node in enumerate(rule.constraints):
                out += _node_problems(
                    node, f"{where}.constraint[{j}]", inside_or=False, access=access
                )
    return out


def checked(data: object, *, where: str = "policy", access: bool = False) -> Policy:
    """Parse a policy and refuse one werk could not enforce.

    Raises:
        InvalidInput: the shape is wrong or the vocabulary unknown; ``field`` says where.
    """
    policy = Policy.parse(data, where=where)
    found = problems(policy, access=access)
    if found:
        raise InvalidInput(
            f"{where}: {found[0]}" + (f" (and {len(found) - 1} more)" if len(found) > 1 else ""),
            key="sharing.invalid_policy",
            field=where,
            problems=found,
        )
    return policy


def schema() -> dict[str, object]:
    """Return the published JSON Schema of a policy."""
    text = resources.files("werk.sharing").joinpath("policy.schema.json").read_text("utf-8")
    loaded: dict[str, object] = json.loads(text)
    return loaded
