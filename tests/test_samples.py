"""The contracts round-trip between objects and Arrow batches without losing anything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from werk.samples import (
    EVENT_SCHEMA,
    SAMPLE_SCHEMA,
    Event,
    EventKind,
    Quality,
    Sample,
    batch_to_events,
    batch_to_samples,
    events_to_batch,
    from_ns,
    samples_to_batch,
    to_ns,
    utc,
)

TIMES = st.datetimes(
    # Hypothesis takes naive bounds and attaches the zone itself.
    min_value=datetime(1990, 1, 1),  # noqa: DTZ001
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@given(
    st.lists(
        st.builds(
            Sample,
            path=st.just("acme/berlin/body/line-1/press-01"),
            signal=st.sampled_from(["a", "b_2"]),
            ts=TIMES,
            value=st.floats(allow_nan=False),
            quality=st.sampled_from(list(Quality)),
            status=st.none() | st.integers(0, 2**32 - 1),
        ),
        max_size=20,
    )
)
def test_samples_round_trip(samples: list[Sample]) -> None:
    batch = samples_to_batch(samples)
    assert batch.schema.remove(5) == SAMPLE_SCHEMA
    assert batch_to_samples(batch) == samples


def test_events_round_trip() -> None:
    ts = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    events = [
        Event(
            "acme/berlin/body/line-1/press-01", ts, EventKind.STATE, code="failure", reason="E17"
        ),
        Event("acme/berlin/body/line-1/press-01", ts, EventKind.COUNT, good=10, scrap=-1),
        Event("acme/berlin/body/line-1/press-01", ts, EventKind.ALARM, code="A3", active=True),
    ]
    batch = events_to_batch(events)
    assert batch.schema == EVENT_SCHEMA
    assert batch_to_events(batch) == events


@given(TIMES)
def test_ns_conversion_round_trips_to_the_microsecond(ts: datetime) -> None:
    assert from_ns(to_ns(ts)) == ts


def test_naive_datetimes_are_refused_and_offsets_converted() -> None:
    with pytest.raises(ValueError, match="naive"):
        utc(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
    cet = timezone(timedelta(hours=1))
    assert utc(datetime(2026, 1, 1, 1, tzinfo=cet)) == datetime(2026, 1, 1, tzinfo=UTC)
