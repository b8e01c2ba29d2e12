"""PLC counters: wraps and resets are detected, reported, and never give negative parts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from werk.errors import InvalidInput
from werk.kpi import counter_deltas

T = datetime(2026, 3, 2, 6, tzinfo=UTC)


def test_a_uint16_wrap_is_a_wrap() -> None:
    result = counter_deltas([65_530, 65_534, 3, 10])
    assert result.deltas.tolist() == [4, 5, 7]
    assert result.wraps.tolist() == [1]
    assert result.resets.tolist() == []
    (finding,) = result.findings
    assert finding.key == "counter.wrap"
    assert finding.detail == {"from": 65_534, "to": 3, "delta": 5}


def test_a_restart_is_a_reset() -> None:
    result = counter_deltas([1_000, 1_200, 5, 30], path="acme/berlin/a/l/press-01")
    assert result.deltas.tolist() == [200, 5, 25]
    assert result.resets.tolist() == [1]
    assert result.findings[0].key == "counter.reset"
    assert result.findings[0].path == "acme/berlin/a/l/press-01"


def test_the_rate_decides_between_wrap_and_reset() -> None:
    ts = [T, T + timedelta(seconds=10), T + timedelta(seconds=20)]
    # 60,000 → 100 in 10 s: a wrap would be 5,636 parts at most 2 parts/s: a reset.
    slow = counter_deltas([59_900, 60_000, 100], ts, max_rate=2.0)
    assert slow.resets.tolist() == [1]
    fast = counter_deltas([59_900, 60_000, 100], ts, max_rate=1_000.0)
    assert fast.wraps.tolist() == [1]
    assert fast.deltas.tolist() == [100, 5_636]
    assert "2026-03-02T06:00:20" in fast.findings[0].message
    step = counter_deltas([65_000, 10], max_step=600)
    assert step.wraps.tolist() == [0]


def test_a_counter_without_modulus_only_resets() -> None:
    assert counter_deltas([10, 20, 3], modulus=None).resets.tolist() == [1]


@pytest.mark.parametrize(
    ("values", "ts"),
    [([1, -1], None), ([70_000], None), ([1, 2], [T])],
)
def test_bad_readings_are_refused(values: list[int], ts: list[datetime] | None) -> None:
    with pytest.raises(InvalidInput):
        counter_deltas(values, ts)


@given(
    st.integers(0, 65_535),
    st.lists(st.integers(0, 2_000), max_size=50),
)
def test_deltas_of_a_wrapping_counter_recover_the_parts(start: int, parts: list[int]) -> None:
    readings = np.cumsum([start, *parts]) % 65_536
    result = counter_deltas(readings)
    assert result.deltas.tolist() == parts
    assert (result.deltas >= 0).all()
    assert len(result.resets) == 0
