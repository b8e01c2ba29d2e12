"""The files connector: the simulator's MES drops read exactly once, bad rows reported."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from pathlib import Path

from tests.sim.servers.conftest import _make_site
from werk.connectors.base import Readings
from werk.connectors.files import FilesConfig, FilesSource
from werk.connectors.files.config import FileFormat
from werk.connectors.files.mapping import parse_file
from werk.samples import Event, EventKind, batch_to_events
from werk.sim.servers.mes_files import MesFileSilo
from werk.sim.view import Silo


async def _collect(source: FilesSource, files: int) -> list[Readings]:
    out: list[Readings] = []
    async with source:
        stream = source.readings()
        while len(out) < files:
            out.append(await anext(stream))
        # resume once more: that is how a source learns the last file was taken (and marks it)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.3):
                out.append(await anext(stream))
        await stream.aclose()  # type: ignore[attr-defined]
    return out


def test_mes_drops_become_the_events_they_came_from(tmp_path: Path) -> None:
    site = _make_site(Silo.MES_FILES)
    press = site.machines[0].path
    t0 = site.now()
    site.events += [
        Event(press, t0, EventKind.ORDER, code="o-1001", product="door-left"),
        Event(press, t0, EventKind.STATE, code="executing"),
        Event(
            press,
            t0 + timedelta(seconds=30),
            EventKind.COUNT,
            product="door-left",
            good=12,
            scrap=1,
            rework=0,
        ),
        Event(
            press, t0 + timedelta(seconds=40), EventKind.STATE, code="failure", reason="die_crack"
        ),
        Event(press, t0 + timedelta(seconds=70), EventKind.STATE, code="executing"),
        Event(
            press,
            t0 + timedelta(seconds=30),
            EventKind.COUNT,
            product="door-left",
            good=-1,
            scrap=1,
            reason="crack",
        ),
    ]
    drop = tmp_path / "drop"

    async def scenario() -> list[Readings]:
        async with MesFileSilo(site, drop_dir=drop) as silo:
            site.advance(90)
            files = await silo.flush()
        config = FilesConfig(name="mes", folder=drop, poll_interval_s=0.05, settle_s=0)
        return await _collect(FilesSource(config), len(files))

    got = asyncio.run(scenario())
    events = sorted(
        (e for r in got for e in batch_to_events(r.events)), key=lambda e: (e.ts, e.kind)
    )
    kinds = [(e.kind.value, e.code, e.good, e.scrap, e.reason) for e in events]
    assert ("order", "o-1001", None, None, None) in kinds
    assert ("count", None, 12, 1, None) in kinds
    assert ("count", None, -1, 1, "crack") in kinds  # late scrap
    assert ("state", "failure", None, None, "die_crack") in kinds  # downtime interval start
    assert ("state", "executing", None, None, None) in kinds  # ... and its end
    assert all(r.origin and r.origin.startswith("files:mes:") for r in got)


def test_each_content_once_part_files_skipped_ledger_survives(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    row = "machine,produced_at,product,good,scrap,rework\n"
    body = row + "acme/wob/body/line-1/press-01,2026-03-02T06:00:30.000Z,door,5,0,0\n"
    (drop / "counts_a.csv").write_text(body, encoding="utf-8")
    (drop / ".counts_b.csv.part").write_text(body + "half", encoding="utf-8")
    config = FilesConfig(name="mes", folder=drop, poll_interval_s=0.05, settle_s=0)
    first = asyncio.run(_collect(FilesSource(config), 1))
    assert first[0].events.num_rows == 1
    (drop / "counts_copy.csv").write_text(body, encoding="utf-8")  # same content, new name
    (drop / "counts_new.csv").write_text(body.replace(",5,", ",6,"), encoding="utf-8")
    second = asyncio.run(_collect(FilesSource(config), 1))  # a new source: the ledger remembers
    assert batch_to_events(second[0].events)[0].good == 6


def test_bad_rows_name_file_line_and_field_good_rows_taken() -> None:
    fmt = FileFormat(pattern="*.csv", kind="mes_counts")
    data = (
        b"machine,produced_at,product,good,scrap,rework\n"
        b"acme/wob/body/line-1/press-01,2026-03-02T06:00:30.000Z,door,5,0,0\n"
        b"acme/wob/body/line-1/press-01,yesterday,door,5,0,0\n"
        b"acme/wob/body/line-1/press-01,2026-03-02T06:00:31.000Z,door,five,0,0\n"
        b"Not A Path,2026-03-02T06:00:31.000Z,door,1,0,0\n"
        b"acme/wob/body/line-1/press-01,2026-03-02T06:00:32.000Z,door,7,,\n"
    )
    parsed = parse_file("counts_x.csv", data, fmt)
    assert parsed.rows == 2
    assert [e.good for e in batch_to_events(parsed.readings.events)] == [5, 7]
    assert [(p.line, p.field) for p in parsed.problems] == [(3, "ts"), (4, "good"), (5, "machine")]
    assert str(parsed.problems[0]).startswith("counts_x.csv line 3, field ts")


def test_generic_json_samples_and_wide_csv() -> None:
    fmt = FileFormat(
        pattern="*.json",
        kind="samples",
        columns={"path": "m", "signal": "s", "ts": "t", "value": "v"},
        ts_format="epoch_ms",
    )
    data = (
        b'{"records": [{"m": "acme/wob/a/l1/m1", "s": "temp", "t": 1772431200000, "v": 1.5},'
        b' {"m": "acme/wob/a/l1/m1", "s": "temp", "t": 1772431201000, "v": "x"}]}'
    )
    parsed = parse_file("s.json", data, fmt)
    assert parsed.readings.samples.column("quality").to_pylist() == [0, 2]
    assert parsed.problems[0].record == 1
