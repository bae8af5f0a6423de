"""The review widget's front end (static/review.js) rendered in headless Debian chromium.

A fake anywidget model stands in for the kernel (the true edge): the view must render the traits and send
the documented actions. The Python side of those actions is tested in test_widget.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

STATIC = Path(__file__).resolve().parents[2] / "workbench" / "widgets" / "static"

STATE = {
    "rubric": "",
    "index": 0,
    "status": "2 pending",
    "error": "",
    "last": {},
    "counts": {"pending": 2, "accepted": 3, "overridden": 1},
    "agreement": [{"rubric": "tone-policy", "criterion": "polite-tone", "n": 4, "exact": 0.75,
                   "kappa_quadratic": 0.8, "kappa_linear": 0.6}],
    "items": [],
    "current": {
        "id": "r1", "rubric": "tone-policy", "rubric_version": 1, "criterion": "polite-tone",
        "criterion_description": "Polite, professional and helpful tone.", "item_id": "a7", "subject": "learner",
        "reason": "low_confidence", "ai_score": 2, "max_score": 3, "confidence": 0.5,
        "ai_rationale": "Polite but curt.",
        "levels": [{"score": i, "descriptor": d} for i, d in enumerate(
            ["Rude or dismissive.", "Curt or cold.", "Polite with small lapses.", "Polite, warm and professional."])],
        "fields": [{"name": "output", "value": "Restart it and try again."}],
    },
}
STATE["items"] = [STATE["current"], {**STATE["current"], "id": "r2", "item_id": "a8"}]  # type: ignore[dict-item]

HARNESS = """
async ([src, state]) => {
  window.sent = [];
  const listeners = {};
  const model = {
    get: (k) => state[k],
    set: (k, v) => { state[k] = v; (listeners["change:" + k] || []).forEach((f) => f()); },
    save_changes: () => {},
    on: (ev, f) => { (listeners[ev] = listeners[ev] || []).push(f); },
    send: (msg) => window.sent.push(msg),
  };
  window.wbModel = model;
  const url = URL.createObjectURL(new Blob([src], { type: "text/javascript" }));
  const mod = await import(url);
  const el = document.createElement("div");
  document.body.append(el);
  mod.default.render({ model, el });
}
"""


def test_review_view_renders_and_sends_actions(tmp_path: Path, chromium_browser: Any) -> None:
    from workbench.widgets._static import widget_esm

    src = widget_esm("review.js")  # what anywidget loads: the shared DOM helpers, then the view
    css = (STATIC / "review.css").read_text(encoding="utf-8")
    page = chromium_browser.new_page(viewport={"width": 900, "height": 700})
    try:
        page.set_content(f"<html><head><style>{css}</style></head><body></body></html>")
        page.evaluate(HARNESS, [src, json.loads(json.dumps(STATE))])
        text = page.inner_text(".wb-review")
        assert "2 pending · 3 accepted · 1 overridden" in text
        assert "Polite, professional and helpful tone." in text
        assert "AI score 2 / 3" in text and "Polite but curt." in text and "Restart it and try again." in text
        assert "sent because low confidence" in text
        assert page.is_checked("#wb-review-r1-2")  # the AI's level is preselected
        assert "κ quadratic" in text and "0.80" in text
        page.screenshot(path=str(tmp_path / "review-widget.png"), full_page=True)

        page.click("text=Accept AI score")
        page.check("#wb-review-r1-1")
        page.fill(".wb-review-comment", "Curt, not warm.")
        page.click("text=Override")
        page.click("text=Next ▶")
        sent = page.evaluate("window.sent")
        assert sent[0] == {"action": "accept", "id": "r1", "comment": ""}
        assert sent[1] == {"action": "override", "id": "r1", "score": 1, "comment": "Curt, not warm."}
        assert page.evaluate("window.wbModel.get('index')") == 1

        page.evaluate("window.wbModel.set('current', null)")
        assert "2 pending" in page.inner_text(".wb-review-empty")
    finally:
        page.close()
