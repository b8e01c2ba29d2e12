"""External data: the Tennessee Eastman benchmark against published PCA detection rates, and the
documented CSV import evaluated with the same models."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import unavailable
from werk.errors import InvalidInput
from werk.ml.external import evaluate_csv, read_csv_dataset, tep_detection_rates

# Published PCA detection rates at 99 % limits (Chiang, Russell and Braatz 2001): SPE (Q).
EASY_FAULTS = {
    1: 0.99,
    2: 0.98,
    4: 0.96,
    6: 0.99,
    7: 0.99,
    8: 0.96,
    12: 0.97,
    13: 0.94,
    14: 0.99,
    17: 0.93,
    18: 0.89,
}
HARD_FAULTS = (3, 9, 15)


@pytest.fixture(scope="module")
def tep() -> dict[int, dict[str, float]]:
    if importlib.util.find_spec("bibmon") is None:
        unavailable("bibmon (werk[ml]) is not installed: no Tennessee Eastman data")
    return tep_detection_rates([0, *EASY_FAULTS, *HARD_FAULTS])


def test_easy_tep_faults_are_detected_at_published_rates(tep: dict[int, dict[str, float]]) -> None:
    for fault, published in EASY_FAULTS.items():
        assert published - 0.05 <= tep[fault]["spe"] <= 1.0, fault


def test_faults_3_9_15_stay_practically_undetectable(tep: dict[int, dict[str, float]]) -> None:
    false_alarms = tep[0]["either"]
    assert false_alarms < 0.1
    for fault in HARD_FAULTS:
        # Not distinguishable from the false alarm rate on normal data.
        assert tep[fault]["either"] < false_alarms + 0.1, fault


def _run_to_failure_csv(path: Path, units: int = 24, seed: int = 1) -> None:
    """Units degrade exponentially from random starts to a threshold, with noisy sensors."""
    rng = np.random.default_rng(seed)
    lines = ["unit,cycle,temp,vib,pressure,rul"]
    for u in range(units):
        life = int(rng.integers(80, 200))
        cycles = np.arange(1, life + 1)
        health = np.exp((cycles - life) / 30.0)
        temp = 500 + 8 * health + rng.normal(0, 0.6, life)
        vib = 1.0 + 0.9 * health + rng.normal(0, 0.05, life)
        pressure = 40 + rng.normal(0, 1.0, life)  # uninformative
        for c, t, v, p in zip(cycles, temp, vib, pressure, strict=True):
            lines.append(f"u{u:02d},{c},{t:.3f},{v:.4f},{p:.3f},{life - c}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_run_to_failure_csv_beats_the_mean_baseline_on_held_out_units(tmp_path: Path) -> None:
    file = tmp_path / "rtf.csv"
    _run_to_failure_csv(file)
    result = evaluate_csv(read_csv_dataset(file, unit="unit", time="cycle", label="rul"))
    assert result["units_test"] >= 5
    assert result["model_rmse"] < 0.7 * result["baseline_rmse"]


def test_a_bad_csv_names_file_line_and_column(tmp_path: Path) -> None:
    file = tmp_path / "bad.csv"
    file.write_text("unit,cycle,temp,rul\na,1,500.1,9\na,2,hot,8\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        read_csv_dataset(file)
    assert caught.value.fields["line"] == 3
    assert caught.value.fields["column"] == "temp"
    missing = tmp_path / "missing.csv"
    missing.write_text("unit,time,temp\na,1,2\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        read_csv_dataset(missing, time="time")
    assert caught.value.fields["column"] == "rul"


def test_the_ldpe_upset_breaks_the_spe_limit_and_normal_runs_do_not() -> None:
    if importlib.util.find_spec("process_improve") is None:
        unavailable("process-improve (werk[ml]) is not installed: no LDPE data")
    from werk.ml.external import ldpe_monitoring

    spe = ldpe_monitoring()["spe"]
    assert len(spe) == 54
    assert sum(v > 1 for v in spe[:50]) <= 1  # 99 % limits: at most one false alarm in 50
    assert spe[-1] > 1.5
    assert spe[-2] > 1.0
