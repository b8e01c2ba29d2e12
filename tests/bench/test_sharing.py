"""Smoke test of the sharing benchmark: it runs on both backends and reports its rows."""

from __future__ import annotations

import pytest

from bench.sharing import sections
from tests.conftest import PG_ADMIN_URL, need_service


@pytest.mark.slow
def test_sharing_bench_smoke() -> None:
    need_service("PostgreSQL", 5432)
    (section,) = sections(smoke=True, pg_admin_url=PG_ADMIN_URL)
    assert len(section.rows) == 11
    for row in section.rows:
        assert len(row) == 3
        assert all(cell != "—" for cell in row[1:]), row
    assert section.rows[-1][1].endswith("%")
