"""The fine-tuning widget in a real JupyterLab (Debian chromium via Python Playwright).

A person presses Start and watches the run: the status turns to running, the step counter rises while the loss
chart fills in, the ETA never reads "0 s" while steps remain, and the run finishes with the summary (the memory
estimate beside the measurement of the same quantities). Everything is real: the widget, anywidget's front end,
and a LoRA run of the built-in ``workbench-tiny`` model on the shipped house-format set (a few seconds).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wb_lab import Lab, lab_page, make_lab, new_notebook, run_in_last_cell, running, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
STEPS = 60


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[Lab]:
    """A plain lab (no Workbench lab extension: the widget renders through anywidget's)."""
    with running(make_lab(tmp_path_factory.mktemp("tuning-lab"), workbench=False)) as lab:
        yield lab


@pytest.fixture
def page(lab: Lab, chromium_browser: Any) -> Iterator[Any]:
    with lab_page(chromium_browser, lab, height=1000) as page:
        yield page


def test_start_shows_live_progress_and_the_run_finishes(page: Any) -> None:
    from playwright.sync_api import expect

    nb = new_notebook(page)
    house = ROOT / "datasets" / "finetune" / "house-format" / "lora.yaml"
    run_in_last_cell(
        page,
        "from workbench.tuning import load_config\n"
        "from workbench.widgets import TuningWidget\n"
        f"config = load_config({str(house)!r}).replace(**{{'output_dir': 'run', 'training.max_steps': {STEPS},\n"
        "    'training.eval_every': 0, 'training.save_every': 0, 'training.num_threads': 1,\n"
        "    'evaluation.enabled': False})\n"
        "w = TuningWidget(config)\n"
        "w",
    )
    widget = nb.locator(".wb-tuning")
    expect(widget).to_be_visible(timeout=180000)
    status = widget.locator(".wb-status")
    expect(status).to_have_text("idle")
    expect(widget.locator(".wb-message")).to_contain_text("press Start")
    start, stop = widget.locator("button.wb-start"), widget.locator("button.wb-stop")
    expect(start).to_be_enabled()
    expect(stop).to_be_disabled()
    # Record what the step and ETA cells show while the run goes on.
    page.evaluate(
        """() => {
          const root = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .wb-tuning');
          window.__wbSeen = [];
          new MutationObserver(() => {
            const step = root.querySelector('[data-stat="step"]'), eta = root.querySelector('[data-stat="ETA"]');
            const st = root.querySelector('.wb-status');
            if (step && eta) window.__wbSeen.push([step.textContent, eta.textContent, st.textContent]);
          }).observe(root, {childList: true, characterData: true, subtree: true});
        }"""
    )
    start.click()
    expect(start).to_be_disabled()
    expect(status).to_have_text("completed", timeout=300000)
    expect(start).to_be_enabled()  # a finished run can be started again

    seen = page.evaluate("() => window.__wbSeen")
    steps = [int(s.split(" / ")[0]) for s, _eta, st in seen if st in ("running", "stopping") and s[0].isdigit()]
    live = sorted(set(steps) - {0, STEPS})
    assert len(live) >= 2 and steps == sorted(steps), seen  # the step counter rose during the run
    assert all(eta != "0 s" for s, eta, st in seen if st == "running" and not s.startswith(f"{STEPS} ")), seen
    expect(widget.locator('[data-stat="step"]')).to_have_text(f"{STEPS} / {STEPS}")
    assert widget.locator("polyline.wb-train").count() == 1  # the loss curve
    table = widget.locator("table.wb-memory-table")
    expect(table).to_contain_text("model tensors (frozen weights + adapters)")
    expect(table).to_contain_text("estimate")
    expect(table).to_contain_text("MiB")
    expect(widget.locator(".wb-message")).to_have_text("done")

    # The kernel agrees with the page.
    run_in_last_cell(page, "print('PYSTATE', w.status, w.step, w.result.status, len(w.train_loss))")
    expect(nb.locator(".jp-OutputArea-output", has_text="PYSTATE")).to_have_text(
        f"PYSTATE completed {STEPS} completed {STEPS}", timeout=60000
    )
    widget.scroll_into_view_if_needed()
    screenshot(page, "tuning-widget.png")
