"""Late events ingested over HTTP re-derive exactly the materialised KPI windows they touch."""

from __future__ import annotations

import json
from typing import Any

from tests.api.conftest import Api
from werk.kpi import Granularity
from werk.kpi.engine import KpiEngine

SITE = "acme/berlin"
LINE = f"{SITE}/body/line-1"
PRESS = f"{LINE}/press-01"
MODEL = f"""\
sites:
  - path: {SITE}
    timezone: Europe/Berlin
    shifts:
      - {{name: early, start: "06:00", end: "14:00"}}
      - {{name: late, start: "14:00", end: "22:00"}}
types:
  - {{name: press, ideal_cycles: {{door: 60}}}}
instances:
  - {{path: {PRESS}, type: press}}
"""
DAY = "2026-03-03"  # a Tuesday; 06:00 in Berlin is 05:00 UTC


def ingest(api: Api, *events: dict[str, Any]) -> dict[str, Any]:
    r = api.client.post(
        "/api/v1/ingest",
        content=json.dumps({"events": list(events)}),
        headers=api.headers(**{"Content-Type": "application/json"}),
    )
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def versions(api: Api, path: str) -> dict[str, tuple[int, int | None]]:
    """(version, GQ) of each materialised shift of ``path``."""
    engine: KpiEngine = api.client.app.state.kpi_engine  # type: ignore[attr-defined]
    return {
        r.window.label: (r.version, r.model.gq)
        for r in engine.materialised(path, Granularity.SHIFT)
    }


def test_a_late_scrap_correction_revises_its_shift_and_the_line(api: Api) -> None:
    r = api.client.post("/api/v1/assets", content=MODEL, headers=api.headers())
    assert r.status_code == 200, r.text
    ingest(
        api,
        {"path": PRESS, "ts": f"{DAY}T04:00:00Z", "kind": "state", "code": "executing"},
        {"path": PRESS, "ts": f"{DAY}T07:00:00Z", "kind": "count", "product": "door", "good": 300},
        {"path": PRESS, "ts": f"{DAY}T15:00:00Z", "kind": "count", "product": "door", "good": 400},
        {"path": PRESS, "ts": f"{DAY}T22:00:00Z", "kind": "state", "code": "no_order"},
    )
    params = {"path": LINE, "from": f"{DAY}T05:00:00Z", "to": f"{DAY}T21:00:00Z", "by": "shift"}
    r = api.client.get("/api/v1/kpi", params=params, headers=api.headers())
    assert r.status_code == 200, r.text
    early, late = f"{DAY} early", f"{DAY} late"
    assert versions(api, PRESS) == {early: (1, 300), late: (1, 400)}
    assert versions(api, LINE) == {early: (1, 300), late: (1, 400)}

    # End-of-line inspection finds 5 of the early shift's parts bad, hours later.
    scrap = {"path": PRESS, "ts": f"{DAY}T07:30:00Z", "kind": "count", "product": "door"}
    ingest(api, {**scrap, "good": -5, "scrap": 5, "reason": "eol"})
    assert versions(api, PRESS) == {early: (2, 295), late: (1, 400)}
    assert versions(api, LINE) == {early: (2, 295), late: (1, 400)}

    # Samples alone leave the KPIs alone.
    r = api.client.post(
        "/api/v1/ingest",
        content=json.dumps(
            {"samples": [{"path": PRESS, "signal": "force", "ts": f"{DAY}T07:31:00Z", "value": 1}]}
        ),
        headers=api.headers(**{"Content-Type": "application/json"}),
    )
    assert r.status_code == 200, r.text
    assert versions(api, PRESS) == {early: (2, 295), late: (1, 400)}
