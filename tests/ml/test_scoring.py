"""Scoring writes predictions and alarms back to a real store, once per window, and flags a site
whose inputs drifted."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from pathlib import Path

import pyarrow.compute as pc
import pytest

from tests.ml.conftest import load_store
from werk.errors import NotFound
from werk.ml.registry import Registry
from werk.ml.scoring import score, scoring_loop
from werk.ml.source import Data
from werk.ml.train import ModelBundle
from werk.store import Store, open_store


def _registry(tmp_path: Path, bundle: ModelBundle) -> Registry:
    registry = Registry(tmp_path / "models")
    registry.promote("pdm", registry.save("pdm", bundle))
    return registry


def test_scoring_writes_signals_and_alarms_once(
    tmp_path: Path, store: Store, bundle: ModelBundle, data: Data
) -> None:
    registry = _registry(tmp_path, bundle)
    now = data.end - timedelta(hours=30, minutes=20)  # a Saturday afternoon in Asia, Fri in US
    done = score(store, registry, now=now, threshold=0.0)
    assert sorted(s.site for s in done) == [
        "autowerk/berlin",
        "autowerk/chicago",
        "autowerk/shanghai",
    ]
    assert all(not s.duplicate and s.machines == 10 for s in done)
    ends = {s.window_end for s in done}
    assert len(ends) == 1
    latest = store.latest("autowerk", signals=["pred_failure_24h", "pred_rul_h"])
    assert latest.num_rows >= 2 * 25
    probs = pc.filter(latest["value"], pc.equal(latest["signal"], "pred_failure_24h"))
    assert all(0.0 <= p <= 1.0 for p in probs.to_pylist())
    alarms = store.events(
        "autowerk", now - timedelta(days=1), now + timedelta(hours=1), kinds=["alarm"]
    )
    mine = alarms.filter(pc.equal(alarms["code"], "ml.failure_risk"))
    assert mine.num_rows == 30  # threshold 0: every machine
    assert all("top signals:" in r for r in mine["reason"].to_pylist())
    again = score(store, registry, now=now, threshold=0.0)
    assert all(s.duplicate for s in again)
    alarms = store.events(
        "autowerk", now - timedelta(days=1), now + timedelta(hours=1), kinds=["alarm"]
    )
    assert alarms.filter(pc.equal(alarms["code"], "ml.failure_risk")).num_rows == 30
    # An hour later nothing is at risk (no probability reaches 1.01): each alarm clears once.
    later = now + timedelta(hours=1)
    done = score(store, registry, now=later, threshold=1.01)
    assert sum(s.alerts for s in done) >= 30
    at = done[0].window_end
    risk = store.events("autowerk", at, at + timedelta(minutes=1), kinds=["alarm"])
    cleared = risk.filter(pc.equal(risk["code"], "ml.failure_risk"))
    assert cleared.num_rows == 30
    assert cleared["active"].to_pylist() == [False] * 30
    assert all(r.startswith("cleared: ") for r in cleared["reason"].to_pylist())
    again = score(store, registry, now=later + timedelta(hours=1), threshold=1.01)
    at = again[0].window_end
    quiet = store.events("autowerk", at, at + timedelta(minutes=1), kinds=["alarm"])
    assert quiet.filter(pc.equal(quiet["code"], "ml.failure_risk")).num_rows == 0


def test_a_site_whose_inputs_moved_is_flagged(
    tmp_path: Path, bundle: ModelBundle, data: Data
) -> None:
    """Chicago's sensors read 20 % high after a recalibration; the other sites are unchanged."""
    samples = data.samples
    chicago = pc.starts_with(samples["path"], "autowerk/chicago/")
    value = pc.if_else(chicago, pc.multiply(samples["value"], 1.2), samples["value"])
    moved = Data(
        samples.set_column(3, "value", value), data.events, data.start, data.end, data.lineage
    )
    the_store = open_store(f"duckdb:///{tmp_path / 'drift.duckdb'}")
    try:
        load_store(the_store, moved)
        registry = _registry(tmp_path, bundle)
        now = data.end - timedelta(days=2, hours=12)  # Friday noon UTC: all sites working
        done = {s.site: s for s in score(the_store, registry, now=now)}
        assert done["autowerk/chicago"].drift.drifted
        assert not done["autowerk/berlin"].drift.drifted
        assert not done["autowerk/shanghai"].drift.drifted
        alarms = the_store.events(
            "autowerk/chicago", now - timedelta(days=1), now + timedelta(hours=1), kinds=["alarm"]
        )
        drift = alarms.filter(pc.equal(alarms["code"], "ml.drift"))
        assert drift.num_rows == 1
        assert drift["path"][0].as_py() == "autowerk/chicago"
        assert "moved from training" in drift["reason"][0].as_py()
    finally:
        the_store.close()


def test_scoring_without_a_promoted_model_says_so(tmp_path: Path, store: Store) -> None:
    with pytest.raises(NotFound):
        score(store, Registry(tmp_path / "none"))


def test_the_loop_scores_until_cancelled(
    tmp_path: Path, store: Store, bundle: ModelBundle, data: Data
) -> None:
    registry = _registry(tmp_path, bundle)
    at = data.end - timedelta(days=1, hours=6)

    async def run() -> int:
        task = asyncio.create_task(
            scoring_loop(store, registry, 3600, clock=lambda: at), name="werk[ml].scoring"
        )
        rows = 0
        for _ in range(1200):
            await asyncio.sleep(0.05)
            rows = (await asyncio.to_thread(store.latest, "autowerk", ["drift_share"])).num_rows
            if rows == 3:
                break
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return rows

    assert asyncio.run(run()) == 3  # one drift figure per site: a whole round was written
