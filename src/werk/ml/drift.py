"""Tell when a site's incoming features moved away from what the model was trained on.

Population stability index (PSI) per feature over ten bins cut at the training quantiles, against
the site's own training distribution (the pooled one for a site the model never saw). A feature
with PSI above 0.25 has shifted markedly (the usual credit-risk reading: < 0.1 stable, 0.1–0.25
moderate, > 0.25 major); a site is flagged when at least ``min_share`` of its level features
(``.mean``) moved that much, so one flapping sensor does not page anyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from werk.ml.features import F64

BINS = 10
PSI_MAJOR = 0.25
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
    """

    names: list[str]
    columns: list[int]
    edges: F64
    props: dict[str, F64] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DriftResult:
    """One site's drift verdict.

    Attributes:
        site: The site.
        drifted: At least ``min_share`` of watched features moved by more than PSI 0.25.
        share: Share of watched features (with data) that moved.
        top: The most-moved features with their PSI, largest first.
        rows: Rows compared.
    """

    site: str
    drifted: bool
    share: float
    top: list[tuple[str, float]]
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


def build_reference(
    x: F64, names: list[str], sites: np.ndarray[tuple[int], np.dtype[np.str_]]
) -> DriftReference:
    """Return the reference of the training matrix ``x`` (columns ``names``) per site and pooled."""
    columns = [i for i, n in enumerate(names) if n.endswith(".mean")]
    watched = x[:, columns]
    edges = np.full((len(columns), BINS - 1), np.inf)
    for j in range(len(columns)):
        col = watched[:, j]
        col = col[~np.isnan(col)]
        if len(col):
            edges[j] = np.quantile(col, np.linspace(0, 1, BINS + 1)[1:-1])
    ref = DriftReference([names[i] for i in columns], columns, edges)
    ref.props["*"] = _shares(watched, edges)
    for site in np.unique(sites).tolist():
        ref.props[site] = _shares(watched[sites == site], edges)
    return ref


def psi(expected: F64, actual: F64) -> F64:
    """Return the population stability index per row of two (features, bins) share arrays."""
    e = np.clip(expected, _EPS, None)
    a = np.clip(actual, _EPS, None)
    out: F64 = np.sum((a - e) * np.log(a / e), axis=1)
    return out


def check_drift(
    ref: DriftReference, x: F64, site: str, *, min_share: float = 0.2, top: int = 5
) -> DriftResult:
    """Compare a site's incoming rows ``x`` (model feature columns) with the training data."""
    watched = x[:, ref.columns]
    has = ~np.isnan(watched).all(axis=1)
    rows = int(has.sum())
    expected = ref.props.get(site, ref.props["*"])
    if rows < MIN_ROWS:
        return DriftResult(site, False, 0.0, [], rows)
    values = psi(expected, _shares(watched[has], ref.edges))
    ok = ~np.isnan(values)
    share = float((values[ok] > PSI_MAJOR).mean()) if ok.any() else 0.0
    order = np.argsort(-np.nan_to_num(values, nan=-1.0))[:top]
    worst = [(ref.names[i], round(float(values[i]), 3)) for i in order.tolist() if ok[i]]
    return DriftResult(site, share >= min_share, share, worst, rows)
