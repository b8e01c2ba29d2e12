"""Fit the three supervised models and score them against naive baselines.

=================  ==========================================  ==============================
task               model                                       naive baseline
=================  ==========================================  ==============================
``failure``        LightGBM classifier: failure within horizon  training prevalence
``rul``            LightGBM regressor: hours to failure (capped) training mean RUL
``quality``        LightGBM with cross-entropy on the window's  training scrap rate
                   scrap rate, weighted by parts made
=================  ==========================================  ==============================

LightGBM runs deterministic (``deterministic``, row-wise histograms, one thread, fixed seed), so
the same seed and data give the same model byte for byte. The ``kind`` column is categorical.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from lightgbm import LGBMClassifier, LGBMRegressor
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    mean_absolute_error,
    roc_auc_score,
)

F64 = npt.NDArray[np.float64]
Task = Literal["failure", "rul", "quality"]
TASKS: tuple[Task, ...] = ("failure", "rul", "quality")
Estimator = LGBMClassifier | LGBMRegressor


@dataclass(frozen=True, slots=True)
class ModelParams:
    """Hyper-parameters shared by the three models."""

    n_estimators: int = 150
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_child_samples: int = 20
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    seed: int = 0


def _make(task: Task, params: ModelParams) -> Estimator:
    cls = LGBMClassifier if task == "failure" else LGBMRegressor
    return cls(
        objective="cross_entropy" if task == "quality" else None,
        n_estimators=params.n_estimators,
        learning_rate=params.learning_rate,
        num_leaves=params.num_leaves,
        min_child_samples=params.min_child_samples,
        subsample=params.subsample,
        subsample_freq=1,
        colsample_bytree=params.colsample_bytree,
        random_state=params.seed,
        n_jobs=1,
        deterministic=True,
        force_row_wise=True,
        verbose=-1,
    )


def fit(
    task: Task,
    x: F64,
    y: F64,
    *,
    weight: F64 | None = None,
    categorical: list[int] | None = None,
    params: ModelParams | None = None,
) -> Estimator:
    """Fit the model of ``task`` on ``x``, ``y`` (rows with NaN labels must be removed first)."""
    params = params or ModelParams()
    cat: list[int] | Literal["auto"] = categorical if categorical else "auto"
    model = _make(task, params)
    if task == "failure":
        y = y.astype(np.int64)
    with warnings.catch_warnings():
        # A fold with one class only fits a constant model; LightGBM says so in a warning.
        warnings.simplefilter("ignore", UserWarning)
        model.fit(x, y, sample_weight=weight, categorical_feature=cat)
    return model


def predict(task: Task, model: Estimator, x: F64) -> F64:
    """Return predictions: probability (failure), hours (rul), scrap share (quality)."""
    if len(x) == 0:
        return np.empty(0)
    if task == "failure":
        assert isinstance(model, LGBMClassifier)
        if len(model.classes_) < 2:
            return np.full(len(x), float(model.classes_[0]))
        proba = np.asarray(model.predict_proba(x), dtype=np.float64)
        return proba[:, 1]
    return np.clip(np.asarray(model.predict(x), dtype=np.float64), 0.0, None)


def contributions(model: Estimator, x: F64) -> F64:
    """Return each feature's contribution (SHAP, in the model's raw units) to each prediction."""
    raw = np.asarray(model.predict(x, pred_contrib=True), dtype=np.float64)
    return raw[:, : x.shape[1]]


def metrics(task: Task, y: F64, pred: F64, *, weight: F64 | None = None) -> dict[str, float]:
    """Return the task's metrics of ``pred`` against ``y`` (NaN where undefined, e.g. no rows
    or a baseline without training rows)."""
    n = float(len(y))
    if len(y) == 0 or np.isnan(pred).any():
        keys = {
            "failure": ("auc", "ap", "brier"),
            "rul": ("rmse", "mae"),
            "quality": ("wrmse", "auc_high"),
        }[task]
        return {"rows": n, **{k: float("nan") for k in keys}}
    if task == "failure":
        both = len(np.unique(y)) == 2
        return {
            "rows": n,
            "positives": float(y.sum()),
            "auc": float(roc_auc_score(y, pred)) if both else float("nan"),
            "ap": float(average_precision_score(y, pred)) if both else float("nan"),
            "brier": float(brier_score_loss(y, np.clip(pred, 0, 1))) if n else float("nan"),
        }
    if task == "rul":
        return {
            "rows": n,
            "rmse": float(np.sqrt(np.mean((y - pred) ** 2))) if n else float("nan"),
            "mae": float(mean_absolute_error(y, pred)) if n else float("nan"),
        }
    w = weight if weight is not None else np.ones_like(y)
    wsum = float(w.sum())
    high = y > np.average(y, weights=w) if wsum else np.zeros(len(y), bool)
    return {
        "rows": n,
        "parts": wsum,
        # Squared error of the scrap share, weighted by parts: the Brier score per part.
        "wrmse": float(np.sqrt(np.average((y - pred) ** 2, weights=w))) if wsum else float("nan"),
        "auc_high": float(roc_auc_score(high, pred)) if len(np.unique(high)) == 2 else float("nan"),
    }


PRIMARY: dict[Task, tuple[str, bool]] = {
    "failure": ("ap", True),
    "rul": ("rmse", False),
    "quality": ("wrmse", False),
}
"""The metric each decision uses (adaptation, margins) and whether higher is better."""


def better(task: Task, a: dict[str, float], b: dict[str, float]) -> bool:
    """Return True when metrics ``a`` beat ``b`` on the task's primary metric (NaN never wins)."""
    key, higher = PRIMARY[task]
    va, vb = a.get(key, float("nan")), b.get(key, float("nan"))
    if np.isnan(va):
        return False
    if np.isnan(vb):
        return True
    return va > vb if higher else va < vb


def baseline(task: Task, y_train: F64, n: int, *, weight: F64 | None = None) -> F64:
    """Return the naive baseline's predictions for ``n`` rows: training prevalence, mean RUL or
    scrap rate (weighted by parts)."""
    if len(y_train) == 0:
        return np.full(n, np.nan)
    if task == "quality" and weight is not None and weight.sum() > 0:
        return np.full(n, float(np.average(y_train, weights=weight)))
    return np.full(n, float(np.mean(y_train)))
