"""Train the deployable model bundle: features → labels → fleet report → final models.

:func:`train` runs the whole pipeline on :class:`~werk.ml.source.Data` (from a store or a
simulator history): leave-one-site-out evaluation up to a time cutoff (the fleet report), then
the final models on every site with every label known by the end of the data, both raw and
adapted; which variant each site uses comes from the report. The :class:`ModelBundle` is what
the registry stores and scoring loads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from werk.ml.adapt import SiteNormaliser
from werk.ml.anomaly import PcaMonitor
from werk.ml.drift import DriftReference, build_reference
from werk.ml.features import F64, FeatureFrame, window_features
from werk.ml.fleet import (
    TrainConfig,
    anomaly_scores,
    evaluate_fleet,
    fit_monitors,
    kind_column,
    target,
)
from werk.ml.labels import make_labels
from werk.ml.models import TASKS, Estimator, Task, baseline, fit, metrics, predict
from werk.ml.source import Data
from werk.ml.split import cutoff_at, guard_no_leakage
from werk.samples import from_ns


@dataclass(slots=True)
class ModelBundle:
    """Everything scoring needs, pickled by the registry.

    Attributes:
        config: The training configuration.
        names: Feature names, in the models' column order.
        kinds: Equipment kind vocabulary (the ``kind`` feature's codes).
        models: ``(task, "raw" | "adapted")`` → fitted model.
        normaliser: Per-site, per-kind statistics for the adapted variant.
        adapt: site → task → whether the site uses the adapted variant.
        monitors: kind → (columns, PCA monitor) on adapted features.
        drift: Training distributions for drift checks.
        meta: JSON-ready metadata (training window, lineage, metrics, fleet report).
    """

    config: TrainConfig
    names: list[str]
    kinds: list[str]
    models: dict[tuple[str, str], Estimator]
    normaliser: SiteNormaliser
    adapt: dict[str, dict[str, bool]]
    monitors: dict[str, tuple[list[int], PcaMonitor]]
    drift: DriftReference
    meta: dict[str, object] = field(default_factory=dict)

    def uses_adapted(self, site: str, task: Task) -> bool:
        """Return True when ``site`` scores ``task`` with the adapted variant."""
        return self.adapt.get(site, {}).get(task, False)

    def predict(self, frame: FeatureFrame) -> dict[str, F64]:
        """Return per-row predictions of every task plus ``anomaly`` for ``frame``'s rows."""
        raw = frame.align(self.names)
        aligned = FeatureFrame(
            raw,
            self.names,
            frame.path,
            frame.site,
            frame.kind,
            frame.end_ns,
            frame.start_ns,
            frame.stop_ns,
            self.kinds,
        )
        adapted = self.normaliser.apply(aligned)
        out: dict[str, F64] = {}
        for task in TASKS:
            pred = np.full(len(frame), np.nan)
            for site in np.unique(frame.site).tolist():
                rows = frame.site == site
                variant = "adapted" if self.uses_adapted(site, task) else "raw"
                x = adapted if variant == "adapted" else raw
                pred[rows] = predict(task, self.models[(task, variant)], x[rows])
            out[task] = pred
        out["anomaly"] = anomaly_scores(adapted, aligned, self.monitors)
        return out


def feature_hash(names: list[str]) -> str:
    """Return a short hash of the feature list (lineage: models with equal hashes are
    interchangeable on the same data)."""
    return hashlib.sha256(json.dumps(names).encode()).hexdigest()[:16]


def train(
    data: Data,
    config: TrainConfig | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> ModelBundle:
    """Train the bundle on ``data`` and evaluate it across sites.

    Args:
        data: Samples and events with their lineage.
        config: Features, labels, hyper-parameters, seed, evaluation cutoff.
        progress: Called with a short description before each step.

    Raises:
        InvalidInput: the span holds no whole feature window, or the cutoff is bad.
        LeakageError: a training label would come from after the cutoff (a bug guard).
    """
    config = config or TrainConfig()
    say = progress or (lambda _: None)
    say("features")
    frame = window_features(
        data.samples, data.events, start=data.start, end=data.end, spec=config.features
    )
    say("labels")
    labels = make_labels(frame, data.events, config.labels)
    step = int(config.features.window.total_seconds() * 1e9)
    cutoff = cutoff_at(frame.start_ns, frame.stop_ns, config.train_fraction, step)
    report = evaluate_fleet(frame, labels, cutoff, config, progress=lambda s: say(f"fleet {s}"))

    names = frame.names
    cat = kind_column(names)
    normaliser = SiteNormaliser(names)
    normaliser.fit(frame, np.ones(len(frame), bool))
    variants = {"raw": frame.x, "adapted": normaliser.apply(frame)}
    models: dict[tuple[str, str], Estimator] = {}
    rows: dict[str, int] = {}
    baselines: dict[str, float] = {}
    for task in TASKS:
        y, known, weight = target(labels, task)
        keep = ~np.isnan(y) & (known <= frame.stop_ns)
        guard_no_leakage(known[keep], frame.stop_ns, what=task)
        rows[task] = int(keep.sum())
        w = None if weight is None else weight[keep]
        baselines[task] = float(baseline(task, y[keep], 1, weight=w)[0])
        for variant, x in variants.items():
            say(f"final {task} {variant}")
            models[(task, variant)] = fit(
                task,
                x[keep],
                y[keep],
                weight=None if weight is None else weight[keep],
                categorical=cat,
                params=config.params,
            )
    normal = labels.failure == 0
    monitors = fit_monitors(variants["adapted"], frame, normal, names)
    sites_report = report["sites"]
    assert isinstance(sites_report, dict)
    adapt: dict[str, dict[str, bool]] = {
        site: {task: bool(entry[task]["adapt"]) for task in TASKS}
        for site, entry in sites_report.items()
    }
    meta: dict[str, object] = {
        "training_window": {
            "start": from_ns(frame.start_ns).isoformat(),
            "end": from_ns(frame.stop_ns).isoformat(),
            "evaluation_cutoff": from_ns(cutoff).isoformat(),
        },
        "lineage": {
            **asdict(data.lineage),
            "feature_rows": len(frame),
            "machines": len(set(frame.path.tolist())),
            "features": len(names),
            "feature_hash": feature_hash(names),
            "label_rows": rows,
        },
        "config": _config_dict(config),
        "metrics": report["summary"],
        "fleet": report,
        "adapt": adapt,
        "baselines": baselines,
    }
    return ModelBundle(
        config=config,
        names=names,
        kinds=frame.kinds,
        models=models,
        normaliser=normaliser,
        adapt=adapt,
        monitors=monitors,
        drift=build_reference(frame.x, names, frame.site),
        meta=meta,
    )


def _config_dict(config: TrainConfig) -> dict[str, object]:
    return {
        "window_s": config.features.window.total_seconds(),
        "trend_windows": config.features.trend_windows,
        "failure_reasons": config.labels.failure_reasons,
        "horizon_h": config.labels.horizon.total_seconds() / 3600,
        "rul_cap_h": config.labels.rul_cap.total_seconds() / 3600,
        "quality_lag_h": config.labels.quality_lag.total_seconds() / 3600,
        "train_fraction": config.train_fraction,
        "params": asdict(config.params),
    }


def evaluate_bundle(bundle: ModelBundle, data: Data) -> dict[str, dict[str, object]]:
    """Score ``data`` (e.g. a later month, or a plant the model never saw) with ``bundle`` and
    return per site and task the model's metrics beside the baseline the bundle was trained
    with (training prevalence, mean RUL, mean scrap share), plus the anomaly AUC."""
    from werk.ml.fleet import auc

    cfg = bundle.config
    frame = window_features(
        data.samples,
        data.events,
        start=data.start,
        end=data.end,
        spec=cfg.features,
        kinds=bundle.kinds,
    )
    labels = make_labels(frame, data.events, cfg.labels)
    preds = bundle.predict(frame)
    base = bundle.meta.get("baselines", {})
    assert isinstance(base, dict)
    out: dict[str, dict[str, object]] = {}
    for site in sorted(set(frame.site.tolist())):
        own = frame.site == site
        entry: dict[str, object] = {}
        for task in TASKS:
            y, _, weight = target(labels, task)
            rows = own & ~np.isnan(y)
            w = None if weight is None else weight[rows]
            b = np.full(int(rows.sum()), float(base.get(task, np.nan)))
            entry[task] = {
                "model": metrics(task, y[rows], preds[task][rows], weight=w),
                "baseline": metrics(task, y[rows], b, weight=w),
                "variant": "adapted" if bundle.uses_adapted(site, task) else "raw",
            }
        rows = own & ~np.isnan(labels.failure)
        entry["anomaly"] = {"auc": auc(labels.failure[rows], preds["anomaly"][rows])}
        out[site] = entry
    return out
