"""``werk ml train|evaluate|promote|rollback|score|models``: predictive maintenance and quality.

Models live in ``<data_dir>/models/<name>/<version>/`` (see :mod:`werk.ml.registry`). Training
reads the store (or a simulator history folder with ``--history``), runs the leave-one-site-out
fleet evaluation and saves a new version; ``promote`` makes a version live for a site (or all),
``rollback`` returns a site to the version before, ``score`` scores every site once and writes
predictions and alarms back to the store.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from werk.cli.output import console, emit_json, emit_rows
from werk.cli.server import StoreOption, settings_from

if TYPE_CHECKING:
    from werk.ml.registry import Registry

app = typer.Typer(help="Predict failures and scrap; prove it across sites.", no_args_is_help=True)

NameOption = Annotated[str, typer.Option("--name", help="Model name.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ModelsOption = Annotated[
    Path | None,
    typer.Option("--models", help="Model registry folder (default: <data dir>/models)."),
]
SiteOption = Annotated[str, typer.Option("--site", help="Site slug, or * for every site.")]


def _registry(models: Path | None, store: str | None = None) -> Registry:
    from werk.ml.registry import Registry

    return Registry(models or settings_from(store).data_dir / "models")


def _when(text: str | None, default: datetime) -> datetime:
    if not text:
        return default
    ts = datetime.fromisoformat(text)
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _summary_rows(meta: dict[str, object]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    fleet = meta.get("fleet")
    sites = fleet.get("sites", {}) if isinstance(fleet, dict) else {}
    primary = {"failure": "ap", "rul": "rmse", "quality": "wrmse"}
    for site, tasks in sites.items():
        for task, entry in tasks.items():
            if task == "anomaly":
                rows.append(
                    {
                        "site": site,
                        "task": "anomaly",
                        "metric": "auc",
                        "baseline": 0.5,
                        "raw": _r(entry.get("auc")),
                        "adapted": "",
                        "adapt": "",
                        "gain": "",
                    }
                )
                continue
            key = primary[task]
            rows.append(
                {
                    "site": site,
                    "task": task,
                    "metric": key,
                    "baseline": _r(entry.get("baseline", {}).get(key)),
                    "raw": _r(entry.get("raw", {}).get(key)),
                    "adapted": _r(entry.get("adapted", {}).get(key)),
                    "adapt": "yes" if entry.get("adapt") else "no",
                    "gain": f"{entry['gain']:+.0%}"
                    if isinstance(entry.get("gain"), float) and entry["gain"] == entry["gain"]
                    else "",
                }
            )
    return rows


def _r(value: object) -> object:
    return round(value, 4) if isinstance(value, float) else value


@app.command("train")
def train_cmd(
    name: NameOption = "pdm",
    history: Annotated[
        Path | None, typer.Option(help="Simulator history folder (werk sim history) to train on.")
    ] = None,
    prefix: Annotated[str, typer.Option(help="Asset path to read below (store).")] = "",
    start: Annotated[str | None, typer.Option(help="First instant, ISO 8601 (UTC if naive).")] = (
        None
    ),
    end: Annotated[str | None, typer.Option(help="End of the span, ISO 8601 (default: now).")] = (
        None
    ),
    days: Annotated[int, typer.Option(help="Days before --end when --start is not given.")] = 28,
    trees: Annotated[int, typer.Option(help="Boosting rounds per model.")] = 150,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data: same model).")] = 0,
    train_fraction: Annotated[
        float, typer.Option(help="Share of the span before the evaluation cutoff.")
    ] = 0.6,
    promote: Annotated[bool, typer.Option(help="Promote the new version for every site.")] = False,
    models: ModelsOption = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    """Train failure, RUL, scrap and anomaly models; report leave-one-site-out results."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from werk.errors import InvalidInput
    from werk.ml.fleet import TrainConfig
    from werk.ml.models import ModelParams
    from werk.ml.source import read_history, read_store
    from werk.ml.train import train

    registry = _registry(models, store)
    config = TrainConfig(
        params=ModelParams(n_estimators=trees, seed=seed), train_fraction=train_fraction
    )
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=json_,
    ) as progress:
        task = progress.add_task("reading data", total=None)
        if history is not None:
            data = read_history(
                history,
                start=_when(start, datetime.min.replace(tzinfo=UTC)) if start else None,
                end=_when(end, datetime.now(UTC)) if end else None,
            )
        else:
            if not prefix:
                raise InvalidInput(
                    "give --prefix (the asset path to train on) or --history", field="prefix"
                )
            from werk.store import open_store

            stop = _when(end, datetime.now(UTC))
            the_store = open_store(settings_from(store).resolved_store_url())
            try:
                data = read_store(
                    the_store, prefix, _when(start, stop - timedelta(days=days)), stop
                )
            finally:
                the_store.close()
        bundle = train(data, config, progress=lambda s: progress.update(task, description=s))
        progress.update(task, description="saving")
        version = registry.save(name, bundle)
        if promote:
            registry.promote(name, version)
    if json_:
        emit_json({"name": name, "version": version, **bundle.meta})
        return
    emit_rows(
        _summary_rows(bundle.meta), as_json=False, title=f"{name} v{version}: leave-one-site-out"
    )
    console.print(f"saved {name} version {version} in {registry.root / name / str(version)}")


@app.command("evaluate")
def evaluate_cmd(
    name: NameOption = "pdm",
    version: Annotated[int | None, typer.Option(help="Version (default: the newest).")] = None,
    csv: Annotated[
        Path | None,
        typer.Option(help="Evaluate the pipeline on a run-to-failure or batch CSV instead."),
    ] = None,
    unit: Annotated[str, typer.Option(help="CSV: unit or batch id column.")] = "unit",
    time: Annotated[str, typer.Option(help="CSV: time or cycle column.")] = "cycle",
    label: Annotated[str, typer.Option(help="CSV: label column (RUL, fault or quality).")] = (
        "rul"
    ),
    history: Annotated[
        Path | None,
        typer.Option(help="Score this simulator history with the version and compare."),
    ] = None,
    tep: Annotated[
        bool, typer.Option(help="Run PCA T²/SPE on the Tennessee Eastman benchmark (bibmon).")
    ] = False,
    models: ModelsOption = None,
    json_: JsonOption = False,
) -> None:
    """Show a version's fleet report, evaluate it on other data, or the pipeline on external
    data."""
    from werk.errors import NotFound

    if tep:
        from werk.ml.external import PUBLISHED_TEP, tep_detection_rates

        rates = tep_detection_rates()
        rows = [{"fault": f, **r, "published": PUBLISHED_TEP.get(f, "")} for f, r in rates.items()]
        emit_rows(rows, as_json=json_, title="Tennessee Eastman: PCA detection rates")
        return
    if csv is not None:
        from werk.ml.external import evaluate_csv, read_csv_dataset

        dataset = read_csv_dataset(csv, unit=unit, time=time, label=label)
        result = evaluate_csv(dataset)
        if json_:
            emit_json(result)
        else:
            emit_rows(
                [{"metric": k, "value": _r(v)} for k, v in result.items()],
                as_json=False,
                title=f"{csv.name}: held-out units",
            )
        return
    registry = _registry(models)
    versions = registry.versions(name)
    if not versions:
        raise NotFound(f"no model named {name}", name=name)
    meta = registry.meta(name, version or versions[-1])
    if history is not None:
        from werk.ml.source import read_history
        from werk.ml.train import evaluate_bundle

        bundle = registry.load(name, version or versions[-1])
        evaluation = evaluate_bundle(bundle, read_history(history))
        if json_:
            emit_json(evaluation)
            return
        rows = []
        primary = {"failure": "ap", "rul": "rmse", "quality": "wrmse"}
        for site, tasks in evaluation.items():
            for task, key in primary.items():
                entry = tasks[task]
                assert isinstance(entry, dict)
                rows.append(
                    {
                        "site": site,
                        "task": task,
                        "metric": key,
                        "baseline": _r(entry["baseline"][key]),
                        "model": _r(entry["model"][key]),
                        "variant": entry["variant"],
                    }
                )
        emit_rows(rows, as_json=False, title=f"{name} v{meta.get('version')} on {history}")
        return
    if json_:
        emit_json(meta)
        return
    emit_rows(
        _summary_rows(meta),
        as_json=False,
        title=f"{name} v{meta.get('version')}: leave-one-site-out",
    )


@app.command("promote")
def promote_cmd(
    version: Annotated[int, typer.Argument(help="Version to make live.")],
    name: NameOption = "pdm",
    site: SiteOption = "*",
    models: ModelsOption = None,
    json_: JsonOption = False,
) -> None:
    """Make a version live for a site (or every site)."""
    registry = _registry(models)
    registry.promote(name, version, site)
    if json_:
        emit_json({"name": name, "site": site, "live": version})
    else:
        console.print(f"{name} version {version} is live for {site}")


@app.command("rollback")
def rollback_cmd(
    name: NameOption = "pdm",
    site: SiteOption = "*",
    models: ModelsOption = None,
    json_: JsonOption = False,
) -> None:
    """Return a site to the version it ran before."""
    registry = _registry(models)
    live = registry.rollback(name, site)
    if json_:
        emit_json({"name": name, "site": site, "live": live})
    else:
        console.print(f"{name} for {site} is now {'version ' + str(live) if live else 'unset'}")


@app.command("score")
def score_cmd(
    name: NameOption = "pdm",
    prefix: Annotated[str | None, typer.Option(help="Score sites below this path.")] = None,
    now: Annotated[str | None, typer.Option(help="Score as of this instant (default: now).")] = (
        None
    ),
    threshold: Annotated[float, typer.Option(help="Failure probability that raises an alarm.")] = (
        0.5
    ),
    models: ModelsOption = None,
    store: StoreOption = None,
    json_: JsonOption = False,
) -> None:
    """Score every site once; write predictions and alarms to the store."""
    from rich.progress import Progress

    from werk.ml.scoring import score
    from werk.store import open_store

    registry = _registry(models, store)
    the_store = open_store(settings_from(store).resolved_store_url())
    try:
        with Progress(console=console, transient=True) as progress:
            progress.add_task("scoring", total=None)
            done = score(
                the_store,
                registry,
                name=name,
                prefix=prefix,
                now=_when(now, datetime.now(UTC)),
                threshold=threshold,
            )
    finally:
        the_store.close()
    rows = [
        {
            "site": s.site,
            "version": s.version,
            "window_end": s.window_end.isoformat(),
            "machines": s.machines,
            "alerts": s.alerts,
            "drifted": s.drift.drifted,
            "drift_share": round(s.drift.share, 3),
            "duplicate": s.duplicate,
        }
        for s in done
    ]
    if json_:
        emit_json(
            [
                dict(r, predictions=s.predictions, drift_top=s.drift.top)
                for r, s in zip(rows, done, strict=True)
            ]
        )
        return
    emit_rows(rows, as_json=False, title=f"{name}: scored")


@app.command("models")
def models_cmd(
    name: Annotated[str | None, typer.Option("--name", help="Only this model.")] = None,
    models: ModelsOption = None,
    json_: JsonOption = False,
) -> None:
    """List stored model versions, where they are live and their fleet metrics."""
    registry = _registry(models)
    rows = []
    for v in registry.list(name):
        metrics = v.meta.get("metrics", {})
        row: dict[str, object] = {
            "name": v.name,
            "version": v.version,
            "created": v.created,
            "live": ",".join(v.live),
        }
        if isinstance(metrics, dict):
            for key, values in metrics.items():
                if not isinstance(values, dict):
                    continue
                if json_:
                    row[key] = _r(values.get("chosen"))
                    row[f"{key} baseline"] = _r(values.get("baseline"))
                else:  # one narrow column per metric: "model (baseline)"
                    row[key] = f"{_g(values.get('chosen'))} ({_g(values.get('baseline'))})"
        if not json_:
            row["created"] = v.created[:16]
        rows.append(row)
    emit_rows(rows, as_json=json_, title="models: fleet metrics, model (baseline)")


def _g(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else "–"
