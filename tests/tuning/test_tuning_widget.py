"""The live training widget: traits mirror the run, the stop button stops it, Python and JS agree on fields."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from workbench.errors import RunError
from workbench.widgets.tuning import FIELDS, TuningWidget

JS = Path(__file__).resolve().parents[2] / "workbench" / "widgets" / "static" / "tuning.js"


def test_fields_match_the_front_end() -> None:
    ours = {name for name in TuningWidget.class_trait_names(sync=True) if not name.startswith("_")}
    assert ours - {"comm", "layout", "tabbable", "tooltip", "keys", "log"} == set(FIELDS)
    block = re.search(r"export const FIELDS = \[(.*?)\];", JS.read_text(), re.S)
    assert block is not None and re.findall(r'"(\w+)"', block.group(1)) == list(FIELDS)


def test_front_end_helpers() -> None:
    if shutil.which("node") is None:  # the lab extension's build needs it too: a missing node is a failure
        pytest.fail("node is missing: install Node.js (apt-get install nodejs), which the lab extension build needs")
    script = (
        f"import('{JS.as_uri()}').then(m => console.log(JSON.stringify([m.formatBytes(3 * 2 ** 20), "
        "m.formatSeconds(75), m.scalePoints([[0, 2], [10, 1]], 10, 1, 2, 100, 50)])))"
    )
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == '["3.0 MiB","1 min 15 s","0,0 100,50"]'


def test_stop_action_sets_the_signal() -> None:
    widget = TuningWidget()
    widget.status = "running"
    widget._on_action(widget, {"action": "stop"}, [])
    assert widget.stop_signal.requested and widget.status == "stopping"
    widget._on_action(widget, {"action": "dance"}, [])
    assert "unknown action" in widget.error


@pytest.mark.slow
def test_widget_follows_a_run_and_its_stop_button_stops_it(make_config: Callable[..., Any]) -> None:
    widget = TuningWidget()
    stepped: list[int] = []

    class PressStop:
        """Presses the widget's stop button (the message the front end sends) after step 2."""

        def __getattr__(self, name: str) -> Any:
            return lambda *args, **kwargs: None

        def on_step_end(self, metrics: Any) -> None:
            stepped.append(metrics.step)
            if metrics.step == 2:
                widget._on_action(widget, {"action": "stop"}, [])

    config = make_config("lora", **{"training.max_steps": 50})
    widget.start(config, callbacks=[PressStop()])
    result = widget.wait(timeout=600)
    assert result is not None and result.status == "stopped"
    assert stepped == [1, 2]
    assert widget.status == "stopped" and widget.step == 2 and widget.total_steps == 50
    assert [p[0] for p in widget.train_loss] == [1, 2]
    assert widget.summary["status"] == "stopped" and widget.summary["last_checkpoint"].endswith(
        "step-0000002"
    )
    assert widget.summary["peak_memory_bytes"] > 0 and widget.memory_bytes > 0
    assert "checkpoint" in widget.message

    headless = TuningWidget().run(
        make_config("lora", out=Path.cwd() / "headless", **{"training.max_steps": 2})
    )
    assert headless.status == "completed"


def test_a_run_that_cannot_start_shows_its_error_and_wait_raises_it(tmp_path: Path) -> None:
    from workbench.errors import NotFoundError

    widget = TuningWidget()
    widget.start(tmp_path / "missing.yaml")
    with pytest.raises(NotFoundError):
        widget.wait(120)
    assert widget.status == "failed" and "missing.yaml" in widget.error and "hint:" in widget.error


@pytest.mark.slow
def test_start_button_trains_in_the_background_with_live_progress_and_stop(make_config: Callable[..., Any]) -> None:
    """Start and Stop as the front end sends them: a real tiny-model run in the widget's worker thread."""
    widget = TuningWidget()
    widget._on_action(widget, {"action": "start"}, [])  # nothing to train yet: the learner reads why
    assert widget.wait(60, raise_errors=False) is None
    assert widget.status == "failed" and "no training config" in widget.error

    config = make_config("lora", **{"training.max_steps": 400})
    widget.config = config
    assert widget.config_name == config.name and "press Start" in widget.message
    seen: list[tuple[int, float, str]] = []

    def watch(change: dict[str, Any]) -> None:  # the trait updates the view receives, in the training thread
        if change["name"] == "eta_s":  # set after the step in each update
            seen.append((widget.step, widget.eta_s, widget.status))
        elif widget.step >= 3 and not widget.stop_signal.requested:
            widget._on_action(widget, {"action": "stop"}, [])

    widget.observe(watch, names=["step", "eta_s"])
    widget._on_action(widget, {"action": "start"}, [])
    assert widget.busy and widget.status == "starting"
    widget._on_action(widget, {"action": "start"}, [])  # a second press while it runs changes nothing
    assert widget.error == "an action is already running"
    with pytest.raises(RunError, match="already in progress"):  # nor does a second run from code
        widget.run()
    result = widget.wait(300)
    assert result is not None and result is widget.result and result.status == "stopped"
    steps = [step for step, _, _ in seen if step]
    assert steps == sorted(steps) and steps[0] >= 1 and 3 <= widget.step < 400, seen
    live = [(step, eta) for step, eta, status in seen if status in ("running", "stopping")]
    assert live and all(eta > 0 for step, eta in live if step < 400), seen  # never "0 s" while steps remain
    assert widget.status == "stopped" and widget.eta_s == 0 and widget.phase == ""
    assert [p[0] for p in widget.train_loss] == list(range(1, widget.step + 1))
    rows = {row["quantity"]: row for row in widget.summary["memory"]}
    model_row = rows["model tensors (frozen weights + adapters)"]
    # like for like: the plan's weights + adapters against the loaded model's tensors, within 10 %
    assert abs(model_row["measured_bytes"] - model_row["estimate_bytes"]) <= 0.1 * model_row["estimate_bytes"]
    assert rows["training peak: what the run added"]["estimate_bytes"] > 0
    assert rows["process peak (resident memory)"]["estimate_bytes"] is None

    widget.unobserve(watch, names=["step", "eta_s"])
    widget.config = make_config("lora", out=Path.cwd() / "again", **{"training.max_steps": 2})
    widget._on_action(widget, {"action": "start"}, [])  # Start again: a new run of the new config completes
    again = widget.wait(300)
    assert again is not None and again.status == "completed" and widget.step == 2 and widget.error == ""


def test_memory_comparison_sets_like_beside_like() -> None:
    from workbench.tuning.runcard import RunCard, memory_comparison

    mib = 2**20
    plan = {"bytes": {"weights": 2 * mib, "adapters": mib, "gradients": mib, "optimizer": 2 * mib,
                      "activations": 18 * mib, "total": 24 * mib}}  # fmt: skip
    cpu = RunCard(run_id="r", name="n", plan=plan, memory={"method": "rss", "peak_bytes": 565 * mib,
                  "baseline_bytes": 480 * mib, "peak_delta_bytes": 85 * mib, "model_bytes": 3 * mib})  # fmt: skip
    rows = [(r.quantity, r.estimate_bytes, r.measured_bytes) for r in memory_comparison(cpu)]
    assert rows == [
        ("model tensors (frozen weights + adapters)", 3 * mib, 3 * mib),
        ("training peak: what the run added", 24 * mib, 85 * mib),
        ("process peak (resident memory)", None, 565 * mib),
    ]
    assert "**Memory, process peak (resident memory):** estimate n/a, measured 565.0 MiB" in cpu.to_markdown()
    gpu = cpu.model_copy(update={"memory": {"method": "allocator", "peak_bytes": 26 * mib, "model_bytes": 3 * mib}})
    assert [(r.quantity, r.estimate_bytes, r.measured_bytes) for r in memory_comparison(gpu)][1:] == [
        ("training peak (live tensors)", 24 * mib, 26 * mib)
    ]
