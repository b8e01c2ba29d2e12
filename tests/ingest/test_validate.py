"""Each kind of bad input is refused with the row, column and reason."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from werk.errors import InvalidInput
from werk.ingest.validate import validate_events, validate_samples
from werk.samples import SAMPLE_SCHEMA, UTC_NS, to_ns

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def samples(**overrides: Sequence[object]) -> pa.Table:
    n = 3
    columns: dict[str, pa.Array] = {
        "path": pa.array(["acme/berlin/body/line-1/press-01"] * n),
        "signal": pa.array(["spindle_temp", "vibration_rms", "energy"]),
        "ts": pa.array([to_ns(NOW - timedelta(seconds=i)) for i in range(n)]).cast(UTC_NS),
        "value": pa.array([1.0, 2.0, 3.0]),
        "quality": pa.array([0, 1, 2], pa.uint8()),
    }
    for name, values in overrides.items():
        columns[name] = pa.array(values)
    return pa.table(columns)


def check(table: pa.Table) -> pa.Table:
    return validate_samples(table, now=NOW, future_tolerance_s=86_400)


def test_good_batch_is_cast_to_the_contract() -> None:
    table = samples(value=[1, 2, 3])  # integers are read as float64
    out = check(table)
    assert out.schema == SAMPLE_SCHEMA
    assert out.column("value").to_pylist() == [1.0, 2.0, 3.0]


def test_missing_column_is_named() -> None:
    with pytest.raises(InvalidInput) as info:
        check(samples().drop_columns(["quality"]))
    assert info.value.key == "ingest.missing_column"
    assert info.value.fields["column"] == "quality"


def test_wrong_type_is_named() -> None:
    with pytest.raises(InvalidInput) as info:
        check(samples(value=["1.0", "2", "x"]))
    assert info.value.key == "ingest.bad_type"
    assert info.value.fields["column"] == "value"
    assert "string" in info.value.message


@pytest.mark.parametrize(
    ("values", "qualities", "row"),
    [
        ([1.0, float("nan"), 3.0], [0, 0, 0], 1),
        ([1.0, 2.0, float("inf")], [0, 0, 2], 2),
        ([float("-inf"), 2.0, 3.0], [2, 0, 0], 0),
    ],
)
def test_non_finite_values_name_the_row(
    values: list[float], qualities: list[int], row: int
) -> None:
    with pytest.raises(InvalidInput) as info:
        check(samples(value=values, quality=pa.array(qualities, pa.uint8()).to_pylist()))
    assert info.value.key == "ingest.non_finite"
    assert info.value.fields["row"] == row


def test_nan_with_bad_quality_is_a_device_without_value() -> None:
    out = check(samples(value=[1.0, 2.0, float("nan")]))
    assert out.num_rows == 3


def test_timestamp_before_1990_is_refused() -> None:
    old = to_ns(datetime(1989, 12, 31, tzinfo=UTC))
    table = samples()
    table = table.set_column(2, "ts", pa.array([old, old, old]).cast(UTC_NS))
    with pytest.raises(InvalidInput) as info:
        check(table)
    assert info.value.key == "ingest.ts_out_of_range"
    assert info.value.fields["row"] == 0


def test_timestamp_more_than_a_day_ahead_is_refused() -> None:
    ahead = to_ns(NOW + timedelta(days=1, seconds=1))
    table = samples()
    table = table.set_column(2, "ts", pa.array([to_ns(NOW), ahead, to_ns(NOW)]).cast(UTC_NS))
    with pytest.raises(InvalidInput) as info:
        check(table)
    assert info.value.fields == {"row": 1, "column": "ts"}


def test_naive_timestamps_are_refused() -> None:
    table = samples()
    table = table.set_column(2, "ts", table.column("ts").cast(pa.timestamp("ns")))
    with pytest.raises(InvalidInput) as info:
        check(table)
    assert info.value.key == "ingest.naive_timestamp"


def test_other_timestamp_units_and_zones_are_converted() -> None:
    table = samples()
    table = table.set_column(2, "ts", table.column("ts").cast(pa.timestamp("ms", tz="Asia/Tokyo")))
    assert check(table).column("ts").type == UTC_NS


@pytest.mark.parametrize(
    ("path", "segment"),
    [
        ("acme/Berlin/body", 2),
        ("acme//body", 2),
        ("acme/berlin/body/line 1", 4),
        ("acme/berlin/body/line-1/cell/press/extra", None),
    ],
)
def test_invalid_paths_name_row_and_segment(path: str, segment: int | None) -> None:
    with pytest.raises(InvalidInput) as info:
        check(samples(path=["acme/berlin/body/line-1/press-01", path, path]))
    assert info.value.key == "ingest.invalid_path"
    assert info.value.fields["row"] == 1
    assert info.value.fields.get("segment") == segment


def test_invalid_signal_is_named() -> None:
    with pytest.raises(InvalidInput) as info:
        check(samples(signal=["ok", "Spindle-Temp", "ok"]))
    assert info.value.key == "ingest.invalid_signal"
    assert info.value.fields["row"] == 1


def test_quality_out_of_range() -> None:
    with pytest.raises(InvalidInput) as info:
        check(samples(quality=pa.array([0, 7, 0], pa.uint8()).to_pylist()))
    assert info.value.key == "ingest.bad_quality"


def test_null_in_required_column() -> None:
    with pytest.raises(InvalidInput) as info:
        check(samples(signal=["a", None, "c"]))
    assert info.value.key == "ingest.null_value"
    assert info.value.fields == {"row": 1, "column": "signal"}


def test_events_unknown_kind_and_optional_columns() -> None:
    table = pa.table(
        {
            "path": ["acme/berlin/body/line-1/press-01"] * 2,
            "ts": pa.array([to_ns(NOW)] * 2).cast(UTC_NS),
            "kind": ["state", "explosion"],
        }
    )
    with pytest.raises(InvalidInput) as info:
        validate_events(table, now=NOW, future_tolerance_s=0)
    assert info.value.fields["row"] == 1
    good = validate_events(table.slice(0, 1), now=NOW, future_tolerance_s=0)
    assert good.column("good").null_count == 1
