"""Split rows by time and refuse any split through which the future would reach training.

A label is *known* at some instant (``end + horizon`` for failure-within-horizon, the failure or
the cap for RUL, inspection for scrap). A row may train a model evaluated from ``cutoff`` on only
if its label was known by then; :func:`guard_no_leakage` checks exactly that and raises
:class:`LeakageError` otherwise. Every fit in :mod:`werk.ml.fleet` and :mod:`werk.ml.train` goes
through it.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import numpy.typing as npt

from werk.errors import InvalidInput
from werk.samples import from_ns

Mask = npt.NDArray[np.bool_]


class LeakageError(InvalidInput):
    """A training row's label was not known yet when the evaluation starts (future data)."""

    default_key = "ml.leakage"


def guard_no_leakage(train_known_ns: npt.NDArray[np.int64], cutoff_ns: int, *, what: str) -> None:
    """Raise unless every training label was known by ``cutoff_ns``.

    Args:
        train_known_ns: When each training row's label became known (ns since the epoch).
        cutoff_ns: The first instant the model is evaluated on (or deployed at).
        what: The target, named in the error.

    Raises:
        LeakageError: a training label was known only after ``cutoff_ns``.
    """
    if len(train_known_ns) == 0:
        return
    latest = int(train_known_ns.max())
    if latest > cutoff_ns:
        bad = int((train_known_ns > cutoff_ns).sum())
        raise LeakageError(
            f"{bad} training rows for {what} have labels known only after the evaluation starts",
            field=what,
            latest_label=from_ns(latest).isoformat(),
            cutoff=from_ns(cutoff_ns).isoformat(),
        )


def time_split(
    end_ns: npt.NDArray[np.int64], known_ns: npt.NDArray[np.int64], cutoff_ns: int
) -> tuple[Mask, Mask]:
    """Return (train, test) masks: train rows have labels known by ``cutoff_ns``, test rows are
    windows ending after it. Rows in between (window before, label after) are in neither."""
    return known_ns <= cutoff_ns, end_ns > cutoff_ns


def cutoff_at(start_ns: int, stop_ns: int, fraction: float, step_ns: int) -> int:
    """Return the instant ``fraction`` of the way through a span, on a window boundary.

    Raises:
        InvalidInput: ``fraction`` is not strictly between 0 and 1.
    """
    if not 0.0 < fraction < 1.0:
        raise InvalidInput("the training fraction must lie between 0 and 1", field="fraction")
    raw = start_ns + int((stop_ns - start_ns) * fraction)
    return start_ns + ((raw - start_ns) // step_ns) * step_ns


def as_datetime(ns: int) -> datetime:
    """Return the aware UTC datetime of ``ns``."""
    return from_ns(ns)
