"""A model load in a notebook cell says what it is doing: a one-line status, then ``<model> ready (N s)``."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_loading_a_model_in_a_kernel_shows_a_status_line_and_no_noise(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("from workbench.models import load_model\nmodel = load_model('workbench-tiny')"),
        nbformat.v4.new_code_cell("print(model.name)"),
    ])  # fmt: skip
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))  # the kernel
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    texts = [o.get("data", {}).get("text/plain", "") for o in outputs if o.output_type == "display_data"]
    assert len(texts) == 1 and texts[0].startswith("workbench-tiny ready (") and texts[0].endswith(" s)"), outputs
    assert not [o for o in outputs if o.output_type == "stream"], outputs  # no warnings, no bars
    assert nb.cells[1].outputs[0].text.strip() == "workbench-tiny"


def test_outside_a_kernel_nothing_is_shown(capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.models.status import kernel_status

    with kernel_status("Loading x"):
        pass
    assert capsys.readouterr() == ("", "")
