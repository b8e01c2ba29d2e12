"""Window features: exact on hand-made signals, causal on simulated ones, blind to werk's own
predictions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from werk.errors import InvalidInput
from werk.ml.features import FeatureFrame, FeatureSpec, kind_of, site_of, window_features
from werk.ml.source import Data
from werk.samples import EVENT_SCHEMA, SAMPLE_SCHEMA, UTC_NS

T0 = datetime(2026, 3, 2, tzinfo=UTC)
PATH = "acme/plant/shop/line-1/press-01"


def _samples(path: str, signal: str, minutes: np.ndarray, values: np.ndarray) -> pa.Table:
    ts = (np.datetime64("2026-03-02T00:00:00", "ns") + minutes.astype("timedelta64[m]")).astype(
        np.int64
    )
    n = len(values)
    return pa.Table.from_arrays(
        [
            pa.array([path] * n),
            pa.array([signal] * n),
            pa.array(ts).cast(UTC_NS),
            pa.array(values, pa.float64()),
            pa.array(np.zeros(n, np.uint8)),
        ],
        schema=SAMPLE_SCHEMA,
    )


def _state(path: str, when: datetime, state: str) -> pa.Table:
    return pa.Table.from_pylist(
        [{"path": path, "ts": when, "kind": "state", "code": state}], schema=EVENT_SCHEMA
    )


def _col(frame: object, name: str) -> np.ndarray:
    from werk.ml.features import FeatureFrame

    assert isinstance(frame, FeatureFrame)
    return frame.x[:, frame.names.index(name)]


def test_level_spread_slope_and_high_band_are_exact_on_a_ramp() -> None:
    minutes = np.arange(0, 120)
    values = 10.0 + 0.5 * minutes / 60.0  # +0.5 per hour
    values[60:] += np.where(np.arange(60) % 2 == 0, 1.0, -1.0)  # second hour: alternating noise
    frame = window_features(
        _samples(PATH, "vibration", minutes, values),
        _state(PATH, T0 - timedelta(hours=1), "executing"),
        start=T0,
        end=T0 + timedelta(hours=2),
        spec=FeatureSpec(window=timedelta(hours=1), trend_windows=1),
    )
    assert len(frame) == 2
    mean = _col(frame, "vibration.mean")
    assert mean[0] == pytest.approx(10.0 + 0.5 * 29.5 / 60)
    assert _col(frame, "vibration.slope")[0] == pytest.approx(0.5)
    assert _col(frame, "vibration.std")[0] == pytest.approx(np.std(values[:60]))
    # A slow ramp has almost no high-band energy; alternating noise has nearly all of it.
    hf = _col(frame, "vibration.hf")
    assert hf[0] < 0.01
    assert hf[1] > 0.9
    assert _col(frame, "vibration.dlev")[1] == pytest.approx(mean[1] - mean[0])
    assert list(_col(frame, "exec_share")) == [1.0, 1.0]


def test_only_executing_samples_enter_signal_statistics() -> None:
    minutes = np.arange(0, 60)
    values = np.where(minutes < 30, 100.0, 1.0)
    events = pa.concat_tables(
        [_state(PATH, T0, "executing"), _state(PATH, T0 + timedelta(minutes=30), "idle")]
    )
    frame = window_features(
        _samples(PATH, "current", minutes, values), events, start=T0, end=T0 + timedelta(hours=1)
    )
    assert _col(frame, "current.mean")[0] == 100.0
    assert _col(frame, "exec_share")[0] == 0.5


def test_predictions_written_back_never_become_features() -> None:
    minutes = np.arange(0, 60)
    table = pa.concat_tables(
        [
            _samples(PATH, "current", minutes, np.ones(60)),
            _samples(PATH, "pred_failure_24h", minutes, np.ones(60)),
            _samples(PATH, "anomaly_score", minutes, np.ones(60)),
        ]
    )
    frame = window_features(
        table, _state(PATH, T0, "executing"), start=T0, end=T0 + timedelta(hours=1)
    )
    assert not [n for n in frame.names if n.startswith(("pred_", "anomaly_score"))]


def test_a_span_without_a_whole_window_is_refused() -> None:
    with pytest.raises(InvalidInput):
        window_features(
            _samples(PATH, "x", np.arange(3), np.ones(3)),
            _state(PATH, T0, "executing"),
            start=T0,
            end=T0 + timedelta(minutes=30),
        )


def test_paths_name_site_and_kind() -> None:
    assert site_of(PATH) == "plant"
    assert kind_of(PATH) == "press"
    assert kind_of("a/b/c/d/welding-robot-03") == "welding-robot"


def test_features_are_causal(data: Data, frame: FeatureFrame) -> None:
    """Rows computed without the future equal rows computed with it: no feature looks ahead."""
    cut = data.start + timedelta(days=7)
    full = frame
    ts = data.samples["ts"]
    import pyarrow.compute as pc

    past_samples = data.samples.filter(pc.less(ts, pa.scalar(cut, UTC_NS)))
    past_events = data.events.filter(pc.less(data.events["ts"], pa.scalar(cut, UTC_NS)))
    past = window_features(past_samples, past_events, start=data.start, end=cut)
    rows = full.end_ns <= past.stop_ns
    assert rows.sum() == len(past)
    np.testing.assert_array_equal(full.x[rows], past.align(full.names))
