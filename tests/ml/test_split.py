"""No future data reaches training: the guard raises, and a naive split would trip it."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from werk.ml.features import FeatureFrame
from werk.ml.labels import Labels
from werk.ml.source import Data
from werk.ml.split import LeakageError, guard_no_leakage, time_split
from werk.ml.train import ModelBundle
from werk.samples import to_ns

H_NS = 3_600_000_000_000


def test_the_guard_passes_labels_known_in_time_and_raises_on_future_ones() -> None:
    known = np.array([1, 5, 10], dtype=np.int64) * H_NS
    guard_no_leakage(known, 10 * H_NS, what="failure")
    with pytest.raises(LeakageError) as caught:
        guard_no_leakage(known, 9 * H_NS, what="failure")
    assert caught.value.key == "ml.leakage"
    assert caught.value.fields["field"] == "failure"


def test_a_split_on_window_end_alone_leaks_and_is_caught(
    frame: FeatureFrame, labels: Labels, data: Data
) -> None:
    """Windows just before the cutoff have labels that look 24 h past it."""
    cutoff = to_ns(data.start + timedelta(days=9))
    naive_train = frame.end_ns <= cutoff
    with pytest.raises(LeakageError):
        guard_no_leakage(labels.failure_known[naive_train], cutoff, what="failure")
    train, test = time_split(frame.end_ns, labels.failure_known, cutoff)
    guard_no_leakage(labels.failure_known[train], cutoff, what="failure")
    assert not (train & test).any()
    # Between the two lie exactly the windows whose horizon straddles the cutoff.
    gap = ~train & ~test
    assert (frame.end_ns[gap] > cutoff - 24 * H_NS).all()


def test_no_fold_of_the_fleet_report_trained_on_labels_from_after_its_test_start(
    bundle: ModelBundle,
) -> None:
    fleet = bundle.meta["fleet"]
    assert isinstance(fleet, dict)
    cutoff = fleet["cutoff"]
    checked = 0
    for tasks in fleet["sites"].values():
        for task in ("failure", "rul", "quality"):
            entry = tasks[task]
            assert entry["train_labels_until"] <= cutoff < entry["test_from"]
            checked += 1
    assert checked == 9


def test_the_bundle_records_its_training_window(bundle: ModelBundle, data: Data) -> None:
    window = bundle.meta["training_window"]
    assert isinstance(window, dict)
    assert window["start"] == data.start.isoformat()
    assert window["end"] == data.end.isoformat()
    assert window["start"] < window["evaluation_cutoff"] < window["end"]
