"""Policies: canonical form and hash, the vocabulary check, and the evaluation semantics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from werk.errors import InvalidInput
from werk.sharing.door import Category, ReadKind, ReadRequest
from werk.sharing.evaluation import Context, access_permitted, evaluate
from werk.sharing.policy import Policy, checked, parse_duration, policy_hash, problems, schema

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
CTX = Context(NOW, "kuka", "machine_builder")
ROBOT = "acme/wob/body/line-1/robot-01"


def c(left: str, op: str, right: object) -> dict[str, object]:
    return {"leftOperand": left, "operator": op, "rightOperand": right}


def use(*constraints: dict[str, object], **extra: object) -> dict[str, object]:
    return {"permission": [{"action": "use", "constraint": list(constraints)}], **extra}


def read(kind: ReadKind = ReadKind.RANGE, **fields: object) -> ReadRequest:
    defaults: dict[str, object] = {
        "path": ROBOT,
        "start": NOW - timedelta(days=1),
        "end": NOW,
        "purpose": "condition-monitoring",
    }
    defaults.update(fields)
    return ReadRequest(kind, **defaults)  # type: ignore[arg-type]


def test_canonical_form_ignores_spelling() -> None:
    compact = use(c("purpose", "eq", "cm"), c("dateTime", "lteq", "2027-06-30T23:59:59Z"))
    verbose = {
        "@context": "https://w3id.org/dspace/2025/1/context.jsonld",
        "@type": "odrl:Offer",
        "uid": "urn:x",
        "odrl:permission": {
            "odrl:action": {"@id": "odrl:use"},
            "odrl:constraint": [
                {
                    "leftOperand": "odrl:purpose",
                    "operator": {"@id": "odrl:eq"},
                    "rightOperand": "cm",
                },
                {
                    "leftOperand": "dateTime",
                    "operator": "lteq",
                    "rightOperand": {
                        "@value": "2027-07-01T01:59:59+02:00",
                        "@type": "xsd:dateTime",
                    },
                },
            ],
        },
    }
    assert policy_hash(compact) == policy_hash(verbose)
    assert policy_hash(compact) != policy_hash(use(c("purpose", "eq", "other")))
    assert policy_hash(use(c("signal", "isAnyOf", ["b", "a", "a"]))) == policy_hash(
        use(c("signal", "isAnyOf", ["a", "b"]))
    )


@given(st.lists(st.sampled_from(["t", "u", "v", "w"]), min_size=1, unique=True))
def test_hash_does_not_depend_on_set_order(signals: list[str]) -> None:
    forward = policy_hash(use(c("signal", "isAnyOf", signals)))
    assert forward == policy_hash(use(c("signal", "isAnyOf", list(reversed(signals)))))


def test_unknown_vocabulary_is_refused_and_denies() -> None:
    odd = use(c("temperature", "eq", "warm"))
    with pytest.raises(InvalidInput) as caught:
        checked(odd)
    assert "unknown leftOperand 'temperature'" in caught.value.message
    assert evaluate(Policy.parse(odd), read(), CTX).effect == "deny"
    bad_op = use(c("purpose", "lt", "x"))
    assert problems(Policy.parse(bad_op))
    assert evaluate(Policy.parse(bad_op), read(), CTX).reasons[0].code == "policy.unknown"
    unknown_action = {"permission": [{"action": "use"}], "prohibition": [{"action": "sell"}]}
    assert evaluate(Policy.parse(unknown_action), read(), CTX).effect == "deny"
    with pytest.raises(InvalidInput):
        checked({"permission": [{"action": "use"}], "obligation": [{"action": "delete"}]})
    with pytest.raises(InvalidInput, match="may not appear inside or"):
        checked(use({"or": [c("path", "isPartOf", "a"), c("purpose", "eq", "x")]}))
    with pytest.raises(InvalidInput, match="no time zone"):
        checked(use(c("dateTime", "lteq", "2027-01-01T00:00:00")))
    with pytest.raises(InvalidInput, match="unknown member"):
        checked({"permission": [{"action": "use", "constrain": []}]})


def test_durations() -> None:
    assert parse_duration("P30D") == timedelta(days=30)
    assert parse_duration("PT1H30M") == timedelta(hours=1, minutes=30)
    assert parse_duration("P1W") == timedelta(weeks=1)
    for bad in ("P1M", "P1Y", "P", "PT", "1h", "P1DT"):
        with pytest.raises(InvalidInput):
            parse_duration(bad)


def test_schema_is_published_and_lists_every_operand() -> None:
    from werk.sharing.policy import OPERANDS

    text = str(schema())
    for name in OPERANDS:
        assert f"'{name}'" in text


@pytest.mark.parametrize(
    ("policy", "request_", "context", "effect", "code"),
    [
        (use(c("purpose", "eq", "condition-monitoring")), read(), CTX, "permit", None),
        (
            use(c("purpose", "eq", "condition-monitoring")),
            read(purpose="marketing"),
            CTX,
            "deny",
            "purpose.mismatch",
        ),
        (
            use(c("purpose", "isAnyOf", ["a", "b"])),
            read(purpose=None),
            CTX,
            "deny",
            "purpose.mismatch",
        ),
        (use(c("dateTime", "lteq", "2026-10-31T00:00:00Z")), read(), CTX, "deny", "period.over"),
        (use(c("dateTime", "gteq", "2026-10-31T00:00:00Z")), read(), CTX, "permit", None),
        (
            use(c("elapsedTime", "lteq", "P7D")),
            read(),
            Context(NOW, "kuka", first_use=NOW - timedelta(days=8)),
            "deny",
            "period.elapsed",
        ),
        (
            use(c("elapsedTime", "lteq", "P7D")),
            read(),
            Context(NOW, "kuka", first_use=NOW - timedelta(days=6)),
            "permit",
            None,
        ),
        (
            use(c("count", "lteq", 3)),
            read(),
            Context(NOW, "kuka", uses=3),
            "deny",
            "count.exhausted",
        ),
        (use(c("count", "lt", 3)), read(), Context(NOW, "kuka", uses=1), "permit", None),
        (
            use(c("participantKind", "eq", "supplier")),
            read(),
            CTX,
            "deny",
            "participantKind.mismatch",
        ),
        (use(c("category", "isAnyOf", ["kpis"])), read(), CTX, "deny", "category.mismatch"),
        (use(c("category", "isAnyOf", ["kpis"])), read(ReadKind.KPI), CTX, "permit", None),
        (use(c("path", "isPartOf", "acme/wob/paint")), read(), CTX, "deny", "path.outside"),
        (
            use(c("path", "isPartOf", "acme/wob/body")),
            read(path="acme/wob"),
            CTX,
            "narrow",
            "narrowed.paths",
        ),
        (
            use(c("signal", "isAnyOf", ["temp"])),
            read(signals=("vibration",)),
            CTX,
            "deny",
            "signal.outside",
        ),
        (
            use(c("signal", "isAnyOf", ["temp"])),
            read(signals=("temp", "vibration")),
            CTX,
            "narrow",
            "narrowed.signals",
        ),
        (use(c("signal", "isAnyOf", ["temp"])), read(signals=("temp",)), CTX, "permit", None),
        (
            use(c("dataDateTime", "gteq", "2026-11-01T00:00:00Z")),
            read(),
            CTX,
            "narrow",
            "narrowed.window",
        ),
        (
            use(c("dataDateTime", "lt", "2026-10-01T00:00:00Z")),
            read(),
            CTX,
            "deny",
            "window.outside",
        ),
        (use(c("dataAge", "lteq", "PT6H")), read(), CTX, "narrow", "narrowed.window"),
        (use(c("bucket", "gteq", "PT1H")), read(), CTX, "narrow", "narrowed.bucket"),
        (use(c("bucket", "gteq", "PT1H")), read(bucket=timedelta(days=1)), CTX, "permit", None),
        (
            use(c("bucket", "gteq", "PT1H")),
            read(ReadKind.LATEST),
            CTX,
            "deny",
            "aggregation.raw_forbidden",
        ),
        (
            use(c("bucket", "gteq", "PT1H")),
            read(ReadKind.STREAM),
            CTX,
            "deny",
            "aggregation.raw_forbidden",
        ),
        (use(c("bucket", "gteq", "PT1H")), read(ReadKind.KPI), CTX, "permit", None),
        (use(), read(ReadKind.EXPORT), CTX, "deny", "policy.no_permission"),
        ({"permission": [{"action": "distribute"}]}, read(ReadKind.EXPORT), CTX, "permit", None),
        (use(prohibition=[{"action": "read"}]), read(), CTX, "deny", "policy.prohibited"),
        (
            use(prohibition=[{"action": "use", "constraint": [c("signal", "isAnyOf", ["x"])]}]),
            read(),
            CTX,
            "deny",
            "policy.prohibited",
        ),
        (
            use(prohibition=[{"action": "use", "constraint": [c("signal", "isAnyOf", ["x"])]}]),
            read(signals=("temp",)),
            CTX,
            "permit",
            None,
        ),
        (
            use(prohibition=[{"action": "read", "constraint": [c("purpose", "eq", "marketing")]}]),
            read(),
            CTX,
            "permit",
            None,
        ),
        (
            use({"or": [c("purpose", "eq", "x"), c("purpose", "eq", "condition-monitoring")]}),
            read(),
            CTX,
            "permit",
            None,
        ),
        (
            use({"xone": [c("purpose", "neq", "x"), c("purpose", "eq", "condition-monitoring")]}),
            read(),
            CTX,
            "deny",
            "constraint.failed",
        ),
        (
            use(
                {
                    "and": [
                        c("purpose", "eq", "condition-monitoring"),
                        c("signal", "isAnyOf", ["temp"]),
                    ]
                }
            ),
            read(),
            CTX,
            "narrow",
            "narrowed.signals",
        ),
        (
            {"permission": [{"action": "use", "duty": [{"action": "inform"}]}]},
            read(),
            CTX,
            "permit",
            None,
        ),
        ({}, read(), CTX, "deny", "policy.no_permission"),
    ],
)
def test_evaluation_table(
    policy: dict[str, object],
    request_: ReadRequest,
    context: Context,
    effect: str,
    code: str | None,
) -> None:
    outcome = evaluate(Policy.parse(policy), request_, context)
    assert outcome.effect == effect, outcome.reasons
    if code is not None:
        assert code in {r.code for r in outcome.reasons}
    if effect == "deny":
        assert outcome.scope is None


def test_narrowing_never_widens() -> None:
    policy = Policy.parse(
        use(
            c("path", "isPartOf", ["acme/wob/body/line-1", "acme/wob/paint"]),
            c("dataDateTime", "gteq", "2026-10-31T06:00:00Z"),
            c("bucket", "gteq", "PT1H"),
        )
    )
    outcome = evaluate(policy, read(path="acme", start=NOW - timedelta(days=3)), CTX)
    assert outcome.scope is not None
    assert outcome.scope.paths == ("acme/wob/body/line-1", "acme/wob/paint")
    assert outcome.scope.start == datetime(2026, 10, 31, 6, tzinfo=UTC)
    assert outcome.scope.end == NOW
    assert outcome.scope.bucket_floor == timedelta(hours=1)
    assert outcome.count_limit is None


def test_first_permission_that_holds_wins_and_prohibitions_win_over_it() -> None:
    policy = Policy.parse(
        {
            "permission": [
                {"action": "use", "constraint": [c("purpose", "eq", "quality")]},
                {"action": "use", "constraint": [c("signal", "isAnyOf", ["temp"])]},
            ],
            "prohibition": [{"action": "use", "constraint": [c("purpose", "eq", "marketing")]}],
        }
    )
    assert evaluate(policy, read(purpose="quality"), CTX).effect == "permit"
    assert evaluate(policy, read(purpose="other"), CTX).effect == "narrow"
    assert evaluate(policy, read(purpose="marketing"), CTX).effect == "deny"


def test_access_policies_decide_on_the_requester_only() -> None:
    suppliers = Policy.parse(use(c("participantKind", "eq", "supplier")))
    assert access_permitted(suppliers, Context(NOW, "bosch", "supplier"))[0]
    assert not access_permitted(suppliers, CTX)[0]
    assert not access_permitted(Policy.parse(use(c("purpose", "eq", "x"))), CTX)[0]
    assert Category.KPIS.value == "kpis"


@given(
    path=st.sampled_from(["", "acme", "acme/wob", ROBOT, "acme/wob/paint/line-2"]),
    signals=st.none() | st.sets(st.sampled_from(["temp", "current", "x"]), min_size=1),
    allowed_paths=st.lists(st.sampled_from(["acme/wob/body", ROBOT, "acme/gru"]), min_size=1),
    allowed_signals=st.sets(st.sampled_from(["temp", "current", "y"]), min_size=1),
    days=st.integers(0, 5),
)
def test_a_permitted_scope_is_never_wider_than_the_request_or_the_policy(
    path: str,
    signals: set[str] | None,
    allowed_paths: list[str],
    allowed_signals: set[str],
    days: int,
) -> None:
    from werk.sharing.principal import covers

    policy = Policy.parse(
        use(
            c("path", "isPartOf", allowed_paths),
            c("signal", "isAnyOf", sorted(allowed_signals)),
            c("dataAge", "lteq", f"P{days}D"),
        )
    )
    request = read(
        path=path,
        signals=tuple(sorted(signals)) if signals else None,
        start=NOW - timedelta(days=3),
    )
    outcome = evaluate(policy, request, CTX)
    if outcome.scope is None:
        assert outcome.effect == "deny"
        return
    scope = outcome.scope
    assert all(covers(path, p) and any(covers(a, p) for a in allowed_paths) for p in scope.paths)
    assert scope.signals is not None
    assert scope.signals <= allowed_signals
    assert signals is None or scope.signals <= signals
    assert scope.start is not None
    assert scope.start >= NOW - timedelta(days=min(days, 3))
    assert scope.end is not None
    assert scope.end <= NOW
