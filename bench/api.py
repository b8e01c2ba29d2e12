"""Benchmark the API under concurrent load beside the same query made directly on the store.

Three views a dashboard asks for: the fleet overview, a machine trend (the whole history in
one-minute buckets) and a site's OEE per shift. Each is requested by 1, 10 and 50 concurrent
httpx clients on 127.0.0.1 against a real ``werk serve`` process; p50/p95/p99 latencies are
printed beside the direct call (store or KPI engine in the benchmark's process, same data file)
measured in the same run.

``python -m bench.api --days 2 --requests 50`` runs it alone.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.report import Section


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _load(
    url: str, route: str, params: dict[str, str], key: str, clients: int, requests: int
) -> list[float]:
    times: list[float] = []
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as client:

        async def worker() -> None:
            while len(times) < requests:
                began = time.perf_counter()
                answer = await client.get(route, params=params)
                answer.raise_for_status()
                times.append(time.perf_counter() - began)

        await asyncio.gather(*(worker() for _ in range(clients)))
    return times


def _direct(fn: Callable[[], object], n: int) -> list[float]:
    times = []
    for _ in range(n):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return times


def sections(*, smoke: bool, pg_admin_url: str) -> list[Section]:
    """Run the API latency benchmark; ``smoke`` uses one day and fewer requests."""
    return [measure(days=1 if smoke else 7, requests=10 if smoke else 200)]


def measure(*, days: int, requests: int) -> Section:
    """Measure the three views over ``days`` of history, ``requests`` per load level.

    The server is its own ``werk serve`` process, as in production: in the benchmark's process
    the load generator (httpx reading megabyte answers for 50 clients) would share the server's
    GIL and be measured with it. DuckDB admits one process per file, so the direct peers are
    measured after the server stopped, on the same file.
    """
    from bench.server import Server
    from werk.assets.document import dump_assets
    from werk.cli.demo import _batches
    from werk.kpi.calendar import Granularity
    from werk.kpi.engine import KpiEngine
    from werk.sim.assets import asset_model
    from werk.sim.fleet import default_fleet_path, load_fleet
    from werk.sim.history import write_history
    from werk.store import open_store

    folder = Path(tempfile.mkdtemp(prefix="werk-bench-api-"))
    text = re.sub(
        r"^sample_period:.*$", "sample_period: 60", default_fleet_path().read_text(), flags=re.M
    )
    (folder / "fleet.yaml").write_text(text)
    fleet = load_fleet(folder / "fleet.yaml")
    now = datetime.now(UTC)
    start = now.replace(minute=now.minute - now.minute % 10, second=0, microsecond=0) - timedelta(
        days=days
    )
    write_history(fleet, start, days, folder / "history", truth=False)
    store_url = f"duckdb:///{folder / 'werk.duckdb'}"
    model = asset_model(fleet)
    machine = model.instances[0].path
    site = fleet.sites[0].path
    lo, hi = start, start + timedelta(days=days)
    views: list[tuple[str, str, dict[str, str]]] = [
        ("fleet overview", "/api/v1/overview", {}),
        (
            f"machine trend, {days} d in 1 min buckets",
            "/api/v1/range",
            {"path": machine, "from": lo.isoformat(), "to": hi.isoformat(), "bucket": "1m"},
        ),
        (
            f"site shift OEE, {days} d",
            "/api/v1/kpi",
            {"path": site, "from": lo.isoformat(), "to": hi.isoformat(), "by": "shift"},
        ),
    ]
    loads: dict[tuple[str, int], list[float]] = {}
    with Server(store_url, folder / "server", folder / "server.log") as server:
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=120) as c:
            c.post(
                "/api/v1/assets",
                content=dump_assets(model).encode(),
                headers={"Content-Type": "application/yaml"},
            ).raise_for_status()
            for kind in ("samples", "events"):
                for i, item in enumerate(_batches(folder / "history" / kind)):
                    body = item[0] if isinstance(item, tuple) else item
                    c.post(
                        "/api/v1/ingest",
                        content=body,
                        headers={
                            "Content-Type": "application/vnd.apache.arrow.stream",
                            "Idempotency-Key": f"b:{kind}:{i}",
                        },
                    ).raise_for_status()
        for title, route, params in views:
            asyncio.run(_load(server.url, route, params, server.key, 1, 2))  # warm up
            for clients in (1, 10, 50):
                loads[title, clients] = asyncio.run(
                    _load(server.url, route, params, server.key, clients, requests)
                )
    store = open_store(store_url)
    try:
        engine = KpiEngine(store, model)
        direct: list[Callable[[], object]] = [
            lambda: store.latest(None, None),
            lambda: store.range(machine, lo, hi, bucket=timedelta(minutes=1)),
            lambda: engine.results(site, lo, hi, Granularity.SHIFT),
        ]
        peers = [_direct(fn, max(3, requests // 10)) for fn in direct]
    finally:
        store.close()
    rows: list[list[str]] = []
    for (title, _, _), peer in zip(views, peers, strict=True):
        rows.append([title, "store (direct)", "1", *_percentiles(peer)])
        for clients in (1, 10, 50):
            rows.append(
                [title, "API over HTTP", str(clients), *_percentiles(loads[title, clients])]
            )
    return Section(
        title="API latency under concurrent load (127.0.0.1)",
        header=["view", "path", "clients", "p50 ms", "p95 ms", "p99 ms"],
        rows=rows,
        notes=[
            f"default fleet ({len(fleet.sites)} sites, {len(model.instances)} machines), "
            f"{days} d at 60 s samples, DuckDB; {requests} requests per level; `werk serve` in "
            "its own process, httpx clients in the benchmark's",
            "direct peer of the overview: its heaviest store read (latest of every "
            "series); its KPI part is cached 15 s, so under load it is mostly that read",
            "identical requests in flight at once share one computation (werk.api.flights), "
            "never one that began before they arrived; each is still decided and audited",
        ],
    )


def _percentiles(times: list[float]) -> list[str]:
    return [f"{_pct(times, q) * 1000:.1f}" for q in (0.5, 0.95, 0.99)]


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.api --days 2 --requests 50``: this benchmark alone, printed."""
    import argparse

    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__)
    parser.add_argument("--days", type=int, default=7, help="days of history")
    parser.add_argument("--requests", type=int, default=200, help="requests per load level")
    args = parser.parse_args(argv)
    section = measure(days=args.days, requests=args.requests)
    table = Table(*section.header, title=section.title, caption="; ".join(section.notes))
    for row in section.rows:
        table.add_row(*row)
    Console(width=150).print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
