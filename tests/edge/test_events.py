"""Events derived from sample batches: state changes, counter wraps and resets, alarms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from werk.connectors.base import Point, PointRole, Readings
from werk.edge.agent import normalize
from werk.edge.events import DeriveState, derive_events, rules_from_points
from werk.samples import Quality, Sample, batch_to_events

M = "acme/wob/a/l1/m1"
T0 = datetime(2026, 3, 2, tzinfo=UTC)


def batch(signal: str, values: list[float], quality: Quality = Quality.GOOD) -> Readings:
    return Readings.of(
        [Sample(M, signal, T0 + timedelta(seconds=i), v, quality) for i, v in enumerate(values)]
    )


POINTS = [
    Point(path=M, signal="state", role=PointRole.STATE, states={"1": "executing", "2": "failure"}),
    Point(path=M, signal="good", role=PointRole.GOOD),
    Point(path=M, signal="alarm", role=PointRole.ALARM),
    Point(path=M, signal="temp"),
]


def test_state_counter_alarm() -> None:
    rules = rules_from_points(POINTS)
    state = DeriveState()
    events = batch_to_events(derive_events(batch("state", [1, 1, 2, 2, 1]).samples, rules, state))
    assert [(e.kind.value, e.code) for e in events] == [
        ("state", "executing"),
        ("state", "failure"),
        ("state", "executing"),
    ]
    counts = batch_to_events(
        derive_events(batch("good", [65530, 65535, 3, 10, 2]).samples, rules, state)
    )
    # baseline, +5, wrap +4, +7, reset → 2
    assert [e.good for e in counts] == [5, 4, 7, 2]
    assert (state.wraps, state.resets) == (1, 1)
    # carried over to the next batch: 2 → 5 is +3
    assert [
        e.good for e in batch_to_events(derive_events(batch("good", [5]).samples, rules, state))
    ] == [3]
    alarms = batch_to_events(derive_events(batch("alarm", [0, 1, 1, 0]).samples, rules, state))
    assert [e.active for e in alarms] == [True, False]
    assert derive_events(batch("temp", [1, 2]).samples, rules, state).num_rows == 0
    bad = derive_events(batch("state", [7], Quality.BAD).samples, rules, state)
    assert bad.num_rows == 0


def test_normalize_marks_non_finite_bad_and_leaves_out_bad_times() -> None:
    r = batch("temp", [1.0, float("inf"), float("nan")])
    old = Readings.of([Sample(M, "temp", datetime(1980, 1, 1, tzinfo=UTC), 1.0)])
    fixed, refused = normalize(r, int(T0.timestamp() * 1e9))
    assert refused == 0
    assert fixed.samples.column("quality").to_pylist() == [0, 2, 2]
    _, refused = normalize(old, int(T0.timestamp() * 1e9))
    assert refused == 1
