"""Hold the materialised, versioned KPI results of an engine without building them all.

A site-month by shift has some 13,000 machine windows; the caller usually wants the 90 rows of
the site. :class:`Materialised` keeps one :class:`Entry` per ``(path, granularity, label)``: its
version, a digest of its time model (the row's raw int64 bytes) and its findings, plus where to
build the :class:`~werk.kpi.oee.KpiResult` from (a row of a :class:`TimeModelTable`) — the result
object itself is built only when someone asks for it. Versioning compares digests: the version
goes up only when a value changed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt

from werk.kpi.calendar import Granularity, Window
from werk.kpi.model import COUNT_FIELDS, TIME_FIELDS, Finding, TimeModel
from werk.kpi.oee import KpiResult, Kpis, effectiveness_finding, kpi_columns, kpis
from werk.kpi.table import TimeModelTable

Key = tuple[str, Granularity, str]
"""``(path, granularity, window label)``."""

F64 = npt.NDArray[np.float64]
_DURATIONS: Final = frozenset({"mtbf", "mttr"})
_US: Final = timedelta(microseconds=1)
_OVER: Final = "master_data.effectiveness_over_100"


def model_digest(model: TimeModel) -> bytes:
    """Return the digest of a time model: the same bytes as its row in a table."""
    values = [getattr(model, n) // _US for n in TIME_FIELDS]
    values += [getattr(model, n) for n in COUNT_FIELDS]
    return np.array(values, np.int64).tobytes()


def kpis_at(columns: Mapping[str, F64], row: int) -> Kpis:
    """Return the KPIs of one row of vectorised KPI columns (NaN: undefined)."""
    values: dict[str, float | timedelta | None] = {}
    for name, column in columns.items():
        value = float(column[row])
        if math.isnan(value):
            values[name] = None
        elif name in _DURATIONS:
            values[name] = timedelta(seconds=value)
        else:
            values[name] = value
    return Kpis(**values)  # type: ignore[arg-type]


@dataclass(slots=True)
class Entry:
    """One materialised result: its version and value, built into a result on demand.

    Attributes:
        path: The unit.
        window: The window.
        version: Incremented each time a value changed.
        digest: The raw bytes of the time model.
        findings: The findings of the result.
        table: The table the value comes from (None once ``result`` is set).
        row: Its row there.
        result: The built result (without ``final``, which depends on the time of asking).
        over: Effectiveness when above 100 % (a finding added when the result is built; the
            digest already tells it apart).
    """

    path: str
    window: Window
    version: int
    digest: bytes
    findings: tuple[Finding, ...]
    table: TimeModelTable | None = None
    row: int = -1
    result: KpiResult | None = None
    over: float | None = None

    def build(self, final: bool) -> KpiResult:
        """Return the result, built once."""
        if self.result is None:
            assert self.table is not None  # one of the two is always set
            model = self.table.model(self.row)
            self.result = KpiResult(
                self.path, self.window, model, kpis(model), self.all_findings(), self.version
            )
            self.table = None
        return replace(self.result, version=self.version, final=final)

    def all_findings(self) -> tuple[Finding, ...]:
        """Return the findings, with the effectiveness warning where it applies."""
        if self.over is None:
            return self.findings
        return (*self.findings, effectiveness_finding(self.over, self.path, self.window.label))

    @property
    def model(self) -> TimeModel:
        """The time model."""
        return self.build(False).model


class Materialised:
    """The materialised results of an engine, keyed by ``(path, granularity, label)``.

    Args:
        final: Tells whether the result of a key is final now.
    """

    def __init__(self, final: Callable[[Key, Window], bool]) -> None:
        self._final = final
        self._entries: dict[Key, Entry] = {}
        self._paths: set[str] = set()
        self._ends: dict[str, set[datetime]] = {}

    def __contains__(self, key: Key) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def has_path(self, path: str) -> bool:
        """Tell whether any result of ``path`` is materialised."""
        return path in self._paths

    def ended_until(self, path: str, now: datetime) -> datetime | None:
        """Return the latest end of a materialised window of ``path`` that has ended by ``now``."""
        # tuple() copies under the GIL: another thread may be adding windows meanwhile.
        ends = [e for e in tuple(self._ends.get(path, ())) if e <= now]
        return max(ends) if ends else None

    def _note(self, path: str, window: Window) -> None:
        self._paths.add(path)
        self._ends.setdefault(path, set()).add(window.end)

    def get(self, key: Key) -> Entry | None:
        """Return the entry of a key, or None."""
        return self._entries.get(key)

    def items(self) -> Iterator[tuple[Key, Entry]]:
        """Yield every key and entry (a snapshot: safe to revise while iterating)."""
        # list() copies under the GIL: the API revises from other threads meanwhile.
        yield from list(self._entries.items())

    def granularities(self) -> set[Granularity]:
        """Return the granularities materialised so far."""
        return {g for _, g, _ in list(self._entries)}

    def result(self, key: Key) -> KpiResult:
        """Return the result of a materialised key."""
        entry = self._entries[key]
        return entry.build(self._final(key, entry.window))

    def revise(self, current: KpiResult) -> KpiResult:
        """Materialise one result; its version goes up when its value or findings changed."""
        key = (current.path, current.window.by, current.window.label)
        digest = model_digest(current.model)
        findings = tuple(f for f in current.findings if f.key != _OVER)
        over = next((f.detail for f in current.findings if f.key == _OVER and f.detail), None)
        old = self._entries.get(key)
        if old is not None and old.digest == digest and old.findings == findings:
            return self.result(key)
        version = 1 if old is None else old.version + 1
        self._note(current.path, current.window)
        self._entries[key] = Entry(
            current.path,
            current.window,
            version,
            digest,
            findings,
            result=replace(current, version=version, final=False),
            over=None if over is None else float(over["effectiveness"]),
        )
        return self.result(key)

    def revise_table(self, table: TimeModelTable, *, build: bool) -> list[KpiResult]:
        """Materialise every row of a table; return the results when ``build``.

        Rows are compared by their raw bytes, so a site-month of machine windows is versioned
        without building a result object per row.
        """
        found: dict[tuple[str | None, str | None], list[Finding]] = {}
        for f in table.findings:
            found.setdefault((f.path, f.window), []).append(f)
        columns = kpi_columns(table)
        # Effectiveness over 100 % is the only finding the KPIs raise themselves (kpi_findings).
        over = np.flatnonzero(
            (table.column("unpriced") == 0)
            & (table.column("apt") > 0)
            & (table.column("ideal") > table.column("apt"))
        )
        ideal, apt = table.column("ideal"), table.column("apt")
        over_rows = {int(i): float(ideal[i] / apt[i]) for i in over}
        raw = np.ascontiguousarray(np.concatenate([table.times, table.counts], axis=1))
        digests = [r.tobytes() for r in raw]
        out: list[KpiResult] = []
        entries = self._entries
        ends = {w.end for w in table.windows}
        for path in table.paths:
            self._paths.add(path)
            self._ends.setdefault(path, set()).update(ends)
        for i in range(len(table)):
            path, window = table.path(i), table.window(i)
            key = (path, window.by, window.label)
            findings = tuple(found.get((path, window.label), ()))
            old = entries.get(key)
            if old is None or old.digest != digests[i] or old.findings != findings:
                version = 1 if old is None else old.version + 1
                entry = Entry(path, window, version, digests[i], findings, table, i)
                entry.over = over_rows.get(i)
                if build:
                    model = table.model(i)
                    found_all = entry.all_findings()
                    entry.result = KpiResult(path, window, model, kpis_at(columns, i), found_all)
                    entry.table = None
                entries[key] = entry
            if build:
                out.append(self.result(key))
        return out

    def of(self, path: str, by: Granularity) -> list[KpiResult]:
        """Return the materialised results of ``path`` at granularity ``by``, in time order."""
        keys = [k for k in list(self._entries) if k[0] == path and k[1] is by]
        return sorted((self.result(k) for k in keys), key=lambda r: r.window.start)
