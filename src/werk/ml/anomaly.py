"""Detect multivariate anomalies with PCA: Hotelling's T² inside the model, SPE (Q) outside it.

Fitted on normal operation, standardised; a fixed number of ``components`` or as many as keep a
share of the variance. Control limits are either empirical quantiles of the training statistics
(``alpha``; for werk's windowed features, which are not Gaussian) or the textbook ones: T² from
the F distribution, SPE from Box's g·χ²(h) approximation with the residual eigenvalues (as in the
Tennessee Eastman literature, which this reproduces). The anomaly score is the larger of
T²/limit and SPE/limit, so 1 is the limit. Used per equipment kind on werk's windowed features
and as-is on the Tennessee Eastman benchmark (:mod:`werk.ml.external`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from werk.errors import InvalidInput
from werk.ml.features import F64


@dataclass(slots=True)
class PcaMonitor:
    """A fitted PCA monitor.

    Attributes:
        mean: Column means of the training data.
        scale: Column standard deviations (1 where constant).
        loadings: Retained principal directions, shape (columns, components).
        eigen: Variance of each retained component.
        t2_limit: T² control limit.
        spe_limit: SPE control limit.
    """

    mean: F64
    scale: F64
    loadings: F64
    eigen: F64
    t2_limit: float
    spe_limit: float

    @classmethod
    def fit(
        cls,
        x: F64,
        *,
        variance: float = 0.9,
        components: int | None = None,
        alpha: float = 0.99,
        limits: Literal["empirical", "theoretical"] = "empirical",
    ) -> PcaMonitor:
        """Fit on normal rows ``x`` (NaN is replaced by the column mean).

        Raises:
            InvalidInput: fewer than 3 rows or no column with data.
        """
        if x.shape[0] < 3:
            raise InvalidInput("a PCA monitor needs at least 3 normal rows", field="rows")
        mean = np.nanmean(np.where(np.isnan(x).all(axis=0), 0.0, x), axis=0)
        mean = np.nan_to_num(mean)
        z0 = np.where(np.isnan(x), mean, x)
        scale = z0.std(axis=0, ddof=1)
        scale = np.where(scale > 1e-12, scale, 1.0)
        z = (z0 - mean) / scale
        _, s, vt = np.linalg.svd(z, full_matrices=False)
        eig = s**2 / max(len(z) - 1, 1)
        share = np.cumsum(eig) / max(eig.sum(), 1e-12)
        k = min(int(np.searchsorted(share, variance)) + 1, len(eig))
        if components is not None:
            k = max(1, min(components, len(eig)))
        mon = cls(mean, scale, vt[:k].T.copy(), np.maximum(eig[:k], 1e-12), 0.0, 0.0)
        if limits == "theoretical":
            from scipy import stats

            n = len(z)
            mon.t2_limit = float(
                k * (n - 1) * (n + 1) / (n * (n - k)) * stats.f.ppf(alpha, k, max(n - k, 1))
            )
            rest = eig[k:]
            th1, th2 = float(rest.sum()), float((rest**2).sum())
            if th1 > 0 and th2 > 0:
                mon.spe_limit = float(th2 / th1 * stats.chi2.ppf(alpha, th1**2 / th2))
            else:
                mon.spe_limit = 1e-12
            return mon
        t2, spe = mon.statistics(x)
        mon.t2_limit = float(np.quantile(t2, alpha))
        mon.spe_limit = float(max(np.quantile(spe, alpha), 1e-12))
        return mon

    def statistics(self, x: F64) -> tuple[F64, F64]:
        """Return T² and SPE of each row."""
        z = (np.where(np.isnan(x), self.mean, x) - self.mean) / self.scale
        t = z @ self.loadings
        t2 = np.sum(t * t / self.eigen, axis=1)
        resid = z - t @ self.loadings.T
        return t2, np.sum(resid * resid, axis=1)

    def score(self, x: F64) -> F64:
        """Return max(T²/limit, SPE/limit): above 1 is outside normal operation."""
        t2, spe = self.statistics(x)
        return np.maximum(t2 / max(self.t2_limit, 1e-12), spe / self.spe_limit)

    def contributions(self, x: F64) -> F64:
        """Return each column's share of the SPE (squared residual) per row."""
        z = (np.where(np.isnan(x), self.mean, x) - self.mean) / self.scale
        resid = z - (z @ self.loadings) @ self.loadings.T
        return resid * resid
