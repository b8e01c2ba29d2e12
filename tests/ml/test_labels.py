"""Labels from events agree with the simulator's ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.dataset as ds

from werk.ml.features import FeatureFrame
from werk.ml.labels import Labels
from werk.ml.source import Data

H_NS = 3_600_000_000_000


def test_failure_labels_match_the_true_wear_out_failures(
    frame: FeatureFrame, labels: Labels, history_dir: Path
) -> None:
    truth = ds.dataset(history_dir / "truth" / "failures", partitioning="hive").to_table()
    wear = truth.filter(pc.equal(truth["cause"], "wear"))
    assert wear.num_rows >= 6, "the fixture should hold several wear-out failures"
    # Every wear-out failure makes the 24 windows before it positive, with its reason.
    for row in wear.to_pylist():
        start_ns = int(row["start"].timestamp() * 1e9)
        mine = frame.path == row["path"]
        before = mine & (frame.end_ns < start_ns) & (frame.end_ns >= start_ns - 24 * H_NS)
        if before.sum() == 0:
            continue
        assert (labels.failure[before] == 1).all()
        assert set(labels.failure_reason[before].tolist()) >= {row["reason"]}
        rul = labels.rul_h[before]
        expected = (start_ns - frame.end_ns[before]) / H_NS
        known = ~np.isnan(rul)
        np.testing.assert_allclose(rul[known], np.minimum(expected, 72.0)[known], atol=1e-6)
    # Random failures are not the target: no label comes from them alone.
    positives = labels.failure == 1
    assert all("wear" in str(r) for r in labels.failure_reason[positives].tolist())


def test_scrap_is_joined_back_to_the_window_that_made_the_parts(labels: Labels, data: Data) -> None:
    counts = data.events.filter(pc.equal(data.events["kind"], "count"))
    inside = counts.filter(pc.greater_equal(counts["ts"], data.start))
    # Late scrap found at end-of-line is booked on the original count's time: totals agree.
    assert labels.parts.sum() == pc.sum(inside["good"]).as_py() + pc.sum(inside["scrap"]).as_py()
    rate = labels.scrap_rate[~np.isnan(labels.scrap_rate)]
    assert ((rate >= 0) & (rate <= 1)).all()
    assert 0 < rate.mean() < 0.2


def test_labels_are_unknown_where_the_data_ends(frame: FeatureFrame, labels: Labels) -> None:
    last = frame.end_ns == frame.end_ns.max()
    assert np.isnan(labels.failure[last]).all()
    assert np.isnan(labels.rul_h[frame.end_ns > frame.stop_ns - 72 * H_NS]).all()
    assert (labels.failure_known == frame.end_ns + 24 * H_NS).all()
