"""The store and the simulator's Parquet history give the same features for the same span."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from werk.errors import InvalidInput, NotFound
from werk.ml.features import window_features
from werk.ml.source import Data, read_history, read_store
from werk.store import Store


def test_store_and_history_agree(store: Store, history_dir: Path, data: Data) -> None:
    end = data.end - timedelta(hours=5)
    start = end - timedelta(days=2)
    from_store = read_store(store, "autowerk", start, end, counts=False)
    from_files = read_history(history_dir, start=start, end=end)
    assert from_store.samples.num_rows == from_files.samples.num_rows
    a = window_features(from_store.samples, from_store.events, start=start, end=end)
    b = window_features(from_files.samples, from_files.events, start=start, end=end)
    assert a.names == b.names
    assert a.path.tolist() == b.path.tolist()
    np.testing.assert_array_equal(a.x, b.x)
    assert from_store.lineage.source == "store"
    assert from_store.lineage.sites == ["berlin", "chicago", "shanghai"]


def test_bad_sources_are_refused(store: Store, tmp_path: Path, data: Data) -> None:
    with pytest.raises(NotFound):
        read_history(tmp_path)
    with pytest.raises(InvalidInput):
        read_store(store, "autowerk", data.end, data.start)
