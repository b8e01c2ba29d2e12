"""ISO 22400 KPIs, losses and the cross-plant benchmark of any asset over any range.

Each read passes the read door (as a ``kpi`` or ``losses`` read). A path the caller may see
whole is computed as asked; a prefix of which it may see only parts is computed over those parts
only: KPIs per visible part, losses and the benchmark over the visible machines together.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.datastructures import State

from werk.api.auth import Door, Reader
from werk.api.flights import Answer, flights
from werk.api.params import parse_path, parse_window
from werk.api.routes.assets import assets_of
from werk.api.tables import dumps
from werk.errors import InvalidInput, NotFound, WerkError
from werk.kpi import KpiResult, LossNode
from werk.kpi.calendar import Granularity, Window
from werk.kpi.engine import KpiEngine, Losses, parse_by
from werk.kpi.oee import KPI_NAMES
from werk.kpi.rollup import BenchmarkRow, ParetoRow, benchmark, downtime_pareto, loss_tree
from werk.kpi.table import TimeModelTable, concat
from werk.samples import utc
from werk.sharing.door import Decision, ReadDoor, ReadKind, ReadRequest, Scope
from werk.sharing.principal import Principal

router = APIRouter(tags=["kpi"])
log = logging.getLogger(__name__)

PathParam = Annotated[str, Query(description="Asset path: machine, line, area, site, enterprise.")]
FromParam = Annotated[str, Query(alias="from", description="Start: ISO 8601, now, or -7d.")]
ToParam = Annotated[str, Query(description="End (exclusive): ISO 8601, now, or -1h.")]
AgreementParam = Annotated[
    str | None, Query(description="Agreement the read is made under (reads of others' data).")
]
PurposeParam = Annotated[str | None, Query(description="Purpose of the read (ODRL purpose).")]


def _door(
    door: ReadDoor,
    principal: Principal,
    kind: ReadKind,
    path: str,
    window: tuple[Any, Any],
    agreement: str | None,
    purpose: str | None,
) -> tuple[Decision, Scope, Any, Any]:
    """Pass the door; return the decision, its scope and the window clamped to it."""
    start, end = window
    decision, scope = door.check(
        principal,
        ReadRequest(kind, path, start=start, end=end, agreement=agreement, purpose=purpose),
    )
    lo, hi = scope.window(start, end)
    lo, hi = lo or start, hi or end
    if hi <= lo:  # nothing of the range lies inside what may be read
        door.record(decision, 0)
        raise NotFound(
            f"no data of {path} may be read in that range", key="access.not_found", path=path
        )
    return decision, scope, lo, hi


def _visible_table(
    found: KpiEngine, scope: Scope, start: Any, end: Any, by: Granularity
) -> TimeModelTable:
    """Return the time model of the machines in the scope's paths (parts without any skipped)."""
    tables = []
    for prefix in scope.paths:
        try:
            tables.append(found.table(prefix, start, end, by))
        except NotFound:
            continue
    if not tables:
        raise NotFound(
            f"no machines under {', '.join(scope.paths)}", key="kpi.no_machines", field="path"
        )
    return concat(tables)


def engine(request: Request) -> KpiEngine:
    """Return the app's KPI engine (one per app: it holds the materialised, versioned results)."""
    state = request.app.state
    found: KpiEngine | None = getattr(state, "kpi_engine", None)
    if found is None:
        found = KpiEngine(state.store, lambda: assets_of(state))
        state.kpi_engine = found
    return found


async def after_ingest(
    state: State, body: bytes, content_type: str | None, content_encoding: str | None
) -> None:
    """Re-derive the materialised KPI windows a committed batch of events touches.

    Called by ``POST /ingest`` for batches that stored events (never for sample-only ones).
    Nothing happens until some KPI was computed; a failure here is logged, not answered: the
    batch is committed, and the next KPI query derives its windows from the store anyway.
    """
    found: KpiEngine | None = getattr(state, "kpi_engine", None)
    if found is None or not (found.has_materialised() or found.keeps_windows()):
        return
    from werk.ingest.decode import decode, decompress, media_type

    def run() -> None:
        raw = decompress(body, content_encoding, max(len(body) * 64, 1 << 20))
        events = decode(raw, media_type(content_type)).events
        if events is not None and events.num_rows:
            found.recompute_table(events)

    try:
        await asyncio.to_thread(run)
    except WerkError as exc:
        log.warning("KPI recomputation after ingest failed: %s", exc)


def _range(path: str, from_: str, to: str) -> tuple[str, Any, Any]:
    the_path = parse_path(path)
    if the_path is None:
        raise InvalidInput("give an asset path", key="request.invalid_path", field="path")
    start, end = parse_window(from_, to)
    return the_path, start, end


def _kpi_names(kpi: str | None) -> tuple[str, ...]:
    if not kpi:
        return KPI_NAMES
    names = tuple(k.strip() for k in kpi.split(",") if k.strip())
    unknown = [k for k in names if k not in KPI_NAMES]
    if unknown:
        raise InvalidInput(
            f"unknown KPI {unknown[0]!r}; known: {', '.join(KPI_NAMES)}",
            key="kpi.unknown_kpi",
            field="kpi",
        )
    return names


def _num(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


def result_row(r: KpiResult, names: tuple[str, ...]) -> dict[str, Any]:
    """Return one KPI result as a JSON row."""
    values = r.kpis.as_dict()
    return {
        "path": r.path,
        "window": r.window.label,
        "by": r.window.by.value,
        "shift": r.window.shift,
        "start": r.window.start.isoformat(),
        "end": r.window.end.isoformat(),
        **{name: _num(values[name]) for name in names},
        "version": r.version,
        "final": r.final,
        "completeness": _num(r.completeness),
        "model": r.model.as_dict(),
        "findings": [{"key": f.key, "message": f.message, "path": f.path} for f in r.findings],
    }


@router.get("/kpi", operation_id="kpi", summary="KPIs of an asset per shift, day, week or month")
async def kpi(
    request: Request,
    principal: Reader,
    door: Door,
    path: PathParam,
    from_: FromParam,
    to: ToParam = "now",
    by: Annotated[str, Query(description="shift, day, week or month")] = "shift",
    kpi: Annotated[str | None, Query(description="Comma-separated KPIs (default: all).")] = None,
    agreement: AgreementParam = None,
    purpose: PurposeParam = None,
) -> Response:
    """Compute the ISO 22400 KPIs of ``path`` (its machines summed) per window in plant time.

    A caller who may see only parts of ``path`` gets the KPIs of each visible part instead.
    """
    granularity = parse_by(by)
    names = _kpi_names(kpi)
    the_path, start, end = _range(path, from_, to)
    decision, scope, start, end = _door(
        door, principal, ReadKind.KPI, the_path, (start, end), agreement, purpose
    )
    found = engine(request)

    def compute() -> list[KpiResult]:
        if scope.paths == (the_path,):
            return found.results(the_path, start, end, granularity)
        results: list[KpiResult] = []
        for prefix in scope.paths:
            try:
                results.extend(found.results(prefix, start, end, granularity))
            except NotFound:  # a granted part without machines
                continue
        return results

    def answer() -> Answer:
        rows = [result_row(r, names) for r in compute()]
        body = {
            "path": the_path,
            "by": granularity.value,
            "kpis": list(names),
            "count": len(rows),
            "rows": rows,
        }
        return Answer(dumps(body), "application/json", len(rows))

    key = ("kpi", the_path, start, end, granularity, names, scope)
    done = await flights(request).run(key, answer)
    door.record(decision, done.rows)
    return done.response()


def _node(node: LossNode) -> dict[str, Any]:
    return {
        "name": node.name,
        "label": node.label,
        "seconds": None if node.duration is None else node.duration.total_seconds(),
        "big_loss": node.big_loss,
        "children": [_node(c) for c in node.children],
    }


def _pareto(row: ParetoRow) -> dict[str, Any]:
    return {
        "code": row.code,
        "reason": row.reason,
        "element": row.element.value,
        "external": row.external,
        "failure": row.failure,
        "seconds": row.duration.total_seconds(),
        "occurrences": row.occurrences,
        "share": row.share,
        "cumulative": row.cumulative,
    }


@router.get("/losses", operation_id="losses", summary="Loss tree and downtime Pareto")
async def losses(
    request: Request,
    principal: Reader,
    door: Door,
    path: PathParam,
    from_: FromParam,
    to: ToParam = "now",
    agreement: AgreementParam = None,
    purpose: PurposeParam = None,
) -> Response:
    """Split the time of ``path`` over the range into the six big losses; rank downtime causes.

    A caller who may see only parts of ``path`` gets the losses of those parts together.
    """
    the_path, start, end = _range(path, from_, to)
    decision, scope, start, end = _door(
        door, principal, ReadKind.LOSSES, the_path, (start, end), agreement, purpose
    )
    the_engine = engine(request)

    def compute() -> Losses:
        if scope.paths == (the_path,):
            return the_engine.losses(the_path, start, end)
        table = _visible_table(the_engine, scope, start, end, Granularity.RANGE)
        model = table.total()
        window = Window(
            utc(start), utc(end), Granularity.RANGE, utc(start).date(), table.windows[0].label
        )
        return Losses(the_path, window, model, loss_tree(model), downtime_pareto(table))

    def answer() -> Answer:
        found = compute()
        body = {
            "path": found.path,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "model": found.model.as_dict(),
            "tree": _node(found.tree),
            "pareto": [_pareto(r) for r in found.pareto],
        }
        return Answer(dumps(body), "application/json", len(found.pareto) + 1)

    done = await flights(request).run(("losses", the_path, start, end, scope), answer)
    door.record(decision, done.rows)
    return done.response()


def _bench(row: BenchmarkRow, names: tuple[str, ...]) -> dict[str, Any]:
    values = row.kpis.as_dict()
    return {
        "site": row.site,
        "rank": row.rank,
        "start": row.window.start.isoformat(),
        "end": row.window.end.isoformat(),
        **{name: _num(values[name]) for name in names},
        "completeness": _num(row.completeness),
        "model": row.model.as_dict(),
    }


@router.get("/kpi/benchmark", operation_id="kpi_benchmark", summary="Sites side by side")
async def kpi_benchmark(
    request: Request,
    principal: Reader,
    door: Door,
    path: PathParam,
    from_: FromParam,
    to: ToParam = "now",
    kpi: Annotated[str | None, Query(description="Comma-separated KPIs (default: all).")] = None,
    agreement: AgreementParam = None,
    purpose: PurposeParam = None,
) -> Response:
    """Compare the sites under ``path`` (an enterprise) over the range, ranked by OEE.

    A caller who may see only parts of ``path`` gets those parts ranked among themselves.
    """
    names = _kpi_names(kpi)
    the_path, start, end = _range(path, from_, to)
    decision, scope, start, end = _door(
        door, principal, ReadKind.KPI, the_path, (start, end), agreement, purpose
    )
    the_engine = engine(request)

    def compute() -> list[BenchmarkRow]:
        if scope.paths == (the_path,):
            return the_engine.benchmark(the_path, start, end)
        return benchmark(_visible_table(the_engine, scope, start, end, Granularity.RANGE))

    def answer() -> Answer:
        body = [_bench(r, names) for r in compute()]
        return Answer(
            dumps({"path": the_path, "count": len(body), "rows": body}),
            "application/json",
            len(body),
        )

    found = await flights(request).run(("benchmark", the_path, start, end, names, scope), answer)
    door.record(decision, found.rows)
    return found.response()
