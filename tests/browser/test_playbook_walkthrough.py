"""Every built-in playbook, walked through as a new learner would in real JupyterLab, with a clean console.

The last "Must show" of the JupyterLab first-hour issue: for each built-in playbook (the ids come from the
catalog, so a playbook added later is walked too) the learner opens the Workbench sidebar, finds the playbook's
card, starts it, sees the notebook open with their parameters injected and the sidebar showing it as the current
playbook with its tasks, scrolls through the notebook, runs its set-up cells (every code cell above the first
exercise: imports, data, the model, and any widget shown before the first exercise), then closes the notebook
and shuts its kernel down. Through all of it the browser console has no errors (``console.error`` or uncaught
page errors) and the cells run have no traceback and write nothing to stderr (no warnings). One screenshot per
playbook is kept in test-artifacts/ (linked from the README).

The lessons themselves (training runs, whole exercises) are not run here: the playbooks' own tests run them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from wb_lab import KERNEL_READY, Lab, lab_page, make_lab, running, screenshot

from workbench.playbooks import discover_playbooks

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: The built-in playbooks, as the catalog lists them (``workbench playbook list``).
BUILTIN = sorted((pb for pb in discover_playbooks() if pb.source == "builtin"), key=lambda pb: pb.id)
#: The exercise stubs of the learner version (``workbench playbook release``): the first one ends the set-up.
STUB = 'raise NotImplementedError("exercise '
#: Console messages that are not Workbench's to fix, each with its reason. Keep this list short.
ALLOWED_CONSOLE_NOISE: dict[str, str] = {}


@pytest.fixture(scope="module")
def first_hour_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A new learner's lab with an empty model cache, as on their first day: the first model load converts the
    model, the first index exports the embedder, and whatever those print is part of the walk."""
    base = tmp_path_factory.mktemp("first-hour")
    lab = make_lab(base, learner="newbie", env={"WORKBENCH_CACHE_DIR": str(base / "cache")})
    with running(lab):
        yield lab


@pytest.fixture(scope="module")
def learner_page(browser: Any, first_hour_lab: Lab) -> Iterator[Page]:
    """One learner's browser session for the whole walk (playbook after playbook, as in a first hour)."""
    with lab_page(browser, first_hour_lab) as page:
        yield page


@pytest.fixture
def walk(learner_page: Page) -> Iterator[Page]:
    """The learner's page with the console records of this playbook only; every notebook closed afterwards."""
    learner_page.wb_errors.clear()
    learner_page.wb_console_errors.clear()
    yield learner_page
    # A failed walk must not leave its notebook and kernel to the next playbook (errors that cleaning up
    # causes, such as closing a notebook whose kernel is starting, are the fixture's, not the walk's).
    left = learner_page.evaluate("""async () => {
      const app = window.jupyterapp;
      const open = Array.from(app.shell.widgets('main')).filter(w => w.context);
      for (const w of open) { await w.context.save(); w.close(); }
      await app.serviceManager.sessions.shutdownAll();
      return open.length;
    }""")
    if left:
        learner_page.wait_for_timeout(1000)
        learner_page.wb_errors.clear()


def open_sidebar(page: Page) -> None:
    if not page.locator("#workbench-sidebar").is_visible():
        page.locator('.jp-SideBar li[data-id="workbench-sidebar"]').click()
    expect(page.locator("#workbench-sidebar")).to_be_visible()


def scroll_through(page: Page) -> int:
    """Scroll the current notebook from top to bottom, cell by cell (each comes into view and renders)."""
    return int(
        page.evaluate("""async () => {
      const nb = window.jupyterapp.shell.currentWidget.content;
      for (let i = 0; i < nb.widgets.length; i++) {
        await nb.scrollToItem(i, 'start');
        await new Promise(r => requestAnimationFrame(() => r()));
      }
      return nb.widgets.length;
    }""")
    )


def run_setup(page: Page) -> list[dict[str, Any]]:
    """Run every code cell above the first exercise stub; return what each of them ran and wrote."""
    return list(
        page.evaluate(
            """async (stub) => {
      const app = window.jupyterapp;
      const nb = app.shell.currentWidget.content;
      const first = nb.widgets.findIndex(c => c.model.type === 'code' && c.model.sharedModel.getSource().includes(stub));
      if (first < 1) { throw new Error('no exercise stub below a set-up cell'); }
      nb.activeCellIndex = first;
      await app.commands.execute('notebook:run-all-above');
      const setup = nb.widgets.slice(0, first).filter(c => c.model.type === 'code');
      nb.activeCellIndex = nb.widgets.indexOf(setup[setup.length - 1]);  // the last set-up cell, its output in view
      await nb.scrollToItem(nb.activeCellIndex, 'end');
      return setup.map(c => ({
        source: c.model.sharedModel.getSource().split('\\n')[0],
        count: c.model.executionCount,
        outputs: c.model.outputs.toJSON(),
      }));
    }""",
            STUB,
        )
    )


def output_problems(cells: list[dict[str, Any]]) -> list[str]:
    """Tracebacks and stderr (warnings) in the set-up cells' outputs; a cell that did not run is one too."""
    problems = []
    for cell in cells:
        if cell["count"] is None:
            problems.append(f"{cell['source']!r} did not run")
        for out in cell["outputs"]:
            if out["output_type"] == "error":
                problems.append(f"{cell['source']!r}: {out['ename']}: {out['evalue']}")
            elif out["output_type"] == "stream" and out["name"] == "stderr":
                problems.append(f"{cell['source']!r} wrote to stderr: {''.join(out['text'])[:500]}")
    return problems


def close_and_shut_down(page: Page) -> None:
    """Save, then File > Close and Shut Down Notebook (confirming the dialog), and wait until the kernel is gone."""
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.evaluate("() => { void window.jupyterapp.commands.execute('notebook:close-and-shutdown'); }")
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_be_visible(timeout=30000)
    dialog.locator("button.jp-mod-accept").click()
    expect(page.locator(".jp-NotebookPanel")).to_have_count(0, timeout=60000)
    page.wait_for_function(
        """async () => {
      const sessions = window.jupyterapp.serviceManager.sessions;
      await sessions.refreshRunning();
      return Array.from(sessions.running()).length === 0;
    }""",
        timeout=60000,
    )


def test_the_catalog_has_the_built_in_playbooks() -> None:
    assert len(BUILTIN) >= 10, [pb.id for pb in BUILTIN]


@pytest.mark.parametrize("playbook", BUILTIN, ids=[pb.id for pb in BUILTIN])
def test_a_learner_walks_through_the_playbook_with_a_clean_console(
    walk: Page, first_hour_lab: Lab, playbook: Any
) -> None:
    page, pid, manifest = walk, playbook.id, playbook.manifest
    open_sidebar(page)
    sidebar = page.locator("#workbench-sidebar")
    card = sidebar.locator(f'.wb-PlaybookCard[data-playbook-id="{pid}"]')
    expect(card).to_be_attached(timeout=60000)
    card.scroll_into_view_if_needed()
    expect(card).to_contain_text(manifest.title)
    card.locator("button.wb-StartButton").click()
    expect(sidebar.locator(".wb-Message")).to_contain_text(
        f"{pid}: workbench/{pid}/{pid}.ipynb", timeout=60000
    )

    # The notebook opens, with the learner's parameters injected below the playbook's own.
    expect(page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current")).to_contain_text(
        f"{pid}.ipynb", timeout=60000
    )
    injected = page.wait_for_function(
        """() => {
      const panel = window.jupyterapp.shell.currentWidget;
      if (!panel || !panel.context || !panel.context.isReady) { return null; }
      const cell = panel.content.widgets.find(c => (c.model.getMetadata('tags') || []).includes('injected-parameters'));
      return cell ? cell.model.sharedModel.getSource() : 'no injected-parameters cell';
    }""",
        timeout=60000,
    ).json_value()
    assert f"playbook={pid!r}" in injected and "learner=" in injected, injected
    assert f"learner={first_hour_lab.learner!r}" not in injected, injected  # a pseudonym, never the raw id
    for spec in manifest.parameters:
        assert f"{spec.name} = {spec.default!r}" in injected, (spec.name, injected)

    # The sidebar shows it as the current playbook, with its tasks, nothing done yet.
    expect(sidebar.locator(".wb-CurrentTitle")).to_have_text(manifest.title, timeout=60000)
    tasks = sidebar.locator(".wb-Checklist .wb-Task")
    expect(tasks).to_have_count(len(manifest.tasks), timeout=30000)
    assert [t.get_attribute("data-task-id") for t in tasks.all()] == [t.id for t in manifest.tasks]
    expect(sidebar.locator(".wb-ProgressText")).to_contain_text(f"0 / {len(manifest.tasks)}")

    page.wait_for_function(KERNEL_READY, timeout=120000)
    assert scroll_through(page) > 0
    cells = run_setup(page)
    assert not output_problems(cells), output_problems(cells)
    widgets = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output").filter(
        has_text="Error displaying widget"
    )
    expect(widgets).to_have_count(0)
    if pid == "prompting-fundamentals":  # its playground widget is shown above the first exercise
        expect(page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .wb-playground")).to_be_visible(
            timeout=60000
        )
    sidebar.locator(".wb-CurrentSection").scroll_into_view_if_needed()
    page.wait_for_timeout(300)  # the scrolled-to outputs paint
    screenshot(page, f"walkthrough-{pid}.png")

    close_and_shut_down(page)
    console = [m for m in page.wb_console_errors if not any(noise in m for noise in ALLOWED_CONSOLE_NOISE)]
    assert not console, console
    assert not page.wb_errors, page.wb_errors
