"""The HTML report in a real browser (Debian chromium via Python Playwright): drawn heatmap, drill-down, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def browser(chromium_browser: Any) -> Any:
    """The session's shared chromium (tests/conftest.py)."""
    return chromium_browser


def test_heatmap_draws_and_drills_down_offline(browser: Any, written_report: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    requests: list[str] = []
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    def route(r: Any) -> None:
        requests.append(r.request.url)
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            r.abort()

    page.route("**/*", route)
    page.goto((written_report / "report.html").as_uri())
    page.wait_for_selector("#wb-report[data-ready='1']", timeout=20_000)

    # Team x skills view first: cells drawn, the suppressed team hatched.
    cells = page.locator(".wb-heatmap .wb-cell")
    assert cells.count() > 12
    assert page.locator(".wb-heatmap .wb-suppressed").count() >= 12  # the small team x 13 skills (+ thin cells)
    assert "suppressed (n<5)" in page.locator(".wb-heatmap-box").inner_text()

    # Click the first "everyone" cell: members and evidence appear in the drill-down panel.
    page.locator(".wb-cell[data-r='0'][data-c='0']").click()
    drill = page.locator("#wb-drill")
    assert "Members" in drill.inner_text() and "Latest evidence" in drill.inner_text()
    assert drill.locator("table.wb-table").count() == 2

    # People view, gap colouring: a click lists the evidence with its event ids.
    page.select_option(".wb-view", "people")
    page.select_option(".wb-mode", "gap")
    first = page.locator(".wb-heatmap .wb-cell:not(.wb-empty):not(.wb-suppressed)").first
    first.hover()
    assert "level" in page.locator(".wb-hover").inner_text()
    first.click()
    text = drill.inner_text()
    assert "Evidence, newest first" in text and "event id" in text
    rows = drill.locator("table.wb-table tbody tr")
    assert rows.count() >= 1
    assert len(rows.first.locator("td").last.inner_text()) == 36  # a UUID event id

    # A suppressed team cell says so instead of showing data.
    page.select_option(".wb-view", "teams")
    page.locator(".wb-heatmap .wb-suppressed").first.click()
    assert "suppressed (n<5)" in drill.inner_text()

    # The other tabs render.
    page.click("[data-tab=trends]")
    assert page.locator(".wb-trend polyline").count() >= 2
    page.click("[data-tab=outcomes]")
    assert "median time to complete s" in page.locator("[data-panel=outcomes]").inner_text()
    # About: the skills table lists each skill's public ids (shown as text; nothing is fetched from them).
    page.click("[data-tab=about]")
    about = page.locator("[data-panel=about]").inner_text()
    assert "onet: 2.B.4.h" in about
    assert "esco: http://data.europa.eu/esco/skill/33a82b83-c838-4889-ae62-fae1317481eb" in about

    assert not errors, errors
    assert all(u.startswith("file://") for u in requests), requests
    page.close()
