"""The playground widget in a real JupyterLab (Debian chromium via Python Playwright).

Streamed text appears progressively in the output box, the metrics line fills in, and the comparison view
shows one column per variant; the kernel-side state agrees. The widget front end is anywidget's prebuilt
lab extension plus ``workbench/widgets/static/playground.js``: no Workbench lab extension is needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wb_lab import Lab, lab_page, make_lab, new_notebook, run_in_last_cell, running, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[Lab]:
    """A plain lab (no Workbench lab extension: the widget renders through anywidget's)."""
    with running(make_lab(tmp_path_factory.mktemp("playground-lab"), workbench=False)) as lab:
        yield lab


@pytest.fixture
def page(lab: Lab, chromium_browser: Any) -> Iterator[Any]:
    with lab_page(chromium_browser, lab, height=1000) as page:
        yield page


def test_streamed_output_and_comparison_in_the_browser(page: Any) -> None:
    from playwright.sync_api import expect

    nb = new_notebook(page)
    run_in_last_cell(
        page,
        "from workbench.widgets.playground import PlaygroundWidget\n"
        "w = PlaygroundWidget(prompt='Once upon a time there was', max_new_tokens=48, stream=True)\n"
        "w.variables = {'text': 'The export failed on Monday.'}\n"
        "w.variants = [{'template': 'summarise@1'}, {'template': 'summarise@2', 'label': 'v2'}]\n"
        "w",
    )
    widget = nb.locator(".wb-playground")
    expect(widget).to_be_visible(timeout=180000)
    expect(widget.locator(".wb-status")).to_have_text("idle")
    # Record every text the output box shows, to see the stream arrive in pieces.
    page.evaluate(
        """() => {
          const out = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .wb-output');
          window.__wbSeen = [];
          new MutationObserver(() => window.__wbSeen.push(out.textContent))
            .observe(out, {childList: true, characterData: true, subtree: true});
        }"""
    )
    widget.locator(".wb-run").click()
    expect(widget.locator(".wb-status")).to_have_text("done", timeout=180000)
    final = widget.locator(".wb-output").text_content() or ""
    seen = [s for s in page.evaluate("() => window.__wbSeen") if s]
    assert final.strip(), "no output"
    assert len(set(seen)) >= 2, f"the text did not stream: {seen}"
    assert all(final.startswith(s) for s in seen), seen  # each view was a prefix of the final text
    expect(widget.locator(".wb-metrics")).to_contain_text("TTFT")

    widget.locator(".wb-compare").click()
    columns = widget.locator(".wb-variant")
    expect(widget.locator('.wb-variant[data-status="ok"]')).to_have_count(2, timeout=180000)
    expect(widget.locator(".wb-status")).to_have_text("done")
    expect(columns).to_have_count(2)
    expect(columns.nth(0).locator(".wb-variant-label")).to_have_text("summarise@1")
    expect(columns.nth(1).locator(".wb-variant-label")).to_have_text("v2")
    for i in range(2):
        assert (columns.nth(i).locator(".wb-variant-text").text_content() or "").strip()
        expect(columns.nth(i).locator(".wb-variant-metrics")).to_contain_text("latency")

    run_in_last_cell(page, "print('PYSTATE', w.status, len(w.history), [r['status'] for r in w.comparison])")
    expect(nb.locator(".jp-OutputArea-output", has_text="PYSTATE done 3 ['ok', 'ok']")).to_be_visible(timeout=60000)

    # A learner types their own list: Enter makes a new line in the box (JupyterLab's shortcuts do not take it).
    box = widget.locator(".wb-variants")
    expect(box).to_have_value("summarise@1\nsummarise@2 label=v2")  # the variants set from Python, as lines
    box.fill("")
    box.click()
    page.keyboard.type("temperature=0.2 seed=1")
    page.keyboard.press("Enter")
    page.keyboard.type("temperature=1.2 seed=1 system=Answer in one sentence.")
    assert box.input_value() == "temperature=0.2 seed=1\ntemperature=1.2 seed=1 system=Answer in one sentence."
    widget.locator(".wb-compare").click()
    expect(widget.locator('.wb-variant[data-status="ok"]')).to_have_count(2, timeout=180000)
    expect(columns.nth(0).locator(".wb-variant-label")).to_have_text("temperature=0.2 · seed=1")
    expect(columns.nth(1).locator(".wb-variant-label")).to_have_text("temperature=1.2 · seed=1 · custom system")
    expect(widget.locator(".wb-output")).to_have_text("")  # the single run's output is gone, not left stale
    expect(widget.locator(".wb-error")).to_have_text("")
    screenshot(page, "playground-widget.png")
