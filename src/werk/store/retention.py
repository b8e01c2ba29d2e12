"""Decide which retention rule governs each path: the most specific prefix wins.

A rule ``(prefix, keep)`` covers the paths equal to ``prefix`` or below it, segment by segment
(``a/b`` covers ``a/b`` and ``a/b/c``, not ``a/bc``); the empty prefix covers everything. Of the
rules covering a path the one with the longest prefix decides, so ``acme`` kept 30 days and
``acme/berlin`` kept a year keeps Berlin's data a year. Data older than ``now - keep`` goes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from werk.errors import InvalidInput
from werk.samples import to_ns
from werk.store.base import RetentionRule
from werk.store.series import normalise_prefix, under

NO_CUTOFF = int(np.iinfo(np.int64).min)
"""Cutoff of a path no rule covers: nothing is older than it."""


def check_rule(prefix: str, keep: timedelta | None) -> str:
    """Return the normalised prefix of a rule, refusing a keep time that is not positive."""
    if keep is not None and keep <= timedelta(0):
        raise InvalidInput(f"retention keep time {keep} must be positive", field="keep")
    return normalise_prefix(prefix)


def ordered(rules: list[RetentionRule]) -> list[RetentionRule]:
    """Return ``rules`` most specific first (more segments first, then by prefix)."""
    return sorted(rules, key=lambda r: (-_depth(r.prefix), r.prefix))


def _depth(prefix: str) -> int:
    return len(prefix.split("/")) if prefix else 0


def cutoffs(
    paths: pa.Array | pa.ChunkedArray, rules: list[RetentionRule], now: datetime
) -> npt.NDArray[np.int64]:
    """Return per path the ns timestamp before which its data goes (:data:`NO_CUTOFF` if none)."""
    out = np.full(len(paths), NO_CUTOFF, dtype=np.int64)
    now_ns = to_ns(now)
    # Least specific first, so that more specific rules overwrite.
    for rule in reversed(ordered(rules)):
        mask = np.asarray(under(paths, rule.prefix).to_numpy(zero_copy_only=False), dtype=bool)
        keep_ns = rule.keep // timedelta(microseconds=1) * 1_000
        out[mask] = now_ns - keep_ns
    return out
