"""Asset paths and signal names: valid ones pass, invalid ones say which segment and why."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from werk.assets.paths import (
    Level,
    is_under,
    is_valid_path,
    is_valid_signal,
    levels,
    parent,
    site_of,
    validate_path,
    validate_signal,
)
from werk.errors import PathError

SEGMENT = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@given(st.lists(SEGMENT, min_size=1, max_size=6))
def test_valid_paths_pass_and_agree_with_the_fast_check(segments: list[str]) -> None:
    path = "/".join(segments)
    assert validate_path(path) == path
    assert is_valid_path(path)


@given(st.text(max_size=40))
def test_fast_check_agrees_with_the_full_check(text: str) -> None:
    try:
        validate_path(text)
        valid = True
    except PathError:
        valid = False
    assert is_valid_path(text) == valid


@pytest.mark.parametrize(
    ("path", "segment", "words"),
    [
        ("acme/Berlin", 2, "upper-case"),
        ("acme//body", 2, "empty"),
        ("acme/berlin/", 3, "empty"),
        ("acme/ber lin", 2, "' '"),
        ("acme/-berlin", 2, "start and end"),
        ("acme/berlin/body/line-1/cell-2/robot-7/extra", None, "at most 6"),
        ("acme/" + "x" * 64, 2, "64 characters"),
    ],
)
def test_invalid_paths_name_the_segment(path: str, segment: int | None, words: str) -> None:
    with pytest.raises(PathError) as info:
        validate_path(path)
    assert info.value.fields.get("segment") == segment
    assert words in info.value.message


def test_levels_follow_opc_10030() -> None:
    assert levels("acme/berlin/body/line-1/robot-7")[-1] is Level.EQUIPMENT_MODULE
    assert levels("acme/berlin/body/line-1/cell-2/robot-7")[4] is Level.WORK_CELL
    assert levels("acme/berlin")[1] == 1


def test_tree_relations_are_segment_wise() -> None:
    assert is_under("acme/berlin/body", "acme/berlin")
    assert not is_under("acme/berlin-2", "acme/berlin")
    assert parent("acme/berlin") == "acme"
    assert parent("acme") is None
    assert site_of("acme/berlin/body") == "acme/berlin"
    assert site_of("acme") is None


@pytest.mark.parametrize("name", ["", "Temp", "1temp", "spindle-temp", "t" * 64])
def test_invalid_signals(name: str) -> None:
    with pytest.raises(PathError):
        validate_signal(name)
    assert not is_valid_signal(name)


def test_valid_signal() -> None:
    assert validate_signal("spindle_temp_2") == "spindle_temp_2"
