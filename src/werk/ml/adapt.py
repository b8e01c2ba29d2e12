"""Normalise each site's features per operating condition with that site's own unlabelled data.

Across plants the same machine kind runs at other levels (sensor offsets, hall climate, loads);
a model trained elsewhere then sees shifted inputs. Per-site adaptation centres and scales every
signal feature per ``(site, kind)`` with statistics of that site's feature rows — no labels
needed, so a new plant can be adapted from its first days of data. Published results say this
often recovers much of the cross-site loss but can hurt where failure mixes differ, so
:mod:`werk.ml.fleet` keeps it for a site only when a check on the site's labelled history
says it helps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from werk.ml.features import F64, MACHINE_FEATURES, FeatureFrame


@dataclass(slots=True)
class SiteNormaliser:
    """Per ``(site, kind)`` centre and scale of each signal feature.

    Attributes:
        names: Feature names the statistics belong to.
        stats: ``"site|kind"`` → (centre, scale) arrays over ``names``.
    """

    names: list[str]
    stats: dict[str, tuple[F64, F64]] = field(default_factory=dict)

    def fit(self, frame: FeatureFrame, rows: np.ndarray[tuple[int], np.dtype[np.bool_]]) -> None:
        """Learn (or replace) the statistics of every ``(site, kind)`` in the selected rows.

        Uses features only, never labels. Median and inter-quartile range resist the failure
        windows that a plant's history contains.
        """
        x = frame.align(self.names)
        groups = np.char.add(np.char.add(frame.site, "|"), frame.kind)
        for g in np.unique(groups[rows]).tolist():
            sel = rows & (groups == g)
            block = x[sel]
            ok = ~np.isnan(block).all(axis=0)
            centre = np.full(len(self.names), np.nan)
            scale = np.full(len(self.names), np.nan)
            if sel.sum() and ok.any():
                q = np.nanpercentile(block[:, ok], [25, 50, 75], axis=0)
                centre[ok] = q[1]
                scale[ok] = np.maximum(q[2] - q[0], 1e-9)
            self.stats[g] = (centre, scale)

    def apply(self, frame: FeatureFrame) -> F64:
        """Return ``frame``'s matrix over ``names``, signal features normalised per group.

        Machine-level features (state, alarms, time since failure, kind) stay as they are; rows
        of a group without statistics keep NaN signal features (the models handle missing).
        """
        x = frame.align(self.names)
        signal_cols = np.array([n not in MACHINE_FEATURES for n in self.names])
        groups = np.char.add(np.char.add(frame.site, "|"), frame.kind)
        out = x.copy()
        for g in np.unique(groups).tolist():
            sel = groups == g
            if g not in self.stats:
                out[np.ix_(sel, signal_cols)] = np.nan
                continue
            centre, scale = self.stats[g]
            block = (x[sel] - centre) / scale
            out[np.ix_(sel, signal_cols)] = block[:, signal_cols]
        return out

    def sites(self) -> list[str]:
        """Return the sites with statistics."""
        return sorted({g.split("|")[0] for g in self.stats})
