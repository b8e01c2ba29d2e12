"""JSON encoding of Arrow tables: the same text as Arrow's strftime, NaN as null, Arrow intact."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from werk.api.tables import ARROW, encoded, iso_text, table_json


def _strftime(column: pa.ChunkedArray) -> list[str | None]:
    """The formatting the API answered with before (Arrow's zoned strftime)."""
    micros = pc.cast(column, pa.timestamp("us", tz="UTC"), safe=False)
    return pc.strftime(micros, format="%Y-%m-%dT%H:%M:%SZ").to_pylist()  # type: ignore[no-any-return]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin", None])
def test_timestamps_read_exactly_as_before(unit: str, tz: str | None) -> None:
    rng = np.random.default_rng(7)
    ns = rng.integers(-(2**61), 2**61, 2000).tolist()
    ns += [0, 1, -1, 999, -1001, 1_700_000_000_123_456_789, *ns[:500]]  # repeats, like a trend
    per = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[unit]
    values: list[int | None] = [v // per for v in ns]
    values[3] = values[-1] = None
    typ = pa.timestamp(unit, tz=tz)
    column = pa.chunked_array(
        [pa.array(values[:900], pa.int64()).cast(typ), pa.array(values[900:], pa.int64()).cast(typ)]
    )
    assert iso_text(column).to_pylist() == _strftime(column)


def test_rows_carry_iso_times_and_nan_as_null() -> None:
    table = pa.table(
        {
            "path": ["a/b", 'q"uote\\d/\n'],
            "ts": pa.array([0, 1_500], pa.timestamp("ns", tz="UTC")),
            "value": [1.5, math.nan],
            "count": pa.array([1, None], pa.int64()),
        }
    )
    body = orjson.loads(table_json(table, path="a/b"))
    assert body == {
        "path": "a/b",
        "count": 2,
        "rows": [
            {"path": "a/b", "ts": "1970-01-01T00:00:00.000000Z", "value": 1.5, "count": 1},
            {
                "path": 'q"uote\\d/\n',
                "ts": "1970-01-01T00:00:00.000001Z",
                "value": None,
                "count": None,
            },
        ],
    }


def test_arrow_answers_round_trip() -> None:
    table = pa.table({"ts": pa.array([5], pa.timestamp("ns", tz="UTC")), "value": [2.0]})
    answer = encoded(table, True)
    assert answer.media_type == ARROW
    assert answer.rows == 1
    assert pa.ipc.open_stream(answer.body).read_all().equals(table)
