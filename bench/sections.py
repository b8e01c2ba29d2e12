"""List the benchmark's sections beyond ingest and queries: one entry per part of werk.

Each entry names a module and a function ``sections(*, smoke: bool, pg_admin_url: str) ->
list[Section]``; modules are imported only when the run reaches them, so one part's heavy
dependencies never slow another's. Add a part by adding a line here (and a smoke test of it in
``tests/bench/``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Final

from bench.report import Section

SectionsFn = Callable[..., list[Section]]

SECTIONS: Final[tuple[tuple[str, str], ...]] = (
    ("bench.simulator", "sections"),
    ("bench.kpi", "sections"),
    ("bench.ml", "sections"),
    ("bench.connectors", "sections"),
    ("bench.api", "sections"),
    ("bench.edge", "sections"),
    ("bench.sharing", "sections"),
)
"""(module, function) of every extra section, in the order they appear in RESULTS.md."""


def collect(*, smoke: bool, pg_admin_url: str) -> list[Section]:
    """Run every registered part's benchmark and return its sections."""
    out: list[Section] = []
    for module, name in SECTIONS:
        fn: SectionsFn = getattr(importlib.import_module(module), name)
        out += fn(smoke=smoke, pg_admin_url=pg_admin_url)
    return out
