"""Answer the fleet question: does a model trained on the other plants work in this one?

For every site: train on the *other* sites with labels known before the cutoff, test on this
site's windows after the cutoff; once on raw features and once adapted (per-site, per-kind
normalisation from unlabelled data, :mod:`werk.ml.adapt`); beside the naive baseline. Adaptation
is kept for the site only when it beats the raw model on a *check*: the site's own labelled
windows from before the cutoff (at deployment those exist; its future does not). Every fit goes
through :func:`~werk.ml.split.guard_no_leakage`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from werk.ml.adapt import SiteNormaliser
from werk.ml.anomaly import PcaMonitor
from werk.ml.features import F64, I64, FeatureFrame, FeatureSpec
from werk.ml.labels import Labels, LabelSpec
from werk.ml.models import TASKS, ModelParams, Task, baseline, better, fit, metrics, predict
from werk.ml.split import guard_no_leakage
from werk.samples import from_ns

Mask = npt.NDArray[np.bool_]
MIN_CHECK_ROWS = 20


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Everything a training run needs besides the data.

    Attributes:
        features: How feature windows are cut.
        labels: What the labels mean.
        params: Model hyper-parameters (and the seed).
        train_fraction: Share of the span before the evaluation cutoff.
    """

    features: FeatureSpec = field(default_factory=FeatureSpec)
    labels: LabelSpec = field(default_factory=LabelSpec)
    params: ModelParams = field(default_factory=ModelParams)
    train_fraction: float = 0.6


def target(labels: Labels, task: Task) -> tuple[F64, I64, F64 | None]:
    """Return (label, known-at, weight) of ``task``."""
    if task == "failure":
        return labels.failure, labels.failure_known, None
    if task == "rul":
        return labels.rul_h, labels.rul_known, None
    return labels.scrap_rate, labels.quality_known, labels.parts


def kind_column(names: list[str]) -> list[int]:
    """Return the index of the categorical ``kind`` column (for LightGBM)."""
    return [names.index("kind")] if "kind" in names else []


def anomaly_columns(names: list[str]) -> list[int]:
    """Columns the PCA monitor watches: levels and spreads of signals."""
    return [i for i, n in enumerate(names) if n.endswith((".mean", ".std"))]


def fit_monitors(
    x: F64, frame: FeatureFrame, normal: Mask, names: list[str]
) -> dict[str, tuple[list[int], PcaMonitor]]:
    """Fit one PCA monitor per equipment kind on its normal rows (columns with data only)."""
    cols = anomaly_columns(names)
    out: dict[str, tuple[list[int], PcaMonitor]] = {}
    for kind in np.unique(frame.kind).tolist():
        rows = normal & (frame.kind == kind) & (frame.x[:, names.index("exec_share")] > 0.5)
        block = x[np.ix_(rows, cols)]
        has = np.asarray(~np.isnan(block).all(axis=0), dtype=bool)
        use = [c for c, ok in zip(cols, has.tolist(), strict=True) if ok]
        if rows.sum() >= 10 and use:
            out[kind] = (use, PcaMonitor.fit(x[np.ix_(rows, use)]))
    return out


def anomaly_scores(
    x: F64, frame: FeatureFrame, monitors: dict[str, tuple[list[int], PcaMonitor]]
) -> F64:
    """Return each row's anomaly score from its kind's monitor (NaN without one)."""
    out = np.full(len(frame), np.nan)
    for kind, (cols, mon) in monitors.items():
        rows = frame.kind == kind
        if rows.any():
            out[rows] = mon.score(x[np.ix_(rows, cols)])
    return out


def auc(y: F64, score: F64) -> float:
    from sklearn.metrics import roc_auc_score

    ok = ~np.isnan(score) & ~np.isnan(y)
    if len(np.unique(y[ok])) < 2:
        return float("nan")
    return float(roc_auc_score(y[ok], score[ok]))


def evaluate_fleet(
    frame: FeatureFrame,
    labels: Labels,
    cutoff_ns: int,
    config: TrainConfig,
    *,
    progress: Callable[[str], None] | None = None,
) -> dict[str, object]:
    """Run leave-one-site-out evaluation with and without adaptation; return the fleet report.

    The report (JSON-ready) holds per site and task: ``raw``, ``adapted`` and ``baseline``
    metrics on the site's windows after ``cutoff_ns``, the ``check`` on its labelled history,
    whether adaptation is kept (``adapt``), the metrics of the kept variant (``chosen``) and the
    ``gain`` of the chosen model over the baseline on the primary metric.
    """
    names = frame.names
    cat = kind_column(names)
    normaliser = SiteNormaliser(names)
    normaliser.fit(frame, frame.end_ns <= cutoff_ns)
    variants = {"raw": frame.x, "adapted": normaliser.apply(frame)}
    sites = sorted(set(frame.site.tolist()))
    report: dict[str, object] = {
        "cutoff": from_ns(cutoff_ns).isoformat(),
        "sites": {},
    }
    per_site: dict[str, dict[str, object]] = {}
    for site in sites:
        own = frame.site == site
        other = ~own
        site_report: dict[str, object] = {}
        for task in TASKS:
            if progress is not None:
                progress(f"{site}: {task}")
            y, known, weight = target(labels, task)
            valid = ~np.isnan(y)
            train = other & valid & (known <= cutoff_ns)
            check = own & valid & (known <= cutoff_ns)
            test = own & valid & (frame.end_ns > cutoff_ns)
            guard_no_leakage(known[train], cutoff_ns, what=task)
            entry: dict[str, object] = {
                "train_rows": int(train.sum()),
                "test_rows": int(test.sum()),
                # Recorded so a reader (and a test) can verify the split independently.
                "train_labels_until": from_ns(int(known[train].max())).isoformat()
                if train.any()
                else None,
                "test_from": from_ns(int(frame.end_ns[test].min())).isoformat()
                if test.any()
                else None,
            }
            w_train = weight[train] if weight is not None else None
            base = baseline(task, y[train], int(test.sum()), weight=w_train)
            w_test = weight[test] if weight is not None else None
            entry["baseline"] = metrics(task, y[test], base, weight=w_test)
            checks: dict[str, dict[str, float]] = {}
            for variant, x in variants.items():
                if train.sum() < 10:
                    continue
                model = fit(
                    task, x[train], y[train], weight=w_train, categorical=cat, params=config.params
                )
                entry[variant] = metrics(
                    task, y[test], predict(task, model, x[test]), weight=w_test
                )
                w_check = weight[check] if weight is not None else None
                checks[variant] = metrics(
                    task, y[check], predict(task, model, x[check]), weight=w_check
                )
            adapt = (
                int(check.sum()) >= MIN_CHECK_ROWS
                and "adapted" in checks
                and better(task, checks["adapted"], checks["raw"])
            )
            entry["check"] = checks
            entry["adapt"] = bool(adapt)
            chosen = entry.get("adapted" if adapt else "raw")
            entry["chosen"] = chosen
            if isinstance(chosen, dict) and isinstance(base_m := entry["baseline"], dict):
                entry["gain"] = _gain(task, chosen, base_m)
            site_report[task] = entry
        # Unsupervised: PCA monitors fitted on other sites' normal windows, adapted features.
        y = labels.failure
        normal = other & (y == 0) & (labels.failure_known <= cutoff_ns)
        guard_no_leakage(labels.failure_known[normal], cutoff_ns, what="anomaly")
        monitors = fit_monitors(variants["adapted"], frame, normal, names)
        scores = anomaly_scores(variants["adapted"], frame, monitors)
        test = own & (frame.end_ns > cutoff_ns)
        site_report["anomaly"] = {"auc": auc(y[test], scores[test]), "baseline_auc": 0.5}
        per_site[site] = site_report
    report["sites"] = per_site
    report["summary"] = summarise(per_site)
    return report


def _gain(task: Task, model: dict[str, float], base: dict[str, float]) -> float:
    """Relative improvement over the baseline on the primary metric (0.25 = 25 % better)."""
    from werk.ml.models import PRIMARY

    key, higher = PRIMARY[task]
    m, b = model.get(key, float("nan")), base.get(key, float("nan"))
    if not (np.isfinite(m) and np.isfinite(b)) or b == 0:
        return float("nan")
    return float(m / b - 1.0) if higher else float(1.0 - m / b)


def finite_mean(values: list[float]) -> float:
    """Mean of the finite values (NaN when there are none: e.g. no RUL label in a short span)."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def summarise(per_site: dict[str, dict[str, object]]) -> dict[str, dict[str, float]]:
    """Mean of each task's primary metric over sites, per variant, and sites adapted."""
    from werk.ml.models import PRIMARY

    out: dict[str, dict[str, float]] = {}
    for task in TASKS:
        key, _ = PRIMARY[task]
        row: dict[str, float] = {}
        for variant in ("baseline", "raw", "adapted", "chosen"):
            vals = [
                float(e[variant][key])
                for s in per_site.values()
                if isinstance(e := s.get(task), dict) and isinstance(e.get(variant), dict)
            ]
            row[variant] = finite_mean(vals)
        row["sites_adapted"] = float(
            sum(1 for s in per_site.values() if isinstance(e := s.get(task), dict) and e["adapt"])
        )
        out[f"{task}.{key}"] = row
    return out
