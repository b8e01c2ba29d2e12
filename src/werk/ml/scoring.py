"""Score machines with the live model of their site and write the results back to the store.

For every site under a prefix: read the recent samples and events, cut the same features as in
training, predict with the version promoted for that site, and write one batch per site and
window (idempotent batch key ``ml:<name>:<version>:<site>:<window end ns>``: scoring the same
window twice stores it once):

- samples on each machine's path: ``pred_failure_<H>h`` (probability of a failure within the
  horizon), ``pred_rul_h`` (hours), ``pred_scrap`` (share of parts), ``anomaly_score`` (1 = the
  PCA control limit);
- alarm events (kind ``alarm``) the dashboard lists with other alarms: code ``ml.failure_risk``
  or ``ml.anomaly`` on the machine, the top contributing signals in ``reason``; ``ml.drift`` on
  the site path when the site's features moved away from training, plus the signal
  ``drift_share`` there. An alarm is raised (``active`` true) when its condition starts and
  cleared (``active`` false) when it ends, not repeated every window.

:func:`score` runs once (``werk ml score``); :func:`scoring_loop` is what the API schedules.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from werk.errors import NotFound
from werk.ml.drift import DriftResult, check_drift
from werk.ml.features import F64, ML_ALARM_PREFIX, FeatureFrame, site_of, window_features
from werk.ml.models import contributions
from werk.ml.registry import Registry
from werk.ml.source import read_store
from werk.ml.train import ModelBundle
from werk.samples import EVENT_SCHEMA, SAMPLE_SCHEMA, UTC_NS, from_ns, to_ns
from werk.store import Store

log = logging.getLogger("werk.ml.scoring")

DEFAULT_LOOKBACK = timedelta(hours=48)


@dataclass(frozen=True, slots=True)
class SiteScore:
    """What scoring did for one site.

    Attributes:
        site: Site path (``enterprise/site``).
        version: Model version used.
        window_end: End of the window scored.
        machines: Machines scored.
        alerts: Alarm events written (raised or cleared; machines and drift).
        drift: The drift verdict.
        batch_key: Key the batch was written under.
        duplicate: True when that window had been scored and stored before.
        predictions: Per machine: path, failure, rul_h, scrap, anomaly, top signals.
    """

    site: str
    version: int
    window_end: datetime
    machines: int
    alerts: int
    drift: DriftResult
    batch_key: str
    duplicate: bool
    predictions: list[dict[str, object]] = field(default_factory=list)


def site_paths(store: Store, prefix: str | None = None) -> list[str]:
    """Return the site paths (first two segments) with series under ``prefix``."""
    paths = store.series(prefix).column("path").to_pylist()
    return sorted({"/".join(p.split("/")[:2]) for p in paths if p.count("/") >= 2})


def top_signals(
    bundle: ModelBundle, x: F64, task_variant: tuple[str, str], k: int = 3
) -> list[list[tuple[str, float]]]:
    """Return per row the ``k`` signals pushing the prediction up most (SHAP summed per signal)."""
    contrib = contributions(bundle.models[task_variant], x)
    signals = [n.split(".")[0] if "." in n else n for n in bundle.names]
    vocab = sorted(set(signals))
    index = np.array([vocab.index(s) for s in signals])
    per = np.zeros((len(x), len(vocab)))
    np.add.at(per.T, index, contrib.T)
    out = []
    for row in per:
        order = np.argsort(-row)[:k]
        out.append([(vocab[i], round(float(row[i]), 3)) for i in order.tolist() if row[i] > 0])
    return out


def active_alarms(events: pa.Table) -> set[tuple[str, str]]:
    """Return the (path, code) of werk.ml alarms whose last event raised them."""
    if events.num_rows == 0:
        return set()
    ml = events.filter(
        pc.and_(
            pc.equal(events["kind"], "alarm"),
            pc.starts_with(pc.fill_null(events["code"], ""), ML_ALARM_PREFIX),
        )
    ).sort_by([("ts", "ascending")])
    state: dict[tuple[str, str], bool] = {}
    for path, code, active in zip(
        ml["path"].to_pylist(), ml["code"].to_pylist(), ml["active"].to_pylist(), strict=True
    ):
        state[(path, code)] = bool(active)
    return {key for key, on in state.items() if on}


def alarm_changes(
    active: set[tuple[str, str]], conditions: dict[tuple[str, str], tuple[bool, str]]
) -> tuple[list[str], list[str], list[str], list[bool]]:
    """Return the alarm events (paths, codes, reasons, active flags) that move each condition's
    alarm to its new state: raised once when it starts, cleared once when it ends (an alarm
    raised every window would bury the dashboard)."""
    out: tuple[list[str], list[str], list[str], list[bool]] = ([], [], [], [])
    for (path, code), (on, reason) in conditions.items():
        was = (path, code) in active
        if on != was:
            out[0].append(path)
            out[1].append(code)
            out[2].append(reason if on else f"cleared: {reason}")
            out[3].append(on)
    return out


def _floor(ts: datetime, window: timedelta) -> datetime:
    step = int(window.total_seconds() * 1e9)
    return from_ns(to_ns(ts) // step * step)


def score_site(
    store: Store,
    bundle: ModelBundle,
    site_path: str,
    *,
    version: int,
    name: str,
    now: datetime,
    lookback: timedelta = DEFAULT_LOOKBACK,
    threshold: float = 0.5,
    anomaly_threshold: float = 3.0,
) -> SiteScore | None:
    """Score one site's machines for the last whole window before ``now`` and write back.

    Returns None when the site has no samples in the lookback.
    """
    cfg = bundle.config
    end = _floor(now, cfg.features.window)
    start = end - lookback
    data = read_store(store, site_path, start, end, counts=False)
    if data.samples.num_rows == 0:
        return None
    frame = window_features(
        data.samples, data.events, start=start, end=end, spec=cfg.features, kinds=bundle.kinds
    )
    preds = bundle.predict(frame)
    site = site_of(site_path)
    drift = check_drift(bundle.drift, frame.align(bundle.names), bundle.names, site)
    last = frame.end_ns == frame.end_ns.max()
    rows = np.flatnonzero(last)
    horizon_h = round(cfg.labels.horizon.total_seconds() / 3600)
    fail_sig = f"pred_failure_{horizon_h}h"
    x_last = frame.take(last).align(bundle.names)
    variant = "adapted" if bundle.uses_adapted(site, "failure") else "raw"
    if variant == "adapted":
        sub = frame.take(last)
        x_last = bundle.normaliser.apply(
            FeatureFrame(
                x_last,
                bundle.names,
                sub.path,
                sub.site,
                sub.kind,
                sub.end_ns,
                sub.start_ns,
                sub.stop_ns,
                bundle.kinds,
            )
        )
    tops = top_signals(bundle, x_last, ("failure", variant))
    ts_ns = int(frame.end_ns.max())
    s_path: list[str] = []
    s_signal: list[str] = []
    s_value: list[float] = []
    conditions: dict[tuple[str, str], tuple[bool, str]] = {}
    predictions: list[dict[str, object]] = []
    for i, row in enumerate(rows.tolist()):
        path = str(frame.path[row])
        values = {
            fail_sig: preds["failure"][row],
            "pred_rul_h": preds["rul"][row],
            "pred_scrap": preds["quality"][row],
            "anomaly_score": preds["anomaly"][row],
        }
        for sig, v in values.items():
            if np.isfinite(v):
                s_path.append(path)
                s_signal.append(sig)
                s_value.append(float(v))
        top = ", ".join(f"{s} (+{c:g})" for s, c in tops[i]) or "none"
        conditions[(path, "ml.failure_risk")] = (
            bool(values[fail_sig] >= threshold),
            f"p={values[fail_sig]:.2f} of a failure within {horizon_h} h; top signals: {top}",
        )
        score_a = values["anomaly_score"]
        conditions[(path, "ml.anomaly")] = (
            bool(np.isfinite(score_a) and score_a >= anomaly_threshold),
            f"anomaly score {score_a:.1f} (limit 1); top signals: {top}",
        )
        predictions.append(
            {
                "path": path,
                "failure": round(float(values[fail_sig]), 4),
                "rul_h": round(float(values["pred_rul_h"]), 2),
                "scrap": round(float(values["pred_scrap"]), 5),
                "anomaly": round(float(values["anomaly_score"]), 3),
                "top": tops[i],
            }
        )
    s_path.append(site_path)
    s_signal.append("drift_share")
    s_value.append(drift.share)
    moved = ", ".join(f"{n} {z:+g} sd (PSI {v:g})" for n, z, v in drift.top)
    conditions[(site_path, "ml.drift")] = (
        drift.drifted,
        f"{drift.share:.0%} of level features moved from training: {moved}",
    )
    e_path, e_code, e_reason, e_active = alarm_changes(active_alarms(data.events), conditions)
    ts = pa.array(np.full(len(s_path), ts_ns, np.int64)).cast(UTC_NS)
    samples = pa.Table.from_arrays(
        [
            pa.array(s_path),
            pa.array(s_signal),
            ts,
            pa.array(s_value, pa.float64()),
            pa.array(np.zeros(len(s_path), np.uint8)),
        ],
        schema=SAMPLE_SCHEMA,
    )
    n = len(e_path)
    events = pa.Table.from_arrays(
        [
            pa.array(e_path, pa.string()),
            pa.array(np.full(n, ts_ns, np.int64)).cast(UTC_NS),
            pa.array(["alarm"] * n, pa.string()),
            pa.array(e_code, pa.string()),
            pa.array(e_reason, pa.string()),
            pa.nulls(n, pa.string()),
            pa.nulls(n, pa.int64()),
            pa.nulls(n, pa.int64()),
            pa.nulls(n, pa.int64()),
            pa.array(e_active, pa.bool_()),
        ],
        schema=EVENT_SCHEMA,
    )
    key = f"ml:{name}:{version}:{site}:{ts_ns}"
    result = store.write(key, samples, events if n else None, source="ml")
    return SiteScore(
        site_path, version, from_ns(ts_ns), len(rows), n, drift, key, result.duplicate, predictions
    )


def score(
    store: Store,
    registry: Registry,
    *,
    name: str = "pdm",
    prefix: str | None = None,
    now: datetime | None = None,
    lookback: timedelta = DEFAULT_LOOKBACK,
    threshold: float = 0.5,
) -> list[SiteScore]:
    """Score every site under ``prefix`` that has a live version of ``name``; return what was
    done per site (sites without a promoted version are skipped and logged).

    Raises:
        NotFound: ``name`` has no promoted version for any site.
    """
    now = now or datetime.now(UTC)
    bundles: dict[int, ModelBundle] = {}
    out: list[SiteScore] = []
    live_any = False
    for site_path in site_paths(store, prefix):
        version = registry.live(name, site_of(site_path))
        if version is None:
            log.info("no live version of %s for %s", name, site_path)
            continue
        live_any = True
        if version not in bundles:
            bundles[version] = registry.load(name, version)
        done = score_site(
            store,
            bundles[version],
            site_path,
            version=version,
            name=name,
            now=now,
            lookback=lookback,
            threshold=threshold,
        )
        if done is not None:
            out.append(done)
    if not live_any:
        raise NotFound(f"model {name} is not promoted for any site; run werk ml promote", name=name)
    return out


async def scoring_loop(
    store: Store,
    registry: Registry,
    interval_s: float,
    *,
    name: str = "pdm",
    clock: Callable[[], datetime] | None = None,
) -> None:
    """Score every ``interval_s`` seconds until cancelled (the API runs it as a task).

    ``clock`` gives the instant to score as of (default: now; a replay passes its own). A failed
    round is logged and the loop goes on: scoring must not take the server down.
    """
    while True:
        try:
            at = clock() if clock is not None else datetime.now(UTC)
            done = await asyncio.to_thread(score, store, registry, name=name, now=at)
            log.info("scored %d sites", len(done))
        except NotFound as exc:
            log.info("scoring skipped: %s", exc)
        except Exception:
            log.exception("scoring round failed")
        await asyncio.sleep(interval_s)
