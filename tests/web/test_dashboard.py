"""The dashboard in a real browser (Debian's chromium, headless) against a live ``werk serve``:
sign in, see every site, drill down to a machine, see the trend, the state timeline and the OEE
view render with data. Screenshots are kept under ``.werk/test-artifacts/web``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.api.test_crash import ADMIN
from tests.web.live import Live

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow


def signed_in(browser: Browser, live: Live) -> Page:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live.url}/")
    page.wait_for_selector("#login-key")  # the login wall comes first
    page.fill("#api-key", ADMIN)
    page.click("#use-key")
    page.wait_for_selector("[data-testid=sites] [data-testid=child-card]")
    assert not errors, errors
    return page


def test_login_rejects_a_wrong_key(browser: Browser, live: Live, artifacts: Path) -> None:
    page = browser.new_page()
    page.goto(f"{live.url}/#/login")
    page.fill("#api-key", "not-a-key")
    page.click("#use-key")
    page.wait_for_selector(".error:not(:empty)")
    assert "not known" in page.inner_text(".error")
    page.screenshot(path=str(artifacts / "login-rejected.png"))
    page.close()


def test_fleet_overview_shows_every_site(browser: Browser, live: Live, artifacts: Path) -> None:
    page = signed_in(browser, live)
    cards = page.locator("[data-testid=sites] [data-testid=child-card]")
    assert sorted(cards.evaluate_all("els => els.map(e => e.dataset.path)")) == live.sites
    # every site shows its OEE this week as a number and a coloured machine-state bar
    for site in live.sites:
        card = page.locator(f"[data-testid=child-card][data-path='{site}']")
        assert "%" in card.locator(".kpi .v").nth(1).inner_text()
        assert card.locator(".bar span[data-state]").count() >= 1
    page.screenshot(path=str(artifacts / "fleet.png"), full_page=True)
    page.close()


def test_drill_down_to_a_machine_shows_trend_and_states(
    browser: Browser, live: Live, artifacts: Path
) -> None:
    page = signed_in(browser, live)
    site = live.sites[0]
    page.click(f"[data-testid=child-card][data-path='{site}'] h3 a")
    page.wait_for_selector("[data-testid=children] [data-testid=child-card]")
    page.locator("[data-testid=children] [data-testid=child-card] h3 a").first.click()  # area
    page.wait_for_selector("[data-testid=children] [data-testid=child-card]")
    page.locator("[data-testid=children] [data-testid=child-card] h3 a").first.click()  # line
    page.wait_for_selector("[data-testid=timeline] rect[data-code]")
    page.screenshot(path=str(artifacts / "line.png"), full_page=True)
    tile = page.locator("[data-testid=machines] .tile").first
    machine = tile.get_attribute("data-path")
    assert machine in live.machines
    tile.click()
    page.wait_for_selector("[data-testid=trend] path[data-series]")
    drawn = page.locator("[data-testid=trend] path[data-series]").first.get_attribute("d") or ""
    assert drawn.count("L") > 50  # a day of 1-minute buckets makes a real line
    assert page.locator("[data-testid=timeline] rect[data-code]").count() >= 1
    assert page.locator("[data-testid=signals] tbody tr").count() >= 3
    page.screenshot(path=str(artifacts / "machine.png"), full_page=True)
    # zoom by dragging across the middle of the trend: the server answers narrower buckets
    box = page.locator("[data-testid=trend] svg").bounding_box()
    assert box is not None
    before = page.inner_text("[data-testid=trend] ~ * .muted, .toolbar .muted")
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + 50)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + 60, steps=5)
    page.mouse.up()
    page.wait_for_function(
        "before => document.querySelector('.toolbar .muted').textContent !== before", arg=before
    )
    assert "1m buckets" not in page.inner_text(".toolbar .muted")
    page.screenshot(path=str(artifacts / "machine-zoomed.png"), full_page=True)
    page.close()


def test_oee_view_renders_shifts_losses_and_pareto(
    browser: Browser, live: Live, artifacts: Path
) -> None:
    page = signed_in(browser, live)
    page.goto(f"{live.url}/#/oee/{live.sites[0]}?days=1")
    page.wait_for_selector("[data-testid=oee-shifts] rect.bar-oee")
    assert page.locator("[data-testid=shift-table] tbody tr").count() >= 1
    assert page.locator("[data-testid=waterfall] rect.step").count() >= 3
    assert page.locator("[data-testid=pareto] rect.cause").count() >= 1
    page.screenshot(path=str(artifacts / "oee.png"), full_page=True)
    page.goto(f"{live.url}/#/benchmark")
    page.wait_for_selector("[data-testid=benchmark] tbody tr")
    assert page.locator("[data-testid=benchmark] tbody tr").count() == len(live.sites)
    page.screenshot(path=str(artifacts / "benchmark.png"), full_page=True)
    page.close()
