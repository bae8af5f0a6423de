"""A new learner in real JupyterLab: finds the Workbench sidebar, starts the prompting playbook, runs it.

Also the unhappy paths a learner meets: an unknown playbook, a corrupted progress record, a server restart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PB = "prompting-fundamentals"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"  # git-ignored
KERNEL_READY = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
}"""


def open_sidebar(page: Page) -> None:
    page.locator('.jp-SideBar li[data-id="workbench-sidebar"]').click()
    expect(page.locator("#workbench-sidebar")).to_be_visible()


def test_new_learner_starts_the_prompting_playbook_and_sees_progress(page: Page, lab_server: Any) -> None:
    app_has = "(id) => window.jupyterapp.commands.hasCommand(id)"
    for command in ("workbench:open", "workbench:start-playbook", "workbench:refresh"):
        assert page.evaluate(app_has, command), command
    expect(page.locator('.jp-LauncherCard[title="Workbench: find, start and track playbooks"]')).to_be_visible()

    open_sidebar(page)
    sidebar = page.locator("#workbench-sidebar")
    card = sidebar.locator(f'.wb-PlaybookCard[data-playbook-id="{PB}"]')
    expect(card).to_be_visible(timeout=60000)
    expect(card).to_contain_text("Prompting fundamentals")

    # Filters: a skill the playbook does not train hides it; back to any skill shows it again.
    sidebar.locator("select.wb-FilterSkill").select_option("fine_tuning")
    expect(card).to_be_hidden()
    expect(sidebar.locator('.wb-PlaybookCard[data-playbook-id="qlora-finetuning"]')).to_be_visible()
    sidebar.locator("select.wb-FilterSkill").select_option("")
    sidebar.locator("select.wb-FilterRole").select_option("support_analyst")
    expect(card).to_be_visible()

    card.locator("button.wb-StartButton").click()
    expect(sidebar.locator(".wb-Message")).to_contain_text("Started", timeout=60000)
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    expect(notebook).to_be_visible(timeout=60000)
    expect(page.locator(".jp-mod-current .jp-TabBar-tabLabel, .lm-TabBar-tab.jp-mod-current")).to_contain_text(
        f"{PB}.ipynb")
    checklist = sidebar.locator(".wb-Checklist")
    expect(checklist.locator(".wb-Task")).to_have_count(7, timeout=30000)
    expect(sidebar.locator(".wb-ProgressText")).to_contain_text("0 / 7")

    page.wait_for_function(KERNEL_READY, timeout=90000)
    # Run the notebook from the top through the first task's cell, as a learner would (Shift+Enter each).
    page.evaluate("""async () => {
      const panel = window.jupyterapp.shell.currentWidget;
      const cells = panel.content.widgets;
      const last = cells.findIndex(c => c.model.type === 'code' && c.model.sharedModel.getSource()
        .includes('with task("first-generation")'));
      panel.content.activeCellIndex = last;
      await window.jupyterapp.commands.execute('notebook:run-all-above');
      await window.jupyterapp.commands.execute('notebook:run-cell');
    }""")
    first = checklist.locator('.wb-Task[data-task-id="first-generation"]')
    expect(first).to_have_attribute("data-status", "completed", timeout=100000)
    expect(first.locator(".wb-TaskGlyph")).to_have_text("✓")
    expect(sidebar.locator(".wb-ProgressText")).to_contain_text("1 / 7")
    expect(checklist.locator('.wb-Task[data-task-id="chat-messages"]')).to_have_attribute("data-status", "not_started")
    expect(notebook.locator(".jp-OutputArea-output", has_text="✓").first).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "workbench-sidebar-progress.png"))

    # The notebook lives in the learner's workspace, with their (pseudonymous) context injected.
    assert (lab_server.root / "workbench" / PB / f"{PB}.ipynb").is_file()


def test_bad_input_and_a_server_restart_show_clear_messages(page: Page, lab_server: Any) -> None:
    open_sidebar(page)
    sidebar = page.locator("#workbench-sidebar")
    message = sidebar.locator(".wb-Message")
    expect(sidebar.locator(".wb-PlaybookCard")).not_to_have_count(0, timeout=60000)

    page.evaluate("() => window.jupyterapp.commands.execute('workbench:start-playbook', {id: 'no-such-playbook'})")
    expect(message).to_contain_text("unknown playbook 'no-such-playbook'", timeout=30000)
    expect(message).to_contain_text(PB)  # the hint lists the known ones

    # Start (or resume) the real one, then break its progress record behind the learner's back.
    sidebar.locator(f'button.wb-StartButton[data-playbook-id="{PB}"]').click()
    expect(message).to_contain_text(f"{PB}: workbench/{PB}/{PB}.ipynb", timeout=60000)
    record = lab_server.root / "workbench" / PB / ".workbench-run.json"
    record.write_text("{not json")
    expect(message).to_contain_text("corrupted", timeout=30000)
    expect(message).to_contain_text("Start/Resume")
    sidebar.locator(".wb-OpenButton").click()
    expect(message).to_contain_text("moved to", timeout=30000)

    # The server goes away mid-run and comes back: the sidebar says so, then recovers on its own.
    lab_server.stop()
    expect(message).to_contain_text("Cannot reach the Jupyter server", timeout=30000)
    lab_server.start()
    expect(message).to_contain_text("Reconnected", timeout=60000)
    expect(sidebar.locator(".wb-Checklist .wb-Task")).to_have_count(7)
    page.screenshot(path=str(ARTIFACTS / "workbench-after-restart.png"))
    page.wb_errors.clear()  # errors JupyterLab itself logs while its server is down are expected here
