"""Derive the events a simulated machine emits from its journal, in columns (EVENT_SCHEMA).

=========  =================================================================================
kind       fields
=========  =================================================================================
state      ``code`` the :class:`~werk.sim.view.MachineState`, ``reason`` (failure or
           micro-stop reason, break name, ``holiday``, root-cause path when starved/blocked)
count      ``code`` order id, ``product``, ``good``, ``scrap``, ``rework`` 0; ``reason`` the
           scrap reason when ``scrap`` > 0. One event per machine, minute and order, stamped
           with the completion time of the minute's last part and emitted at the minute's end.
count      late scrap from end-of-line inspection: ``good`` −1, ``scrap`` +1, ``reason`` the
           defect, ``ts`` that of the count event that counted the part as good; emitted hours
           later, when found.
order      ``code`` order id, ``product``: the machine starts working on an order
product    ``code`` and ``product`` the product id: the machine is set up for a new product
alarm      ``code`` failure reason, ``active`` true when the failure starts, false when restored
=========  =================================================================================

Counts are attributed to the minute and the order, never across a shift boundary (shift
boundaries are whole minutes), which is what lets KPIs be checked to the part.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from werk.samples import EVENT_SCHEMA, UTC_NS, Event, EventKind
from werk.sim.journal import MachineWindow, Parts
from werk.sim.view import MachineState

COUNT_PERIOD_MS = 60_000
"""Parts are counted per machine, order and minute."""

_STATES = tuple(MachineState)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class CountBatches:
    """Parts grouped into count events: one row per machine, minute and order."""

    ts: npt.NDArray[np.int64]
    """Completion time of the batch's last part (ms)."""
    emit: npt.NDArray[np.int64]
    """End of the batch's minute, when the count is reported (ms)."""
    order: npt.NDArray[np.int32]
    product: npt.NDArray[np.int16]
    good: npt.NDArray[np.int64]
    scrap: npt.NDArray[np.int64]
    of_part: npt.NDArray[np.intp]
    """Batch index of each part."""


def count_batches(parts: Parts) -> CountBatches:
    """Group parts into count batches by minute and order."""
    ms = parts.ms
    n = len(ms)
    if n == 0:
        empty = np.empty(0, dtype=np.int64)
        return CountBatches(
            empty,
            empty,
            np.empty(0, np.int32),
            np.empty(0, np.int16),
            empty,
            empty,
            np.empty(0, np.intp),
        )
    minute = ms // COUNT_PERIOD_MS
    change = np.flatnonzero((minute[1:] != minute[:-1]) | (parts.order[1:] != parts.order[:-1]))
    starts = np.concatenate(([0], change + 1))
    ends = np.concatenate((change + 1, [n]))
    last = ends - 1
    scrap = np.add.reduceat(parts.scrap.astype(np.int64), starts)
    return CountBatches(
        ts=ms[last],
        emit=(minute[last] + 1) * COUNT_PERIOD_MS,
        order=parts.order[last],
        product=parts.product[last],
        good=(ends - starts).astype(np.int64) - scrap,
        scrap=scrap,
        of_part=np.repeat(np.arange(len(starts)), ends - starts),
    )


class EventColumns:
    """Events of many machines gathered in columns, each with the time it is emitted."""

    def __init__(self) -> None:
        self.path: list[str] = []
        self.ts: list[int] = []
        self.kind: list[str] = []
        self.code: list[str | None] = []
        self.reason: list[str | None] = []
        self.product: list[str | None] = []
        self.good: list[int | None] = []
        self.scrap: list[int | None] = []
        self.rework: list[int | None] = []
        self.active: list[bool | None] = []
        self.emit: list[int] = []

    def __len__(self) -> int:
        return len(self.ts)

    def _add(
        self,
        path: str,
        ts: int,
        kind: str,
        code: str | None,
        reason: str | None = None,
        product: str | None = None,
        good: int | None = None,
        scrap: int | None = None,
        rework: int | None = None,
        active: bool | None = None,
        emit: int | None = None,
    ) -> None:
        self.path.append(path)
        self.ts.append(ts)
        self.kind.append(kind)
        self.code.append(code)
        self.reason.append(reason)
        self.product.append(product)
        self.good.append(good)
        self.scrap.append(scrap)
        self.rework.append(rework)
        self.active.append(active)
        self.emit.append(ts if emit is None else emit)

    def _extend(self, n: int, *, emit: list[int] | None = None, **columns: object) -> None:
        """Add ``n`` events: a list column holds a value per event, anything else one for all."""
        if n == 0:
            return
        for name in ("path", "ts", "kind", "code", "reason", "product", "good", "scrap", "rework",
                     "active"):  # fmt: skip
            value = columns.get(name)
            target: list[Any] = getattr(self, name)
            target.extend(value if isinstance(value, list) else [value] * n)
        self.emit.extend(emit if emit is not None else self.ts[-n:])

    def add_window(
        self,
        window: MachineWindow,
        *,
        path: str,
        products: Sequence[str],
        order_id: Callable[[int], str],
        scrap_reason: str,
        late_reason: str,
        batches: CountBatches,
        ongoing: bool,
    ) -> None:
        """Add the events of one machine's window.

        Args:
            window: What the machine did.
            path: Its asset path.
            products: Product ids by index.
            order_id: Order id of an order number.
            scrap_reason: Reason on counts with scrap found at the machine.
            late_reason: Reason on late scrap found at end-of-line inspection.
            batches: The window's count batches (:func:`count_batches`).
            ongoing: Emit the state, product and order going on at the window's start (the first
                window of a run), so a reader starts with the whole picture.
        """
        tl = window.timeline
        a = window.start_ms
        job_product, job_order = window.job
        if ongoing and job_product >= 0:
            pid = products[job_product]
            self._add(path, a, EventKind.PRODUCT, pid, product=pid)
            if job_order >= 0:
                self._add(path, a, EventKind.ORDER, order_id(job_order), product=pid)
        starts: list[int] = tl.start.tolist()
        first = 0 if ongoing or starts[0] >= a else 1
        n = len(starts) - first
        self._extend(
            n,
            path=path,
            ts=[max(x, a) for x in starts[first:]],
            kind=EventKind.STATE.value,
            code=[_STATES[c].value for c in tl.code[first:].tolist()],
            reason=tl.reason[first:],
        )
        order_ids = {o: order_id(o) for o in set(batches.order.tolist())}
        self._extend(
            len(batches.ts),
            path=path,
            ts=batches.ts.tolist(),
            kind=EventKind.COUNT.value,
            code=[order_ids[o] for o in batches.order.tolist()],
            reason=[scrap_reason if x else None for x in batches.scrap.tolist()],
            product=[products[p] for p in batches.product.tolist()],
            good=batches.good.tolist(),
            scrap=batches.scrap.tolist(),
            rework=0,
            emit=batches.emit.tolist(),
        )
        parts = window.parts
        for i in np.flatnonzero(parts.found_ms).tolist():
            batch = int(batches.of_part[i])
            self._add(
                path,
                int(batches.ts[batch]),
                EventKind.COUNT,
                order_ids[int(batches.order[batch])],
                late_reason,
                products[int(parts.product[i])],
                -1,
                1,
                0,
                emit=int(parts.found_ms[i]),
            )
        for event in window.events:
            product = products[event.product] if event.product >= 0 else None
            self._add(
                path, event.ms, event.kind, event.code, event.reason, product, active=event.active
            )

    def table(self) -> pa.Table:
        """Return the events as an EVENT_SCHEMA table, ordered by ``ts`` (stable)."""
        ts = np.array(self.ts, dtype=np.int64)
        order = np.argsort(ts, kind="stable")
        table = pa.Table.from_arrays(
            [
                pa.array(self.path, pa.string()),
                pa.array(ts * 1_000_000, pa.int64()).cast(UTC_NS),
                pa.array(self.kind, pa.string()),
                pa.array(self.code, pa.string()),
                pa.array(self.reason, pa.string()),
                pa.array(self.product, pa.string()),
                pa.array(self.good, pa.int64()),
                pa.array(self.scrap, pa.int64()),
                pa.array(self.rework, pa.int64()),
                pa.array(self.active, pa.bool_()),
            ],
            schema=EVENT_SCHEMA,
        )
        return table.take(pa.array(order))

    def events(self) -> list[tuple[int, int, Event]]:
        """Return ``(emit ms, ts ms, event)`` for every event, in insertion order."""
        return [
            (
                self.emit[i],
                self.ts[i],
                Event(
                    path=self.path[i],
                    ts=ms_to_datetime(self.ts[i]),
                    kind=EventKind(self.kind[i]),
                    code=self.code[i],
                    reason=self.reason[i],
                    product=self.product[i],
                    good=self.good[i],
                    scrap=self.scrap[i],
                    rework=self.rework[i],
                    active=self.active[i],
                ),
            )
            for i in range(len(self.ts))
        ]


def ms_to_datetime(ms: int) -> datetime:
    """Return the aware UTC datetime of milliseconds since the epoch (exact)."""
    return _EPOCH + timedelta(milliseconds=ms)
