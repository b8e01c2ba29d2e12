"""Validate decoded batches against the contracts, vectorised: one error names the first bad row.

Rules (each violation refuses the whole batch with a 4xx naming the row, column and reason):

* required columns present, with the contract's types (lossless casts are applied: integer
  values to float64, any timestamp unit or zone to ``timestamp[ns, UTC]``; naive timestamps are
  refused because their zone is unknown);
* no nulls in required columns;
* ``value`` finite; NaN is allowed only with quality BAD (a device that delivered no value);
* ``quality`` in 0, 1, 2;
* ``ts`` not before 1990-01-01 and not more than the configured tolerance in the future;
* ``path`` a valid ISA-95 asset path, ``signal`` a valid signal name, event ``kind`` known.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from werk.assets.paths import validate_path, validate_signal
from werk.errors import InvalidInput, PathError
from werk.samples import (
    EVENT_REQUIRED,
    EVENT_SCHEMA,
    SAMPLE_SCHEMA,
    STATUS_FIELD,
    EventKind,
    to_ns,
)
from werk.store.layouts import LayoutMemo, one_array

EARLIEST: Final = datetime(1990, 1, 1, tzinfo=UTC)
_PATH_RE: Final = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(/[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?){0,5}$"
_SIGNAL_RE: Final = r"^[a-z][a-z0-9_]{0,62}$"


def _first(mask: pa.ChunkedArray | pa.Array) -> int:
    """Index of the first true value of a boolean mask (nulls count as false)."""
    return int(pc.index(pc.fill_null(mask, False), True).as_py())


def _cast(table: pa.Table, name: str, target: pa.DataType, what: str) -> pa.Table:
    column = table.column(name)
    actual = column.type
    if actual == target:
        return table
    ok = False
    if pa.types.is_timestamp(target):
        if pa.types.is_timestamp(actual):
            if actual.tz is None:
                raise InvalidInput(
                    f"{what} column {name!r} is a timestamp without time zone; send "
                    "timestamp[ns, tz=UTC]",
                    key="ingest.naive_timestamp",
                    column=name,
                )
            ok = True
    elif pa.types.is_floating(target):
        ok = pa.types.is_integer(actual) or pa.types.is_floating(actual)
    elif pa.types.is_integer(target):
        ok = pa.types.is_integer(actual)
    elif pa.types.is_string(target):
        ok = (
            pa.types.is_string(actual)
            or pa.types.is_large_string(actual)
            or (pa.types.is_dictionary(actual) and pa.types.is_string(actual.value_type))
        )
    elif pa.types.is_boolean(target):
        ok = pa.types.is_boolean(actual)
    if not ok:
        raise InvalidInput(
            f"{what} column {name!r} has type {actual}; expected {target}",
            key="ingest.bad_type",
            column=name,
        )
    try:
        cast = column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidInput(
            f"{what} column {name!r} cannot be read as {target}: {exc}",
            key="ingest.bad_type",
            column=name,
        ) from exc
    return table.set_column(table.schema.get_field_index(name), name, cast)


def _require(table: pa.Table, names: tuple[str, ...] | list[str], what: str) -> None:
    missing = [n for n in names if n not in table.schema.names]
    if missing:
        raise InvalidInput(
            f"{what} batch misses column(s) {', '.join(missing)}; it has {table.schema.names}",
            key="ingest.missing_column",
            column=missing[0],
        )
    for name in names:
        nulls = table.column(name).null_count
        if nulls:
            row = _first(pc.is_null(table.column(name)))
            raise InvalidInput(
                f"{what} row {row}: column {name!r} is null",
                key="ingest.null_value",
                row=row,
                column=name,
            )


def _numbers(column: pa.ChunkedArray | pa.Array) -> npt.NDArray[Any]:
    """The values of a numeric column without nulls, as numpy (no copy for one chunk)."""
    column = one_array(column)
    if pa.types.is_timestamp(column.type):
        column = column.view(pa.int64())
    values: npt.NDArray[Any] = column.to_numpy(zero_copy_only=False)
    return values


def _check_ts(table: pa.Table, what: str, now: datetime, future_tolerance_s: int) -> None:
    if table.num_rows == 0:
        return
    ts = _numbers(table.column("ts"))
    low = to_ns(EARLIEST)
    high = to_ns(now) + future_tolerance_s * 1_000_000_000
    if int(ts.min()) < low:
        row = int(np.argmax(ts < low))
        raise InvalidInput(
            f"{what} row {row}: ts {table.column('ts')[row]} is before 1990-01-01",
            key="ingest.ts_out_of_range",
            row=row,
            column="ts",
        )
    if int(ts.max()) > high:
        row = int(np.argmax(ts > high))
        raise InvalidInput(
            f"{what} row {row}: ts {table.column('ts')[row]} is more than "
            f"{future_tolerance_s} s in the future",
            key="ingest.ts_out_of_range",
            row=row,
            column="ts",
        )


def _first_bad(column: pa.ChunkedArray, pattern: str) -> int | None:
    """Return the first row whose value does not match ``pattern``, or None.

    The regex runs over the distinct values only: a batch repeats each path once per signal and
    sample, so this is an order of magnitude less work than matching every row.
    """
    distinct = pc.unique(column)
    bad = pc.filter(distinct, pc.invert(pc.match_substring_regex(distinct, pattern)))
    if len(bad) == 0:
        return None
    return _first(pc.is_in(column, value_set=bad))


def _check_paths(table: pa.Table, what: str) -> None:
    paths = table.column("path")
    row = _first_bad(paths, _PATH_RE)
    if row is None:
        return
    try:
        validate_path(paths[row].as_py())
    except PathError as exc:
        raise InvalidInput(
            f"{what} row {row}: {exc.message}",
            key="ingest.invalid_path",
            row=row,
            column="path",
            segment=exc.fields.get("segment"),
        ) from exc
    raise InvalidInput(  # the regex and validate_path disagree: be safe, refuse
        f"{what} row {row}: invalid path {paths[row].as_py()!r}",
        key="ingest.invalid_path",
        row=row,
        column="path",
    )


def validate_samples(
    table: pa.Table,
    *,
    now: datetime,
    future_tolerance_s: int,
    valid: LayoutMemo[bool] | None = None,
) -> pa.Table:
    """Return ``table`` cast to the sample contract, or raise InvalidInput naming the first
    bad row and column.

    Args:
        table: The decoded batch.
        now: The time ``ts`` may not lie ahead of by more than ``future_tolerance_s``.
        future_tolerance_s: Seconds of clock skew allowed.
        valid: Path and signal columns already found valid: a batch repeating one of them skips
            matching its names against the grammar; columns found valid here are added.
    """
    what = "samples"
    _require(table, SAMPLE_SCHEMA.names, what)
    for field in SAMPLE_SCHEMA:
        table = _cast(table, field.name, field.type, what)
    if STATUS_FIELD.name in table.schema.names:
        table = _cast(table, STATUS_FIELD.name, STATUS_FIELD.type, what)
    table = table.select(
        [*SAMPLE_SCHEMA.names, *([STATUS_FIELD.name] if "status" in table.schema.names else [])]
    )
    # The checks of the numeric columns run in numpy on the columns' own buffers: a batch
    # that passes (nearly all) costs a few vectorised passes and no compute-kernel calls,
    # which cost more than the passes themselves on a 10k-sample batch.
    quality = _numbers(table.column("quality"))
    if len(quality) and int(quality.max()) > 2:
        row = int(np.argmax(quality > 2))
        raise InvalidInput(
            f"{what} row {row}: quality {int(quality[row])} is not 0 (good), 1 (uncertain) "
            "or 2 (bad)",
            key="ingest.bad_quality",
            row=row,
            column="quality",
        )
    value = _numbers(table.column("value"))
    finite = np.isfinite(value)
    if not finite.all():
        bad_value = ~finite & ~(np.isnan(value) & (quality == 2))
        if bad_value.any():
            row = int(np.argmax(bad_value))
            raise InvalidInput(
                f"{what} row {row}: value {float(value[row])} is not finite (NaN is allowed "
                "only with quality 2, bad)",
                key="ingest.non_finite",
                row=row,
                column="value",
            )
    _check_ts(table, what, now, future_tolerance_s)
    paths, signals = table.column("path"), table.column("signal")
    if valid is None or valid.get(paths, signals) is None:
        _check_paths(table, what)
        _check_signals(signals, what)
        if valid is not None:
            valid.put(True, paths, signals)
    has_status = STATUS_FIELD.name in table.schema.names
    schema = SAMPLE_SCHEMA.append(STATUS_FIELD) if has_status else SAMPLE_SCHEMA
    if table.schema.equals(schema):
        return table
    # The columns have the contract's types by now (cast above) and no nulls where the
    # contract says not null (checked above): only the schema's nullability differs.
    return pa.Table.from_arrays(table.columns, schema=schema)


def _check_signals(signals: pa.ChunkedArray, what: str) -> None:
    bad_row = _first_bad(signals, _SIGNAL_RE)
    if bad_row is not None:
        row = bad_row
        try:
            validate_signal(signals[row].as_py())
        except PathError as exc:
            raise InvalidInput(
                f"{what} row {row}: {exc.message}",
                key="ingest.invalid_signal",
                row=row,
                column="signal",
            ) from exc
        raise InvalidInput(  # the regex and validate_signal disagree: be safe, refuse
            f"{what} row {row}: invalid signal {signals[row].as_py()!r}",
            key="ingest.invalid_signal",
            row=row,
            column="signal",
        )


def validate_events(table: pa.Table, *, now: datetime, future_tolerance_s: int) -> pa.Table:
    """Return ``table`` with the full event schema (absent optional columns as nulls), or raise
    InvalidInput naming the first bad row and column."""
    what = "events"
    _require(table, list(EVENT_REQUIRED), what)
    for field in EVENT_SCHEMA:
        if field.name in table.schema.names:
            table = _cast(table, field.name, field.type, what)
        else:
            table = table.append_column(field, pa.nulls(table.num_rows, field.type))
    table = table.select(EVENT_SCHEMA.names)
    kinds = pa.array([k.value for k in EventKind], pa.string())
    unknown = pc.invert(pc.is_in(table.column("kind"), value_set=kinds))
    if pc.any(unknown).as_py():
        row = _first(unknown)
        raise InvalidInput(
            f"{what} row {row}: kind {table.column('kind')[row].as_py()!r} is not one of "
            f"{', '.join(k.value for k in EventKind)}",
            key="ingest.bad_kind",
            row=row,
            column="kind",
        )
    _check_ts(table, what, now, future_tolerance_s)
    _check_paths(table, what)
    return table.cast(EVENT_SCHEMA)
