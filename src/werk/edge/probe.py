"""Read every point of a plant once, before anything is deployed (``werk edge test``)."""

from __future__ import annotations

import asyncio
import math

from werk.connectors.base import Readings, Source, connector
from werk.edge.plant import Plant
from werk.samples import Quality


async def _read(source: Source, timeout_s: float) -> Readings | str:
    try:
        async with asyncio.timeout(timeout_s):
            async with source:
                return await source.read_once()
    except TimeoutError:
        return f"no answer within {timeout_s:g} s"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


async def probe(plant: Plant, *, timeout_s: float = 15.0) -> list[dict[str, object]]:
    """Open each enabled source, read once, and return one row per point (or per signal read).

    Every point of the plant file gets a row; a point that gave no value says so in ``error``.
    Signals read that no point names (a files source's exports) get rows too.
    """
    rows: list[dict[str, object]] = []
    for config in plant.sources:
        if not config.enabled:
            continue
        source = connector(config.type).open(config)
        got = await _read(source, timeout_s)
        if isinstance(got, str):
            rows += [
                _row(config.name, p.path, p.signal, None, None, got) for p in config.points()
            ] or [_row(config.name, "", "", None, None, got)]
            continue
        values: dict[tuple[str, str], tuple[float, int]] = {}
        samples = got.samples.to_pydict()
        for path, signal, value, quality in zip(
            samples["path"], samples["signal"], samples["value"], samples["quality"], strict=True
        ):
            values[(path, signal)] = (value, quality)
        for point in config.points():
            found = values.pop((point.path, point.signal), None)
            if found is None:
                rows.append(_row(config.name, point.path, point.signal, None, None, "no value"))
            else:
                rows.append(_row(config.name, point.path, point.signal, *found, None))
        for (path, signal), (value, quality) in sorted(values.items()):
            rows.append(_row(config.name, path, signal, value, quality, None))
        if got.events.num_rows:
            kinds = got.events.column("kind").value_counts().to_pylist()
            text = ", ".join(f"{k['values']} ×{k['counts']}" for k in kinds)
            rows.append(_row(config.name, "", "(events)", None, None, None, text))
        bad = source.health.last_error
        if bad and not rows[-1]["error"]:
            rows.append(_row(config.name, "", "(problems)", None, None, bad))
    return rows


def _row(
    source: str,
    path: str,
    signal: str,
    value: float | None,
    quality: int | None,
    error: str | None,
    note: str | None = None,
) -> dict[str, object]:
    shown: object = value
    if isinstance(value, float) and math.isnan(value):
        shown = "NaN"
    return {
        "source": source,
        "path": path,
        "signal": signal,
        "value": note if note is not None else shown,
        "quality": Quality(quality).name if quality is not None else None,
        "error": error,
    }
