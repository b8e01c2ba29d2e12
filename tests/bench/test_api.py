"""Smoke test of the API latency benchmark: it runs and reports every view and load level."""

from __future__ import annotations

import pytest

from bench.api import sections


@pytest.mark.slow
def test_api_benchmark_smoke() -> None:
    (section,) = sections(smoke=True, pg_admin_url="")
    views = {row[0] for row in section.rows}
    assert len(views) == 3
    assert {row[2] for row in section.rows if row[1] == "API over HTTP"} == {"1", "10", "50"}
    assert all(float(row[3]) > 0 for row in section.rows)
