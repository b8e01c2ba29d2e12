"""Conformance: versioned documents and exact counters behave the same on both backends."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from werk.errors import Conflict
from werk.store import Store


def test_documents_version_and_read_back(store: Store) -> None:
    assert store.document("user", "ada") is None
    first = store.put_document("user", "ada", {"name": "Ada", "grants": [["acme", "viewer"]]})
    assert first.version == 1
    second = store.put_document("user", "ada", {"name": "Ada L."})
    assert second.version == 2
    got = store.document("user", "ada")
    assert got is not None
    assert got.body == {"name": "Ada L."}
    assert got.version == 2
    old = store.document("user", "ada", version=1)
    assert old is not None
    assert old.body["grants"] == [["acme", "viewer"]]
    assert [d.version for d in store.document_history("user", "ada")] == [1, 2]


def test_expected_version_guards_read_modify_write(store: Store) -> None:
    store.put_document("agreement", "a-1", {"state": "active"}, expected_version=0)
    with pytest.raises(Conflict) as caught:
        store.put_document("agreement", "a-1", {"state": "revoked"}, expected_version=0)
    assert caught.value.key == "store.version_conflict"
    store.put_document("agreement", "a-1", {"state": "revoked"}, expected_version=1)
    got = store.document("agreement", "a-1")
    assert got is not None
    assert got.body["state"] == "revoked"


def test_without_history_only_the_newest_version_is_kept(store: Store) -> None:
    for n in range(3):
        store.put_document("edge-health", "wob-1", {"n": n}, keep_history=False)
    history = store.document_history("edge-health", "wob-1")
    assert [(d.version, d.body["n"]) for d in history] == [(3, 2)]


def test_listing_by_kind_and_prefix_gives_the_newest_of_each(store: Store) -> None:
    store.put_document("offer", "acme/o-2", {"v": 1})
    store.put_document("offer", "acme/o-1", {"v": 1})
    store.put_document("offer", "acme/o-1", {"v": 2})
    store.put_document("offer", "bosch/o-1", {"v": 1})
    store.put_document("user", "acme/x", {"v": 1})
    listed = store.documents("offer", "acme/")
    assert [(d.key, d.body["v"]) for d in listed] == [("acme/o-1", 2), ("acme/o-2", 1)]
    assert len(store.documents("offer")) == 3
    assert store.delete_document("offer", "acme/o-1") is True
    assert store.delete_document("offer", "acme/o-1") is False
    assert [d.key for d in store.documents("offer", "acme/")] == ["acme/o-2"]


def test_counters_add_and_respect_a_limit(store: Store) -> None:
    assert store.counter("uses:a-1") == 0
    assert store.increment("uses:a-1") == 1
    assert store.increment("uses:a-1", 2, limit=3) == 3
    assert store.increment("uses:a-1", limit=3) is None
    assert store.counter("uses:a-1") == 3


def test_counters_are_exact_under_concurrency(store: Store) -> None:
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _: store.increment("uses:c", limit=25), range(40)))
    permits = [g for g in got if g is not None]
    assert sorted(permits) == list(range(1, 26))
    assert store.counter("uses:c") == 25
