"""Smoke test of the edge benchmark: it runs and reports its rows (no timings asserted)."""

from __future__ import annotations

import pytest

from bench.edge import sections
from tests.conftest import PG_ADMIN_URL


@pytest.mark.slow
def test_edge_bench_smoke() -> None:
    (section,) = sections(smoke=True, pg_admin_url=PG_ADMIN_URL)
    assert len(section.rows) == 3
    assert all(float(row[3].replace(",", "")) > 0 for row in section.rows)
