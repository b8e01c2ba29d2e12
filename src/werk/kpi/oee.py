"""Compute ISO 22400-2 KPIs — OEE and its friends — from time models, exactly per the formulas.

Every KPI is a ratio of summed time elements and quantities (standards.md §3.2), so the KPI of a
line, a site or a month is computed from its summed time model, never averaged. A KPI whose
denominator is zero, or whose inputs are unknown (a product without PRI, corrections that leave a
negative quantity), is ``None``: undefined, not 0 and not 100 % (§3.5; platforms.md §3 item 13).

Choices the standard leaves open, made here once for every plant:

* OEE is the ISO 22400 index ``Availability × Effectiveness × Quality ratio``. The value-weighted
  variant ``Σ PRI·GQ / PBT`` (fully productive time over planned busy time) differs when products
  have different scrap rates; it is reported beside it as ``oee_value_weighted`` (§3.3).
* Quality ratio is ``GQ / PQ`` with rework not good at first production; first pass yield is the
  same ratio (every produced part is inspected, reworked parts are not first-pass good) — the two
  differ only where inspected-part counts exist, which count events do not carry.
* TEEP's utilization is ``PBT / all time``, all time being the window's calendar time less the time
  nothing is known about (no data, unmapped codes); utilization *efficiency* is ISO's APT / AUBT.
* MTBF is operating time (APT) per failure event, MTTR the mean time to restoration of the failures
  that ended; throughput rate is parts per hour of order execution time (AOET).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt

from werk.kpi.calendar import Window
from werk.kpi.model import COUNT_FIELDS, TIME_FIELDS, Finding, TimeModel
from werk.kpi.table import TimeModelTable

F64 = npt.NDArray[np.float64]

KPI_NAMES: Final = (
    "availability",
    "effectiveness",
    "quality_ratio",
    "oee",
    "oee_value_weighted",
    "nee",
    "teep",
    "utilization",
    "utilization_efficiency",
    "technical_efficiency",
    "allocation_efficiency",
    "setup_rate",
    "scrap_ratio",
    "rework_ratio",
    "first_pass_yield",
    "throughput_rate",
    "production_process_ratio",
    "allocation_ratio",
    "mtbf",
    "mttr",
    "inherent_availability",
)
"""Every KPI :func:`kpis` computes, in display order."""

_DURATIONS: Final = frozenset({"mtbf", "mttr"})


@dataclass(frozen=True, slots=True)
class Kpis:
    """ISO 22400-2 KPIs of one time model; ``None`` where undefined.

    Attributes:
        availability: APT / PBT.
        effectiveness: Σ PRI·PQ / APT (performance); above 1 means bad master data.
        quality_ratio: GQ / PQ.
        oee: Availability × effectiveness × quality ratio.
        oee_value_weighted: Σ PRI·GQ / PBT (fully productive time over planned busy time).
        nee: AUPT / PBT × effectiveness × quality ratio (setup not a loss).
        teep: OEE × utilization.
        utilization: PBT / all time (TEEP; all time less no data and unmapped time).
        utilization_efficiency: APT / AUBT.
        technical_efficiency: APT / (APT + ADET).
        allocation_efficiency: AUBT / PBT.
        setup_rate: AUST / AUPT.
        scrap_ratio: SQ / PQ.
        rework_ratio: RQ / PQ.
        first_pass_yield: GQ / PQ (reworked parts are not first-pass good).
        throughput_rate: PQ per hour of AOET.
        production_process_ratio: APT / AOET.
        allocation_ratio: AUBT / AOET.
        mtbf: Mean operating time between failures: APT / FE.
        mttr: Mean time to restoration: Σ TTR / restored failures.
        inherent_availability: MTBF / (MTBF + MTTR) (not ISO).
    """

    availability: float | None = None
    effectiveness: float | None = None
    quality_ratio: float | None = None
    oee: float | None = None
    oee_value_weighted: float | None = None
    nee: float | None = None
    teep: float | None = None
    utilization: float | None = None
    utilization_efficiency: float | None = None
    technical_efficiency: float | None = None
    allocation_efficiency: float | None = None
    setup_rate: float | None = None
    scrap_ratio: float | None = None
    rework_ratio: float | None = None
    first_pass_yield: float | None = None
    throughput_rate: float | None = None
    production_process_ratio: float | None = None
    allocation_ratio: float | None = None
    mtbf: timedelta | None = None
    mttr: timedelta | None = None
    inherent_availability: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        """Return the KPIs as JSON-ready numbers (MTBF and MTTR in seconds)."""
        out: dict[str, float | None] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.total_seconds() if isinstance(value, timedelta) else value
        return out


@dataclass(frozen=True, slots=True)
class KpiResult:
    """The KPIs of one unit over one window, with everything needed to trust them.

    Attributes:
        path: The unit (machine, line, area, site or enterprise).
        window: The window.
        model: Its time elements and quantities.
        kpis: The KPIs.
        findings: What the reader must know (bad master data, unmapped codes, counter resets...).
        version: Incremented each time the window is recomputed with different inputs.
        final: The window is past its settling time: late data is no longer expected.
    """

    path: str
    window: Window
    model: TimeModel
    kpis: Kpis
    findings: tuple[Finding, ...] = ()
    version: int = 1
    final: bool = False

    @property
    def completeness(self) -> float | None:
        """Share of the window covered by interpretable data."""
        return self.model.completeness


def _ratio(num: F64, den: F64, ok: npt.NDArray[np.bool_] | None = None) -> F64:
    good = den > 0 if ok is None else (den > 0) & ok
    out = np.full(np.shape(num), np.nan)
    np.divide(num, den, out=out, where=good)
    return out


def formulas(get: Callable[[str], F64]) -> dict[str, F64]:
    """Apply the §3.2 formulas to columns of time elements (µs) and quantities; NaN = undefined.

    ``get(name)`` returns a column of any field in :data:`TIME_FIELDS` or :data:`COUNT_FIELDS`.
    """
    apt, aust, adet, adot = get("apt"), get("aust"), get("adet"), get("adot")
    pbt = apt + aust + adet + adot
    aubt = apt + aust + adet
    aupt = apt + aust
    known = get("all_time") - get("no_data") - get("unmapped")
    aoet = get("aoet")
    pq, gq, sq, rq = get("pq"), get("gq"), get("sq"), get("rq")
    priced = get("unpriced") == 0
    sane = (gq >= 0) & (sq >= 0) & (rq >= 0) & (gq <= pq)
    failures, restored = get("failures"), get("restored")

    availability = _ratio(apt, pbt)
    effectiveness = _ratio(get("ideal"), apt, priced)
    quality = _ratio(gq, pq, sane)
    utilization = _ratio(pbt, known)
    oee = availability * effectiveness * quality
    mtbf = _ratio(apt, failures) / 1e6
    mttr = _ratio(get("restoration"), restored) / 1e6
    return {
        "availability": availability,
        "effectiveness": effectiveness,
        "quality_ratio": quality,
        "oee": oee,
        "oee_value_weighted": _ratio(get("ideal_good"), pbt, priced & sane),
        "nee": _ratio(aupt, pbt) * effectiveness * quality,
        "teep": oee * utilization,
        "utilization": utilization,
        "utilization_efficiency": _ratio(apt, aubt),
        "technical_efficiency": _ratio(apt, apt + adet),
        "allocation_efficiency": _ratio(aubt, pbt),
        "setup_rate": _ratio(aust, aupt),
        "scrap_ratio": _ratio(sq, pq, sane),
        "rework_ratio": _ratio(rq, pq, sane),
        "first_pass_yield": _ratio(gq, pq, sane),
        "throughput_rate": _ratio(pq * 3.6e9, aoet),
        "production_process_ratio": _ratio(apt, aoet),
        "allocation_ratio": _ratio(aubt, aoet),
        "mtbf": mtbf,
        "mttr": mttr,
        "inherent_availability": _ratio(mtbf, mtbf + mttr),
    }


def _model_columns(model: TimeModel) -> Callable[[str], F64]:
    def get(name: str) -> F64:
        value = getattr(model, name)
        if isinstance(value, timedelta):
            value = value // timedelta(microseconds=1)
        return np.array([float(value)])

    return get


def kpis(model: TimeModel) -> Kpis:
    """Return the KPIs of a time model (``None`` where undefined)."""
    values = formulas(_model_columns(model))
    out: dict[str, float | timedelta | None] = {}
    for name, column in values.items():
        v = float(column[0])
        if np.isnan(v):
            out[name] = None
        elif name in _DURATIONS:
            out[name] = timedelta(seconds=v)
        else:
            out[name] = v
    return Kpis(**out)  # type: ignore[arg-type]


def kpi_columns(table: TimeModelTable) -> dict[str, F64]:
    """Return every KPI of every row of a table as float columns (NaN where undefined)."""
    times = table.times.astype(np.float64)
    counts = table.counts.astype(np.float64)

    def get(name: str) -> F64:
        if name in TIME_FIELDS:
            return times[:, TIME_FIELDS.index(name)]
        return counts[:, COUNT_FIELDS.index(name)]

    return formulas(get)


def kpi_findings(
    model: TimeModel, path: str | None = None, window: str | None = None
) -> list[Finding]:
    """Return the findings the KPIs themselves raise: effectiveness above 100 % (bad PRI)."""
    if model.unpriced == 0 and model.ideal > model.apt > timedelta(0):
        return [effectiveness_finding(model.ideal / model.apt, path, window)]
    return []


def effectiveness_finding(value: float, path: str | None, window: str | None) -> Finding:
    """Return the master-data warning of an effectiveness ``value`` above 100 %."""
    return Finding(
        "master_data.effectiveness_over_100",
        f"effectiveness {value:.1%} exceeds 100 %: the planned run time per item (ideal "
        "cycle time) of a product is too long",
        path,
        window,
        {"effectiveness": value},
    )


def is_final(window: Window, watermark: datetime | None, settle: timedelta) -> bool:
    """Tell whether a window is final: its data is complete up to ``window.end + settle``."""
    return watermark is not None and watermark >= window.end + settle


def results(
    table: TimeModelTable,
    *,
    watermark: datetime | None = None,
    settle: timedelta = timedelta(0),
    versions: Mapping[tuple[str, str], int] | None = None,
) -> list[KpiResult]:
    """Return a :class:`KpiResult` per row of a table.

    Args:
        table: Time models (of machines, or rolled up).
        watermark: Data is complete up to here; a window ending ``settle`` before it is final.
        settle: How long late data (scrap found at end-of-line inspection) is still expected.
        versions: Version per ``(path, window label)``; default 1.
    """
    by_row: dict[tuple[str | None, str | None], list[Finding]] = {}
    for f in table.findings:
        by_row.setdefault((f.path, f.window), []).append(f)
    out = []
    for i in range(len(table)):
        path, window, model = table.path(i), table.window(i), table.model(i)
        found = by_row.get((path, window.label), []) + kpi_findings(model, path, window.label)
        out.append(
            KpiResult(
                path,
                window,
                model,
                kpis(model),
                tuple(found),
                (versions or {}).get((path, window.label), 1),
                is_final(window, watermark, settle),
            )
        )
    return out
