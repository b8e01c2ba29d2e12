"""Validate ISA-95 asset paths and signal names, the join keys of werk.

An asset path is lower-case slugs joined by ``/``, one per ISA-95 level
(``enterprise/site/area/line[/cell]/equipment``). A signal is named separately
(``.../robot-07`` + ``spindle_temp``). Every validation error says which segment is wrong and why.
"""

from __future__ import annotations

import re
from enum import IntEnum
from typing import Final

from werk.errors import PathError

MAX_DEPTH: Final = 6
MAX_SEGMENT: Final = 63
MAX_SIGNAL: Final = 63

_SEGMENT = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_SIGNAL = re.compile(r"[a-z][a-z0-9_]*")


class Level(IntEnum):
    """ISA-95 equipment levels, numbered as OPC 10030 ``ISA95EquipmentElementLevelEnum``."""

    ENTERPRISE = 0
    SITE = 1
    AREA = 2
    PRODUCTION_LINE = 5
    WORK_CELL = 6
    EQUIPMENT_MODULE = 12


#: Level of each path depth for discrete manufacturing; a 5-segment path skips the work cell.
_LEVELS_BY_DEPTH: Final[dict[int, tuple[Level, ...]]] = {
    1: (Level.ENTERPRISE,),
    2: (Level.ENTERPRISE, Level.SITE),
    3: (Level.ENTERPRISE, Level.SITE, Level.AREA),
    4: (Level.ENTERPRISE, Level.SITE, Level.AREA, Level.PRODUCTION_LINE),
    5: (
        Level.ENTERPRISE,
        Level.SITE,
        Level.AREA,
        Level.PRODUCTION_LINE,
        Level.EQUIPMENT_MODULE,
    ),
    6: (
        Level.ENTERPRISE,
        Level.SITE,
        Level.AREA,
        Level.PRODUCTION_LINE,
        Level.WORK_CELL,
        Level.EQUIPMENT_MODULE,
    ),
}

_SEGMENT_NAMES: Final = ("enterprise", "site", "area", "line", "cell or equipment", "equipment")


def segment_problem(segment: str) -> str | None:
    """Return why ``segment`` is not a valid path segment, or None if it is."""
    if not segment:
        return "is empty (two '/' in a row, or a leading or trailing '/')"
    if len(segment) > MAX_SEGMENT:
        return f"is {len(segment)} characters long; at most {MAX_SEGMENT} are allowed"
    if segment != segment.strip():
        return "has leading or trailing white space"
    if segment.lower() != segment:
        return "has upper-case letters; paths are lower-case slugs"
    if _SEGMENT.fullmatch(segment) is None:
        bad = sorted({c for c in segment if not (c.isascii() and (c.isalnum() or c == "-"))})
        if bad:
            return f"has characters {''.join(bad)!r}; only a-z, 0-9 and '-' are allowed"
        return "must start and end with a letter or digit"
    return None


def validate_path(path: str) -> str:
    """Return ``path`` if it is a valid asset path, else raise :class:`PathError`.

    Raises:
        PathError: naming the offending segment (its index and level) and the reason.
    """
    if not isinstance(path, str):
        raise PathError(f"asset path must be a string, got {type(path).__name__}", path=path)
    segments = path.split("/")
    if len(segments) > MAX_DEPTH:
        raise PathError(
            f"asset path {path!r} has {len(segments)} segments; at most {MAX_DEPTH} "
            "(enterprise/site/area/line/cell/equipment)",
            path=path,
        )
    for index, segment in enumerate(segments):
        problem = segment_problem(segment)
        if problem is not None:
            raise PathError(
                f"asset path {path!r}: segment {index + 1} ({_SEGMENT_NAMES[index]}) "
                f"{segment!r} {problem}",
                path=path,
                segment=index + 1,
            )
    return path


def is_valid_path(path: str) -> bool:
    """Tell whether ``path`` is a valid asset path."""
    if len(path) > MAX_DEPTH * (MAX_SEGMENT + 1):
        return False
    segments = path.split("/")
    return len(segments) <= MAX_DEPTH and all(_SEGMENT.fullmatch(s) for s in segments)


def validate_signal(signal: str) -> str:
    """Return ``signal`` if it is a valid signal name, else raise :class:`PathError`."""
    if not signal:
        raise PathError("signal name is empty", field="signal")
    if len(signal) > MAX_SIGNAL:
        raise PathError(
            f"signal name {signal!r} is {len(signal)} characters; at most {MAX_SIGNAL}",
            field="signal",
        )
    if _SIGNAL.fullmatch(signal) is None:
        raise PathError(
            f"signal name {signal!r} must start with a-z and hold only a-z, 0-9 and '_'",
            field="signal",
        )
    return signal


def is_valid_signal(signal: str) -> bool:
    """Tell whether ``signal`` is a valid signal name."""
    return len(signal) <= MAX_SIGNAL and _SIGNAL.fullmatch(signal) is not None


def levels(path: str) -> tuple[Level, ...]:
    """Return the ISA-95 level of each segment of a valid ``path``."""
    return _LEVELS_BY_DEPTH[len(validate_path(path).split("/"))]


def is_under(path: str, prefix: str) -> bool:
    """Tell whether ``path`` equals ``prefix`` or lies below it (segment-wise, not by string)."""
    return path == prefix or path.startswith(prefix + "/")


def parent(path: str) -> str | None:
    """Return the parent path, or None for an enterprise."""
    head, sep, _ = path.rpartition("/")
    return head if sep else None


def site_of(path: str) -> str | None:
    """Return ``enterprise/site`` of a path at site level or below, else None."""
    segments = path.split("/")
    return "/".join(segments[:2]) if len(segments) >= 2 else None
