"""A new learner in real JupyterLab: finds the Workbench sidebar, starts the prompting playbook, runs it.

The walk-through of issue #9: open the lab, open the sidebar, see the catalog (and no manager report), start the
prompting playbook, run its cells, use Task 1's playground widget (own prompt, Run, streamed reply and metrics),
run the task cell that checks that run, and see the task checked and the progress updated; the widget's run is
recorded as a generation of the task in the telemetry store. Issue #21: cards name their skills (the filtered one
highlighted), the filters show whole names, the "Started" banner goes away, the notebook is not marked modified
on opening, a reload keeps the current playbook, and the console stays free of errors. Screenshots of the
walk-through in the light and the dark theme are kept in test-artifacts/ (linked from the README).

Also the unhappy paths a learner meets: an unknown playbook, a corrupted progress record, a server restart.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from wb_lab import KERNEL_READY, TOKEN, screenshot

from workbench.telemetry import open_store

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PB = "prompting-fundamentals"
MY_QUESTION = "My laptop will not start after the update."


def open_sidebar(page: Page) -> None:
    page.evaluate("() => window.jupyterapp.restored")  # the layout (a sidebar left open) is back
    if not page.locator("#workbench-sidebar").is_visible():
        page.locator('.jp-SideBar li[data-id="workbench-sidebar"]').click()
    expect(page.locator("#workbench-sidebar")).to_be_visible()


def select_shows_whole_names(select: Any) -> bool:
    """Whether a select is wide enough for its longest option (text width plus the arrow's padding)."""
    return bool(select.evaluate("""(s) => {
      const ctx = document.createElement('canvas').getContext('2d');
      ctx.font = getComputedStyle(s).font;
      const widest = Math.max(...Array.from(s.options).map(o => ctx.measureText(o.text).width));
      return widest + 33 <= s.clientWidth;
    }"""))


def set_theme(page: Page, theme: str) -> None:
    """Switch JupyterLab's theme (``JupyterLab Light`` / ``JupyterLab Dark``) and wait until it applies."""
    light = "true" if "Light" in theme else "false"
    page.evaluate("(theme) => window.jupyterapp.commands.execute('apputils:change-theme', {theme})", theme)
    page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'", timeout=30000)
    page.wait_for_timeout(300)  # the theme's CSS variables settle


def run_through(page: Page, marker: str, *, above: bool = True) -> None:
    """Run the code cell whose source contains ``marker`` (and, with ``above``, every cell before it)."""
    page.evaluate("""async ([marker, above]) => {
      const panel = window.jupyterapp.shell.currentWidget;
      const index = panel.content.widgets.findIndex(
        c => c.model.type === 'code' && c.model.sharedModel.getSource().includes(marker));
      if (index < 0) { throw new Error('no cell contains ' + marker); }
      panel.content.activeCellIndex = index;
      if (above) { await window.jupyterapp.commands.execute('notebook:run-all-above'); }
      await window.jupyterapp.commands.execute('notebook:run-cell');
    }""", [marker, above])


def answer_exercise(page: Page, exercise: str, code: str) -> None:
    """Write ``code`` in place of exercise ``exercise``'s stub, as the learner types it in the cell's editor.

    The learner version (``workbench playbook release``) ships ``raise NotImplementedError("exercise <id>: ...")``
    where the author's answer was; the edit goes through the notebook's shared model, like keystrokes do.
    """
    page.evaluate("""([exercise, code]) => {
      const panel = window.jupyterapp.shell.currentWidget;
      const stub = 'raise NotImplementedError("exercise ' + exercise + ':';
      const cell = panel.content.widgets.find(c => c.model.sharedModel.getSource().includes(stub));
      if (!cell) { throw new Error('no cell holds the stub of exercise ' + exercise); }
      const lines = cell.model.sharedModel.getSource().split('\\n');
      const at = lines.findIndex(l => l.includes(stub));
      const indent = lines[at].match(/^ */)[0];
      lines.splice(at, 1, ...code.split('\\n').map(l => indent + l));
      cell.model.sharedModel.setSource(lines.join('\\n'));
    }""", [exercise, code])


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

    # Cards name their skills as the filters do (not raw ids); the filters show whole names.
    expect(card.locator('.wb-Chip[data-skill="prompting"]')).to_have_text("Prompting")
    for select in ("select.wb-FilterSkill", "select.wb-FilterRole"):
        assert select_shows_whole_names(sidebar.locator(select)), select
    assert "jp-Button" in (card.locator("button.wb-StartButton").get_attribute("class") or "")

    # Filters: a skill the playbook does not train hides it; a card that matches shows that skill first,
    # highlighted; back to any skill shows the playbook again.
    sidebar.locator("select.wb-FilterSkill").select_option("fine_tuning")
    expect(card).to_be_hidden()
    qlora = sidebar.locator('.wb-PlaybookCard[data-playbook-id="qlora-finetuning"]')
    expect(qlora).to_be_visible()
    expect(qlora.locator(".wb-Chip").first).to_have_text("Fine-tuning")
    expect(qlora.locator(".wb-Chip.wb-mod-match")).to_have_count(1)
    sidebar.locator("select.wb-FilterSkill").select_option("")
    sidebar.locator("select.wb-FilterRole").select_option("support_analyst")
    expect(card).to_be_visible()
    expect(sidebar.locator(".wb-Chip.wb-mod-match")).to_have_count(0)

    card.locator("button.wb-StartButton").click()
    message = sidebar.locator(".wb-Message")
    expect(message).to_contain_text("Started", timeout=60000)
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    expect(notebook).to_be_visible(timeout=60000)
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current")
    expect(tab).to_contain_text(f"{PB}.ipynb")
    checklist = sidebar.locator(".wb-Checklist")
    expect(checklist.locator(".wb-Task")).to_have_count(8, timeout=30000)
    expect(sidebar.locator(".wb-ProgressText")).to_contain_text("0 / 8")
    expect(sidebar.locator(".wb-ReportSection")).to_be_hidden()  # a learner, not a manager: no team report

    page.wait_for_function(KERNEL_READY, timeout=120000)
    expect(tab).not_to_have_class(re.compile("jp-mod-dirty"))  # opening a notebook changes nothing in it
    # Run the notebook from the top through Task 1's playground cell, as a learner would (Shift+Enter each).
    run_through(page, "PlaygroundWidget(")
    playground = notebook.locator(".wb-playground")
    expect(playground).to_be_visible(timeout=120000)
    first = checklist.locator('.wb-Task[data-task-id="first-generation"]')
    expect(first).to_have_attribute("data-status", "not_started")

    # Use the widget: type a question of one's own, press Run, watch the reply and its numbers arrive.
    prompt = playground.locator("textarea.wb-prompt")
    expect(prompt).to_have_value("How do I add a printer?")
    prompt.fill(MY_QUESTION)
    prompt.press("Tab")  # a change event writes the trait back to the kernel
    playground.locator("button.wb-run").click()
    expect(playground.locator(".wb-status")).to_have_text("done", timeout=120000)
    expect(playground.locator(".wb-output")).not_to_be_empty()
    expect(playground.locator(".wb-metrics")).to_contain_text("TTFT")
    expect(playground.locator(".wb-history-item")).to_have_count(1)  # the run is in the widget's history
    expect(first).to_have_attribute("data-status", "not_started")  # trying is not finishing: the task cell checks

    # The task cell reads the learner's own playground run and checks it; its exercise is a stub until the
    # learner writes an answer, so running it unchanged fails the task (the shipped answer is not theirs).
    run_through(page, 'with task("first-generation")', above=False)
    expect(first).to_have_attribute("data-status", "failed", timeout=120000)
    expect(notebook.locator(".jp-OutputArea-output", has_text="NotImplementedError")).to_contain_text(
        "exercise first-generation")
    answer_exercise(page, "first-generation", 'my_question = "What is the capital of France? Answer in one sentence."')
    run_through(page, 'with task("first-generation")', above=False)
    expect(first).to_have_attribute("data-status", "completed", timeout=120000)
    expect(first.locator(".wb-TaskGlyph")).to_have_text("✓")
    expect(sidebar.locator(".wb-ProgressText")).to_contain_text("1 / 8")
    expect(sidebar.locator(".wb-Bar")).to_have_attribute("aria-valuenow", "13")
    expect(checklist.locator('.wb-Task[data-task-id="chat-messages"]')).to_have_attribute("data-status", "not_started")
    task_output = notebook.locator(".jp-OutputArea-output", has_text="your playground run")
    expect(task_output).to_contain_text("✓ the model generated tokens in your playground run")
    expect(task_output).to_contain_text(repr(MY_QUESTION))
    task_output.scroll_into_view_if_needed()  # the task's checks, under the widget's run
    expect(message).to_be_hidden()  # the "Started" banner went away on its own
    sidebar.locator(".wb-CurrentSection").scroll_into_view_if_needed()  # the checklist, beside the notebook
    screenshot(page, "workbench-learner-light.png")
    set_theme(page, "JupyterLab Dark")
    screenshot(page, "workbench-learner-dark.png")
    set_theme(page, "JupyterLab Light")

    # A reload (saved notebook, widget output included) keeps the current playbook and its progress.
    page.keyboard.press("Control+s")
    expect(tab).not_to_have_class(re.compile("jp-mod-dirty"), timeout=30000)
    page.goto(f"{lab_server.url}/lab?token={TOKEN}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started", timeout=120000)
    open_sidebar(page)
    expect(sidebar.locator(".wb-CurrentTitle")).to_have_text("Prompting fundamentals", timeout=60000)
    expect(sidebar.locator(".wb-ProgressText")).to_contain_text("1 / 8")
    expect(notebook.locator(".wb-playground")).to_be_visible(timeout=60000)
    page.wait_for_function(KERNEL_READY, timeout=120000)
    assert not page.wb_console_errors, page.wb_console_errors

    # The widget's run was recorded as a generation of Task 1, under the learner's pseudonym.
    with open_store(lab_server.store_url) as store:
        runs = store.query(kind="generation", task="first-generation", learner=lab_server.learner, playbook=PB)
    assert any(MY_QUESTION in str(e.attributes.get("prompt_redacted", "")) for e in runs), runs

    # The notebook lives in the learner's workspace, with their (pseudonymous) context injected.
    assert (lab_server.root / "workbench" / PB / f"{PB}.ipynb").is_file()


def test_a_saved_widget_output_whose_kernel_is_gone_says_so_without_errors(page: Page, lab_server: Any) -> None:
    """Reopening a notebook saved with a widget's output, under a fresh kernel: a note, no console error."""
    saved = {"cells": [{
        "cell_type": "code", "id": "w1", "execution_count": 3, "metadata": {},
        "source": "from workbench.widgets import PlaygroundWidget\nPlaygroundWidget('workbench-tiny')",
        "outputs": [{"output_type": "execute_result", "execution_count": 3, "metadata": {}, "data": {
            "application/vnd.jupyter.widget-view+json": {"model_id": "0f3c9a3ad1b64c0c9d0b6b1b7c2e5a11",
                                                         "version_major": 2, "version_minor": 1},
            "text/plain": "PlaygroundWidget(...)"}}],
    }], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}  # fmt: skip
    path = lab_server.root / "saved-widget.ipynb"
    path.write_text(json.dumps(saved))
    # Saved by the learner's own lab, so trusted (untrusted outputs never reach the widgets renderer).
    subprocess.run([sys.executable, "-m", "jupyter", "trust", str(path)], env=lab_server.env, check=True,
                   capture_output=True)  # fmt: skip
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:open', {path: 'saved-widget.ipynb'})")
    page.wait_for_function(KERNEL_READY, timeout=120000)
    note = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .wb-SavedWidget")
    expect(note).to_contain_text("run the cell again", timeout=30000)
    assert not page.wb_console_errors, page.wb_console_errors


def test_bad_input_and_a_server_restart_show_clear_messages(page: Page, lab_server: Any) -> None:
    open_sidebar(page)
    sidebar = page.locator("#workbench-sidebar")
    message = sidebar.locator(".wb-Message")
    expect(sidebar.locator(".wb-PlaybookCard")).not_to_have_count(0, timeout=60000)

    page.evaluate("() => window.jupyterapp.commands.execute('workbench:start-playbook', {id: 'no-such-playbook'})")
    expect(message).to_contain_text("unknown playbook 'no-such-playbook'", timeout=30000)
    expect(message).to_contain_text(PB)  # the hint lists the known ones
    message.locator("button.wb-DismissMessage").click()  # errors stay until dismissed
    expect(message).to_be_hidden()

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
    expect(sidebar.locator(".wb-Checklist .wb-Task")).to_have_count(8)
    screenshot(page, "workbench-after-restart.png")
    # JupyterLab's own errors while its server is down (requests cut off by the restart) are expected here.
    page.wb_errors.clear()
    page.wb_expected_errors.append("Canceled future for")
