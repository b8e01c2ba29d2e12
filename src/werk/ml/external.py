"""Evaluate the pipeline on data from outside werk: a documented CSV import and the Tennessee
Eastman benchmark shipped in the ``bibmon`` package (offline).

CSV format (one row per unit and time step; a header row)::

    unit,cycle,s1,s2,...,label
    pump-01,1,518.7,641.8,...,191
    pump-01,2,518.7,642.1,...,190

- ``unit``: run-to-failure unit or batch id (text);
- ``cycle``: time step or timestamp (numbers or ISO 8601), ordering rows within a unit;
- sensor columns: every other column, numeric (empty cells are missing values);
- ``label``: remaining useful life (numbers), a 0/1 fault or failure flag, or a quality value.

The same models as for werk's own data run on it: LightGBM on each row's sensors plus a trailing
mean over the unit's last ``window`` steps; units are split, never rows, so a unit's future
never trains the model that is scored on it. Labels with only 0 and 1 are classified (AUC,
average precision against the prevalence), others regressed (RMSE against the training mean).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from werk.errors import InvalidInput, NotFound
from werk.ml.anomaly import PcaMonitor
from werk.ml.features import F64
from werk.ml.models import ModelParams, Task, baseline, fit, metrics, predict

TEP_FAULT_START = 160
"""In the Braatz test sets the fault is introduced after sample 160 (8 h at 3 min)."""

PUBLISHED_TEP: dict[int, str] = {
    1: "T² 0.99 / SPE 1.00",
    2: "T² 0.98 / SPE 0.99",
    3: "T² 0.01 / SPE 0.01 (undetectable)",
    4: "T² 0.04–0.2 / SPE 1.00",
    5: "T² 0.23 / SPE 0.23",
    6: "T² 0.99 / SPE 1.00",
    7: "T² 1.00 / SPE 1.00",
    8: "T² 0.97 / SPE 0.97",
    9: "T² 0.01 / SPE 0.01 (undetectable)",
    10: "T² 0.33 / SPE 0.34",
    11: "T² 0.21 / SPE 0.74",
    12: "T² 0.97 / SPE 0.98",
    13: "T² 0.94 / SPE 0.95",
    14: "T² 0.99 / SPE 1.00",
    15: "T² 0.01 / SPE 0.02 (undetectable)",
    16: "T² 0.13 / SPE 0.31",
    17: "T² 0.74 / SPE 0.96",
    18: "T² 0.89 / SPE 0.90",
    19: "T² 0.12 / SPE 0.12",
    20: "T² 0.30 / SPE 0.46",
    21: "T² 0.40 / SPE 0.48",
}
"""Detection rates of PCA T² and SPE (Q) at 99 % limits on these data (Chiang, Russell and Braatz,
*Fault Detection and Diagnosis in Industrial Systems*, 2001; Yin et al., J. Process Control
2012)."""


@dataclass(frozen=True, slots=True)
class CsvDataset:
    """An imported CSV dataset.

    Attributes:
        file: Where it came from.
        unit: Unit or batch id per row.
        time: Time or cycle per row (ns for timestamps).
        x: Sensor values, shape (rows, sensors).
        sensors: Sensor column names.
        y: Label per row.
    """

    file: str
    unit: np.ndarray[tuple[int], np.dtype[np.str_]]
    time: F64
    x: F64
    sensors: list[str]
    y: F64


def read_csv_dataset(
    path: Path, *, unit: str = "unit", time: str = "cycle", label: str = "rul"
) -> CsvDataset:
    """Read and check a CSV dataset (format in the module docstring).

    Raises:
        NotFound: the file does not exist.
        InvalidInput: a column is missing, or a value is not a number (says file, line, column).
    """
    if not path.is_file():
        raise NotFound(f"no such file {path}", file=str(path))
    try:
        table = pacsv.read_csv(path)
    except pa.ArrowInvalid as exc:
        raise InvalidInput(f"cannot read {path.name} as CSV: {exc}", file=str(path)) from exc
    for column in (unit, time, label):
        if column not in table.column_names:
            raise InvalidInput(
                f"{path.name} has no column {column!r}", file=str(path), line=1, column=column
            )
    sensors = [c for c in table.column_names if c not in (unit, time, label)]
    if not sensors:
        raise InvalidInput(f"{path.name} has no sensor columns", file=str(path), line=1)
    numeric = {}
    for column in [*sensors, label, time]:
        col = table[column]
        if pa.types.is_timestamp(col.type):
            numeric[column] = col.cast(pa.timestamp("ns")).cast(pa.int64()).cast(pa.float64())
            continue
        if pa.types.is_null(col.type):
            col = col.cast(pa.float64())
        try:
            numeric[column] = col.cast(pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            values = col.to_pylist()
            for row, value in enumerate(values):
                try:
                    float(value) if value not in (None, "") else None
                except (TypeError, ValueError):
                    raise InvalidInput(
                        f"{path.name}: {value!r} in column {column!r} is not a number",
                        file=str(path),
                        line=row + 2,
                        column=column,
                    ) from None
            raise InvalidInput(
                f"{path.name}: column {column!r} is not numeric", file=str(path), column=column
            ) from None
    y = np.asarray(numeric[label].to_numpy(zero_copy_only=False), dtype=np.float64)
    if np.isnan(y).any():
        row = int(np.flatnonzero(np.isnan(y))[0])
        raise InvalidInput(
            f"{path.name}: the label is missing", file=str(path), line=row + 2, column=label
        )
    x = np.column_stack(
        [np.asarray(numeric[s].to_numpy(zero_copy_only=False), dtype=np.float64) for s in sensors]
    )
    units = np.asarray(pc.cast(table[unit], pa.string()).to_pylist(), dtype=np.str_)
    t = np.asarray(numeric[time].to_numpy(zero_copy_only=False), dtype=np.float64)
    order = np.lexsort((t, units))
    return CsvDataset(str(path), units[order], t[order], x[order], sensors, y[order])


def unit_features(ds: CsvDataset, window: int = 5) -> tuple[F64, list[str]]:
    """Return each row's sensors, their trailing mean over the unit's last ``window`` steps, and
    the step index within the unit (rows are sorted by unit, then time)."""
    n = len(ds.y)
    starts = np.r_[0, np.flatnonzero(ds.unit[1:] != ds.unit[:-1]) + 1]
    first = np.repeat(starts, np.diff(np.r_[starts, n]))
    step = np.arange(n) - first
    vals = np.nan_to_num(ds.x)
    cs = np.vstack([np.zeros((1, ds.x.shape[1])), np.cumsum(vals, axis=0)])
    lo = np.maximum(np.arange(n) - window + 1, first)
    mean = (cs[np.arange(n) + 1] - cs[lo]) / (np.arange(n) + 1 - lo)[:, None]
    names = ds.sensors + [f"{s}.mean{window}" for s in ds.sensors] + ["step"]
    return np.column_stack([ds.x, mean, step.astype(np.float64)]), names


def evaluate_csv(
    ds: CsvDataset, *, test_share: float = 0.3, params: ModelParams | None = None
) -> dict[str, float]:
    """Train on some units, test on the others; return metrics beside the naive baseline.

    Units are assigned to the test share by the order of their ids (every k-th unit), so the
    split is the same on every run.
    """
    x, _ = unit_features(ds)
    units = np.unique(ds.unit)
    if len(units) < 3:
        raise InvalidInput("evaluation needs at least 3 units", file=ds.file, column="unit")
    k = max(round(1 / test_share), 2)
    test_units = units[::k]
    test = np.isin(ds.unit, test_units)
    train = ~test
    binary = set(np.unique(ds.y).tolist()) <= {0.0, 1.0}
    task: Task = "failure" if binary else "rul"
    model = fit(task, x[train], ds.y[train], params=params or ModelParams(n_estimators=100))
    pred = predict(task, model, x[test])
    base = baseline(task, ds.y[train], int(test.sum()))
    out: dict[str, float] = {
        "units_train": float(len(units) - len(test_units)),
        "units_test": float(len(test_units)),
    }
    for prefix, p in (("model", pred), ("baseline", base)):
        for key, value in metrics(task, ds.y[test], p).items():
            if key not in ("rows", "positives"):
                out[f"{prefix}_{key}"] = value
    out["rows_test"] = float(test.sum())
    return out


def _package_file(package: str, *parts: str) -> Path:
    """Locate a data file inside an installed package without importing it (bibmon's import
    pulls in plotting and optimisation libraries: seconds, and warnings)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise NotFound(
            f"these data need the {package} package (pip install 'werk[ml]')", field=package
        )
    file = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    if not file.is_file():
        raise NotFound(f"{package} has no {'/'.join(parts)}", file=str(file))
    return file


def _tep_file(name: str) -> Path:
    return _package_file("bibmon", "tennessee_eastman", name)


LDPE_PROCESS = 14
"""The LDPE set: 54 runs of a polyethylene reactor, 14 process then 5 quality variables."""


def ldpe_monitoring(*, normal: int = 50, components: int = 3) -> dict[str, list[float]]:
    """Monitor the LDPE reactor (``process-improve``) with PCA on its 14 process variables.

    Fitted on the first ``normal`` runs with textbook 99 % limits; returns per run the SPE and
    T² over their limits. The end of this record is the process upset the multivariate SPC
    literature uses it for (Kourti and MacGregor 1995): the last runs break the SPE limit.
    """
    file = _package_file("process_improve", "datasets", "multivariate", "LDPE", "LDPE.csv")
    table = pacsv.read_csv(file)
    x = np.column_stack(
        [
            np.asarray(table.column(i).to_numpy(), dtype=np.float64)
            for i in range(1, 1 + LDPE_PROCESS)
        ]
    )
    monitor = PcaMonitor.fit(x[:normal], components=components, limits="theoretical")
    t2, spe = monitor.statistics(x)
    return {
        "spe": (spe / monitor.spe_limit).round(3).tolist(),
        "t2": (t2 / monitor.t2_limit).round(3).tolist(),
    }


def load_tep(fault: int) -> tuple[F64, F64]:
    """Return (normal training data 500×52, test data 960×52 of ``fault``; 0 = normal)."""
    train = np.loadtxt(_tep_file("d00.dat"))
    if train.shape[0] == 52:
        train = train.T  # d00.dat is stored transposed
    return train, np.loadtxt(_tep_file(f"d{fault:02d}_te.dat"))


def tep_detection_rates(
    faults: list[int] | None = None, *, components: int = 9, alpha: float = 0.99
) -> dict[int, dict[str, float]]:
    """Return PCA T², SPE and combined detection rates after the fault starts, per fault, and
    the false alarm rates on the normal test set (fault 0).

    Nine components and textbook 99 % limits, as in Chiang, Russell and Braatz (2001).
    """
    normal, _ = load_tep(0)
    monitor = PcaMonitor.fit(normal, components=components, alpha=alpha, limits="theoretical")
    out: dict[int, dict[str, float]] = {}
    for fault in faults if faults is not None else [0, *range(1, 22)]:
        _, test = load_tep(fault)
        t2, spe = monitor.statistics(test)
        t2_hit = t2 > monitor.t2_limit
        spe_hit = spe > monitor.spe_limit
        part = slice(TEP_FAULT_START, None) if fault else slice(None)
        out[fault] = {
            "t2": round(float(t2_hit[part].mean()), 3),
            "spe": round(float(spe_hit[part].mean()), 3),
            "either": round(float((t2_hit | spe_hit)[part].mean()), 3),
        }
    return out
