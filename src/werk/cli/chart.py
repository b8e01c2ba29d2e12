"""Draw time series in the terminal with block characters: a picture where a table says less."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console

_BLOCKS = " ▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], width: int) -> str:
    """Return ``values`` squeezed into ``width`` block characters (mean per column)."""
    if not values:
        return ""
    columns: list[float] = []
    step = max(1, len(values) / width)
    index = 0.0
    while int(index) < len(values):
        chunk = values[int(index) : max(int(index + step), int(index) + 1)]
        columns.append(sum(chunk) / len(chunk))
        index += step
    low, high = min(columns), max(columns)
    span = high - low or 1.0
    return "".join(_BLOCKS[1 + int((v - low) / span * (len(_BLOCKS) - 2))] for v in columns)


def line_chart(rows: Sequence[Mapping[str, Any]], console: Console | None = None) -> None:
    """Print one sparkline per series with its range and first/last time."""
    console = console or Console()
    by_series: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        by_series[f"{row['path']} {row['signal']}"].append(row)
    width = max(20, min(100, console.width - 10))
    for name, series_rows in by_series.items():
        values = [float(r["value"]) for r in series_rows if r.get("value") is not None]
        if not values:
            continue
        console.print(f"[bold]{name}[/bold]  min {min(values):.4g}  max {max(values):.4g}")
        console.print(f"  {sparkline(values, width)}")
        console.print(f"  [dim]{series_rows[0]['ts']}  →  {series_rows[-1]['ts']}[/dim]")
