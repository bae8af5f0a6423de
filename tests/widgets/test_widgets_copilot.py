"""The copilot widget: pick a spec, chat (streamed), evaluate, and see the version's stage and gates."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from workbench.copilots import promote_version
from workbench.widgets import CopilotWidget
from workbench.widgets._static import STATIC
from workbench.widgets.copilot import FIELDS


@pytest.fixture
def helpdesk(copilot_template: Path, tmp_path: Path) -> Path:
    """A private copy of the scaffolded copilot on workbench-tiny (see tests/conftest.py)."""
    return Path(shutil.copytree(copilot_template, tmp_path / "it-helpdesk"))


def test_fields_match_the_view_and_the_traits() -> None:
    js = (STATIC / "copilot.js").read_text(encoding="utf-8")
    declared = re.search(r"export const FIELDS = \[(.*?)\];", js, re.S)
    assert declared is not None
    assert tuple(re.findall(r'"(\w+)"', declared.group(1))) == FIELDS
    assert set(FIELDS) <= set(CopilotWidget.class_trait_names(sync=True))


def test_opens_a_spec_and_shows_its_card_before_any_evaluation(helpdesk: Path, tiny_model: Any) -> None:
    w = CopilotWidget(helpdesk, roots=[helpdesk.parent], backend=tiny_model)
    assert w.spec == str((helpdesk / "copilot.yaml").resolve())
    assert [s["label"] for s in w.specs] == ["it-helpdesk"]
    overview = w.overview
    assert overview["spec"]["id"] == "it-helpdesk" and overview["stage"] is None
    assert overview["registered"] == [] and overview["last_evaluation"] is None
    assert w.status == "ready" and w.error == ""


def test_asks_stream_into_reply_and_join_the_conversation(helpdesk: Path, tiny_model: Any) -> None:
    w = CopilotWidget(helpdesk, backend=tiny_model)
    seen: list[str] = []
    w.observe(lambda change: seen.append(change["new"]), names=["reply"])
    message = w.ask("How do I reset my password?")
    assert "self-service portal" in message["content"]
    assert len([s for s in seen if s]) > 1 and seen[-2] == message["content"]  # token by token, then cleared
    assert w.reply == "" and [m["role"] for m in w.messages] == ["user", "assistant"]
    assert message["status"] == "ok" and message["output_tokens"] > 0 and message["latency_s"] > 0
    w.ask("And my VPN keeps disconnecting.")  # the conversation so far goes with the next question
    assert [m["role"] for m in w.messages] == ["user", "assistant", "user", "assistant"]
    w.clear()
    assert w.messages == []


def test_front_end_actions_run_in_the_background_and_errors_show(helpdesk: Path, tiny_model: Any) -> None:
    w = CopilotWidget(helpdesk, backend=tiny_model)
    w._on_action(w, {"action": "ask", "question": "How do I add a printer?"}, [])
    w.wait(120)
    assert [m["role"] for m in w.messages] == ["user", "assistant"]
    w._on_action(w, {"action": "ask", "question": "   "}, [])
    w.wait(60)
    assert "question is empty" in w.error and w.status == "error"
    w._on_action(w, {"action": "open", "spec": str(helpdesk / "missing.yaml")}, [])
    w.wait(60)
    assert "missing.yaml" in w.error
    assert w.overview["spec"]["id"] == "it-helpdesk"  # the open copilot stays open


def test_evaluate_shows_gates_and_a_promotion_shows_its_stage(helpdesk: Path, tiny_model: Any) -> None:
    spec_file = helpdesk / "copilot.yaml"
    text = spec_file.read_text(encoding="utf-8")
    spec_file.write_text(text.replace("thresholds: {rubric_pass_rate: 0.5}", "thresholds: {rubric_pass_rate: 0.1}")
                         .replace("p95_latency_s: 10.0", "p95_latency_s: 120.0"), encoding="utf-8")  # fmt: skip
    w = CopilotWidget(helpdesk, backend=tiny_model)
    w.evaluate(limit=3)
    last = w.overview["last_evaluation"]
    assert last is not None and last["passed"] is True
    assert {g["name"] for g in last["gates"]} >= {"threshold.rubric_pass_rate", "slo.p95_latency_s"}
    assert w.overview["registered"] == ["1"] and w.overview["stage"] is None
    promote_version(spec_file, "ga")
    w.pick(helpdesk)
    assert w.overview["stage"] == "ga" and w.overview["ga"] == "1"
    assert [p["action"] for p in w.overview["history"]] == ["promote"]
