"""Run the ML benchmark's smoke mode so that it cannot rot: every row comes out, timings aside."""

from __future__ import annotations

import importlib.util

from bench.ml import sections
from tests.conftest import unavailable


def test_ml_benchmark_smoke() -> None:
    if importlib.util.find_spec("bibmon") is None:
        unavailable("bibmon (werk[ml]) is not installed: no Tennessee Eastman data")
    result = sections(smoke=True)
    assert [s.title.split(":")[0] for s in result] == ["ML", "ML", "ML"]
    training, scoring, figures = result
    assert len(training.rows) == 4
    assert len(scoring.rows) == 2
    assert all(float(r[1].replace(",", "")) > 0 for r in scoring.rows)
    assert any(r[0].startswith("TEP fault 1 ") for r in figures.rows)
    assert all(len(r) == len(s.header) for s in result for r in s.rows)
