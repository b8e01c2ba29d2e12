"""Versions on disk; promote and roll back per site."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from werk.errors import Conflict, NotFound
from werk.ml.registry import Registry
from werk.ml.train import ModelBundle


def test_versions_metadata_promotion_and_rollback(tmp_path: Path, bundle: ModelBundle) -> None:
    registry = Registry(tmp_path / "models")
    assert registry.live("pdm", "berlin") is None
    v1 = registry.save("pdm", bundle)
    v2 = registry.save("pdm", bundle)
    assert (v1, v2) == (1, 2)
    meta = json.loads((tmp_path / "models/pdm/2/meta.json").read_text())
    assert meta["version"] == 2
    lineage = meta["lineage"]
    assert lineage["source"] == "history"
    assert lineage["samples"] > 0
    assert len(lineage["feature_hash"]) == 16
    assert set(meta["fleet"]["sites"]) == {"berlin", "chicago", "shanghai"}

    registry.promote("pdm", 1)  # every site
    registry.promote("pdm", 2, "berlin")
    assert registry.live("pdm", "berlin") == 2
    assert registry.live("pdm", "chicago") == 1
    listed = {v.version: v.live for v in registry.list("pdm")}
    assert listed == {1: ["*"], 2: ["berlin"]}

    assert registry.rollback("pdm", "berlin") is None
    assert registry.live("pdm", "berlin") == 1  # back to the fleet default
    with pytest.raises(Conflict):
        registry.rollback("pdm", "berlin")
    registry.promote("pdm", 2)
    assert registry.rollback("pdm") == 1
    loaded = registry.load("pdm", 1)
    assert loaded.names == bundle.names


def test_unknown_versions_are_not_found(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "models")
    with pytest.raises(NotFound):
        registry.promote("pdm", 7)
    with pytest.raises(NotFound):
        registry.load("pdm", 1)
    assert registry.list() == []
