"""Compute time-weighted averages per bucket (step interpolation, last value carried forward).

The rule, for one series over the read range ``[start, end)`` cut into buckets:

* Each sample holds its value from its ``ts`` until the next sample of the series (of any
  quality); the last sample holds until ``end``. Holding is clipped to ``[start, end)``.
* The newest sample before ``start`` (the *carried* sample) holds from ``start`` until the first
  sample in the range, so a bucket with no sample of its own still gets the value carried into
  it.
* Time held by a BAD sample counts for nothing: a BAD reading ends the hold of the good value
  before it, and the time until the next sample is left out of numerator and denominator alike.
* ``twa(bucket) = Σ value·held / Σ held`` over the good time held within the bucket and the range.
  A bucket with no good time held has no row. ``count`` is the number of GOOD and UNCERTAIN samples
  whose ``ts`` lies in the bucket (the carried sample is not counted).
* Of samples with equal ``ts`` the one read last holds (ties are otherwise zero-length).

Times are int64 nanoseconds; pieces are exact integers until they are weighted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Buckets:
    """One row per (group, bucket) with good time held."""

    group: Int64Array
    bucket: Int64Array
    value: FloatArray
    count: Int64Array


def twa(
    group: Int64Array,
    ts: Int64Array,
    value: FloatArray,
    good: npt.NDArray[np.bool_],
    edges: Int64Array,
    start: int,
    end: int,
) -> Buckets:
    """Return the time-weighted average of every group in every bucket.

    Args:
        group: Series of each sample (any int labels), samples sorted by group then ts. The
            carried sample of a group (``ts < start``) comes first in its group.
        ts: Sample timestamps (ns).
        value: Sample values.
        good: True for GOOD and UNCERTAIN samples.
        edges: Bucket edges from :func:`werk.store.buckets.bucket_edges`.
        start: Start of the range (ns).
        end: End of the range (ns, exclusive).
    """
    groups: list[Int64Array] = []
    buckets: list[Int64Array] = []
    values: list[FloatArray] = []
    counts: list[Int64Array] = []
    nbuckets = len(edges) - 1
    if nbuckets <= 0 or not len(group):
        return _empty()
    cut = np.clip(edges, start, end)
    bounds = np.flatnonzero(np.diff(group)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(group)], strict=True):
        t = np.clip(ts[lo:hi], start, end)
        # Pieces: every sample time and every bucket edge inside the range; each piece is held by
        # the last sample at or before its start.
        points = np.unique(np.concatenate([t, cut]))
        length = np.diff(points)
        piece = points[:-1]
        holder = np.searchsorted(t, piece, side="right") - 1
        held = holder >= 0
        holder = np.maximum(holder, 0)
        weight = np.where(held & good[lo:hi][holder], length, 0).astype(np.float64)
        where = np.searchsorted(edges, piece, side="right") - 1
        inside = (where >= 0) & (where < nbuckets)
        total = np.bincount(where[inside], weights=weight[inside], minlength=nbuckets)
        wsum = np.bincount(
            where[inside], weights=(weight * value[lo:hi][holder])[inside], minlength=nbuckets
        )
        raw = ts[lo:hi]
        counted = good[lo:hi] & (raw >= start) & (raw < end)
        counted_bucket = np.searchsorted(edges, raw[counted], side="right") - 1
        count = np.bincount(counted_bucket, minlength=nbuckets)[:nbuckets]
        rows = np.flatnonzero(total > 0)
        groups.append(np.full(len(rows), group[lo], dtype=np.int64))
        buckets.append(rows.astype(np.int64))
        values.append(wsum[rows] / total[rows])
        counts.append(count[rows].astype(np.int64))
    return Buckets(
        np.concatenate(groups),
        np.concatenate(buckets),
        np.concatenate(values),
        np.concatenate(counts),
    )


def _empty() -> Buckets:
    return Buckets(
        np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(0, np.int64)
    )
