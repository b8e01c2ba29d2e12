"""Derive training labels from events, aligned to the rows of a :class:`FeatureFrame`.

Pure. Three targets, each with the time its label becomes known (``*_known``), which the time
split uses so that no label from the future reaches training:

- **failure within horizon**: a failure alarm (code matching the spec's reasons) is raised in
  ``(end, end + horizon]``; known at ``end + horizon``.
- **remaining useful life** (hours to the next such failure, capped at ``rul_cap`` as usual for
  RUL: far from failure nothing distinguishes 300 h from 500 h); known at ``end + rul_cap``.

Both are defined only for windows whose whole look-ahead lies inside the data, failure seen or
not. Labelling a late window only when a failure happened to follow would keep short lives and
drop long ones (the censoring bias), in training and in the test alike.
- **scrap rate** of the parts made in the window: count events carry good and scrap, and late
  scrap found at end-of-line inspection is booked (good −1, scrap +1) on the timestamp of the
  count that made the part, so summing by that timestamp joins each part back to its process
  window; known ``quality_lag`` after the window (when inspection has caught up).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from werk.ml.features import F64, I64, FeatureFrame, _codes, _keyed, _ns, failure_starts

_H_NS = 3_600_000_000_000


@dataclass(frozen=True, slots=True)
class LabelSpec:
    """What the labels mean.

    Attributes:
        horizon: Failure-within-horizon look-ahead.
        rul_cap: RUL above this is reported as the cap.
        quality_lag: Time after a window before its scrap count is final.
        failure_reasons: Regular expression over failure codes (the failures to predict).
    """

    horizon: timedelta = timedelta(hours=24)
    rul_cap: timedelta = timedelta(hours=72)
    quality_lag: timedelta = timedelta(hours=12)
    failure_reasons: str = "wear"


@dataclass(slots=True)
class Labels:
    """Labels per frame row; NaN where unknown."""

    failure: F64
    failure_known: I64
    failure_reason: np.ndarray[tuple[int], np.dtype[np.object_]]
    """Reason of the failure inside the horizon (None when none)."""
    rul_h: F64
    rul_known: I64
    scrap_rate: F64
    parts: F64
    quality_known: I64

    def take(self, rows: np.ndarray[tuple[int], np.dtype[np.bool_]]) -> Labels:
        """Return the labels of the selected rows."""
        return Labels(
            self.failure[rows],
            self.failure_known[rows],
            self.failure_reason[rows],
            self.rul_h[rows],
            self.rul_known[rows],
            self.scrap_rate[rows],
            self.parts[rows],
            self.quality_known[rows],
        )


def make_labels(frame: FeatureFrame, events: pa.Table, spec: LabelSpec | None = None) -> Labels:
    """Return the labels of every row of ``frame`` from ``events``.

    ``events`` must reach at least ``horizon`` beyond the frame, else late rows are unknown
    (NaN), never guessed.
    """
    spec = spec or LabelSpec()
    paths = sorted(set(frame.path.tolist()))
    m = _codes(pa.array(frame.path.tolist(), pa.string()), paths)
    end = frame.end_ns
    row_key = _keyed(m, end, frame.start_ns)
    data_end = int(_ns(events["ts"]).max()) if events.num_rows else frame.stop_ns
    horizon = int(spec.horizon.total_seconds() * 1e9)
    cap = int(spec.rul_cap.total_seconds() * 1e9)

    fails = failure_starts(events, spec.failure_reasons)
    fm = _codes(fails["path"], paths)
    ok = fm >= 0
    f_ns = _ns(fails["ts"])[ok]
    f_key = _keyed(fm[ok], f_ns, frame.start_ns)
    order = np.argsort(f_key, kind="stable")
    f_key, f_ns = f_key[order], f_ns[order]
    codes = np.array(fails["code"].to_pylist(), dtype=object)[ok][order]
    nxt = np.searchsorted(f_key, row_key, side="right")
    has = (nxt < len(f_key)) & ((f_key[np.minimum(nxt, len(f_key) - 1)] >> 41) == (row_key >> 41))
    if not len(f_key):
        has = np.zeros(len(end), bool)
    next_ns = np.where(has, f_ns[np.minimum(nxt, max(len(f_ns) - 1, 0))] if len(f_ns) else 0, 0)
    gap = (next_ns - end).astype(np.float64)
    within = has & (gap <= horizon)
    failure = np.where(end + horizon <= data_end, within.astype(np.float64), np.nan)
    reason = np.full(len(end), None, dtype=object)
    if len(codes):
        seen = within & (failure == 1)
        reason[seen] = codes[np.minimum(nxt, len(codes) - 1)][seen]
    rul = np.where(has, np.minimum(gap, cap), cap) / _H_NS
    rul = np.where(end + cap <= data_end, rul, np.nan)

    good, scrap = _counts_per_row(frame, events, paths)
    parts = good + scrap
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(parts > 0, scrap / parts, np.nan)
    lag = int(spec.quality_lag.total_seconds() * 1e9)
    rate = np.where(end + lag <= data_end, rate, np.nan)
    return Labels(
        failure=failure,
        failure_known=end + horizon,
        failure_reason=reason,
        rul_h=rul,
        rul_known=end + cap,
        scrap_rate=rate,
        parts=parts,
        quality_known=end + lag,
    )


def _counts_per_row(frame: FeatureFrame, events: pa.Table, paths: list[str]) -> tuple[F64, F64]:
    """Good and scrap parts per frame row, by the timestamp of the count that made them."""
    rows = len(frame)
    good = np.zeros(rows)
    scrap = np.zeros(rows)
    if events.num_rows == 0 or rows == 0:
        return good, scrap
    counts = events.filter(pc.equal(events["kind"], "count"))
    cm = _codes(counts["path"], paths)
    ts = _ns(counts["ts"])
    ends = np.unique(frame.end_ns)
    win = int(ends[1] - ends[0]) if len(ends) > 1 else int(frame.stop_ns - frame.start_ns)
    n_win = len(ends)
    w = (ts - frame.start_ns) // win
    ok = (cm >= 0) & (w >= 0) & (w < n_win)
    cell = cm[ok] * n_win + w[ok]
    g = np.nan_to_num(counts["good"].to_numpy(zero_copy_only=False).astype(np.float64))[ok]
    s = np.nan_to_num(counts["scrap"].to_numpy(zero_copy_only=False).astype(np.float64))[ok]
    size = len(paths) * n_win
    good_cells = np.bincount(cell, weights=g, minlength=size)
    scrap_cells = np.bincount(cell, weights=s, minlength=size)
    fm = _codes(pa.array(frame.path.tolist(), pa.string()), paths)
    fw = (frame.end_ns - frame.start_ns) // win - 1
    idx = fm * n_win + fw
    return good_cells[idx], scrap_cells[idx]
