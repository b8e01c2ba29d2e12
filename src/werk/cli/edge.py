"""``werk edge validate|test|run|status``: check a plant file, try its points, run the agent."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from werk.cli.client import JsonOption
from werk.cli.output import console, emit_json, emit_rows

app = typer.Typer(help="Run and check an edge agent from its plant file.", no_args_is_help=True)

PlantArg = Annotated[Path, typer.Argument(help="The plant file (YAML).")]


@app.command("validate")
def validate(plant: PlantArg, json_: JsonOption = False) -> None:
    """Check a plant file and list every problem with its line and field."""
    from werk.edge.plant import PlantInvalid, check_plant

    loaded, problems = check_plant(plant)
    if json_:
        emit_json(
            {
                "file": str(plant),
                "valid": loaded is not None,
                "problems": [
                    {"line": p.line, "field": p.field, "key": p.key, "message": p.message}
                    for p in problems
                ],
            }
        )
    elif loaded is not None:
        points = len(loaded.points())
        console.print(
            f"[green]ok[/green] {plant}: edge {loaded.edge} of {loaded.site}, "
            f"{len(loaded.sources)} source(s), {points} point(s)"
        )
    else:
        for p in problems:
            console.print(f"{plant}:{p.line or '?'}: [red]{p.field or '(file)'}[/red] {p.message}")
    if loaded is None:
        raise PlantInvalid(plant, problems)


@app.command("test")
def probe_points(
    plant: PlantArg,
    json_: JsonOption = False,
    timeout_s: Annotated[float, typer.Option(help="Seconds each source may take.")] = 15.0,
) -> None:
    """Connect to every source and read each point once (deploys nothing, sends nothing)."""
    from werk.edge.plant import load_plant
    from werk.edge.probe import probe

    loaded = load_plant(plant)
    rows = asyncio.run(probe(loaded, timeout_s=timeout_s))
    emit_rows(rows, as_json=json_, title=f"points of {loaded.edge}")
    if any(r["error"] for r in rows) and not json_:
        console.print("[yellow]some points could not be read; see the error column[/yellow]")


@app.command("run")
def run(
    plant: PlantArg,
    log_level: Annotated[str, typer.Option(envvar="WERK_LOG_LEVEL", help="Log level.")] = "info",
    grace_s: Annotated[
        float, typer.Option(help="Seconds to deliver the buffer on shutdown.")
    ] = 10.0,
) -> None:
    """Run the edge agent until SIGTERM/SIGINT (a second signal forces the exit)."""
    from werk.edge.agent import Agent
    from werk.edge.plant import load_plant

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    loaded = load_plant(plant)

    async def main() -> None:
        # os._exit on the second signal: the buffer is consistent at every commit.
        async with Agent(loaded, shutdown_grace_s=grace_s, on_force=lambda: os._exit(130)) as agent:
            agent.install_signal_handlers()
            await agent.wait()

    asyncio.run(main())


@app.command("status")
def status(
    plant: PlantArg,
    json_: JsonOption = False,
) -> None:
    """Show the agent's latest health and its buffer (works while the agent runs)."""
    from werk.edge.health import read_status
    from werk.edge.plant import load_plant

    loaded = load_plant(plant)
    report = read_status(loaded.resolve(loaded.buffer.path))
    if json_:
        emit_json(report)
        return
    agent = report.get("agent", {})
    buffer = report["buffer"]
    assert isinstance(buffer, dict)
    assert isinstance(agent, dict)
    console.print(
        f"edge [bold]{loaded.edge}[/bold] ({loaded.site}): {agent.get('state')}, "
        f"report at {report.get('at', '-')}"
    )
    emit_rows([buffer], as_json=False, title="buffer")
    sources = report.get("sources", {})
    if isinstance(sources, dict):
        emit_rows(
            [
                {"source": name, **{k: v for k, v in s.items() if k != "diagnostics"}}
                for name, s in sources.items()
            ],
            as_json=False,
            title="sources",
        )
    uplink = report.get("uplink")
    if isinstance(uplink, dict):
        emit_rows([uplink], as_json=False, title="uplink")
    complete = report.get("completeness", {})
    if isinstance(complete, dict) and complete:
        emit_rows(
            [{"signal": k, "completeness": f"{v:.1%}"} for k, v in complete.items()],
            as_json=False,
            title="completeness",
        )
