"""A manager in real JupyterLab: the sidebar's report summary, the team heatmap panel, small teams hidden, drill-down.

The lab's owner (``mia``) is in ``WorkbenchApp.manager_users``; its telemetry store holds the demo cohort
(``datasets/skills/demo-cohort.yaml``, 60 learners in five teams with roles, plus a 3-person team below the
minimum group size of 5), written through the public ``workbench.skills.generate_cohort``. The learner's view (no
report) is checked in test_workbench_ui.py. Screenshots of the panel in the light and the dark theme are kept in
test-artifacts/ (linked from the README).
"""

from __future__ import annotations

import re
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
    cohort = generate_cohort(lab.store_url, load_cohort_spec("demo-cohort"), learners=60, teams=5,
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


def set_theme(page: Page, theme: str) -> None:
    """Switch JupyterLab's theme (``JupyterLab Light`` / ``JupyterLab Dark``) and wait until it applies."""
    light = "true" if "Light" in theme else "false"
    page.evaluate("(theme) => window.jupyterapp.commands.execute('apputils:change-theme', {theme})", theme)
    page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'", timeout=30000)
    page.wait_for_timeout(300)  # the theme's CSS variables settle


def background(locator: Any) -> str:
    return str(locator.evaluate("(n) => getComputedStyle(n).backgroundColor"))


def test_manager_opens_the_team_heatmap_panel_sees_every_team_and_gap_colours_and_drills_down(
    page: Page, cohort_lab: tuple[Lab, Any]
) -> None:
    lab, cohort = cohort_lab
    sizes = Counter(person["team"] for person in cohort.roster)
    assert sizes["small-team"] == 3 and sum(1 for t, n in sizes.items() if n >= 5) == 5
    report = api(lab, "report")
    skills, names = report["skills"], report["skill_names"]

    # The sidebar keeps a summary: counts, the three largest gaps, and the button to the full heatmap.
    page.locator('.jp-SideBar li[data-id="workbench-sidebar"]').click()
    sidebar = page.locator("#workbench-sidebar")
    section = sidebar.locator(".wb-ReportSection")
    expect(section).to_be_visible(timeout=60000)  # the role allows it
    expect(section.locator(".wb-ReportCounts")).to_have_text(
        f"{len(cohort.roster)} learners, {report['summary']['counts']['events']} events.", timeout=90000)
    expect(section.locator(".wb-Note", has_text="small-team")).to_contain_text("suppressed (n<5)")
    top = report["summary"]["largest_gaps"][:3]
    expect(section.locator(".wb-Gaps li")).to_have_count(len(top))
    expect(section.locator(".wb-Gaps li").first).to_contain_text(names[top[0]["skill"]])
    expect(section.locator("table.wb-Heatmap")).to_have_count(0)  # the table lives in the main area now
    open_button = section.locator("button.wb-OpenReport")
    assert "jp-Button" in (open_button.get_attribute("class") or "")
    open_button.click()

    # The panel: every team's column on screen at the default sidebar width, one row per skill.
    panel = page.locator(".jp-MainAreaWidget#workbench-team-report")
    heatmap = panel.locator("table.wb-Heatmap")
    expect(heatmap).to_be_visible(timeout=90000)
    expect(page.locator(".lm-TabBar-tab.jp-mod-current")).to_contain_text("Team skills heatmap")
    expect(heatmap.locator("tbody tr")).to_have_count(len(skills))
    expect(heatmap.locator("tbody tr").first.locator("th")).to_have_text(names[skills[0]])
    # The palette command reveals the same panel rather than opening a second one.
    page.evaluate("() => window.jupyterapp.commands.execute('workbench:open-team-report')")
    expect(page.locator(".jp-MainAreaWidget#workbench-team-report")).to_have_count(1)
    for team, size in [*sizes.items(), ("all", len(cohort.roster))]:
        header = heatmap.locator(f'th.wb-HeatTeam[data-team="{team}"]')
        expect(header).to_be_in_viewport(ratio=1)
        expect(header).to_contain_text("all teams" if team == "all" else team)
        if team not in ("small-team", "all"):
            expect(header).to_contain_text(f"n={size}")
    expect(heatmap.locator("tbody tr").first.locator('td[data-team="small-team"]')).to_be_in_viewport(ratio=1)

    # The legend: the taxonomy's level scale with its names, what Target and Gap are, the colours.
    legend = panel.locator(".wb-Legend")
    for level in report["levels"]:
        expect(legend.locator(f'.wb-LevelScale li[data-level="{level["level"]}"]')).to_have_text(
            f"{level['level']} {level['name']}")
    expect(legend).to_contain_text("Gap = target − level")
    expect(legend).to_contain_text("hidden: fewer than 5 learners")

    # Every shown cell: the server's level, target and gap; red below target, green at or above it.
    rows = {(r["team"], r["skill"]): r for r in report["teams"]}
    big = max((t for t in sizes if t != "small-team"), key=sizes.__getitem__)
    # A role-only skill (playbook_authoring) may have no evidence at all in the biggest team: "no evidence yet".
    shown = [s for s in skills if (big, s) in rows and not rows[(big, s)]["suppressed"]]
    assert len(shown) >= len(skills) - 1, "the biggest team has evidence for all but a role-only skill at most"
    for skill in skills:
        cell = heatmap.locator(f'td.wb-HeatCell[data-team="{big}"][data-skill="{skill}"]')
        if skill not in shown:
            expect(cell).to_have_text("–")
            reason = "hidden: fewer than 5" if (big, skill) in rows else "no evidence yet"
            assert reason in (cell.get_attribute("title") or ""), skill
            continue
        row = rows[(big, skill)]
        expect(cell.locator(".wb-HeatLevel")).to_have_text(f"{row['level']:.1f}")
        assert f"target {row['target']:.1f}, gap {row['gap']:.1f}" in (cell.get_attribute("title") or ""), skill
        expect(cell).to_have_class(re.compile("wb-Heat-below" if row["gap"] > 0 else "wb-Heat-met"))
    below, met = heatmap.locator("td.wb-Heat-below"), heatmap.locator("td.wb-Heat-met")
    n_below = sum(1 for r in report["teams"] if r["gap"] is not None and r["gap"] > 0)
    n_met = sum(1 for r in report["teams"] if r["gap"] is not None and r["gap"] <= 0)
    assert n_below and n_met, "the seeded cohort has cells on both sides of their targets"
    expect(below).to_have_count(n_below)
    expect(met).to_have_count(n_met)
    red, green = background(below.first), background(met.first)
    assert red != green and "rgba(0, 0, 0, 0)" not in (red, green), (red, green)
    screenshot(page, "workbench-manager-heatmap-light.png")
    set_theme(page, "JupyterLab Dark")
    assert background(below.first) != red  # the colours follow the theme's variables
    screenshot(page, "workbench-manager-heatmap-dark.png")
    set_theme(page, "JupyterLab Light")

    # A suppressed cell says why it shows nothing.
    small = heatmap.locator('td.wb-HeatCell[data-team="small-team"]')
    expect(heatmap.locator('td.wb-HeatCell[data-team="small-team"][data-suppressed="true"]')).to_have_count(
        len(skills))
    assert set(small.all_inner_texts()) == {"–"}
    small.first.click()
    drill = panel.locator(".wb-Drill")
    expect(drill.locator(".wb-DrillTitle")).to_contain_text(
        f"small-team · {names[skills[0]]}: hidden: fewer than 5 learners")

    # Drill down: the team's widest gap lists its newest evidence, as the server has it.
    gapped = max((rows[(big, s)] for s in shown), key=lambda r: r["gap"])
    cell = heatmap.locator(f'td.wb-HeatCell[data-team="{big}"][data-skill="{gapped["skill"]}"]')
    cell.click()
    expect(cell).to_have_class(re.compile("wb-Selected"))
    evidence = api(lab, "report/evidence", team=big, skill=gapped["skill"])
    expect(drill.locator(".wb-DrillTitle")).to_contain_text(
        f"{big} · {evidence['skill_name']}: {evidence['n']} evidence items", timeout=60000)
    items = drill.locator("tr.wb-EvidenceItem")
    expect(items).to_have_count(len(evidence["items"]))
    assert [items.nth(i).get_attribute("data-event-id") for i in range(items.count())] == [
        item["event_id"] for item in evidence["items"]]
    expect(items.first).to_contain_text(f"{evidence['items'][0]['outcome']:.2f}")
    drill.locator("button.wb-CloseDrill").click()
    expect(drill).to_be_empty()

    # Targets of one role for everyone: cells without a target for that role say so ("–", with the reason).
    as_analyst = api(lab, "report", role="support_analyst")
    untargeted = [r for r in as_analyst["teams"] if r["target"] is None and r["level"] is not None]
    assert untargeted
    panel.locator("select.wb-TargetRole").select_option("support_analyst")
    first = untargeted[0]
    plain = heatmap.locator(f'td.wb-HeatCell[data-team="{first["team"]}"][data-skill="{first["skill"]}"]')
    expect(plain).to_have_class(re.compile("wb-Heat-notarget"), timeout=60000)
    expect(plain.locator(".wb-HeatGap")).to_have_text("no target")
    assert "target –, gap –: no role target" in (plain.get_attribute("title") or "")
    expect(heatmap.locator("td.wb-Heat-met")).to_have_count(
        sum(1 for r in as_analyst["teams"] if r["gap"] is not None and r["gap"] <= 0))
    expect(legend).to_contain_text("the targets of the Support analyst role")
    assert not page.wb_console_errors, page.wb_console_errors

