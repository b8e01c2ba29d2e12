"""Describe the machine and the software a run measured, for the record beside its figures."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

import werk


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


@dataclass(slots=True)
class Machine:
    """Hardware and versions of one run."""

    date: datetime
    cores: int
    cpu: str
    memory_gib: float
    kernel: str
    load_start: float
    """1-minute load average when the run began: other work on the machine skews figures."""
    load_end: float | None = None
    versions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def describe(cls) -> Machine:
        """Describe this machine; server versions are added as the run meets them."""
        return cls(
            date=datetime.now(UTC),
            cores=os.cpu_count() or 0,
            cpu=_cpu_model(),
            memory_gib=_memory_gib(),
            kernel=platform.release(),
            load_start=os.getloadavg()[0],
            versions={
                "werk": werk.__version__,
                "Python": platform.python_version(),
                "DuckDB": duckdb.__version__,
                "PyArrow": pa.__version__,
            },
        )

    def finish(self) -> None:
        """Note the load average as the run ends."""
        self.load_end = os.getloadavg()[0]

    def lines(self) -> list[str]:
        """The description as ``name: value`` lines."""
        return [
            f"date: {self.date.strftime('%Y-%m-%d %H:%M UTC')}",
            f"CPU: {self.cpu}, {self.cores} cores",
            f"memory: {self.memory_gib:.1f} GiB",
            f"kernel: Linux {self.kernel}",
            f"load average (1 min) at start: {self.load_start:.1f}"
            + ("" if self.load_end is None else f", at end: {self.load_end:.1f}")
            + f" (on {self.cores} cores; above 0 means other work shared the machine)",
            "versions: " + ", ".join(f"{k} {v}" for k, v in self.versions.items()),
        ]
