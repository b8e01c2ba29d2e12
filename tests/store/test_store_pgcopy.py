"""The binary COPY encoder: round trips through numpy and through a real PostgreSQL."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
import pytest

from werk.store import pgcopy

TYPES = ["int8", "float8", "int4", "int2", "bool", "float4"]


def _columns(n: int) -> list[npt.NDArray[Any]]:
    rng = np.random.default_rng(3)
    return [
        rng.integers(-(2**62), 2**62, n),
        rng.normal(size=n),
        rng.integers(-(2**31), 2**31 - 1, n),
        rng.integers(-(2**15), 2**15 - 1, n),
        rng.random(n) < 0.5,
        rng.normal(size=n).astype(np.float32),
    ]


def test_encode_decode_round_trip() -> None:
    columns = _columns(1_000)
    data = pgcopy.encode(columns, TYPES)
    assert data.startswith(pgcopy.HEADER)
    assert data.endswith(pgcopy.TRAILER)
    decoded = pgcopy.decode(data, TYPES)
    for original, back in zip(columns, decoded, strict=True):
        assert np.array_equal(original, back)
    assert pgcopy.decode(pgcopy.encode([[]], ["int8"]), ["int8"])[0].size == 0


def test_encode_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="types"):
        pgcopy.encode([[1]], ["text"])
    with pytest.raises(ValueError, match="lengths"):
        pgcopy.encode([[1], [1, 2]], ["int8", "int8"])
    with pytest.raises(ValueError, match="2 columns but 1 types"):
        pgcopy.encode([[1], [2]], ["int8"])
    with pytest.raises(ValueError, match="NULL"):
        pgcopy.decode(pgcopy.encode([[1, 2]], ["int8"], nulls=[[False, True]]), ["int8"])
    with pytest.raises(ValueError, match="signature"):
        pgcopy.decode(b"nope", ["int8"])


@pytest.mark.postgres
def test_real_copy_with_nulls(pg_url: str) -> None:
    n = 5_000
    columns = _columns(n)
    nulls = [None, np.arange(n) % 3 == 0, None, np.arange(n) % 5 == 0, None, None]
    data = pgcopy.encode(columns, TYPES, nulls=nulls)
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TABLE t (k int8, a float8, b int4, c int2, d bool, e float4)")
        with conn.cursor() as cur, cur.copy("COPY t FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(data)
        rows = conn.execute("SELECT k, a, b, c, d, e FROM t ORDER BY k").fetchall()
        # Round trip back through COPY TO: decode reads what PostgreSQL writes.
        out = bytearray()
        with (
            conn.cursor() as cur,
            cur.copy("COPY (SELECT k, b FROM t ORDER BY k) TO STDOUT (FORMAT BINARY)") as copy,
        ):
            for chunk in copy:
                out += chunk
    order = np.argsort(columns[0])
    assert [r[0] for r in rows] == columns[0][order].tolist()
    a_null = nulls[1][order]
    assert [r[1] is None for r in rows] == a_null.tolist()
    assert [r[1] for r in rows if r[1] is not None] == columns[1][order][~a_null].tolist()
    assert [r[3] is None for r in rows] == nulls[3][order].tolist()
    assert [r[4] for r in rows] == columns[4][order].tolist()
    assert np.allclose([r[5] for r in rows], columns[5][order])
    k, b = pgcopy.decode(bytes(out), ["int8", "int4"])
    assert k.tolist() == columns[0][order].tolist()
    assert b.tolist() == columns[2][order].tolist()
