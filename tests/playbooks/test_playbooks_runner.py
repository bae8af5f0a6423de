"""The papermill runner: a real run, and the failure matrix with honest, distinct statuses."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from workbench.playbooks import PlaybookRunner, RunStatus, learner_progress, run_playbook
from workbench.playbooks.notebook import STATUS_TAG

pytestmark = pytest.mark.slow

#: Per-cell timeout: long enough for a cold import on a loaded CI machine, short for the test that sleeps.
TIMEOUT = 6


def test_completed_run_injects_ids_and_records_tasks(matrix_playbook: Path, run_events) -> None:
    result = run_playbook(matrix_playbook, learner="ana", team="support", parameters={"n": "3"})
    assert result.status == RunStatus.COMPLETED and result.exit_code == 0, result.error_message
    assert result.learner.startswith("p_") and result.parameters == {"mode": "ok", "n": 3}
    nb = nbformat.read(result.output_path, as_version=4)
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert f'workbench_learner = "{result.learner}"' in injected.source
    assert f'workbench_run_id = "{result.run_id}"' in injected.source
    assert nb.metadata["workbench"]["status"] == "completed"
    assert not any(STATUS_TAG in c.metadata.get("tags", []) for c in nb.cells)
    assert "worked 3" in "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    events = run_events(result.run_id)
    assert [(str(e.kind), e.task) for e in events] == [
        ("task_started", "work"),
        ("task_completed", "work"),
        ("task_started", "after"),
        ("task_completed", "after"),
    ]
    assert {e.learner for e in events} == {result.learner}
    assert {e.team for e in events} == {"support"} and {e.playbook for e in events} == {"matrix"}
    assert json.loads((result.output_path.parent / "run.json").read_text())["status"] == "completed"
    [progress] = learner_progress("ana", playbook=matrix_playbook)
    assert progress.done and progress.next_task is None and progress.runs == 1


@pytest.mark.parametrize(
    ("mode", "status", "error_type"),
    [
        ("raise", RunStatus.FAILED, "ValueError"),
        ("sleep", RunStatus.TIMEOUT, "CellTimeoutError"),
        ("die", RunStatus.KERNEL_DIED, "DeadKernelError"),
    ],
)
def test_failure_matrix(
    matrix_playbook: Path, run_events, mode: str, status: RunStatus, error_type: str
) -> None:
    runner = PlaybookRunner(timeout=TIMEOUT)
    result = runner.run(matrix_playbook, learner="bo", parameters={"mode": mode})
    assert result.status == status
    assert result.error_type == error_type
    assert result.task == "work" and result.exit_code != 0
    # The output notebook is saved and tagged: metadata plus a first markdown cell naming the failure.
    nb = nbformat.read(result.output_path, as_version=4)
    assert nb.metadata["workbench"]["status"] == str(status)
    assert nb.cells[0].cell_type == "markdown" and STATUS_TAG in nb.cells[0].metadata["tags"]
    assert f"Workbench run {status}" in nb.cells[0].source and "`work`" in nb.cells[0].source
    # task_failed with this status in the store (by the kernel for an exception, by the runner otherwise).
    failed = [e for e in run_events(result.run_id) if str(e.kind) == "task_failed"]
    assert failed and failed[-1].task == "work"
    assert failed[-1].attributes["skills"] == {"prompting": 1.0}
    if status == RunStatus.FAILED:
        assert failed[-1].status == "failed" and "recorded_by" not in failed[-1].attributes
    else:
        assert failed[-1].status == str(status) and failed[-1].attributes["recorded_by"] == "runner"
    [progress] = learner_progress("bo", playbook=matrix_playbook)
    assert progress.next_task is not None and progress.next_task.id == "work"


def test_error_outside_a_task_is_attributed_by_cell_tag(matrix_playbook: Path, run_events) -> None:
    result = run_playbook(matrix_playbook, learner="cy", parameters={"mode": "outside"})
    assert result.status == RunStatus.FAILED and result.error_type == "RuntimeError"
    failed = [e for e in run_events(result.run_id) if str(e.kind) == "task_failed"]
    assert [(e.task, e.attributes.get("recorded_by")) for e in failed] == [("after", "runner")]
    [progress] = learner_progress("cy", playbook=matrix_playbook)
    assert [t.status for t in progress.tasks] == ["completed", "failed"]
    assert progress.next_task.id == "after"
