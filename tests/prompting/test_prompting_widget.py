"""The playground widget: traits match the ES module, headless runs, actions, and a real kernel (nbclient)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workbench.prompting import Playground
from workbench.widgets.playground import FIELDS, PlaygroundWidget

JS = Path(__file__).resolve().parents[2] / "workbench" / "widgets" / "static" / "playground.js"


def test_synced_traits_match_the_es_module_field_list() -> None:
    synced = {name for name in PlaygroundWidget.class_trait_names(sync=True) if not name.startswith("_")}
    ours = synced - {"comm", "keys", "layout", "log", "tabbable", "tooltip"}
    assert ours == set(FIELDS)
    block = re.search(r"export const FIELDS = \[(.*?)\];", JS.read_text(), re.S)
    assert block is not None
    assert re.findall(r'"(\w+)"', block.group(1)) == list(FIELDS)


@pytest.fixture
def widget(tiny_model, settings) -> PlaygroundWidget:  # type: ignore[no-untyped-def]
    return PlaygroundWidget(playground=Playground(tiny_model), max_new_tokens=6, stream=True)


def test_template_selection_fills_defaults_system_and_parameters(widget: PlaygroundWidget) -> None:
    widget.template = "summarise@2"
    assert widget.variables == {"audience": "engineer", "max_words": 60}
    assert widget.system.startswith("You summarise documents")
    assert widget.max_new_tokens == 120 and widget.temperature == 0.2
    assert any(t["ref"] == "summarise@1" for t in widget.templates)


def test_headless_run_updates_state_and_history(widget: PlaygroundWidget) -> None:
    widget.template = "summarise@1"
    widget.variables = {"text": "The export failed twice on Monday."}
    widget.max_new_tokens = 6
    run = widget.run()
    assert run is not None and widget.status == "done" and widget.error == ""
    assert widget.output == run.text
    assert widget.last_run["template"] == "summarise@1" and widget.last_run["output_tokens"] == run.output_tokens
    assert len(widget.history) == 1 and widget.playground.history == [run]


def test_edited_system_prompt_and_free_prompt(widget: PlaygroundWidget) -> None:
    widget.template = "summarise@1"
    widget.variables = {"text": "x"}
    widget.system = "Answer in French."
    run = widget.run()
    assert run is not None and run.messages[0] == {"role": "system", "content": "Answer in French."}
    widget.template = ""
    widget.prompt = "Hello there"
    run = widget.run()
    assert run is not None and run.template is None and run.prompt == "Hello there"


def test_compare_fills_one_column_per_variant(widget: PlaygroundWidget) -> None:
    widget.template = "summarise@1"
    widget.variables = {"text": "Refunds take five days."}
    widget.max_new_tokens = 5
    result = widget.compare(["summarise@1", "summarise@2"])
    assert result is not None
    assert [r["label"] for r in widget.comparison] == ["summarise@1", "summarise@2"]
    assert [r["status"] for r in widget.comparison] == ["ok", "ok"]
    assert all("latency_s" in r for r in widget.comparison)
    assert len(widget.history) == 2


def test_errors_land_in_the_error_trait(widget: PlaygroundWidget) -> None:
    widget.template = "classify-ticket"
    assert widget.run(raise_errors=False) is None
    assert widget.status == "error" and "missing the required variable 'ticket'" in widget.error
    widget.template = ""
    widget.prompt = ""
    assert widget.run(raise_errors=False) is None and "empty" in widget.error


def test_actions_run_off_the_comm_thread(widget: PlaygroundWidget) -> None:
    widget.prompt = "The cat"
    widget._on_action(widget, {"action": "run"}, [])
    widget.wait(120)
    assert widget.status == "done" and len(widget.history) == 1
    widget._on_action(widget, {"action": "clear_history"}, [])
    assert widget.history == [] and widget.playground.history == []
    widget._on_action(widget, {"action": "dance"}, [])
    assert "unknown action" in widget.error


def test_compare_lines_typed_in_the_box_are_the_variants(widget: PlaygroundWidget) -> None:
    """The browser sends the Compare box's lines as typed; the kernel parses them (free prompt, no template)."""
    widget.prompt, widget.max_new_tokens = "The cat", 4
    widget.run()
    assert widget.output
    widget._on_action(widget, {"action": "compare", "lines": ["temperature=0.2 seed=1", "", "temperature=1.2 seed=1 system=Be terse."]}, [])
    widget.wait(120)
    assert widget.status == "done", widget.error
    assert [r["label"] for r in widget.comparison] == ["temperature=0.2 · seed=1", "temperature=1.2 · seed=1 · custom system"]
    assert widget.output == "" and widget.last_run == {}  # the main output no longer shows an older run
    widget._on_action(widget, {"action": "compare", "lines": ["temp=1", "seed=2"]}, [])
    widget.wait(120)
    assert widget.status == "error" and "unknown setting 'temp'" in widget.error
    assert str(Path.cwd()) not in widget.error


NOTEBOOK = [
    """
import os
from workbench.widgets.playground import PlaygroundWidget
w = PlaygroundWidget(template="summarise@1", variables={"text": "The export failed on Monday."}, max_new_tokens=6)
run = w.run()
assert w.status == "done" and w.output == run.text and len(w.history) == 1, (w.status, w.error)
w
""",
    """
w.compare(["summarise@1", "summarise@2"])
assert [r["status"] for r in w.comparison] == ["ok", "ok"], w.comparison
""",
    # (the test sends a real comm message here: {"action": "run"})
    """
w.wait(120)
from workbench.telemetry import get_recorder, open_store
get_recorder().flush()
with open_store() as store:
    n = store.count(kind="generation")
print("STATE", w.status, len(w.history), n)
""",
]


@pytest.mark.slow
def test_widget_in_a_real_kernel_with_a_comm_action(tiny_model_dir, settings) -> None:  # type: ignore[no-untyped-def]
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src.strip()) for src in NOTEBOOK]
    client = NotebookClient(nb, kernel_name="python3", timeout=300, store_widget_state=True)
    with client.setup_kernel():
        client.execute_cell(nb.cells[0], 0)
        view = next(o for o in nb.cells[0].outputs if o.get("output_type") == "execute_result")
        model_id = view["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
        client.execute_cell(nb.cells[1], 1)
        # What the browser's "Run" button does: a custom comm message carrying the action.
        msg = client.kc.session.msg(
            "comm_msg", {"comm_id": model_id, "data": {"method": "custom", "content": {"action": "run"}}}
        )
        client.kc.shell_channel.send(msg)
        client.execute_cell(nb.cells[2], 2)
        client.set_widgets_metadata()
    printed = "".join(o.get("text", "") for o in nb.cells[2].outputs)
    assert "STATE done 4 4" in printed  # 1 run + 2 compared + 1 from the comm action; 4 generation events
    states = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    ours = states[model_id]["state"]
    assert ours["status"] == "done" and len(ours["comparison"]) == 2 and len(ours["history"]) == 4
    from workbench.widgets._static import widget_esm

    assert ours["_esm"] == widget_esm("playground.js")  # the shared DOM helpers, then the playground view
    assert "\n// Prompt playground view" in ours["_esm"]
