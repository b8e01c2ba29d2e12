"""Describe a folder of shop-floor exports: which files are what, and how their columns map.

A ``files`` source watches one folder. Each entry of ``formats`` says which file names (a glob)
hold which kind of content:

==============  ==============================================================================
kind            content
==============  ==============================================================================
mes_counts      werk's MES export of parts made (``machine,produced_at,product,good,...``)
mes_scrap       late scrap found at inspection (``machine,produced_at,reported_at,...``)
mes_downtime    closed downtime intervals (``machine,state,state_code,reason,start,end,...``)
mes_orders      order and product changes (JSON ``{"events": [...]}``)
samples         generic long table: one value per row; ``columns`` maps path, signal, ts,
                value (and optionally quality) to the file's column names or JSON keys
events          generic events: ``columns`` maps path, ts, kind, code, reason, product, good,
                scrap, rework, active
wide            one row per time, one column per point: ``columns`` maps ts, and each point of
                ``devices`` names its ``column``
==============  ==============================================================================

``constants`` give a field a fixed value instead of a column (``{path: acme/wob/..., kind:
count}``). CSV files have a header row; JSON files are a list of objects or an object whose
``records`` key holds that list.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from werk.connectors.base import Point, SourceConfig

Kind = Literal["mes_counts", "mes_scrap", "mes_downtime", "mes_orders", "samples", "events", "wide"]


class FileFormat(BaseModel):
    """Which files of the folder hold which content."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str = Field(description="Glob of file names, e.g. counts_*.csv.")
    kind: Kind = Field(description="What the files hold (see the module docstring).")
    columns: dict[str, str] = Field(
        default_factory=dict, description="Field → column name (CSV) or key (JSON)."
    )
    constants: dict[str, str] = Field(
        default_factory=dict, description="Field → fixed value for every row."
    )
    ts_format: Literal["iso", "epoch_s", "epoch_ms", "epoch_ns"] = Field(
        default="iso", description="How times are written: ISO 8601 with zone, or epoch numbers."
    )
    records: str = Field(default="records", description="JSON key of the list of rows.")
    delimiter: str = Field(default=",", min_length=1, max_length=1, description="CSV delimiter.")


MES_FORMATS: tuple[FileFormat, ...] = (
    FileFormat(pattern="counts_*.csv", kind="mes_counts"),
    FileFormat(pattern="scrap_*.csv", kind="mes_scrap"),
    FileFormat(pattern="downtime_*.csv", kind="mes_downtime"),
    FileFormat(pattern="orders_*.json", kind="mes_orders"),
)
"""The exports of werk's simulated MES (``werk.sim.servers.mes_files``): the default formats."""


class FilePoint(Point):
    """A point read from a column of a ``wide`` file."""

    column: str = Field(description="Column (CSV) or key (JSON) holding the point's values.")


class FileDevice(BaseModel):
    """A device whose points are columns of ``wide`` files."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="Asset path of the device.")
    points: list[FilePoint] = Field(default_factory=list, description="The device's columns.")


class FilesConfig(SourceConfig):
    """A folder of CSV/JSON exports read exactly once each (by content hash)."""

    type: Literal["files"] = "files"
    folder: Path = Field(description="Folder to watch (relative to the plant file).")
    poll_interval_s: float = Field(default=1.0, gt=0, description="Seconds between listings.")
    settle_s: float = Field(
        default=0.5,
        ge=0,
        description="A file is read only when unchanged this long (for writers without rename).",
    )
    ledger: Path | None = Field(
        default=None,
        description="SQLite file remembering processed content hashes "
        "(default: .werk-files-<name>.sqlite in the folder).",
    )
    formats: list[FileFormat] = Field(
        default_factory=lambda: list(MES_FORMATS), description="Which files are what."
    )
    devices: list[FileDevice] = Field(default_factory=list, description="Points of wide files.")

    @field_validator("folder", "ledger")
    @classmethod
    def _relative(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None or value.is_absolute():
            return value
        base = (info.context or {}).get("base_dir")
        return Path(base) / value if base is not None else value

    def ledger_path(self) -> Path:
        """Return the ledger file."""
        return self.ledger or self.folder / f".werk-files-{self.name}.sqlite"

    def points(self) -> Sequence[Point]:
        """Every point of the wide formats' devices."""
        return [p for d in self.devices for p in d.points]
