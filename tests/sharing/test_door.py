"""The read door decides by roles: grants inherit down the tree; no grant means not found."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from werk.errors import Forbidden, NotFound
from werk.sharing.door import ReadDoor, ReadKind, ReadRequest, Scope
from werk.sharing.principal import Grant, Principal, Role

VIEWER_A = Principal("ann", Role.VIEWER, "acme", (Grant("acme/wob", Role.VIEWER),), kind="user")
LINE_ENGINEER = Principal(
    "lin",
    Role.ENGINEER,
    "acme",
    (Grant("acme/wob/body/line-1", Role.ENGINEER), Grant("acme/wob/paint", Role.VIEWER)),
    kind="user",
)


def test_a_grant_covers_its_subtree_only() -> None:
    assert VIEWER_A.role_on("acme/wob/body/line-1/press-01") == Role.VIEWER
    assert VIEWER_A.role_on("acme/wob") == Role.VIEWER
    assert VIEWER_A.role_on("acme/wobx") is None
    assert VIEWER_A.role_on("acme/gru/body") is None
    assert LINE_ENGINEER.may(Role.ENGINEER, "acme/wob/body/line-1/press-01")
    assert not LINE_ENGINEER.may(Role.ENGINEER, "acme/wob/paint/line-1")


def test_a_path_without_grant_is_not_found() -> None:
    door = ReadDoor()
    decision = door.decide(VIEWER_A, ReadRequest(ReadKind.LATEST, "acme/gru"))
    assert not decision.permitted
    with pytest.raises(NotFound):
        decision.check()


def test_a_wider_prefix_is_narrowed_to_the_granted_parts() -> None:
    decision = ReadDoor().decide(LINE_ENGINEER, ReadRequest(ReadKind.LATEST, "acme"))
    scope = decision.check()
    assert scope.paths == ("acme/wob/body/line-1", "acme/wob/paint")
    assert decision.narrowed
    table = pa.table(
        {
            "path": ["acme/wob/body/line-1/m1", "acme/wob/body/line-10/m1", "acme/gru/x/y/z"],
            "signal": ["t", "t", "t"],
        }
    )
    assert scope.filter(table).column("path").to_pylist() == ["acme/wob/body/line-1/m1"]


def test_edge_keys_read_nothing_and_agreements_need_a_decider() -> None:
    edge = Principal("wob-1", Role.EDGE, edge="wob-1", kind="edge")
    assert not ReadDoor().decide(edge, ReadRequest(ReadKind.RANGE, "acme/wob")).permitted
    admin = Principal("admin", Role.ADMIN, kind="admin")
    with pytest.raises(Forbidden):
        ReadDoor().decide(admin, ReadRequest(ReadKind.RANGE, "acme", agreement="a-1")).check()


def test_scope_clamps_windows_buckets_and_rows() -> None:
    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    scope = Scope(
        paths=("",),
        signals=frozenset({"temp"}),
        start=t0,
        end=t0 + timedelta(days=1),
        bucket_floor=timedelta(hours=1),
    )
    assert scope.window(t0 - timedelta(days=3), None) == (t0, t0 + timedelta(days=1))
    assert scope.bucket(None) == timedelta(hours=1)
    assert scope.bucket(timedelta(minutes=1)) == timedelta(hours=1)
    assert scope.bucket(timedelta(days=1)) == timedelta(days=1)
    ts = pa.array([t0 - timedelta(hours=1), t0, t0 + timedelta(days=2)], pa.timestamp("ns", "UTC"))
    table = pa.table({"path": ["a/b"] * 3, "signal": ["temp", "temp", "rpm"], "ts": ts})
    assert scope.filter(table).num_rows == 1
