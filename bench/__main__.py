"""``python -m bench``: measure werk beside its peers and write ``bench/RESULTS.md``.

``--smoke`` runs every measurement at a tiny scale in seconds (the test suite does, so the
benchmark cannot rot); its figures mean nothing and it writes no RESULTS.md unless ``--out``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console

from bench import report
from bench.scale import FULL, SMOKE
from bench.suite import DEFAULT_PG_ADMIN_URL, Options, run

HERE = Path(__file__).resolve().parent


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; seconds, not minutes")
    parser.add_argument("--out", type=Path, help="where to write the Markdown results")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=Path(".werk/bench/run"),
        help="scratch directory for store files and server logs (emptied first, removed after)",
    )
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get("WERK_BENCH_PG_URL", DEFAULT_PG_ADMIN_URL),
        help="PostgreSQL database to connect to for creating the benchmark's own database",
    )
    parser.add_argument("--pg-database", default="werk_bench", help="database to create and drop")
    parser.add_argument("--influx-database", default="werk_bench", help="InfluxDB database")
    parser.add_argument(
        "--compression", choices=["zstd", "lz4"], default="zstd", help="Arrow IPC buffers"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the tables; write the Markdown results."""
    args = parse(argv)
    # Piped (make bench | tee), rich would wrap the tables at 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 150)
    options = Options(
        scale=SMOKE if args.smoke else FULL,
        work_dir=args.work_dir,
        pg_admin_url=args.pg_admin_url,
        pg_database=args.pg_database,
        influx_database=args.influx_database,
        compression=args.compression,
        console=console,
    )
    results = run(options)
    report.render(results, console)
    out = args.out or (None if args.smoke else HERE / "RESULTS.md")
    if out is not None:
        report.write_markdown(results, out)
        console.print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
