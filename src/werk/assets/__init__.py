"""Hold the ISA-95 asset model: paths, levels, equipment types and instances (pure, no I/O)."""

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

__all__ = [
    "Level",
    "is_under",
    "is_valid_path",
    "is_valid_signal",
    "levels",
    "parent",
    "site_of",
    "validate_path",
    "validate_signal",
]
