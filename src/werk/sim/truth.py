"""Gather the ground truth of a simulated span: what really happened, per machine, as Arrow.

Tables (all times ``timestamp[ns, UTC]``; written to ``truth/<table>/site=<site>/part.parquet``,
so no table has a column named ``site``: readers of the partitioned dataset get the slug there;
history mode writes one row group per simulated day, ordered by path and time):

============  ========================================================================
states        path, start, end, state, reason — gap-free and non-overlapping per machine,
              covering the span exactly; one state event per row
counts        path, ts, order, product, good, scrap — exactly the count events (before late
              scrap)
scrap         path, ts (of the count event), produced, found, order, product, quantity,
              reason, detected (``station`` at the machine | ``eol`` inspection, later)
failures      path, start, end, reason, cause (``wear`` | ``random``), plc_restart — every
              breakdown starting in the span, in wall time (a break may hide part of it)
orders        line, order, product, quantity, released — every order worked on in the span
              (one released before it, if still in progress at its start)
conditions    path, ts, wear, wear_per_h, drift, drift_per_h — wear and process drift from
              ``ts`` on, per hour of *executing* time (drift is capped at ±1.6)
calendar      site_path, tz, kind (shift | break | maintenance | holiday), name, shift,
              local_date, label, start, end
machines      path, site_path, area, line, position, type, vendor, serial
ideal_cycles  path, product, ideal_cycle_s — ISO 22400 PRI per machine and product
============  ========================================================================
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

from werk.samples import to_ns
from werk.sim.events import CountBatches
from werk.sim.fleet import Machine, Site
from werk.sim.journal import MachineWindow
from werk.sim.line import LineSim
from werk.sim.view import MachineState

_STATES = tuple(MachineState)
_TS = pa.timestamp("ns", tz="UTC")
_H_MS = 3_600_000

TRUTH_SCHEMAS: dict[str, pa.Schema] = {
    "states": pa.schema(
        [("path", pa.string()), ("start", _TS), ("end", _TS), ("state", pa.string()),
         ("reason", pa.string())]
    ),
    "counts": pa.schema(
        [("path", pa.string()), ("ts", _TS), ("order", pa.string()), ("product", pa.string()),
         ("good", pa.int64()), ("scrap", pa.int64())]
    ),
    "scrap": pa.schema(
        [("path", pa.string()), ("ts", _TS), ("produced", _TS), ("found", _TS),
         ("order", pa.string()), ("product", pa.string()), ("quantity", pa.int64()),
         ("reason", pa.string()), ("detected", pa.string())]
    ),
    "failures": pa.schema(
        [("path", pa.string()), ("start", _TS), ("end", _TS), ("reason", pa.string()),
         ("cause", pa.string()), ("plc_restart", pa.bool_())]
    ),
    "orders": pa.schema(
        [("line", pa.string()), ("order", pa.string()), ("product", pa.string()),
         ("quantity", pa.int64()), ("released", _TS)]
    ),
    "conditions": pa.schema(
        [("path", pa.string()), ("ts", _TS), ("wear", pa.float64()), ("wear_per_h", pa.float64()),
         ("drift", pa.float64()), ("drift_per_h", pa.float64())]
    ),
    "calendar": pa.schema(
        [("site_path", pa.string()), ("tz", pa.string()), ("kind", pa.string()),
         ("name", pa.string()),
         ("shift", pa.string()), ("local_date", pa.date32()), ("label", pa.string()),
         ("start", _TS), ("end", _TS)]
    ),
    "machines": pa.schema(
        [("path", pa.string()), ("site_path", pa.string()), ("area", pa.string()),
         ("line", pa.string()), ("position", pa.int32()), ("type", pa.string()),
         ("vendor", pa.string()), ("serial", pa.string())]
    ),
    "ideal_cycles": pa.schema(
        [("path", pa.string()), ("product", pa.string()), ("ideal_cycle_s", pa.float64())]
    ),
}  # fmt: skip
"""The columns of each truth table."""


class TruthRecorder:
    """Collect one site's truth window by window; :meth:`flush` hands over what is final,
    :meth:`finish` closes the last states."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.rows: dict[str, dict[str, list[object]]] = {
            name: {f.name: [] for f in schema} for name, schema in TRUTH_SCHEMAS.items()
        }
        # Per machine: the open interval's start, the span's start, its state and reason.
        self._open: dict[str, tuple[int, int, str, str | None]] = {}
        self._orders: set[tuple[str, int]] = set()

    def _row(self, table: str, *values: object) -> None:
        for column, value in zip(self.rows[table].values(), values, strict=True):
            column.append(value)

    def _extend(self, table: str, **columns: list[Any]) -> None:
        rows = self.rows[table]
        for name, values in columns.items():
            rows[name].extend(values)

    def add_window(
        self,
        window: MachineWindow,
        *,
        machine: Machine,
        line: LineSim,
        batches: CountBatches,
    ) -> None:
        """Add what ``machine`` did in ``window``."""
        path = machine.path
        a = window.start_ms
        tl = window.timeline
        starts: list[int] = tl.start.tolist()
        states = [_STATES[c].value for c in tl.code.tolist()]
        reasons = tl.reason
        previous = self._open.get(path)
        first = 0
        if previous is not None and previous[0] == starts[0]:
            first = 1  # the interval still going on from the previous window
        if previous is not None and first < len(starts):
            self._row("states", path, max(previous[0], previous[1]), starts[first], previous[2],
                      previous[3])  # fmt: skip
        if first < len(starts):
            # The first window's first interval began before the span: it is cut at the start.
            span_start = a if previous is None else previous[1]
            closed = slice(first, len(starts) - 1)
            self._extend(
                "states",
                path=[path] * (len(starts) - 1 - first),
                start=[max(s, span_start) for s in starts[closed]],
                end=starts[first + 1 :],
                state=states[closed],
                reason=reasons[closed],
            )
            self._open[path] = (starts[-1], span_start, states[-1], reasons[-1])
        products = line.products
        model = machine.model
        order_ids = {o: line.order_id(o) for o in set(batches.order.tolist())}
        self._extend(
            "counts",
            path=[path] * len(batches.ts),
            ts=batches.ts.tolist(),
            order=[order_ids[o] for o in batches.order.tolist()],
            product=[products[p] for p in batches.product.tolist()],
            good=batches.good.tolist(),
            scrap=batches.scrap.tolist(),
        )
        for i in np.flatnonzero(batches.scrap).tolist():
            ts = int(batches.ts[i])
            self._row("scrap", path, ts, ts, ts, order_ids[int(batches.order[i])],
                      products[int(batches.product[i])], int(batches.scrap[i]),
                      model.scrap_reason, "station")  # fmt: skip
        parts = window.parts
        for i in np.flatnonzero(parts.found_ms).tolist():
            batch = int(batches.of_part[i])
            self._row(
                "scrap",
                path,
                int(batches.ts[batch]),
                int(parts.ms[i]),
                int(parts.found_ms[i]),
                line.order_id(int(parts.order[i])),
                products[int(parts.product[i])],
                1,
                model.late_reason,
                "eol",
            )
        for f in window.failures:
            self._row("failures", path, f.start_ms, f.end_ms, f.reason, f.cause, f.plc_restart)
        cond = window.conditions
        for ms, wear0, wear_rate, drift0, drift_rate in zip(
            cond.ms.tolist(),
            cond.wear0.tolist(),
            cond.wear_rate.tolist(),
            cond.drift0.tolist(),
            cond.drift_rate.tolist(),
            strict=True,
        ):
            if a <= ms < window.end_ms:
                self._row("conditions", path, ms, wear0, wear_rate * _H_MS, drift0,
                          drift_rate * _H_MS)  # fmt: skip

    def add_orders(self, line: LineSim, end_ms: int) -> None:
        """Add the orders ``line`` released before ``end_ms`` not added yet.

        The first call also adds the orders released before the span that machines were still
        working on at its start.
        """
        for record in line.orders.records:
            key = (line.line.path, record.number)
            if record.released_ms < end_ms and key not in self._orders:
                self._orders.add(key)
                self._row("orders", line.line.path, record.id, line.products[record.product],
                          record.quantity, record.released_ms)  # fmt: skip

    def flush(self) -> dict[str, pa.Table]:
        """Return the rows gathered since the last flush as tables, and forget them.

        History mode flushes once a simulated day, so memory stays bounded however long the
        span; each flush becomes one row group, ordered by path and time.
        """
        tables = {}
        for name, schema in TRUTH_SCHEMAS.items():
            columns = self.rows[name]
            arrays = []
            for f in schema:
                values = columns[f.name]
                if f.type == _TS and values and isinstance(values[0], int):
                    arrays.append(pa.array(np.array(values, np.int64) * 1_000_000).cast(_TS))
                else:
                    arrays.append(pa.array(values, f.type))
                values.clear()
            table = pa.Table.from_arrays(arrays, schema=schema)
            if name in ("states", "counts", "conditions", "failures", "scrap"):
                key = "start" if "start" in schema.names else "ts"
                table = table.sort_by([("path", "ascending"), (key, "ascending")])
            tables[name] = table
        return tables

    def finish(self, start: datetime, end: datetime) -> dict[str, pa.Table]:
        """Close the states at ``end``, add calendar and machines, and flush."""
        end_ms = to_ns(end) // 1_000_000
        for path, (s, span_start, state, reason) in sorted(self._open.items()):
            self._row("states", path, max(s, span_start), end_ms, state, reason)
        self._open.clear()
        site = self.site
        for w in site.calendar.windows(start, end):
            self._row("calendar", site.path, site.tz, w.kind.value, w.name, w.shift, w.local_date,
                      w.label, w.start, w.end)  # fmt: skip
        for line in site.lines:
            for m in line.machines:
                area = line.path.split("/")[2]
                self._row("machines", m.path, site.path, area, line.path, m.position,
                          m.type.value, m.vendor, m.serial)  # fmt: skip
                for product, cycle in m.ideal_cycles.items():
                    self._row("ideal_cycles", m.path, product, cycle.total_seconds())
        return self.flush()
