"""A simulated three-site fleet for the ML tests, generated once per session.

The default fleet (three plants in three time zones, ten machines each) at one sample per five
minutes for two weeks: enough wear-out failures per site to evaluate on, small enough to train
in seconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from werk.ml.features import FeatureFrame, window_features
from werk.ml.fleet import TrainConfig
from werk.ml.labels import Labels, make_labels
from werk.ml.models import ModelParams
from werk.ml.source import Data, read_history
from werk.ml.train import ModelBundle, train
from werk.samples import EVENT_SCHEMA, SAMPLE_SCHEMA, UTC_NS
from werk.sim.fleet import default_fleet_path, load_fleet
from werk.sim.history import write_history
from werk.store import Store, open_store

START = date(2026, 3, 2)  # a Monday
DAYS = 14
CONFIG = TrainConfig(params=ModelParams(n_estimators=40, seed=0))


def fleet_text(sample_period_s: int = 300) -> str:
    """The default fleet's YAML at a coarse sample period."""
    text = default_fleet_path().read_text(encoding="utf-8")
    return re.sub(r"^sample_period:.*$", f"sample_period: {sample_period_s}", text, flags=re.M)


@pytest.fixture(scope="session")
def history_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two weeks of the default fleet: samples, events and ground truth."""
    folder = tmp_path_factory.mktemp("ml-history")
    (folder / "fleet.yaml").write_text(fleet_text(), encoding="utf-8")
    write_history(load_fleet(folder / "fleet.yaml"), START, DAYS, folder / "out")
    return folder / "out"


@pytest.fixture(scope="session")
def data(history_dir: Path) -> Data:
    """The history read back as samples and events."""
    return read_history(history_dir)


@pytest.fixture(scope="session")
def frame(data: Data) -> FeatureFrame:
    """Features of the whole history."""
    return window_features(data.samples, data.events, start=data.start, end=data.end)


@pytest.fixture(scope="session")
def labels(frame: FeatureFrame, data: Data) -> Labels:
    """Labels of :func:`frame`'s rows (read-only: copy before changing)."""
    return make_labels(frame, data.events)


@pytest.fixture(scope="session")
def bundle(data: Data) -> ModelBundle:
    """Models trained on the whole history, with the fleet report."""
    return train(data, CONFIG)


def load_store(store: Store, data: Data, *, days: int = 4) -> None:
    """Write the last ``days`` of samples and all events of ``data`` into ``store``."""
    first = data.end - timedelta(days=days)
    samples = data.samples.filter(ds.field("ts") >= pa.scalar(first, UTC_NS))
    store.write("test:samples", samples=samples.cast(SAMPLE_SCHEMA))
    store.write("test:events", events=data.events.cast(EVENT_SCHEMA))


@pytest.fixture
def store(tmp_path: Path, data: Data) -> Iterator[Store]:
    """A fresh DuckDB store holding the end of the history."""
    the_store = open_store(f"duckdb:///{tmp_path / 'werk.duckdb'}")
    load_store(the_store, data)
    yield the_store
    the_store.close()
