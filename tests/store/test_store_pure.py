"""The pure cores of the store: latest blocks, twa, the series index, retention cutoffs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from werk.samples import to_ns
from werk.store.base import RetentionRule
from werk.store.latest import BLOCK, EMPTY, BlockCache, Blocks, Pending, blocks_of, empty_block
from werk.store.layouts import LayoutMemo
from werk.store.resample import twa
from werk.store.retention import NO_CUTOFF, cutoffs, ordered
from werk.store.series import SeriesIndex, under

# -- latest blocks -----------------------------------------------------------------------------


def _i64(values: list[int]) -> npt.NDArray[np.int64]:
    return np.asarray(values, dtype=np.int64)


def test_blocks_of() -> None:
    assert blocks_of(_i64([1, 5, BLOCK, 3 * BLOCK + 7, 2])).tolist() == [0, 1, 3]
    assert blocks_of(_i64([])).tolist() == []


_Newest = dict[int, tuple[int, float, int]]


def _apply(model: _Newest, rows: list[tuple[int, int, float, int]]) -> None:
    """The merge rule, row by row: a sample as new or newer than the one kept replaces it."""
    for sid, ts, value, quality in rows:
        if sid not in model or ts >= model[sid][0]:
            model[sid] = (ts, value, quality)


_ROW = st.tuples(
    st.integers(0, 4 * BLOCK),  # series ids over five blocks
    st.integers(0, 5),  # few timestamps: ties are common
    st.floats(-10, 10, allow_nan=False),
    st.integers(0, 2),
)
_STEP = st.one_of(
    st.tuples(st.just("add"), st.lists(_ROW, max_size=30)),
    # a layout's ids again (the same read-only array, as the series index hands out), new values
    st.tuples(st.just("again"), st.lists(_ROW, max_size=30)),
    st.tuples(st.just("take"), st.booleans()),  # then merged (True) or failed (False)
)


@settings(max_examples=150)
@given(st.lists(_STEP, max_size=25))
def test_pending_follows_the_merge_rule(steps: list[tuple[str, object]]) -> None:
    """What reads see of Pending (its snapshot) is always the newest of every sample added and
    not yet merged, whatever adds, takes, merges and failed merges came in between; and a take
    hands over exactly what was added since the last one, in the blocks it touched."""
    pending = Pending()
    unmerged: _Newest = {}  # what a read must see
    since_take: _Newest = {}
    layouts: list[npt.NDArray[np.int64]] = []
    for kind, arg in steps:
        if kind in ("add", "again"):
            rows = arg
            assert isinstance(rows, list)
            ids = _i64([r[0] for r in rows])
            if kind == "again" and layouts and rows:
                # an array seen before (read-only, as the series index hands a layout's ids out)
                # with new timestamps and values
                ids = layouts[len(rows) % len(layouts)]
                values = rows * (len(ids) // len(rows) + 1)
                rows = [(int(sid), *v[1:]) for sid, v in zip(ids, values, strict=False)]
            elif kind == "again":
                ids.setflags(write=False)
                layouts.append(ids)
            pending.add(
                "k",
                ids,
                _i64([r[1] for r in rows]),
                np.array([r[2] for r in rows], dtype=np.float64),
                np.array([r[3] for r in rows], dtype=np.uint8),
                0.0,
            )
            _apply(unmerged, rows)
            _apply(since_take, rows)
        else:
            taken, _ = pending.take()
            assert taken.ids.tolist() == sorted({sid // BLOCK for sid in since_take})
            if since_take:
                present, ts, _, _ = taken.gather(_i64(sorted(since_take)))
                assert present.all()
                assert ts.tolist() == [since_take[sid][0] for sid in sorted(since_take)]
            if arg:
                pending.merged()
                unmerged = {}
                # what was added meanwhile (nothing here) stays; the merged part is stored
            else:
                pending.failed(taken, ["k"], 0.0)
            since_take = {} if arg else dict(unmerged)
        seen = pending.snapshot(np.arange(5, dtype=np.int64))
        if not unmerged:
            assert seen is None or not (seen.ts != EMPTY).any()
            continue
        assert seen is not None
        ids = _i64(sorted(unmerged))
        present, ts, value, quality = seen.gather(ids)
        assert present.all()
        assert ts.tolist() == [unmerged[i][0] for i in sorted(unmerged)]
        assert value.tolist() == [unmerged[i][1] for i in sorted(unmerged)]
        assert quality.tolist() == [unmerged[i][2] for i in sorted(unmerged)]
        others = np.setdiff1d(np.arange(5 * BLOCK), ids)
        assert not seen.gather(others)[0].any()


def test_merge_rules() -> None:
    blocks = Blocks.assemble(_i64([0, 2]), [], [], [])
    ids = _i64([1, 1, 1, 2 * BLOCK + 5, 7])
    ts = _i64([10, 30, 30, 5, 1])
    value = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    quality = np.array([0, 0, 2, 1, 0], dtype=np.uint8)
    changed = blocks.merge(ids, ts, value, quality)
    assert changed.tolist() == [0, 1]
    present, got_ts, got_value, got_quality = blocks.gather(_i64([1, 2 * BLOCK + 5, 7, 8]))
    assert present.tolist() == [True, True, True, False]
    # Newest wins; of equal ts the later row; any quality.
    assert (got_ts[0], got_value[0], got_quality[0]) == (30, 3.0, 2)
    assert got_value[1:3].tolist() == [4.0, 5.0]
    # An older sample later changes nothing; an equal one replaces.
    assert blocks.merge(_i64([1]), _i64([29]), np.array([9.0]), np.zeros(1, np.uint8)).size == 0
    blocks.merge(_i64([1]), _i64([30]), np.array([8.0]), np.zeros(1, np.uint8))
    assert blocks.gather(_i64([1]))[2].tolist() == [8.0]
    with pytest.raises(ValueError, match="outside"):
        blocks.gather(_i64([BLOCK + 1]))


def test_blocks_round_trip_and_clear() -> None:
    blocks = Blocks.assemble(_i64([3]), [3], [4], [empty_block()])
    assert blocks.versions.tolist() == [4]
    sid = _i64([3 * BLOCK, 3 * BLOCK + 9])
    blocks.merge(sid, _i64([100, 200]), np.array([1.5, 2.5]), np.array([0, 1], np.uint8))
    again = Blocks.assemble(_i64([3]), [3], [5], [blocks.payload(0)])
    assert again.gather(sid)[2].tolist() == [1.5, 2.5]
    assert again.clear_before(sid, _i64([150, 150])).tolist() == [0]
    present, ts, _, _ = again.gather(sid)
    assert present.tolist() == [False, True]
    assert ts[0] == EMPTY


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 3 * BLOCK), st.integers(0, 50), st.floats(-1e6, 1e6)),
        min_size=1,
        max_size=300,
    ),
    st.integers(1, 4),
)
def test_merge_equals_the_newest_row_per_series(
    rows: list[tuple[int, int, float]], parts: int
) -> None:
    """Merging a batch in any split gives, per series, the last row of greatest ts."""
    ids = _i64([r[0] for r in rows])
    blocks = Blocks.assemble(blocks_of(ids), [], [], [])
    for chunk in np.array_split(np.arange(len(rows)), parts):
        blocks.merge(
            ids[chunk],
            _i64([rows[i][1] for i in chunk]),
            np.array([rows[i][2] for i in chunk]),
            np.zeros(len(chunk), np.uint8),
        )
    expected: dict[int, tuple[int, float]] = {}
    for sid, ts, value in rows:
        if sid not in expected or ts >= expected[sid][0]:
            expected[sid] = (ts, value)
    keys = _i64(sorted(expected))
    _, got_ts, got_value, _ = blocks.gather(keys)
    pairs = list(zip(got_ts.tolist(), got_value.tolist(), strict=True))
    assert pairs == [expected[k] for k in keys]


def test_block_cache_keeps_the_newest_version() -> None:
    cache = BlockCache()
    cache.put([(1, 2, b"b"), (1, 1, b"a")])
    assert cache.get(1, 2) == b"b"
    assert cache.get(1, 1) is None
    cache.clear()
    assert cache.get(1, 2) is None


# -- twa ---------------------------------------------------------------------------------------


def _twa_slow(
    samples: list[tuple[int, float, bool]], edges: list[int], start: int, end: int
) -> dict[int, float]:
    """Integrate unit step by unit step (times are small integers here)."""
    out = {}
    for k in range(len(edges) - 1):
        num = den = 0.0
        for t in range(max(edges[k], start), min(edges[k + 1], end)):
            holder = [s for s in samples if s[0] <= t]
            if holder and holder[-1][2]:
                num += holder[-1][1]
                den += 1
        if den:
            out[k] = num / den
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-20, 120), st.integers(-50, 50), st.booleans()), max_size=30),
    st.integers(0, 40),
    st.integers(1, 80),
    st.integers(1, 17),
)
def test_twa_matches_unit_steps(
    raw: list[tuple[int, int, bool]], start: int, length: int, width: int
) -> None:
    end = start + length
    samples = sorted(raw, key=lambda s: s[0])
    # Only the newest sample before start is handed over (as the store does).
    before = [s for s in samples if s[0] < start][-1:]
    inside = [s for s in samples if start <= s[0] < end]
    used = [(t, float(v), g) for t, v, g in before + inside]
    first_edge = start - (start % width)
    edges = list(range(first_edge, end + width, width))
    edges = edges[: next(i for i, e in enumerate(edges) if e >= end) + 1]
    result = twa(
        np.zeros(len(used), np.int64),
        _i64([s[0] for s in used]),
        np.array([s[1] for s in used], dtype=np.float64),
        np.array([s[2] for s in used], dtype=bool),
        _i64(edges),
        start,
        end,
    )
    got = dict(zip(result.bucket.tolist(), result.value.tolist(), strict=True))
    expected = _twa_slow(used, edges, start, end)
    assert got.keys() == expected.keys()
    for k, v in expected.items():
        assert got[k] == pytest.approx(v)
    counts = dict(zip(result.bucket.tolist(), result.count.tolist(), strict=True))
    for k in got:
        assert counts[k] == sum(1 for t, _, g in inside if g and edges[k] <= t < edges[k + 1])


# -- series index ------------------------------------------------------------------------------


def _pairs(n: int, offset: int = 0) -> tuple[pa.Array, pa.Array]:
    return (
        pa.array([f"acme/p/a/l/m{(i + offset) // 3}" for i in range(n)]),
        pa.array([f"s{(i + offset) % 3}" for i in range(n)]),
    )


@pytest.mark.parametrize("collide", [False, True])
def test_series_index_resolves(collide: bool) -> None:
    # A hasher that maps everything to one of two keys: every lookup is a collision.
    index = SeriesIndex(
        (lambda p, s: np.arange(len(p), dtype=np.uint64) % np.uint64(2)) if collide else None
    )
    paths, signals = _pairs(3_000)
    index.add(np.arange(10, 3_010, dtype=np.int64), paths, signals)
    assert len(index) == 3_000
    assert index.max_id == 3_009
    shuffled = np.random.default_rng(1).permutation(3_000)
    ids = index.resolve(paths.take(pa.array(shuffled)), signals.take(pa.array(shuffled)))
    assert ids.tolist() == (shuffled + 10).tolist()
    # Partly unknown pairs come back as -1.
    more_paths, more_signals = _pairs(10, offset=2_995)
    assert index.resolve(more_paths, more_signals).tolist() == [*range(3_005, 3_010), *[-1] * 5]
    # Adding known ids again changes nothing; new ones grow the index.
    index.add(np.arange(3_005, 3_015, dtype=np.int64), more_paths, more_signals)
    assert index.resolve(more_paths, more_signals).tolist() == list(range(3_005, 3_015))
    order = index.select("acme/p/a/l/m1", None, exact=True)
    assert index.paths.take(pa.array(order)).to_pylist() == ["acme/p/a/l/m1"] * 3
    assert index.signals.take(pa.array(order)).to_pylist() == ["s0", "s1", "s2"]
    assert len(index.select("acme/p/a/l/m1", ["s1"])) == 1  # segment-wise: not m10..m19
    index.close()


def test_series_index_names_and_repeated_layouts() -> None:
    index = SeriesIndex()
    # Registered out of (path, signal) order: names come back in selection order all the same.
    paths, signals = _pairs(30)
    backwards = pa.array(np.arange(29, -1, -1))
    index.add(np.arange(1, 31, dtype=np.int64), paths.take(backwards), signals.take(backwards))
    whole = index.select("acme/p")
    got_paths, got_signals = index.names_of(whole)
    assert got_paths.to_pylist() == paths.to_pylist()
    assert got_signals.to_pylist() == signals.to_pylist()
    some = index.select("acme/p", ["s1"])  # not a run of the order: gathered
    assert index.names_of(some)[1].to_pylist() == ["s1"] * 10
    # A selection remembered before a new series arrives is forgotten when it does.
    assert len(index.select("acme/p/a/l/m1")) == 3
    index.add(np.array([99], dtype=np.int64), pa.array(["acme/p/a/l/m1"]), pa.array(["s9"]))
    assert len(index.select("acme/p/a/l/m1")) == 4
    assert index.names_of(index.select("acme/p/a/l/m1"))[1].to_pylist() == ["s0", "s1", "s2", "s9"]
    # Dictionary-encoded: the same names, dictionaries holding only the names used.
    for selection in (
        whole,
        some,
        index.select("acme/p/a/l/m1"),
        index.select("acme/p/a/l/m2", ["s0"]),
        index.select("nothing"),
    ):
        plain = index.names_of(selection)
        coded = index.names_of(selection, dictionary=True)
        for names, codes in zip(plain, coded, strict=True):
            assert codes.type == pa.dictionary(pa.int32(), pa.string())
            assert codes.to_pylist() == names.to_pylist()
            assert sorted(codes.dictionary.to_pylist()) == sorted(set(names.to_pylist()))
    # A layout resolved before answers from memory; an equal copy of it too, a changed one not.
    first = index.resolve(paths, signals)
    again = index.resolve(pa.array(paths.to_pylist()), pa.array(signals.to_pylist()))
    assert again.tolist() == first.tolist()
    changed = signals.to_pylist()
    changed[15] = "s9"
    ids = index.resolve(paths, pa.array(changed))
    assert ids[15] == (99 if paths[15].as_py() == "acme/p/a/l/m1" else -1)
    assert ids[:15].tolist() == first[:15].tolist()
    index.close()


def test_layout_memo_bounds_and_equality() -> None:
    memo: LayoutMemo[int] = LayoutMemo(layouts=2, rows=100)
    a, b, c = pa.array(["x"] * 10), pa.array(["y"] * 10), pa.array(["z"] * 10)
    memo.put(1, a)
    memo.put(2, b)
    assert memo.get(pa.array(["x"] * 10)) == 1
    memo.put(3, c)  # b was used least recently: it goes
    assert (memo.get(a), memo.get(b), memo.get(c)) == (1, None, 3)
    # Same fingerprint (length, ends, middle), different content: equality decides.
    d = pa.array(["x"] * 4 + ["q"] + ["x"] * 5)
    assert memo.get(d) is None
    memo.put(4, pa.array(["w"] * 101))  # longer than the memo holds: not kept
    assert memo.get(pa.array(["w"] * 101)) is None
    assert memo.get(pa.chunked_array([["x"] * 5, ["x"] * 5])) == 1


# -- retention ---------------------------------------------------------------------------------


def test_retention_cutoffs_most_specific_wins() -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    rules = [
        RetentionRule("acme", timedelta(days=10)),
        RetentionRule("acme/berlin", timedelta(days=100)),
        RetentionRule("acme/berlin/press", timedelta(days=1)),
    ]
    assert [r.prefix for r in ordered(rules)] == ["acme/berlin/press", "acme/berlin", "acme"]
    paths = pa.array(
        ["acme/berlin/press/l1", "acme/berlin/paint", "acme/berlinx", "beta/x", "acme"]
    )
    day = 86_400 * 1_000_000_000
    assert cutoffs(paths, rules, now).tolist() == [
        to_ns(now) - day,
        to_ns(now) - 100 * day,
        to_ns(now) - 10 * day,
        NO_CUTOFF,
        to_ns(now) - 10 * day,
    ]


def test_under_reads_plain_dictionary_and_chunked_paths() -> None:
    paths = ["a/b", "a/b/c", "a/bc", "z", "a/b"]
    plain = pa.array(paths)
    for column in (
        plain,
        plain.dictionary_encode(),
        pa.chunked_array(
            [plain.slice(0, 2).dictionary_encode(), plain.slice(2).dictionary_encode()]
        ),
    ):
        assert under(column, "a/b").to_pylist() == [True, True, False, False, True]
        assert under(column, "").to_pylist() == [True] * 5
