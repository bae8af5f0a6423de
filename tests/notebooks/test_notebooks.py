"""The tutorial notebooks in ``notebooks/``: committed with stripped outputs, and each runs headless.

Each notebook runs with papermill in a fresh kernel, with ``WORKBENCH_DATA_DIR``, ``TMPDIR`` and ``HOME`` on
the test's temporary folder. As for playbook runs, the outcome is the executor's exception (papermill marks
every cell completed after a timeout or a dead kernel), never the output notebook alone.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

import workbench

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: Seconds any one cell may run (the slowest builds a small RAG index on a shared CPU).
CELL_TIMEOUT = 300


def test_there_are_tours_and_the_readme_lists_each() -> None:
    names = {nb.name for nb in NOTEBOOKS}
    assert {"learner-tour.ipynb", "author-tour.ipynb", "manager-tour.ipynb"} <= names
    readme = (ROOT / "notebooks" / "README.md").read_text(encoding="utf-8")
    assert all(name in readme for name in names), f"notebooks/README.md should list each of {sorted(names)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_has_stripped_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [
        index
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} keep outputs (jupyter nbconvert --clear-output --inplace)"
    assert not {"widgets", "papermill"} & set(nb.metadata), f"{path.name}: saved widget state or run metadata"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_headless(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path
) -> None:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    data_dir, home, scratch = tmp_path / "wb-data", tmp_path / "home", tmp_path / "tmp"
    for folder in (home, scratch):
        folder.mkdir()
    # The kernel inherits this environment: a fresh data dir, temporary folders and a home of its own (so a
    # write to the user's home would show), with this checkout's workbench first on the path.
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(data_dir))
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setenv("HOME", str(home))
    package_root = str(Path(workbench.__file__).resolve().parents[1])
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([package_root, *filter(None, [os.environ.get("PYTHONPATH")])])
    )
    output = tmp_path / f"{path.stem}.out.ipynb"
    try:
        papermill.execute_notebook(
            str(path),
            str(output),
            cwd=str(tmp_path),
            kernel_name="python3",
            execution_timeout=CELL_TIMEOUT,
            progress_bar=False,
            log_output=False,
        )
    except PapermillExecutionError as exc:
        pytest.fail(f"{path.name}: cell {exc.cell_index} raised {exc.ename}: {exc.evalue}")
    # No exception means every cell ran; the output confirms it (each code cell has an execution count).
    nb = nbformat.read(output, as_version=4)
    unrun = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.get("execution_count") is None]
    assert not unrun, f"{path.name}: cells {unrun} did not run"
    assert not (home / ".workbench").exists(), f"{path.name} wrote Workbench data into the home folder"
