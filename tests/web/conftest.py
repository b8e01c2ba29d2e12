"""One live server with a day of simulated history per test module, and a headless chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.test_crash import Server
from tests.conftest import unavailable
from tests.web.live import Live, load

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("web")
    server = Server(f"duckdb:///{folder / 'werk.duckdb'}", folder)
    server.start()
    try:
        yield load(server, folder)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    """Where screenshots are kept (printed, so a CI run can upload them)."""
    folder = Path(os.environ.get("WERK_TEST_ARTIFACTS", ".werk/test-artifacts")) / "web"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots in {folder.resolve()}")
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        unavailable("Debian's chromium is not installed at /usr/bin/chromium (make install)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()
