"""Read what the models learn from: a store, or the simulator's Parquet history (I/O shell).

Both give the same two Arrow tables, samples (:data:`~werk.samples.SAMPLE_SCHEMA`) and events
(:data:`~werk.samples.EVENT_SCHEMA`), plus a :class:`Lineage` that the registry keeps with every
model: where the data came from, which span, how many rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from werk.errors import InvalidInput, NotFound
from werk.samples import EVENT_SCHEMA, SAMPLE_SCHEMA, UTC_NS, to_ns
from werk.store import Store

EVENT_LOOKBACK = timedelta(days=8)
"""Alarms read before a span: the failures of the last week are features."""
STATE_LOOKBACK = timedelta(days=1)
"""State events read before a span: the state at its start."""


@dataclass(frozen=True, slots=True)
class Lineage:
    """Where training data came from.

    Attributes:
        source: ``store`` or ``history``.
        location: Store URL or history folder.
        start: First instant read (ISO 8601).
        end: End of the span (ISO 8601, exclusive).
        samples: Sample rows read.
        events: Event rows read.
        sites: Sites present.
        prefix: Asset path read below (store), empty for a whole history.
    """

    source: str
    location: str
    start: str
    end: str
    samples: int
    events: int
    sites: list[str] = field(default_factory=list)
    prefix: str = ""


@dataclass(frozen=True, slots=True)
class Data:
    """Samples and events of a span, with their lineage."""

    samples: pa.Table
    events: pa.Table
    start: datetime
    end: datetime
    lineage: Lineage


def _plain(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Drop partition columns and dictionary encoding, keeping ``schema``'s columns."""
    cols = []
    for f in schema:
        col = table[f.name]
        if pa.types.is_dictionary(col.type):
            col = col.cast(f.type)
        cols.append(col.cast(f.type))
    return pa.Table.from_arrays(cols, schema=schema)


def read_history(
    folder: Path,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    sites: list[str] | None = None,
) -> Data:
    """Read a simulator history folder (``werk sim history`` output).

    Args:
        folder: The folder holding ``samples/``, ``events/`` and ``manifest.json``.
        start: First instant (default: the history's start).
        end: End of the span (default: the history's end).
        sites: Site slugs to read (default: all).

    Raises:
        NotFound: the folder holds no history.
    """
    manifest_file = folder / "manifest.json"
    if not manifest_file.is_file():
        raise NotFound(f"{folder} holds no simulator history (no manifest.json)", file=str(folder))
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    first = datetime.fromisoformat(manifest["start"])
    last = datetime.fromisoformat(manifest["end"])
    start = start or first
    end = end or last
    keep = sites or list(manifest["sites"])
    out: dict[str, pa.Table] = {}
    for kind, schema, lo in (
        ("samples", SAMPLE_SCHEMA, start),
        ("events", EVENT_SCHEMA, start - EVENT_LOOKBACK),
    ):
        if not (folder / kind).is_dir():
            raise NotFound(f"{folder} holds no {kind}", file=str(folder / kind))
        dataset = ds.dataset(folder / kind, format="parquet", partitioning="hive")
        flt = (
            pc.field("site").isin(keep)
            & (pc.field("ts") >= pa.scalar(lo, UTC_NS))
            & (pc.field("ts") < pa.scalar(end, UTC_NS))
        )
        out[kind] = _plain(dataset.to_table(filter=flt), schema)
    lineage = Lineage(
        "history",
        str(folder.resolve()),
        start.isoformat(),
        end.isoformat(),
        out["samples"].num_rows,
        out["events"].num_rows,
        sorted(keep),
    )
    return Data(out["samples"], out["events"], start, end, lineage)


def read_store(
    store: Store, prefix: str, start: datetime, end: datetime, *, counts: bool = True
) -> Data:
    """Read raw samples and events under ``prefix`` in ``[start, end)`` from a store.

    Alarms are read from :data:`EVENT_LOOKBACK` before ``start`` (failures of the last week are
    features), states from :data:`STATE_LOOKBACK` before (the state at ``start``); part counts
    (the scrap labels) only when ``counts`` — scoring needs none, and they are most events.

    Raises:
        InvalidInput: ``end`` is not after ``start``.
    """
    if end <= start:
        raise InvalidInput("end must be after start", field="end")
    samples = store.range(prefix, start, end, descendants=True)
    alarms = store.events(prefix, start - EVENT_LOOKBACK, end, kinds=["alarm"])
    kinds = ["state", "count"] if counts else ["state"]
    rest = store.events(prefix, start - STATE_LOOKBACK, end, kinds=kinds)
    events = pa.concat_tables(
        [t.select(list(EVENT_SCHEMA.names)).cast(EVENT_SCHEMA) for t in (alarms, rest)]
    ).sort_by([("ts", "ascending"), ("path", "ascending")])
    samples = samples.select(list(SAMPLE_SCHEMA.names)).cast(SAMPLE_SCHEMA)
    events = events.select(list(EVENT_SCHEMA.names)).cast(EVENT_SCHEMA)
    sites = sorted({p.split("/")[1] for p in pc.unique(samples["path"]).to_pylist() if "/" in p})
    lineage = Lineage(
        "store",
        store.url,
        start.isoformat(),
        end.isoformat(),
        samples.num_rows,
        events.num_rows,
        sites,
        prefix,
    )
    return Data(samples, events, start, end, lineage)


def span_ns(data: Data) -> tuple[int, int]:
    """Return the span of ``data`` in ns since the epoch."""
    return to_ns(data.start), to_ns(data.end)
