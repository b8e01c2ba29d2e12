"""Turn samples and events into one feature row per machine and time window, vectorised.

Pure: no I/O. Input is a sample table (:data:`werk.samples.SAMPLE_SCHEMA` columns) and an event
table (:data:`werk.samples.EVENT_SCHEMA`); output is a :class:`FeatureFrame`, a dense float matrix
with one row per machine and window ``[end - window, end)``.

Per machine, window and signal (over GOOD/UNCERTAIN samples taken while the machine was
*executing*, because levels differ by state and the wear signature shows against the running
level):

==================  ================================================================
``<signal>.mean``   level
``<signal>.std``    spread
``<signal>.slope``  trend inside the window (least squares, per hour)
``<signal>.hf``     share of the signal's energy in the high band: mean squared first
                    difference over twice the variance (Parseval: 1 for white noise, near 0
                    for a slow drift) — the spectral feature that still means something at
                    coarse sample rates
``<signal>.dlev``   level minus its mean over the previous ``trend_windows`` windows
``<signal>.dweek``  level minus its mean over the previous week: wear rises over days, so
                    the change against a week shows it where a day's baseline has moved too
==================  ================================================================

Per machine and window: ``exec_share`` (share of samples executing), ``alarms_24h`` (alarms
raised in the last 24 h), ``failures_7d``, ``h_since_failure`` (wall hours since the last
failure) and ``exec_h_since_failure`` (executing hours since the last failure: what wears a part),
``kind`` (the equipment kind as a category code). Predictions werk writes back
(:data:`ML_SIGNALS`) and alarms it raises itself (codes ``ml.*``) never become features.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from werk.errors import InvalidInput
from werk.samples import Quality, to_ns

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

ML_SIGNALS = ("anomaly_score", "drift_share")
"""Signals werk.ml writes back besides ``pred_*`` ones; none is ever read as a feature."""
PRED_PREFIX = "pred_"
ML_ALARM_PREFIX = "ml."
"""Alarm codes werk.ml raises itself; never read as failures or features."""
STATS = ("mean", "std", "slope", "hf", "dlev", "dweek")
MACHINE_FEATURES = (
    "exec_share",
    "alarms_24h",
    "failures_7d",
    "h_since_failure",
    "exec_h_since_failure",
    "kind",
)
_H_NS = 3_600_000_000_000
_OFFSET = 1 << 39
"""Machine-keyed times are ``machine << 41 | (ms since start + 2**39)``: ±17 years per machine."""


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """How features are cut.

    Attributes:
        window: Length of one window (one row per machine and window).
        trend_windows: Windows averaged for the ``dlev`` baseline.
        failure_reasons: Regular expression over failure (alarm) codes that count as the
            failures of interest; ``h_since_failure`` and labels use it.
    """

    window: timedelta = timedelta(hours=1)
    trend_windows: int = 24
    failure_reasons: str = "wear"


@dataclass(slots=True)
class FeatureFrame:
    """Feature rows, one per machine and window.

    Attributes:
        x: Features, shape (rows, features); NaN where unknown.
        names: Feature names, one per column.
        path: Machine path of each row.
        site: Site slug of each row (second path segment).
        kind: Equipment kind of each row (the machine name without its number).
        end_ns: Window end of each row (ns since the epoch, UTC).
        start_ns: Start of the span the frame covers.
        stop_ns: End of the span the frame covers (exclusive).
        kinds: The vocabulary the ``kind`` column codes index.
    """

    x: F64
    names: list[str]
    path: npt.NDArray[np.str_]
    site: npt.NDArray[np.str_]
    kind: npt.NDArray[np.str_]
    end_ns: I64
    start_ns: int
    stop_ns: int
    kinds: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def take(self, rows: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> FeatureFrame:
        """Return the rows selected by a mask or index array."""
        return FeatureFrame(
            self.x[rows],
            self.names,
            self.path[rows],
            self.site[rows],
            self.kind[rows],
            self.end_ns[rows],
            self.start_ns,
            self.stop_ns,
            self.kinds,
        )

    def align(self, names: list[str]) -> F64:
        """Return the matrix with exactly the columns ``names`` (NaN for missing ones)."""
        index = {n: i for i, n in enumerate(self.names)}
        out = np.full((len(self), len(names)), np.nan)
        for j, n in enumerate(names):
            if n in index:
                out[:, j] = self.x[:, index[n]]
        return out


def kind_of(path: str) -> str:
    """Return the equipment kind of a machine path: its last segment without a trailing number."""
    return re.sub(r"[-_]?\d+$", "", path.rsplit("/", 1)[-1]) or path


def site_of(path: str) -> str:
    """Return the site slug of an asset path (its second segment)."""
    parts = path.split("/")
    return parts[1] if len(parts) > 1 else parts[0]


def _keyed(machine: I64, ts_ns: I64, start_ns: int) -> I64:
    rel = (ts_ns - start_ns) // 1_000_000 + _OFFSET
    return (machine.astype(np.int64) << 41) | np.clip(rel, 0, (1 << 41) - 1)


def _codes(column: pa.ChunkedArray | pa.Array, vocab: list[str]) -> I64:
    """Return the index of each value of a string column in ``vocab`` (-1 when absent)."""
    idx = pc.index_in(column, value_set=pa.array(vocab, pa.string()))
    return np.asarray(idx.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)


def _ns(column: pa.ChunkedArray | pa.Array) -> I64:
    return np.asarray(column.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def failure_starts(events: pa.Table, pattern: str | None = None) -> pa.Table:
    """Return raised failure alarms (path, ts, code), without werk.ml's own alarms.

    ``pattern`` keeps only codes matching the regular expression (None keeps all).
    """
    if events.num_rows == 0:
        return events.select(["path", "ts", "code"])
    mask = pc.and_(pc.equal(events["kind"], "alarm"), pc.fill_null(events["active"], False))
    mask = pc.and_(mask, pc.invert(pc.starts_with(pc.fill_null(events["code"], ""), "ml.")))
    if pattern:
        mask = pc.and_(mask, pc.match_substring_regex(pc.fill_null(events["code"], ""), pattern))
    return events.filter(mask).select(["path", "ts", "code"])


def window_features(
    samples: pa.Table,
    events: pa.Table,
    *,
    start: datetime,
    end: datetime,
    spec: FeatureSpec | None = None,
    kinds: list[str] | None = None,
) -> FeatureFrame:
    """Compute the feature rows of every machine with samples, for windows in ``[start, end)``.

    Args:
        samples: Samples (path, signal, ts, value, quality); any order.
        events: Events (state, alarm...) from some time before ``start`` (so the state at
            ``start`` and the last failure are known) up to ``end``.
        start: First window start (aware).
        end: End of the last window; windows that do not fit whole are left out.
        spec: How windows are cut.
        kinds: Kind vocabulary to code the ``kind`` column with (a trained model's); kinds not in
            it get -1. None builds it from the data.

    Raises:
        InvalidInput: ``end`` is not after ``start`` by at least one window.
    """
    spec = spec or FeatureSpec()
    win = int(spec.window / timedelta(microseconds=1)) * 1000
    start_ns, stop_ns = to_ns(start), to_ns(end)
    n_win = (stop_ns - start_ns) // win
    if n_win < 1:
        raise InvalidInput("the span holds no whole feature window", field="end")
    samples = samples.filter(
        pc.and_(
            pc.not_equal(samples["quality"], int(Quality.BAD)),
            pc.invert(
                pc.or_(
                    pc.is_in(samples["signal"], value_set=pa.array(ML_SIGNALS)),
                    pc.starts_with(samples["signal"], PRED_PREFIX),
                )
            ),
        )
    )
    paths = sorted(set(pc.unique(samples["path"]).to_pylist()))
    signals = sorted(set(pc.unique(samples["signal"]).to_pylist()))
    m_count, s_count = len(paths), len(signals)
    m = _codes(samples["path"], paths)
    s = _codes(samples["signal"], signals)
    ts = _ns(samples["ts"])
    value = np.asarray(samples["value"].to_numpy(zero_copy_only=False), dtype=np.float64)

    # Executing or not at each sample: the last state event at or before it, per machine.
    ev_m = _codes(events["path"], paths) if events.num_rows else np.empty(0, np.int64)
    is_state = (
        np.asarray(
            pc.fill_null(pc.equal(events["kind"], "state"), False).to_numpy(zero_copy_only=False)
        )
        if events.num_rows
        else np.empty(0, bool)
    )
    st_keep = is_state & (ev_m >= 0)
    st_key = (
        _keyed(ev_m[st_keep], _ns(events["ts"])[st_keep], start_ns)
        if st_keep.any()
        else (np.empty(0, np.int64))
    )
    st_exec = (
        np.asarray(
            pc.fill_null(pc.equal(events["code"], "executing"), False).to_numpy(
                zero_copy_only=False
            )
        )[st_keep]
        if st_keep.any()
        else np.empty(0, bool)
    )
    order = np.argsort(st_key, kind="stable")
    st_key, st_exec = st_key[order], st_exec[order]
    sample_key = _keyed(m, ts, start_ns)
    j = np.searchsorted(st_key, sample_key, side="right") - 1
    same = (j >= 0) & ((st_key[np.maximum(j, 0)] >> 41) == m)
    executing = same & st_exec[np.maximum(j, 0)] if len(st_key) else np.ones(len(m), bool)

    w = (ts - start_ns) // win
    inside = (w >= 0) & (w < n_win)
    cell_m = (m * n_win + w)[inside]
    exec_n = np.bincount(cell_m, weights=executing[inside], minlength=m_count * n_win)
    all_n = np.bincount(cell_m, minlength=m_count * n_win).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        exec_share = (exec_n / all_n).reshape(m_count, n_win)

    keep = inside & executing
    g = ((m * n_win + w) * s_count + s)[keep]
    v = value[keep]
    t_h = ((ts[keep] - start_ns) % win) / _H_NS  # hours into the window
    size = m_count * n_win * s_count
    n = np.bincount(g, minlength=size).astype(np.float64)
    sv = np.bincount(g, weights=v, minlength=size)
    svv = np.bincount(g, weights=v * v, minlength=size)
    st = np.bincount(g, weights=t_h, minlength=size)
    stt = np.bincount(g, weights=t_h * t_h, minlength=size)
    stv = np.bincount(g, weights=t_h * v, minlength=size)
    # First differences between neighbours of one cell (rows are sorted by cell, then time).
    by_cell = np.lexsort((ts[keep], g))
    gs, vs = g[by_cell], v[by_cell]
    step = gs[1:] == gs[:-1]
    sdd = np.bincount(gs[1:][step], weights=np.diff(vs)[step] ** 2, minlength=size)
    ndd = np.bincount(gs[1:][step], minlength=size).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, sv / n, np.nan)
        var = np.maximum(np.where(n > 1, svv / n - mean * mean, np.nan), 0.0)
        cov = stv / n - (st / n) * mean
        vt = stt / n - (st / n) ** 2
        slope = np.where((n > 2) & (vt > 0), cov / vt, np.nan)
        hf = np.where((ndd > 0) & (var > 0), (sdd / ndd) / (2 * var), np.nan)
    shape = (m_count, n_win, s_count)
    mean3 = mean.reshape(shape)
    dlev = mean3 - _trailing_mean(mean3, spec.trend_windows)
    week = max(int(timedelta(days=7) / spec.window), 1)
    dweek = mean3 - _trailing_mean(mean3, week)

    machine = _machine_features(events, paths, start_ns, win, n_win, exec_share, spec)
    vocab = kinds if kinds is not None else sorted({kind_of(p) for p in paths})
    kind_code = np.array(
        [vocab.index(kind_of(p)) if kind_of(p) in vocab else -1 for p in paths], np.float64
    )
    blocks = [
        mean3,
        np.sqrt(var).reshape(shape),
        slope.reshape(shape),
        hf.reshape(shape),
        dlev,
        dweek,
    ]
    x = np.concatenate(
        [
            np.stack(blocks, axis=3).reshape(m_count, n_win, s_count * len(STATS)),
            machine,
            np.broadcast_to(kind_code[:, None, None], (m_count, n_win, 1)),
        ],
        axis=2,
    ).reshape(m_count * n_win, -1)
    names = [f"{sig}.{stat}" for sig in signals for stat in STATS] + list(MACHINE_FEATURES)
    path_arr = np.repeat(np.array(paths, dtype=np.str_), n_win)
    ends = start_ns + (np.arange(n_win, dtype=np.int64) + 1) * win
    return FeatureFrame(
        x=np.ascontiguousarray(x, dtype=np.float64),
        names=names,
        path=path_arr,
        site=np.repeat(np.array([site_of(p) for p in paths], dtype=np.str_), n_win),
        kind=np.repeat(np.array([kind_of(p) for p in paths], dtype=np.str_), n_win),
        end_ns=np.tile(ends, m_count),
        start_ns=start_ns,
        stop_ns=start_ns + n_win * win,
        kinds=list(vocab),
    )


def _trailing_mean(a: F64, k: int) -> F64:
    """Mean of the previous ``k`` windows along axis 1, ignoring NaN (NaN where none)."""
    ok = ~np.isnan(a)
    vals = np.where(ok, a, 0.0)
    zero = np.zeros_like(vals[:, :1])
    cs = np.concatenate([zero, np.cumsum(vals, axis=1)], axis=1)
    cn = np.concatenate([zero, np.cumsum(ok, axis=1, dtype=np.float64)], axis=1)
    idx = np.arange(a.shape[1])
    lo = np.maximum(idx - k, 0)
    total = cs[:, idx] - cs[:, lo]
    count = cn[:, idx] - cn[:, lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _machine_features(
    events: pa.Table,
    paths: list[str],
    start_ns: int,
    win: int,
    n_win: int,
    exec_share: F64,
    spec: FeatureSpec,
) -> F64:
    """State and alarm history per machine and window: shape (machines, windows, 5)."""
    m_count = len(paths)
    ends = start_ns + (np.arange(n_win, dtype=np.int64) + 1) * win
    out = np.full((m_count, n_win, 5), np.nan)
    out[:, :, 0] = exec_share
    alarms = failure_starts(events) if events.num_rows else None
    targets = failure_starts(events, spec.failure_reasons) if events.num_rows else None
    grid_key = _keyed(
        np.repeat(np.arange(m_count, dtype=np.int64), n_win), np.tile(ends, m_count), start_ns
    )
    for col, table, span in ((1, alarms, 24 * _H_NS), (2, targets, 7 * 24 * _H_NS)):
        keys = _sorted_keys(table, paths, start_ns)
        hi = np.searchsorted(keys, grid_key, side="left")
        lo_key = _keyed(
            np.repeat(np.arange(m_count, dtype=np.int64), n_win),
            np.tile(ends, m_count) - span,
            start_ns,
        )
        lo = np.searchsorted(keys, lo_key, side="left")
        out[:, :, col] = (hi - lo).reshape(m_count, n_win)
    keys = _sorted_keys(targets, paths, start_ns)
    if len(keys) == 0:
        return out  # no failure seen: time since failure unknown
    last = np.searchsorted(keys, grid_key, side="left") - 1
    known = (last >= 0) & ((keys[np.maximum(last, 0)] >> 41) == (grid_key >> 41))
    last_ms = (keys[np.maximum(last, 0)] & ((1 << 41) - 1)) - _OFFSET
    since_h = (np.tile(ends, m_count) - (start_ns + last_ms * 1_000_000)) / _H_NS
    out[:, :, 3] = np.where(known, since_h, np.nan).reshape(m_count, n_win)
    # Executing hours since the last failure: cumulative executing time, reset at each failure.
    exec_h = np.nan_to_num(exec_share) * (win / _H_NS)
    cum = np.cumsum(exec_h, axis=1).reshape(-1)
    # The failure's window: executing hours accumulated up to the end of that window.
    fail_w = np.clip((last_ms * 1_000_000) // win, -1, n_win - 1)
    row_m = grid_key >> 41
    base = np.where(fail_w >= 0, cum[row_m * n_win + np.maximum(fail_w, 0)], 0.0)
    out[:, :, 4] = np.where(known, cum - base, np.nan).reshape(m_count, n_win)
    return out


def _sorted_keys(table: pa.Table | None, paths: list[str], start_ns: int) -> I64:
    if table is None or table.num_rows == 0:
        return np.empty(0, np.int64)
    m = _codes(table["path"], paths)
    ok = m >= 0
    return np.sort(_keyed(m[ok], _ns(table["ts"])[ok], start_ns))
