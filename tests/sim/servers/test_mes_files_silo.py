"""MES file silo: the dropped CSV/JSON files hold exactly the view's events."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from werk.errors import ConfigError
from werk.samples import Event, EventKind
from werk.sim.servers import open_silo
from werk.sim.servers.mes_files import MesFileSilo
from werk.sim.servers.static import StaticSite
from werk.sim.view import STATE_CODES, MachineState, Silo

pytestmark = pytest.mark.anyio


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


async def test_drops_hold_the_events(
    make_site: Callable[[Silo], StaticSite], tmp_path: Path
) -> None:
    site = make_site(Silo.MES_FILES)
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
        ),
        Event(
            press, t0 + timedelta(seconds=40), EventKind.STATE, code="failure", reason="die_crack"
        ),
        Event(press, t0 + timedelta(seconds=70), EventKind.STATE, code="executing"),
    ]
    drop = tmp_path / "drop"
    async with open_silo(site, port=0, drop_dir=drop) as silo:
        assert isinstance(silo, MesFileSilo)
        assert silo.endpoint == drop.resolve().as_uri()
        site.advance(30)
        await silo.update()
        assert silo.files == []  # less than the interval (1 simulated minute) has passed
        site.advance(60)
        await silo.update()
        first = {p.name.split("_")[0]: p for p in silo.files}
        assert set(first) == {"orders", "counts", "downtime"}
        slug = site.path.split("/")[1]
        assert first["counts"].name == f"counts_{slug}_20260302T060130Z_000001.csv"

        assert _rows(first["counts"]) == [
            {
                "machine": press,
                "produced_at": "2026-03-02T06:00:30.000Z",
                "product": "door-left",
                "good": "12",
                "scrap": "1",
                "rework": "",
            }
        ]
        assert _rows(first["downtime"]) == [
            {
                "machine": press,
                "state": "failure",
                "state_code": str(STATE_CODES[MachineState.FAILURE]),
                "reason": "die_crack",
                "start": "2026-03-02T06:00:40.000Z",
                "end": "2026-03-02T06:01:10.000Z",
                "duration_s": "30.0",
            }
        ]
        orders = json.loads(first["orders"].read_text(encoding="utf-8"))
        assert orders["site"] == site.path
        assert orders["events"] == [
            {
                "machine": press,
                "at": "2026-03-02T06:00:00.000Z",
                "kind": "order",
                "order": "o-1001",
                "product": "door-left",
            }
        ]

        # Hours later, end-of-line inspection finds scrap among the parts made at 06:00:30.
        site.advance(3 * 3600)
        site.events.append(
            Event(
                press,
                t0 + timedelta(seconds=30),
                EventKind.COUNT,
                product="door-left",
                scrap=2,
                reason="crack",
            )
        )
        late = await silo.flush()
    assert [p.name.split("_")[0] for p in late] == ["scrap"]
    assert _rows(late[0]) == [
        {
            "machine": press,
            "produced_at": "2026-03-02T06:00:30.000Z",
            "reported_at": "2026-03-02T09:01:30.000Z",
            "product": "door-left",
            "scrap": "2",
            "reason": "crack",
        }
    ]
    # Whole files only: no temporary file is left behind.
    assert sorted(p.name for p in drop.iterdir()) == sorted(p.name for p in silo.files)


def test_mes_silo_needs_a_drop_dir(make_site: Callable[[Silo], StaticSite]) -> None:
    site = make_site(Silo.MES_FILES)
    with pytest.raises(ConfigError, match="drop folder"):
        open_silo(site, port=0)


async def test_unwritable_drop_dir_is_a_config_error(
    make_site: Callable[[Silo], StaticSite], tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    site = make_site(Silo.MES_FILES)
    with pytest.raises(ConfigError, match="drop folder"):
        async with open_silo(site, port=0, drop_dir=blocker / "sub"):
            pass
