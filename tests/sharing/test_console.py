"""The data-sharing console in a real browser: the owner offers, the consumer requests and reads,
the owner sees the access and revokes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import unavailable
from tests.sharing.conftest import ROBOT, World

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        unavailable("Debian's chromium is not installed at /usr/bin/chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


def console(browser: Browser, world: World, who: str, errors: list[str]) -> Page:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{world.url}/#/login")
    page.fill("#api-key", world.keys[who])
    page.click("#use-key")
    page.wait_for_function("() => !location.hash.startsWith('#/login')")
    page.goto(f"{world.url}/#/sharing")
    page.wait_for_selector("[data-testid=owner]")
    return page


# the console is the same on both backends: one run (DuckDB) is enough
@pytest.mark.parametrize("world", ["duckdb"], indirect=True)
def test_offer_request_read_revoke(browser: Browser, world: World, tmp_path: Path) -> None:
    errors: list[str] = []
    owner = console(browser, world, "acme", errors)
    asset = f"ui-{uuid.uuid4().hex[:6]}"
    owner.fill("#asset-id", asset)
    owner.fill("#asset-scope", ROBOT)
    owner.fill("#asset-categories", "raw")
    owner.click("#asset-register")
    owner.wait_for_selector(f"[data-testid=assets] tr[data-id='{asset}']")
    owner.select_option("#offer-asset", asset)
    owner.check("#offer-auto")
    owner.click("#offer-publish")
    owner.wait_for_function(
        "n => document.querySelectorAll('[data-testid=offers] tbody tr').length >= n", arg=1
    )

    consumer = console(browser, world, "kuka", errors)
    row = consumer.locator("[data-testid=catalog] tbody tr", has_text=asset)
    row.locator("[data-action=request]").click()
    consumer.wait_for_selector("[data-testid=held] [data-action=read]")
    consumer.locator("[data-testid=held] [data-action=read]").first.click()
    consumer.wait_for_selector("[data-testid=read-result] p:not(.muted)")
    assert "rows of" in consumer.inner_text("[data-testid=read-result]")
    consumer.screenshot(path=str(tmp_path / "consumer.png"), full_page=True)

    owner.reload()
    owner.wait_for_selector("[data-testid=given] [data-action=revoke]")
    log = owner.inner_text("[data-testid=audit]")
    assert "kuka" in log
    assert "agreement.active" in log
    owner.locator("[data-testid=given] tbody tr", has_text=asset).locator(
        "[data-action=revoke]"
    ).click()
    owner.wait_for_function(
        "a => [...document.querySelectorAll('[data-testid=given] tbody tr')]"
        ".some(r => r.innerText.includes(a) && r.innerText.includes('revoked'))",
        arg=asset,
    )
    consumer.reload()
    consumer.wait_for_selector("[data-testid=held]")
    assert "revoked" in consumer.inner_text("[data-testid=held]")
    assert not errors, json.dumps(errors)
