"""Tell when a site's incoming features moved away from what the model was trained on.

Per watched feature (the signal levels, ``.mean``) two figures against the site's own training
distribution (the pooled one for a site the model never saw):

- the **standardised shift** of the mean, ``|mean_new − mean_train| / sd_train``: the verdict.
  A feature has *moved* when it shifted by more than ``z_limit`` training standard deviations;
  the training spread already holds every machine, shift, season and wear state seen, so normal
  operation rarely moves a whole site's mean that far, while a recalibrated sensor or a new
  operating point does;
- the **population stability index** (PSI, ten bins at training quantiles), reported beside it.
  It is not the verdict: levels of one machine sit in narrow bins and two days of a few machines
  are not an i.i.d. sample of two weeks, so PSI alone flags healthy plants.

A site is flagged when at least ``min_share`` of its watched features moved, so one flapping
sensor does not page anyone. Only windows where the machine mostly executed are compared (a
weekend of cold machines is not drift), and counters (energy meters: levels that only grow) are
not watched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from werk.ml.features import F64

BINS = 10
MIN_ROWS = 12
_EPS = 1e-4


@dataclass(slots=True)
class DriftReference:
    """Training distributions of the level features.

    Attributes:
        names: Features watched (the ``.mean`` columns).
        columns: Their indices in the model's feature list.
        edges: Inner bin edges per feature, shape (features, BINS - 1).
        props: ``site`` (or ``"*"`` for the pool) → bin shares, shape (features, BINS).
        moments: ``site`` (or ``"*"``) → (mean, sd) per feature.
    """

    names: list[str]
    columns: list[int]
    edges: F64
    props: dict[str, F64] = field(default_factory=dict)
    moments: dict[str, tuple[F64, F64]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DriftResult:
    """One site's drift verdict.

    Attributes:
        site: The site.
        drifted: At least ``min_share`` of watched features moved.
        share: Share of watched features (with data) that moved.
        top: The most-moved features with their standardised shift and PSI, largest first.
        rows: Rows compared.
    """

    site: str
    drifted: bool
    share: float
    top: list[tuple[str, float, float]]
    rows: int


def _shares(values: F64, edges: F64) -> F64:
    """Bin shares of each column (NaN ignored), shape (features, BINS)."""
    out = np.full((values.shape[1], BINS), np.nan)
    for j in range(values.shape[1]):
        col = values[:, j]
        col = col[~np.isnan(col)]
        if len(col):
            counts = np.bincount(np.searchsorted(edges[j], col, side="right"), minlength=BINS)
            out[j] = counts / len(col)
    return out


def _running(x: F64, names: list[str]) -> np.ndarray[tuple[int], np.dtype[np.bool_]]:
    if "exec_share" not in names:
        return np.ones(len(x), bool)
    return np.asarray(x[:, names.index("exec_share")] >= 0.5)


def build_reference(
    x: F64, names: list[str], sites: np.ndarray[tuple[int], np.dtype[np.str_]]
) -> DriftReference:
    """Return the reference of the training matrix ``x`` (columns ``names``) per site and pooled."""
    keep = _running(x, names)
    x, sites = x[keep], sites[keep]
    columns = []
    for i, n in enumerate(names):
        slope = n.removesuffix(".mean") + ".slope"
        if not n.endswith(".mean") or slope not in names:
            continue
        s = x[:, names.index(slope)]
        s = s[~np.isnan(s)]
        if len(s) and (s > 0).mean() > 0.9:
            continue  # a counter: its level only grows, so every new window looks "moved"
        columns.append(i)
    watched = x[:, columns]
    edges = np.full((len(columns), BINS - 1), np.inf)
    for j in range(len(columns)):
        col = watched[:, j]
        col = col[~np.isnan(col)]
        if len(col):
            edges[j] = np.quantile(col, np.linspace(0, 1, BINS + 1)[1:-1])
    ref = DriftReference([names[i] for i in columns], columns, edges)
    ref.props["*"] = _shares(watched, edges)
    ref.moments["*"] = _moments(watched)
    for site in np.unique(sites).tolist():
        ref.props[site] = _shares(watched[sites == site], edges)
        ref.moments[site] = _moments(watched[sites == site])
    return ref


def _moments(values: F64) -> tuple[F64, F64]:
    ok = ~np.isnan(values)
    n = ok.sum(axis=0)
    total = np.where(ok, values, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, total / n, np.nan)
        sq = np.where(ok, (values - mean) ** 2, 0.0).sum(axis=0)
        sd = np.where(n > 1, np.sqrt(sq / np.maximum(n - 1, 1)), np.nan)
    return mean, sd


def psi(expected: F64, actual: F64) -> F64:
    """Return the population stability index per row of two (features, bins) share arrays."""
    e = np.clip(expected, _EPS, None)
    a = np.clip(actual, _EPS, None)
    out: F64 = np.sum((a - e) * np.log(a / e), axis=1)
    return out


def check_drift(
    ref: DriftReference,
    x: F64,
    names: list[str],
    site: str,
    *,
    min_share: float = 0.3,
    z_limit: float = 1.0,
    top: int = 5,
) -> DriftResult:
    """Compare a site's incoming rows ``x`` (model feature columns ``names``) with training."""
    watched = x[:, ref.columns]
    has = ~np.isnan(watched).all(axis=1) & _running(x, names)
    rows = int(has.sum())
    expected = ref.props.get(site, ref.props["*"])
    if rows < MIN_ROWS:
        return DriftResult(site, False, 0.0, [], rows)
    values = psi(expected, _shares(watched[has], ref.edges))
    mean, sd = ref.moments.get(site, ref.moments["*"])
    new_mean, _ = _moments(watched[has])
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.abs(new_mean - mean) / np.maximum(sd, 1e-12)
    ok = ~np.isnan(z)
    share = float((z[ok] > z_limit).mean()) if ok.any() else 0.0
    order = np.argsort(-np.nan_to_num(z, nan=-1.0))[:top]
    worst = [
        (ref.names[i], round(float(z[i]), 2), round(float(values[i]), 2))
        for i in order.tolist()
        if ok[i]
    ]
    return DriftResult(site, share >= min_share, share, worst, rows)
