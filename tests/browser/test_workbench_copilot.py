"""A copilot builder in real JupyterLab: the copilot widget opens a spec, chats (typed keys stay in the widget)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect
from wb_lab import new_notebook, run_in_last_cell, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SETUP = """from workbench.copilots import new_copilot
from workbench.widgets import CopilotWidget
new_copilot("desk", "desk-copilot", model="workbench-tiny")
CopilotWidget("desk-copilot")"""


def test_copilot_widget_opens_a_spec_and_chats(page: Page, lab_server: Any) -> None:
    panel = new_notebook(page)
    run_in_last_cell(page, SETUP)
    widget = panel.locator(".wb-copilot")
    expect(widget).to_be_visible(timeout=120000)
    expect(widget.locator(".wb-card")).to_contain_text("desk@1")
    expect(widget.locator(".wb-card")).to_contain_text("not promoted")
    expect(widget.locator(".wb-evaluation")).to_contain_text("Not evaluated yet")

    box = widget.locator("textarea.wb-question")
    box.click()
    page.keyboard.type("How do I reset my password?")
    page.keyboard.press("Shift+Enter")  # a new line in the box, not JupyterLab's "run cell"
    assert box.input_value() == "How do I reset my password?\n"
    page.keyboard.press("Backspace")
    page.keyboard.press("Enter")  # sends
    expect(widget.locator(".wb-msg.wb-user")).to_have_text("How do I reset my password?")
    answer = widget.locator(".wb-msg.wb-assistant:not(.wb-streaming)")
    expect(answer).to_contain_text("self-service portal", timeout=120000)
    expect(answer.locator(".wb-msg-meta")).to_contain_text("tokens")
    assert box.input_value() == ""
    # The notebook kept its cells: no key reached JupyterLab's notebook commands.
    assert panel.locator(".jp-Cell").count() == 2
    screenshot(page, "copilot-widget.png")
