"""Drop a simulated site's MES exports into a folder: orders, counts, scrap and downtime files.

Every ``interval`` of simulated time (and when the silo closes) the events that arrived since the
last drop (``SiteView.events_since``) are written as up to four files, all of one drop sharing a
sequence number::

    <kind>_<site>_<YYYYMMDDTHHMMSSZ>_<drop:06d>.<csv|json>
    e.g.  counts_wob_20260302T061500Z_000003.csv

The timestamp is the simulated time of the drop. Each file is written to a hidden temporary file
in the same folder (``.<name>.part``), flushed to disk, then renamed into place, so a reader that
lists the folder sees whole files only; a drop with no events of a kind writes no file of it.

Times are ISO 8601 UTC with milliseconds (``2026-03-02T06:14:59.250Z``); ``machine`` is the
machine's ISA-95 asset path; empty CSV cells mean "none".

``counts_*.csv`` — parts made (count events without late scrap)::

    machine,produced_at,product,good,scrap,rework

``scrap_*.csv`` — scrap found at end-of-line inspection, possibly hours after production
(count events with ``good = -n, scrap = +n``: parts counted good that inspection found scrap, or
scrap only). ``produced_at`` is when the parts were made, ``reported_at`` when the MES learned
about it; a negative ``scrap`` corrects an earlier report::

    machine,produced_at,reported_at,product,scrap,reason

``downtime_*.csv`` — closed intervals of every state other than ``executing``, with the reason
code (the interval is written when the machine's next state event arrives)::

    machine,state,state_code,reason,start,end,duration_s

``orders_*.json`` — order and product changes::

    {"site": "acme/wob", "generated_at": "...Z",
     "events": [{"machine": "...", "at": "...Z", "kind": "order", "order": "o-1001",
                 "product": "door-left"}, ...]}
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

from werk.errors import ConfigError
from werk.samples import Event, EventKind
from werk.sim.servers.silo import site_segments
from werk.sim.view import STATE_CODES, MachineState, SiteView

COUNT_COLUMNS = ("machine", "produced_at", "product", "good", "scrap", "rework")
SCRAP_COLUMNS = ("machine", "produced_at", "reported_at", "product", "scrap", "reason")
DOWNTIME_COLUMNS = ("machine", "state", "state_code", "reason", "start", "end", "duration_s")


def iso(ts: datetime) -> str:
    """Format an aware datetime as ISO 8601 UTC with milliseconds and a ``Z``."""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _cell(value: object) -> object:
    return "" if value is None else value


@dataclass(slots=True)
class _OpenState:
    state: str
    reason: str | None
    start: datetime


def is_scrap_report(event: Event) -> bool:
    """Tell whether a count event reports (late) scrap rather than production.

    The simulator reports scrap found at inspection as ``good = -n, scrap = +n``: parts counted
    good earlier turn out scrap, so the produced quantity stays the same.
    """
    if event.kind is not EventKind.COUNT or not event.scrap:
        return False
    return not event.good or event.good == -event.scrap


class MesFileSilo:
    """Periodic MES file drops for one site (see the module docstring)."""

    def __init__(
        self, site: SiteView, *, drop_dir: Path, interval: timedelta = timedelta(minutes=1)
    ) -> None:
        self.site = site
        self.drop_dir = Path(drop_dir)
        self.interval = interval
        self.endpoint = self.drop_dir.resolve().as_uri()
        _, self.site_slug = site_segments(site)
        self._cursor = 0
        self._drop = 0
        self._last_drop: datetime | None = None
        self._open: dict[str, _OpenState] = {}
        self.files: list[Path] = []
        """Every file written so far, in order."""

    async def __aenter__(self) -> MesFileSilo:
        try:
            await asyncio.to_thread(self.drop_dir.mkdir, parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the MES drop folder {self.drop_dir} of site {self.site.path}: "
                f"{exc.strerror}",
                key="sim.drop_dir",
                field="drop_dir",
                file=str(self.drop_dir),
                site=self.site.path,
            ) from None
        self._last_drop = self.site.now()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.flush()

    async def update(self) -> None:
        """Drop files when an interval of simulated time has passed since the last drop."""
        now = self.site.now()
        if self._last_drop is not None and now - self._last_drop < self.interval:
            return
        await self.flush()

    async def flush(self) -> list[Path]:
        """Write the events since the last drop now; return the files written."""
        now = self.site.now()
        self._last_drop = now
        cursor, events = self.site.events_since(self._cursor)
        self._cursor = cursor
        if not events:
            return []
        contents = self._render(events, now)
        if not contents:
            return []
        self._drop += 1
        stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        written = []
        for kind, (ext, text) in contents.items():
            name = f"{kind}_{self.site_slug}_{stamp}_{self._drop:06d}.{ext}"
            path = self.drop_dir / name
            await asyncio.to_thread(_write_atomically, path, text)
            written.append(path)
        self.files.extend(written)
        return written

    def _render(self, events: Sequence[Event], now: datetime) -> dict[str, tuple[str, str]]:
        counts: list[tuple[object, ...]] = []
        scrap: list[tuple[object, ...]] = []
        downtime: list[tuple[object, ...]] = []
        orders: list[dict[str, object]] = []
        for e in sorted(events, key=lambda e: (e.ts, e.path)):
            if e.kind is EventKind.COUNT and is_scrap_report(e):
                scrap.append((e.path, iso(e.ts), iso(now), e.product, e.scrap, e.reason))
            elif e.kind is EventKind.COUNT:
                counts.append((e.path, iso(e.ts), e.product, e.good, e.scrap, e.rework))
            elif e.kind is EventKind.STATE:
                previous = self._open.get(e.path)
                if previous is not None and previous.state != MachineState.EXECUTING:
                    downtime.append(_interval(e.path, previous, e.ts))
                self._open[e.path] = _OpenState(e.code or "", e.reason, e.ts)
            elif e.kind in (EventKind.ORDER, EventKind.PRODUCT):
                orders.append(
                    {
                        "machine": e.path,
                        "at": iso(e.ts),
                        "kind": str(e.kind),
                        "order": e.code if e.kind is EventKind.ORDER else None,
                        "product": e.product if e.kind is EventKind.ORDER else e.code,
                    }
                )
        out: dict[str, tuple[str, str]] = {}
        if counts:
            out["counts"] = ("csv", _csv(COUNT_COLUMNS, counts))
        if scrap:
            out["scrap"] = ("csv", _csv(SCRAP_COLUMNS, scrap))
        if downtime:
            out["downtime"] = ("csv", _csv(DOWNTIME_COLUMNS, downtime))
        if orders:
            doc = {"site": self.site.path, "generated_at": iso(now), "events": orders}
            out["orders"] = ("json", json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
        return out


def _interval(path: str, s: _OpenState, end: datetime) -> tuple[object, ...]:
    try:
        code: object = STATE_CODES[MachineState(s.state)]
    except ValueError:
        code = None  # a state this simulator does not know: keep the row, leave the code empty
    seconds = round((end - s.start).total_seconds(), 3)
    return (path, s.state, code, s.reason, iso(s.start), iso(end), seconds)


def _csv(columns: Sequence[str], rows: list[tuple[object, ...]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([tuple(_cell(v) for v in row) for row in rows])
    return buf.getvalue()


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a hidden temporary file, sync it, then rename it into place."""
    tmp = path.with_name(f".{path.name}.part")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
