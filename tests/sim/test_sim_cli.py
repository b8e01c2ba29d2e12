"""``werk sim``: list the fleet, write history and truth, run live behind silo servers."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from werk.cli import sim as sim_cli
from werk.errors import ConfigError
from werk.sim.fleet import Fleet
from werk.sim.runtime import Runtime
from werk.sim.view import SiteView

FleetFile = Callable[[str], Path]
runner = CliRunner()


def test_fleet_lists_machines_as_json() -> None:
    result = runner.invoke(sim_cli.app, ["fleet", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["enterprise"] == "autowerk"
    assert len(data["machines"]) == 30
    assert {m["silo"] for m in data["machines"]} == {"opcua", "modbus", "sparkplug"}


def test_fleet_table_for_people() -> None:
    result = runner.invoke(sim_cli.app, ["fleet"])
    assert result.exit_code == 0
    assert "berlin" in result.stdout
    assert "Europe/Berlin" in result.stdout


def test_history_writes_parquet_and_reports_throughput(
    fleet_file: FleetFile, small_fleet_text: str, tmp_path: Path
) -> None:
    fleet = fleet_file(small_fleet_text)
    out = tmp_path / "out"
    args = ["history", "--fleet", str(fleet), "--days", "1", "--start", "2026-03-02"]
    result = runner.invoke(sim_cli.app, [*args, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert (out / "samples/site=plant/day=2026-03-02/part.parquet").is_file()
    stats = json.loads(result.stdout[result.stdout.index("{") :])
    assert stats["samples"] == 86_400 * 22  # press 7 + welding robot 8 + tightening 7 signals
    assert stats["samples_per_s"] > 0


def test_truth_writes_only_the_truth(
    fleet_file: FleetFile, small_fleet_text: str, tmp_path: Path
) -> None:
    fleet = fleet_file(small_fleet_text)
    args = ["truth", "--fleet", str(fleet), "--days", "1", "--start", "2026-03-29"]
    result = runner.invoke(sim_cli.app, [*args, "--out", str(tmp_path / "t"), "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "t/truth/states/site=plant/part.parquet").is_file()
    assert not (tmp_path / "t/samples").exists()
    assert "truth rows" in result.stdout


def _werk(*args: str) -> tuple[int, str]:
    """Run ``werk sim ...`` as a user would; return the exit code and stderr, unwrapped."""
    result = subprocess.run(
        [sys.executable, "-m", "werk.cli", "sim", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": "400"},
    )
    return result.returncode, " ".join(result.stderr.split())


def test_a_bad_fleet_file_is_reported_with_file_line_and_field(
    fleet_file: FleetFile, small_fleet_text: str
) -> None:
    path = fleet_file(small_fleet_text.replace("Europe/Berlin", "Mars/Olympus_Mons"))
    code, stderr = _werk("fleet", "--fleet", str(path))
    assert code == 2
    assert "Traceback" not in stderr
    assert "'Mars/Olympus_Mons' is not an IANA time zone" in stderr
    assert f"file {path}, line 5, field sites[0].timezone" in stderr


def test_a_port_in_use_names_the_port_and_the_site(
    fleet_file: FleetFile, small_fleet_text: str
) -> None:
    path = fleet_file(small_fleet_text)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, stderr = _werk(
            "run", "--fleet", str(path), "--port", str(port), "--stop-after-s", "5"
        )
    assert code == 2, stderr
    assert "Traceback" not in stderr
    assert f"port {port}" in stderr
    assert "acme/plant" in stderr


class _FakeSilo:
    """An injected silo server recording what ``werk sim run`` does with it."""

    def __init__(self, site: SiteView, port: int, fail: OSError | None) -> None:
        self.site = site
        self.port = port
        self.fail = fail
        self.updates = 0
        self.endpoint = f"fake://{site.path}:{port}"
        self.seen: list[datetime] = []

    async def update(self) -> None:
        self.updates += 1
        self.seen.append(self.site.now())


def _fake_open_silo(servers: list[_FakeSilo], fail: OSError | None = None) -> sim_cli._OpenSilo:
    def open_silo(
        site: SiteView, *, host: str, port: int, mqtt_host: str, mqtt_port: int, drop_dir: Path
    ) -> contextlib.AbstractAsyncContextManager[_FakeSilo]:
        @contextlib.asynccontextmanager
        async def serve() -> AsyncIterator[_FakeSilo]:
            server = _FakeSilo(site, port, fail)
            if fail is not None:
                raise fail
            servers.append(server)
            yield server

        return serve()

    return open_silo


def test_run_updates_every_server_after_every_tick(small_fleet: Fleet) -> None:
    runtime = Runtime(small_fleet, start=datetime(2026, 3, 2, tzinfo=UTC), speed=300)
    servers: list[_FakeSilo] = []
    asyncio.run(
        sim_cli._serve(
            runtime,
            _fake_open_silo(servers),
            host="127.0.0.1",
            port=5020,
            mqtt_host="127.0.0.1",
            mqtt_port=1883,
            drop_dir=Path("drops"),
            stop_after_s=0.4,
        )
    )
    assert [s.port for s in servers] == [5020]
    assert servers[0].updates >= 5
    assert servers[0].seen == sorted(servers[0].seen)
    assert servers[0].seen[-1] > servers[0].seen[0]


def test_run_reports_a_server_that_cannot_bind(small_fleet: Fleet) -> None:
    runtime = Runtime(small_fleet, start=datetime(2026, 3, 2, tzinfo=UTC))
    failure = OSError(errno.EADDRINUSE, "Address already in use")
    with pytest.raises(ConfigError) as caught:
        asyncio.run(
            sim_cli._serve(
                runtime,
                _fake_open_silo([], failure),
                host="127.0.0.1",
                port=4840,
                mqtt_host="127.0.0.1",
                mqtt_port=1883,
                drop_dir=Path("drops"),
                stop_after_s=0.1,
            )
        )
    assert caught.value.fields["port"] == 4840
    assert caught.value.fields["site"] == "acme/plant"
