"""Encode and decode PostgreSQL binary COPY streams from numpy columns, without per-row Python.

The binary COPY format (PostgreSQL docs, "COPY — File Formats — Binary Format") is a header,
one tuple per row — a big-endian int16 field count, then per field a big-endian int32 byte length
(-1 for NULL) and the value in the type's binary send format — and an int16 trailer of -1. For
fixed-width types (integers, floats, booleans) every row of one NULL pattern has the same layout,
so a numpy structured array with big-endian fields *is* the encoded rows: filling it is a handful
of vectorised column copies, and ``tobytes()`` is the payload.

:func:`encode` is what the PostgreSQL store writes samples with, and what the benchmark's "raw
binary COPY" peer uses, so that both sides pay the same encoding cost::

    data = encode([ids, ts, values, quality], ["int4", "int8", "float8", "int2"])
    with cursor.copy("COPY t (series_id, ts, value, quality) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(data)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

HEADER: Final = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
"""Signature, flags (no OIDs), header extension length 0."""
TRAILER: Final = (-1).to_bytes(2, "big", signed=True)

TYPES: Final[dict[str, str]] = {
    "bool": "?",
    "int2": ">i2",
    "int4": ">i4",
    "int8": ">i8",
    "float4": ">f4",
    "float8": ">f8",
}
"""PostgreSQL fixed-width types this module encodes, with their big-endian numpy format."""


def _row_dtype(types: Sequence[str], present: Sequence[bool]) -> np.dtype[np.void]:
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for i, (name, here) in enumerate(zip(types, present, strict=True)):
        fields.append((f"len{i}", ">i4"))
        if here:
            fields.append((f"val{i}", TYPES[name]))
    return np.dtype(fields)


def _encode_rows(
    columns: Sequence[npt.NDArray[np.generic]],
    types: Sequence[str],
    present: Sequence[bool],
    rows: npt.NDArray[np.intp] | None,
    into: npt.NDArray[np.void] | None = None,
) -> npt.NDArray[np.void]:
    """Lay the rows out in binary COPY form (in ``into`` if given: a view of the final buffer).

    The field count and the byte lengths are the same in every row: one row of them is written
    and copied over the buffer by doubling (a few ``memcpy`` calls); assigning them field by
    field, a strided two- or four-byte write per row and field, cost twice the values' writes.
    """
    n = len(columns[0]) if rows is None else len(rows)
    dtype = _row_dtype(types, present)
    out = np.empty(n, dtype=dtype) if into is None else into
    if n == 0:
        return out
    unit = np.zeros(1, dtype=dtype)
    unit["count"] = len(types)
    for i, (name, here) in enumerate(zip(types, present, strict=True)):
        unit[f"len{i}"] = np.dtype(TYPES[name]).itemsize if here else -1
    _repeat(out.view(np.uint8), unit.view(np.uint8))
    for i, (column, here) in enumerate(zip(columns, present, strict=True)):
        if here:
            out[f"val{i}"] = column if rows is None else column[rows]
    return out


def _repeat(target: npt.NDArray[np.uint8], unit: npt.NDArray[np.uint8]) -> None:
    """Fill ``target`` with copies of ``unit`` (its length a multiple of the unit's)."""
    size = len(unit)
    target[:size] = unit
    filled, total = size, len(target)
    while filled < total:
        step = min(filled, total - filled)
        target[filled : filled + step] = target[:step]
        filled += step


def encode(
    columns: Sequence[npt.ArrayLike],
    types: Sequence[str],
    *,
    nulls: Sequence[npt.ArrayLike | None] | None = None,
) -> bytearray:
    """Return a complete binary COPY payload (header, rows, trailer) for ``columns`` (hand it
    to ``Copy.write`` as a ``memoryview``: psycopg sends a large buffer in slices, and slices
    of a memoryview are not copies).

    Args:
        columns: One array per column, all of the same length, in the column order of the COPY
            statement. Values are converted to the column's type (``int4`` takes an int64 array).
        types: PostgreSQL type of each column: ``bool``, ``int2``, ``int4``, ``int8``,
            ``float4`` or ``float8``.
        nulls: Optional boolean mask per column, True where the value is NULL (None: no NULLs).
            Rows are grouped by their NULL pattern, so with masks the rows come out reordered;
            a table has no row order, so COPY does not care.

    Raises:
        ValueError: unknown type, or columns of different lengths.
    """
    if len(columns) != len(types):
        raise ValueError(f"{len(columns)} columns but {len(types)} types")
    unknown = [t for t in types if t not in TYPES]
    if unknown:
        raise ValueError(f"types {unknown} cannot be encoded; known: {sorted(TYPES)}")
    arrays = [np.asarray(c) for c in columns]
    lengths = {len(a) for a in arrays}
    if len(lengths) > 1:
        raise ValueError(f"columns have different lengths {sorted(lengths)}")
    masks = [
        None if m is None else np.asarray(m, dtype=bool) for m in (nulls or [None] * len(types))
    ]
    if len(masks) != len(types):
        raise ValueError(f"{len(masks)} null masks but {len(types)} columns")
    if not any(m is not None and m.any() for m in masks):
        # Header, rows and trailer laid out in one buffer: no copy of the rows after encoding.
        present = [True] * len(types)
        dtype = _row_dtype(types, present)
        n = len(arrays[0])
        buffer = bytearray(len(HEADER) + n * dtype.itemsize + len(TRAILER))
        buffer[: len(HEADER)] = HEADER
        buffer[len(buffer) - len(TRAILER) :] = TRAILER
        view = np.frombuffer(buffer, dtype=dtype, count=n, offset=len(HEADER))
        _encode_rows(arrays, types, present, None, into=view)
        return buffer
    # One NULL pattern per row, as a bit set; each pattern is one fixed layout.
    pattern = np.zeros(len(arrays[0]), dtype=np.int64)
    for i, mask in enumerate(masks):
        if mask is not None:
            pattern |= mask.astype(np.int64) << i
    parts = [HEADER]
    for value in np.flatnonzero(np.bincount(pattern)):
        rows = np.flatnonzero(pattern == value)
        present = [not (int(value) >> i) & 1 for i in range(len(types))]
        parts.append(_encode_rows(arrays, types, present, rows).tobytes())
    parts.append(TRAILER)
    return bytearray().join(parts)


def decode(data: bytes | bytearray, types: Sequence[str]) -> list[npt.NDArray[np.generic]]:
    """Decode a binary COPY payload of fixed-width, non-NULL columns into native numpy arrays.

    Raises:
        ValueError: the payload is not binary COPY, has a NULL, or does not match ``types``.
    """
    if not data.startswith(HEADER[:11]):
        raise ValueError("not a PostgreSQL binary COPY payload (bad signature)")
    extension = int.from_bytes(data[15:19], "big")
    body = memoryview(data)[19 + extension :]
    if bytes(body[-2:]) != TRAILER:
        raise ValueError("binary COPY payload has no trailer")
    body = body[:-2]
    dtype = _row_dtype(types, [True] * len(types))
    if len(body) % dtype.itemsize:
        raise ValueError("binary COPY rows do not match the column types (NULLs or wrong types)")
    rows = np.frombuffer(body, dtype=dtype)
    for i, name in enumerate(types):
        if len(rows) and not (rows[f"len{i}"] == np.dtype(TYPES[name]).itemsize).all():
            raise ValueError(f"column {i} has NULLs or is not {name}")
    if len(rows) and not (rows["count"] == len(types)).all():
        raise ValueError("binary COPY rows do not have the expected field count")
    return [
        rows[f"val{i}"].astype(np.dtype(TYPES[name]).newbyteorder("="))
        for i, name in enumerate(types)
    ]
