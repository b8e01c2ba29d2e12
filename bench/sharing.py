"""Benchmark the read door: decision overhead per read beside the read it guards.

For each backend a store holds one machine's day of samples (5 signals, one per second; one per
10 s in smoke mode). The same one-day range read is made by the owner (decided by roles) and by a
machine builder under an agreement (purpose, signal allow-list, data window; every decision
audited through the batched hash-chained log), in the same run. Reported: decision overhead
p50/p95 (``door.decide`` + ``door.record``, the audit append queued), the same with a ``count``
constraint (one atomic store increment per read), the read itself, and the decision's share of
it. Targets (issue 7): decision p50 < 1 ms and < 5 % of a one-day range read.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import quantiles
from tempfile import TemporaryDirectory

import numpy as np
import pyarrow as pa

from bench.report import Section
from werk.samples import SAMPLE_SCHEMA
from werk.sharing.catalog import DataAsset
from werk.sharing.door import Category, ReadKind, ReadRequest
from werk.sharing.enforcement import open_door
from werk.sharing.exchange import Exchange
from werk.sharing.negotiation import Message
from werk.sharing.participants import Participant, ParticipantKind, Participants
from werk.sharing.principal import Grant, Principal, Role
from werk.store import Store, open_store

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
DAY = datetime(2026, 11, 20, tzinfo=UTC)
MACHINE = "acme/wob/body/line-1/robot-01"
SIGNALS = ("temp", "current", "vibration", "torque", "speed")
OWNER = Principal("eng", Role.ENGINEER, "acme", (Grant("acme/wob", Role.ENGINEER),), kind="user")
OEM = Principal("svc", Role.VIEWER, "kuka", (), kind="key")
CM = "condition-monitoring"


@contextmanager
def postgres(admin_url: str) -> Iterator[str | None]:
    """Yield the URL of a scratch PostgreSQL database (None when PostgreSQL is not there)."""
    try:
        import psycopg

        name = f"werk_share_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
    except Exception:  # no server here: the column says so
        yield None
        return
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def day_of_samples(step_s: int) -> pa.Table:
    """One machine, five signals, one day, a sample every ``step_s`` seconds."""
    start = np.datetime64(DAY.replace(tzinfo=None), "ns")
    ts = np.arange(start, start + np.timedelta64(1, "D"), np.timedelta64(step_s, "s"))
    n = len(ts)
    rng = np.random.default_rng(7)
    parts = [
        pa.table(
            {
                "path": pa.array([MACHINE] * n),
                "signal": pa.array([signal] * n),
                "ts": pa.array(ts, pa.timestamp("ns", tz="UTC")),
                "value": pa.array(rng.normal(50, 5, n)),
                "quality": pa.array(np.zeros(n, dtype=np.uint8)),
            },
            schema=SAMPLE_SCHEMA,
        )
        for signal in SIGNALS
    ]
    return pa.concat_tables(parts)


def agreement(exchange: Exchange, constraints: list[dict[str, object]]) -> str:
    """Offer the machine to kuka (pre-approved) and return the agreement made."""
    owner = Principal("admin", Role.ADMIN, "acme", (Grant("acme/wob", Role.ADMIN),))
    asset_id = f"b-{uuid.uuid4().hex[:8]}"
    exchange.create_asset(
        owner,
        DataAsset(asset_id, "acme", MACHINE, frozenset({Category.RAW})).body(),
    )
    offer = exchange.publish(
        owner,
        asset_id,
        {"permission": [{"action": "use", "constraint": constraints}]},
        auto_accept=True,
    )
    asked = exchange.request(OEM, {"offer": {"@id": offer.id}})
    done = exchange.receive(OEM, str(asked["providerPid"]), Message.VERIFICATION, {})
    return str(done["agreement_id"])


def timings(fn: Callable[[], object], n: int, warm: int = 5) -> list[float]:
    """Run ``fn`` ``n`` times (after ``warm`` warm-ups); return seconds per call."""
    for _ in range(warm):
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def p(values: list[float], q: int) -> float:
    """Return the q-th percentile."""
    return quantiles(values, n=100, method="inclusive")[q - 1]


def measure(store: Store, smoke: bool) -> dict[str, float]:
    """Measure one backend; return seconds by figure name."""
    registry = Participants(store)
    registry.create(Participant("acme", "ACME", ParticipantKind.PLANT_OPERATOR, ("acme/wob",)))
    registry.create(Participant("kuka", "KUKA", ParticipantKind.MACHINE_BUILDER, ()))
    store.write("bench-sharing", day_of_samples(10 if smoke else 1))
    door, exchange = open_door(store)
    try:
        plain = agreement(
            exchange,
            [
                {"leftOperand": "purpose", "operator": "eq", "rightOperand": CM},
                {"leftOperand": "signal", "operator": "isAnyOf", "rightOperand": list(SIGNALS)},
                {"leftOperand": "dataAge", "operator": "lteq", "rightOperand": "P3650D"},
            ],
        )
        n = 200 if smoke else 2000
        counted = agreement(
            exchange,
            [
                {"leftOperand": "purpose", "operator": "eq", "rightOperand": CM},
                {"leftOperand": "count", "operator": "lteq", "rightOperand": 10 * n},
            ],
        )
        window = {"start": DAY, "end": DAY + timedelta(days=1)}
        as_owner = ReadRequest(ReadKind.RANGE, MACHINE, **window)  # type: ignore[arg-type]
        as_oem = ReadRequest(ReadKind.RANGE, MACHINE, agreement=plain, purpose=CM, **window)  # type: ignore[arg-type]
        as_counted = ReadRequest(ReadKind.RANGE, MACHINE, agreement=counted, purpose=CM, **window)  # type: ignore[arg-type]

        def decide(principal: Principal, request: ReadRequest) -> Callable[[], object]:
            def once() -> object:
                decision = door.decide(principal, request)
                assert decision.permitted, decision.reasons
                door.record(decision, 0)
                return decision

            return once

        def read(principal: Principal, request: ReadRequest) -> Callable[[], object]:
            def once() -> object:
                decision, scope = door.check(principal, request)
                start, end = scope.window(request.start, request.end)
                assert start is not None
                assert end is not None
                table = store.range(
                    MACHINE, start, end, signals=sorted(scope.signals) if scope.signals else None
                )
                door.record(decision, table.num_rows)
                return table

            return once

        figures = {
            "owner decision": timings(decide(OWNER, as_owner), n),
            "agreement decision": timings(decide(OEM, as_oem), n),
            "count decision": timings(decide(OEM, as_counted), max(50, n // 10)),
            "owner read": [],
            "agreement read": [],
        }
        exchange.audit.flush()  # the decisions' records are written before the reads start
        # the two reads alternate, so neither profits alone from a warmer cache
        owner_read, oem_read = read(OWNER, as_owner), read(OEM, as_oem)
        for _ in range(5 if smoke else 15):
            figures["owner read"] += timings(owner_read, 1, warm=0)
            figures["agreement read"] += timings(oem_read, 1, warm=0)
        exchange.audit.flush()
    finally:
        exchange.close()
    out: dict[str, float] = {}
    for name, values in figures.items():
        out[f"{name} p50"] = p(values, 50)
        out[f"{name} p95"] = p(values, 95)
    out["rows"] = float(store.audit_length())
    return out


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.3f} ms" if value < 0.01 else f"{value * 1000:,.1f} ms"


def run(smoke: bool, pg_admin_url: str = DEFAULT_PG) -> list[list[str]]:
    """Measure on DuckDB and PostgreSQL; return the table rows."""
    figures: dict[str, dict[str, float]] = {}
    with TemporaryDirectory() as tmp, postgres(pg_admin_url) as pg:
        urls = [("duckdb", f"duckdb:///{Path(tmp) / 'sharing.duckdb'}")]
        if pg is not None:
            urls.append(("postgres", pg))
        for name, url in urls:
            store = open_store(url)
            try:
                figures[name] = measure(store, smoke)
            finally:
                store.close()
    samples = 5 * 86_400 // (10 if smoke else 1)
    rows: list[list[str]] = []
    labels = [
        ("owner decision", "owner: decision by roles (decide + audit)"),
        ("agreement decision", "machine builder: decision under an agreement (decide + audit)"),
        ("count decision", "machine builder: same with a count constraint (atomic increment)"),
        ("owner read", f"owner: one-day range read through the door ({samples:,} samples)"),
        ("agreement read", "machine builder: the same read under the agreement"),
    ]
    for key, label in labels:
        for q in ("p50", "p95"):
            row = [f"{label} {q}"]
            for name in ("duckdb", "postgres"):
                row.append(_ms(figures.get(name, {}).get(f"{key} {q}")))
            rows.append(row)
    share = ["decision p50 / one-day read p50 (machine builder)"]
    for name in ("duckdb", "postgres"):
        got = figures.get(name)
        if got is None:
            share.append("—")
        else:
            share.append(f"{got['agreement decision p50'] / got['agreement read p50']:.3%}")
    rows.append(share)
    return rows


def section(*, smoke: bool, pg_admin_url: str = DEFAULT_PG) -> Section:
    """The sharing table of a bench run."""
    return Section(
        "Sharing: read-door decision overhead (agreements, audit)",
        ["measurement", "werk · DuckDB", "werk · PostgreSQL"],
        run(smoke, pg_admin_url),
        [
            "Targets: decision p50 < 1 ms and < 5 % of a one-day range read. In-process (no "
            "HTTP); the audit record is queued and written in batches every 50 ms by a "
            "background thread (block on overflow, never drop), as in the server.",
            "The peer is the owner's own read of the same data in the same run: the door "
            "decides it by roles and audits it too.",
            "A count constraint costs one atomic counter update in the store per read "
            "(exact across processes); agreements without one never write on the read path.",
        ],
    )


def sections(*, smoke: bool, pg_admin_url: str = DEFAULT_PG) -> list[Section]:
    """The sharing benchmark as the suite's list of sections."""
    return [section(smoke=smoke, pg_admin_url=pg_admin_url)]
