"""A manager in real JupyterLab: the sidebar's team skills-gap report, small teams suppressed, drill-down to evidence.

The lab's owner (``mia``) is in ``WorkbenchApp.manager_users``; its telemetry store holds the demo cohort
(``datasets/skills/demo-cohort.yaml``, 30 learners: two regular teams and a 3-person team below the minimum group
size of 5), written through the public ``workbench.skills.generate_cohort``. The learner's view (no report) is
checked in test_workbench_ui.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from wb_lab import TOKEN, Lab, lab_page, make_lab, running, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MANAGER = "mia"


@pytest.fixture(scope="module")
def cohort_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, Any]]:
    """A lab whose owner is a manager, over a store seeded with the demo cohort."""
    from workbench.playbooks import task_skill_weights
    from workbench.skills import generate_cohort, load_cohort_spec

    lab = make_lab(tmp_path_factory.mktemp("manager-lab"), learner=MANAGER,
                   args=[f"--WorkbenchApp.manager_users={MANAGER}"])  # fmt: skip
    cohort = generate_cohort(lab.store_url, load_cohort_spec("demo-cohort"), learners=30,
                             playbooks=task_skill_weights())
    with running(lab):
        yield lab, cohort


@pytest.fixture
def page(browser: Any, cohort_lab: tuple[Lab, Any]) -> Iterator[Any]:
    with lab_page(browser, cohort_lab[0]) as page:
        yield page


def api(lab: Lab, path: str, **params: str) -> Any:
    """What the server answers the manager (the sidebar must show the same)."""
    response = httpx.get(f"{lab.url}/workbench/api/{path}", params=params,
                         headers={"Authorization": f"token {TOKEN}"}, timeout=60)  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()


def widen_sidebar(page: Page, by: int) -> None:
    """Drag the left sidebar's edge, as a person would to read a wide table."""
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    box = handle.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + by, y, steps=5)
    page.mouse.up()


def test_manager_sees_team_heatmap_with_small_team_suppressed_and_drills_down(
    page: Page, cohort_lab: tuple[Lab, Any]
) -> None:
    lab, cohort = cohort_lab
    sizes = Counter(person["team"] for person in cohort.roster)
    assert sizes["small-team"] == 3 and sum(1 for t, n in sizes.items() if n >= 5) >= 2
    report = api(lab, "report")
    skills = report["skills"]

    page.locator('.jp-SideBar li[data-id="workbench-sidebar"]').click()
    sidebar = page.locator("#workbench-sidebar")
    section = sidebar.locator(".wb-ReportSection")
    expect(section).to_be_visible(timeout=60000)  # the role allows it
    heatmap = section.locator("table.wb-Heatmap")
    expect(heatmap).to_be_visible(timeout=90000)
    expect(section.locator(".wb-ReportCounts")).to_have_text(
        f"{len(cohort.roster)} learners, {report['summary']['counts']['events']} events.")
    expect(section.locator(".wb-Note", has_text="small-team")).to_contain_text("suppressed (n<5)")

    # One row per skill of the taxonomy, one column per team (and everyone): the report's table, drawn.
    expect(heatmap.locator("tbody tr")).to_have_count(len(skills))
    expect(heatmap.locator("tbody tr").first.locator("th")).to_have_text(report["skill_names"][skills[0]])
    for team, size in sizes.items():
        header = heatmap.locator(f'th.wb-HeatTeam[data-team="{team}"]')
        expect(header).to_contain_text(team)
        if team != "small-team":
            expect(header).to_contain_text(f"n={size}")
    expect(heatmap.locator('th.wb-HeatTeam[data-team="all"]')).to_contain_text("all teams")

    # The 3-person team is suppressed in every cell: no numbers, nothing to click.
    small_header = heatmap.locator('th.wb-HeatTeam[data-team="small-team"]')
    expect(small_header).to_contain_text("suppressed (n<5)")
    small_cells = heatmap.locator('td.wb-HeatCell[data-team="small-team"]')
    expect(small_cells).to_have_count(len(skills))
    expect(heatmap.locator('td.wb-HeatCell[data-team="small-team"][data-suppressed="true"]')).to_have_count(
        len(skills))
    assert set(small_cells.all_inner_texts()) == {"–"}
    assert (small_cells.first.get_attribute("title") or "").endswith("small-team · " + report["skill_names"][skills[0]]
                                                                      + ": suppressed (n<5)")

    # Every shown cell carries the server's level for that team and skill, coloured by the gap to target.
    big = max((t for t in sizes if t != "small-team"), key=sizes.__getitem__)
    shown = {r["skill"]: r for r in report["teams"] if r["team"] == big and not r["suppressed"]}
    assert shown, report["teams"]
    for skill, row in shown.items():
        cell = heatmap.locator(f'td.wb-HeatCell[data-team="{big}"][data-skill="{skill}"]')
        expect(cell).to_have_text(f"{row['level']:.1f}")
        assert "rgba(" in (cell.get_attribute("style") or ""), skill
    gapped = max(shown.values(), key=lambda r: r["gap"] if r["gap"] is not None else -9)

    # Drill down: click the team's widest gap; its newest evidence is listed, as the server has it.
    widen_sidebar(page, 320)
    cell = heatmap.locator(f'td.wb-HeatCell[data-team="{big}"][data-skill="{gapped["skill"]}"]')
    cell.click()
    expect(cell).to_have_class("wb-HeatCell wb-Selected")
    evidence = api(lab, "report/evidence", team=big, skill=gapped["skill"])
    drill = section.locator(".wb-Drill")
    expect(drill.locator(".wb-DrillTitle")).to_contain_text(
        f"{big} · {evidence['skill_name']}: {evidence['n']} evidence items", timeout=60000)
    rows = drill.locator("tr.wb-EvidenceItem")
    expect(rows).to_have_count(len(evidence["items"]))
    assert [rows.nth(i).get_attribute("data-event-id") for i in range(rows.count())] == [
        item["event_id"] for item in evidence["items"]]
    first = evidence["items"][0]
    expect(rows.first).to_contain_text(f"{first['outcome']:.2f}")
    expect(rows.first).to_contain_text(str(first["playbook"]))
    cell.scroll_into_view_if_needed()
    screenshot(page, "workbench-manager-report.png")

    # Clicking a suppressed cell opens nothing; closing the drill-down empties it.
    small_cells.first.click()
    expect(drill.locator(".wb-DrillTitle")).to_contain_text(big)
    drill.locator("button.wb-CloseDrill").click()
    expect(drill).to_be_empty()
