"""Turn Arrow tables into Polars or pandas frames, importing either only when asked.

Polars comes with the ``lake`` extra (``pip install 'werk[lake]'``); pandas is not a dependency
of werk at all. Both are imported lazily, so ``werk.client`` works without them and says which
package to install when one is missing.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

import pyarrow as pa

from werk.errors import ConfigError

if TYPE_CHECKING:
    import pandas
    import polars


def _need(module: str, extra: str) -> object:
    try:
        return import_module(module)
    except ImportError as exc:
        raise ConfigError(
            f"{module} is not installed; install it with: pip install {extra}",
            key="client.missing_package",
            field=module,
        ) from exc


def to_polars(table: pa.Table) -> polars.DataFrame:
    """Return ``table`` as a Polars DataFrame (zero-copy where Arrow allows)."""
    pl = _need("polars", "'werk[lake]'")
    frame: polars.DataFrame = pl.from_arrow(table)  # type: ignore[attr-defined]
    return frame


def to_pandas(table: pa.Table) -> pandas.DataFrame:
    """Return ``table`` as a pandas DataFrame (timestamps stay time-zone aware, UTC)."""
    _need("pandas", "pandas")
    frame: pandas.DataFrame = table.to_pandas()
    return frame
