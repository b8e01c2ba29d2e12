"""``werk kpi oee|losses|benchmark``: ISO 22400 KPIs through the running server's API."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from werk.cli.client import DEFAULT_URL, JsonOption, KeyOption, UrlOption, get
from werk.cli.output import emit_json, emit_rows

app = typer.Typer(help="ISO 22400 KPIs, losses and benchmarks.", no_args_is_help=True)

PathOption = Annotated[str, typer.Option("--path", help="Machine, line, area, site or enterprise.")]
FromOption = Annotated[str, typer.Option("--from", help="ISO 8601, now, or -7d.")]
ToOption = Annotated[str, typer.Option("--to", help="ISO 8601, now, or -1h.")]


def _pct(value: object) -> str:
    return "—" if value is None else f"{float(str(value)):.1%}"


@app.command("oee")
def oee(
    path: PathOption,
    from_: FromOption = "-7d",
    to: ToOption = "now",
    by: Annotated[str, typer.Option(help="shift, day, week or month.")] = "shift",
    kpi: Annotated[str, typer.Option(help="KPIs to show, comma-separated.")] = (
        "oee,availability,effectiveness,quality_ratio"
    ),
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    json_: JsonOption = False,
) -> None:
    """Show OEE and its factors per window in plant time (undefined shows as —)."""
    body = get(url, key, "kpi", {"path": path, "from": from_, "to": to, "by": by, "kpi": kpi})
    names = body["kpis"]
    if json_:
        emit_rows(
            [{k: v for k, v in r.items() if k not in ("model",)} for r in body["rows"]],
            as_json=True,
        )
        return
    rows: list[dict[str, Any]] = [
        {
            "window": r["window"],
            **{
                n: _pct(r[n]) if n not in ("mtbf", "mttr", "throughput_rate") else r[n]
                for n in names
            },
            "complete": _pct(r["completeness"]),
            "v": r["version"],
            "final": "yes" if r["final"] else "no",
        }
        for r in body["rows"]
    ]
    emit_rows(rows, as_json=False, title=f"{body['path']} by {body['by']}")


@app.command("losses")
def losses(
    path: PathOption,
    from_: FromOption = "-7d",
    to: ToOption = "now",
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    json_: JsonOption = False,
) -> None:
    """Show the downtime Pareto (with --json also the loss tree)."""
    body = get(url, key, "losses", {"path": path, "from": from_, "to": to})
    if json_:
        emit_json(body)
        return
    rows = [
        {
            "code": r["code"],
            "reason": r["reason"] or "",
            "element": r["element"],
            "minutes": round(r["seconds"] / 60, 1),
            "stops": r["occurrences"],
            "share": _pct(r["share"]),
            "cumulative": _pct(r["cumulative"]),
        }
        for r in body["pareto"]
    ]
    emit_rows(rows, as_json=False, title=f"{path}: downtime Pareto")


@app.command("benchmark")
def benchmark(
    path: PathOption,
    from_: FromOption = "-30d",
    to: ToOption = "now",
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    json_: JsonOption = False,
) -> None:
    """Show the sites under an enterprise side by side, ranked by OEE."""
    body = get(url, key, "kpi/benchmark", {"path": path, "from": from_, "to": to})
    rows = [
        {k: v for k, v in r.items() if k != "model"}
        if json_
        else {
            "rank": r["rank"],
            "site": r["site"],
            "oee": _pct(r["oee"]),
            "availability": _pct(r["availability"]),
            "effectiveness": _pct(r["effectiveness"]),
            "quality": _pct(r["quality_ratio"]),
            "complete": _pct(r["completeness"]),
        }
        for r in body["rows"]
    ]
    emit_rows(rows, as_json=json_, title="benchmark")
