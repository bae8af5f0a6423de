"""The batch runner: reused kernels, clean state between runs, honest statuses and recovery."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from workbench.playbooks import BatchRunner, RunStatus, jobs_from, learner_progress, run_batch
from workbench.playbooks.notebook import STATUS_TAG

pytestmark = pytest.mark.slow

#: Per-cell timeout: long enough for a cold import on a loaded CI machine, short for the test that sleeps.
TIMEOUT = 6

ISOLATION_CELLS = [
    ('mode = "ok"\nn = 2', ("parameters",)),
    (
        "import os\n"
        "from workbench.playbooks import task\n"
        'print("leaked" if "secret" in globals() else "clean")\n'
        "secret = n\n"
        'print(os.environ["WORKBENCH_RUN_ID"] == workbench_run_id, os.environ["WORKBENCH_LEARNER"] == workbench_learner)',
        ("task:work",),
    ),
    ('with task("work"):\n    pass\nwith task("after"):\n    print(n)', ("task:after",)),
]


def _text(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))


def test_several_learners_share_a_kernel_without_sharing_state(make_playbook, run_events) -> None:
    root = make_playbook("iso", cells=ISOLATION_CELLS)
    seen = []
    runner = BatchRunner(workers=1, progress=False, on_result=seen.append)
    batch = runner.run(root, jobs_from(["ana", "ben", "cy"], [{"n": 4}]))
    assert batch.ok and batch.counts == {"completed": 3} and batch.kernel_starts == 1
    assert [r.run_id for r in seen] == [r.run_id for r in batch.results]
    assert len({r.learner for r in batch.results}) == 3 and len({r.run_id for r in batch.results}) == 3
    for result in batch.results:
        nb = nbformat.read(result.output_path, as_version=4)
        assert _text(nb) == "clean\nTrue True\n4\n"
        assert [c.execution_count for c in nb.cells if c.cell_type == "code"] == [1, 2, 3, 4]
        events = run_events(result.run_id)
        assert [str(e.kind) for e in events].count("task_completed") == 2
        assert {e.learner for e in events} == {result.learner}
    [progress] = learner_progress("ben", playbook=root)
    assert progress.done


def test_batch_failure_matrix_with_two_workers(matrix_playbook: Path, run_events) -> None:
    modes = ["ok", "raise", "sleep", "die", "ok", "ok"]
    batch = run_batch(
        matrix_playbook,
        parameter_sets=[{"mode": m, "learner": f"learner-{i}"} for i, m in enumerate(modes)],
        workers=2,
        timeout=TIMEOUT,
        progress=False,
    )
    statuses = [r.status for r in batch.results]
    assert statuses == [
        RunStatus.COMPLETED,
        RunStatus.FAILED,
        RunStatus.TIMEOUT,
        RunStatus.KERNEL_DIED,
        RunStatus.COMPLETED,
        RunStatus.COMPLETED,
    ]
    # Two workers, plus a fresh kernel after the timeout and after the death, started lazily when that worker
    # takes another job: with a shared queue the other worker may take the last jobs, so 3 or 4 starts.
    assert 3 <= batch.kernel_starts <= 4
    for result in batch.results:
        nb = nbformat.read(result.output_path, as_version=4)
        assert nb.metadata["workbench"]["run_id"] == result.run_id
        if result.ok:
            assert "worked 2" in _text(nb)
            continue
        assert result.task == "work"
        assert STATUS_TAG in nb.cells[0].metadata["tags"]
        failed = [e for e in run_events(result.run_id) if str(e.kind) == "task_failed"]
        assert failed[-1].task == "work" and failed[-1].status == str(result.status)
    assert batch.to_dict()["counts"] == {"completed": 3, "failed": 1, "timeout": 1, "kernel_died": 1}
