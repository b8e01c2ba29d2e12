"""Event derivation and column collection: state changes, counters with wrap and reset, alarms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from werk.connectors.base import Point, PointRole
from werk.connectors.derive import Collector, EventDeriver, counter_step
from werk.samples import EventKind, Quality, batch_to_events, batch_to_samples

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
M = "acme/wob/body/line-1/press-01"


def _point(signal: str, role: PointRole, states: dict[str, str] | None = None) -> Point:
    return Point(path=M, signal=signal, role=role, states=states)


def test_state_change_maps_code_and_skips_repeats() -> None:
    d = EventDeriver()
    p = _point("state", PointRole.STATE, {"0": "executing", "3": "failure"})
    events = [d.derive(p, T0 + timedelta(seconds=i), v) for i, v in enumerate([0, 0, 3, 7])]
    assert events[1] is None
    assert [e.code for e in events if e is not None] == ["executing", "failure", "7"]
    assert all(e.kind is EventKind.STATE for e in events if e is not None)


def test_counter_wrap_reset_and_bad_values() -> None:
    d = EventDeriver()
    p = _point("good_counter", PointRole.GOOD)
    assert d.derive(p, T0, 65530) is None  # baseline
    wrap = d.derive(p, T0, 4)
    assert wrap is not None
    assert wrap.good == 10
    assert d.derive(p, T0, 9999, Quality.BAD) is None
    grow = d.derive(p, T0, 14)
    assert grow is not None
    assert grow.good == 10
    reset = d.derive(p, T0, 2)  # 14 → 2: a PLC restart, not a wrap of 65524 parts
    assert reset is not None
    assert reset.good == 2
    assert reset.extra == {"counter": "reset"}
    assert (d.wraps, d.resets) == (1, 1)
    scrap = _point("scrap_counter", PointRole.SCRAP)
    d.derive(scrap, T0, 1)
    ev = d.derive(scrap, T0, 3)
    assert ev is not None
    assert ev.scrap == 2
    assert ev.good is None


def test_alarm_on_change_only() -> None:
    d = EventDeriver()
    p = _point("door_open", PointRole.ALARM)
    got = [d.derive(p, T0, v) for v in (0, 0, 1, 1, 0)]
    assert [None if e is None else e.active for e in got] == [None, None, True, None, False]


@given(st.integers(0, 65535), st.integers(0, 4096))
def test_counter_step_never_negative_and_exact_on_wrap(last: int, parts: int) -> None:
    value = (last + parts) % 65536
    step = counter_step(last, value)
    assert step.parts == parts
    assert step.parts >= 0


def test_collector_flush_builds_batches() -> None:
    c = Collector()
    state = _point("state", PointRole.STATE, {"1": "setup"})
    temp = _point("spindle_temp", PointRole.VALUE)
    c.add(temp, T0, 21.5)
    c.add(state, T0, 1.0)
    c.add(temp, T0, float("nan"), Quality.BAD, 0x80740000)
    r = c.flush()
    samples = batch_to_samples(r.samples)
    assert [s.signal for s in samples] == ["spindle_temp", "state", "spindle_temp"]
    assert samples[2].quality is Quality.BAD
    assert samples[2].status == 0x80740000
    assert [e.code for e in batch_to_events(r.events)] == ["setup"]
    assert c.flush().empty
