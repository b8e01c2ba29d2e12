"""Conformance: the asset model is stored, versioned and read back the same by both backends."""

from __future__ import annotations

from datetime import timedelta

from werk.assets.model import AssetModel, EquipmentType, Instance, SiteSpec
from werk.store import Store, open_store


def _model(cycle: float = 55.0) -> AssetModel:
    return AssetModel(
        (SiteSpec("acme/berlin", "Europe/Berlin"),),
        (EquipmentType("press", 1, (), {"door": timedelta(seconds=cycle)}),),
        (Instance("acme/berlin/body/line-1/press-01", "press"),),
    )


def test_an_empty_store_has_an_empty_model(store: Store) -> None:
    assert store.assets() == AssetModel()


def test_the_model_round_trips_and_versions_only_on_change(store: Store) -> None:
    assert store.put_assets(_model()) == 1
    assert store.assets() == _model()
    assert store.put_assets(_model()) == 1
    changed = _model().with_type(EquipmentType("press", 1, (), {"door": timedelta(seconds=50)}))
    assert store.put_assets(changed) == 2
    assert store.assets() == changed
    assert [t.key for t in store.assets().types] == ["press@1", "press@2"]


def test_the_model_survives_reopening(store_url: str) -> None:
    first = open_store(store_url)
    try:
        first.put_assets(_model(61.5))
    finally:
        first.close()
    again = open_store(store_url)
    try:
        assert again.assets() == _model(61.5)
    finally:
        again.close()
