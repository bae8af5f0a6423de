"""The live training widget: traits mirror the run, the stop button stops it, Python and JS agree on fields."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

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
