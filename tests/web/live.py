"""A live ``werk serve`` with a small simulated history: the default fleet's three sites over
the last day, ingested over HTTP like the demo does, and its asset model loaded."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.api.test_crash import ADMIN, Server

ARROW = "application/vnd.apache.arrow.stream"
SAMPLE_PERIOD_S = 60


@dataclass
class Live:
    """A running server, its history's time span and the fleet's site paths."""

    server: Server
    start: datetime
    end: datetime
    sites: list[str]
    machines: list[str]

    @property
    def url(self) -> str:
        return self.server.url

    def headers(self, key: str = ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


def history_start(now: datetime | None = None, hours: int = 24) -> datetime:
    """Return a start on whole ten minutes so the history ends about now."""
    now = now or datetime.now(UTC)
    floor = now.replace(minute=now.minute - now.minute % 10, second=0, microsecond=0)
    return floor - timedelta(hours=hours)


def load(server: Server, folder: Path) -> Live:
    """Simulate a day of the default fleet into ``folder`` and load it into ``server``."""
    from werk.assets.document import dump_assets
    from werk.cli.demo import _batches
    from werk.sim.assets import asset_model
    from werk.sim.fleet import default_fleet_path, load_fleet
    from werk.sim.history import write_history

    text = re.sub(
        r"^sample_period:.*$",
        f"sample_period: {SAMPLE_PERIOD_S}",
        default_fleet_path().read_text(),
        flags=re.M,
    )
    (folder / "fleet.yaml").write_text(text)
    fleet = load_fleet(folder / "fleet.yaml")
    start = history_start()
    write_history(fleet, start, 1, folder / "history", truth=False, overwrite=True)
    model = asset_model(fleet)
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {ADMIN}"}) as c:
        c.post(
            "/api/v1/assets",
            content=dump_assets(model).encode(),
            headers={"Content-Type": "application/yaml"},
        ).raise_for_status()
        for kind in ("samples", "events"):
            for index, item in enumerate(_batches(folder / "history" / kind)):
                body = item[0] if isinstance(item, tuple) else item  # (body, rows) in newer demos
                c.post(
                    "/api/v1/ingest",
                    content=body,
                    headers={"Content-Type": ARROW, "Idempotency-Key": f"t:{kind}:{index}"},
                    timeout=60,
                ).raise_for_status()
    return Live(
        server,
        start,
        start + timedelta(days=1),
        sorted(s.path for s in fleet.sites),
        sorted(i.path for i in model.instances),
    )
