"""Participants own path prefixes; the most specific owner wins; the registry keeps them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from werk.errors import Conflict, InvalidInput, NotFound
from werk.sharing.participants import (
    PLATFORM_PARTICIPANT,
    Participant,
    ParticipantKind,
    Participants,
    owner_of,
)
from werk.store import Store, open_store

ACME = Participant("acme", "ACME Automotive", ParticipantKind.PLANT_OPERATOR, ("acme",))
BUILDER = Participant(
    "presswerk",
    "Presswerk GmbH",
    ParticipantKind.MACHINE_BUILDER,
    ("acme/wob/body/line-1/press-01", "acme/gru/body/line-2/press-04"),
)
SUPPLIER = Participant("bolts", "Bolts & Co", ParticipantKind.SUPPLIER)


@pytest.fixture(params=["duckdb", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = (
        f"duckdb:///{tmp_path / 'werk.duckdb'}"
        if request.param == "duckdb"
        else str(request.getfixturevalue("pg_url"))
    )
    the_store = open_store(url)
    yield the_store
    the_store.close()


def test_the_most_specific_owned_prefix_wins() -> None:
    everyone = [ACME, BUILDER, SUPPLIER]
    assert owner_of(everyone, "acme/wob/body/line-1/press-01") == "presswerk"
    assert owner_of(everyone, "acme/wob/body/line-1/press-01/cell") == "presswerk"
    assert owner_of(everyone, "acme/wob/body/line-1/press-010") == "acme"
    assert owner_of(everyone, "acme/wob") == "acme"
    assert owner_of(everyone, "acmex/wob") is None
    assert owner_of(everyone, "") is None


@given(st.lists(st.sampled_from(["a", "a/b", "a/b/c", "a/x", "b"]), max_size=5, unique=True))
def test_owner_of_picks_the_deepest_covering_prefix(owned: list[str]) -> None:
    parts = [
        Participant(f"p{i}", f"P {i}", ParticipantKind.SUPPLIER, (prefix,))
        for i, prefix in enumerate(owned)
    ]
    path = "a/b/c/d"
    covering = [p for p in owned if path == p or path.startswith(p + "/")]
    expected = max(covering, key=len) if covering else None
    found = owner_of(parts, path)
    assert (None if found is None else parts[int(found[1:])].owns[0]) == expected


def test_bad_ids_and_prefixes_are_named() -> None:
    with pytest.raises(InvalidInput) as bad_id:
        Participant("ACME", "x", ParticipantKind.SUPPLIER)
    assert bad_id.value.fields["field"] == "id"
    with pytest.raises(InvalidInput) as bad_owns:
        Participant("acme", "x", ParticipantKind.SUPPLIER, ("acme", "acme//wob"))
    assert bad_owns.value.fields["field"] == "owns[1]"
    with pytest.raises(InvalidInput) as bad_kind:
        Participant("acme", "x", "tenant")  # type: ignore[arg-type]
    assert bad_kind.value.key == "participants.invalid_kind"


def test_registry_create_get_list_update(store: Store) -> None:
    registry = Participants(store)
    assert registry.list() == [PLATFORM_PARTICIPANT]
    assert registry.get("platform") == PLATFORM_PARTICIPANT
    created = registry.create(ACME)
    assert created.version == 1
    registry.create(BUILDER)
    registry.create(SUPPLIER)
    assert [p.id for p in registry.list()] == ["platform", "acme", "bolts", "presswerk"]
    assert registry.get("presswerk") == BUILDER
    assert registry.owner_of("acme/gru/body/line-2/press-04") == "presswerk"
    assert registry.owner_of("acme/gru/body/line-2/press-05") == "acme"

    moved = registry.update("presswerk", owns=["acme/wob/body/line-1/press-01"])
    assert moved.version == 2
    assert registry.owner_of("acme/gru/body/line-2/press-04") == "acme"
    with pytest.raises(Conflict):  # somebody else changed it meanwhile
        registry.update("presswerk", name="Presswerk AG", expected_version=1)


def test_registry_refuses_duplicates_and_unknown_ids(store: Store) -> None:
    registry = Participants(store)
    registry.create(ACME)
    with pytest.raises(Conflict) as twice:
        registry.create(ACME)
    assert twice.value.key == "participants.exists"
    with pytest.raises(Conflict) as shared:
        registry.create(Participant("other", "Other", ParticipantKind.PLANT_OPERATOR, ("acme",)))
    assert shared.value.key == "participants.owned"
    with pytest.raises(Conflict):
        registry.create(Participant("platform", "Fake", ParticipantKind.PLATFORM_OPERATOR))
    with pytest.raises(NotFound) as missing:
        registry.get("nobody")
    assert missing.value.key == "participants.not_found"
    assert not registry.exists("nobody")
