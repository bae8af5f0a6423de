"""Cohort runs on Dask: the same results as the local batch runner, and no lost or doubled run when a worker dies."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import nbformat
import pytest

from workbench.errors import ValidationError
from workbench.playbooks import (
    BatchJob,
    BatchRunner,
    DaskBatchRunner,
    RunStatus,
    batch_runner,
    learner_notebook,
    new_playbook,
)

distributed = pytest.importorskip("distributed")

RUNS = 40


def _jobs(pb: Any) -> list[BatchJob]:
    """40 learners, varied parameters; every fifth runs the learner version (stubs: its graded tasks fail)."""
    stub = learner_notebook(pb)
    return [
        BatchJob(learner=f"learner-{i:02d}", team=f"team-{i % 3}", parameters={"repeats": 1 + i % 4},
                 notebook=stub if i % 5 == 0 else None)
        for i in range(RUNS)
    ]


def _outputs(path: Path) -> list[str]:
    """Each code cell's output text (streams joined: how a stream is split into messages is timing)."""
    nb = nbformat.read(path, as_version=4)
    return [
        "".join(o.get("text", "") or str(o.get("data", {}).get("text/plain", "")) for o in cell.get("outputs", []))
        for cell in nb.cells
        if cell.cell_type == "code"
    ]


def _kinds(run_events: Any, run_id: str) -> Counter[tuple[str, str | None, str | None]]:
    return Counter((str(e.kind), e.task, e.status) for e in run_events(run_id))


@pytest.mark.slow
def test_dask_batch_matches_the_local_batch_runner(tmp_path: Path, run_events: Any) -> None:
    pb = new_playbook("cohort", tmp_path / "pbs")
    local = BatchRunner(workers=2, progress=False, version="author").run(pb, _jobs(pb))
    seen: list[str] = []
    dask = DaskBatchRunner(
        workers=2, progress=False, version="author", staging_dir=tmp_path / "staging",
        on_result=lambda r: seen.append(r.run_id),
    ).run(pb, _jobs(pb))
    assert dask.workers == 2 and len(dask.results) == RUNS and sorted(seen) == sorted(r.run_id for r in dask.results)
    assert [r.status for r in dask.results] == [r.status for r in local.results]
    assert dask.counts == local.counts == {"completed": 32, "failed": 8}
    # each worker reused its kernel: 2 starts for 40 runs (the local runner's 2 kernels did the same)
    assert dask.kernel_starts == local.kernel_starts == 2
    for a, b in zip(local.results, dask.results, strict=True):
        assert (a.learner, a.team, a.parameters, a.task) == (b.learner, b.team, b.parameters, b.task)
        assert b.output_path.is_file() and b.output_path != a.output_path
        assert _outputs(b.output_path) == _outputs(a.output_path)
        assert _kinds(run_events, b.run_id) == _kinds(run_events, a.run_id)
        assert {e.learner for e in run_events(b.run_id)} == {b.learner}
    failed = next(r for r in dask.results if r.status == RunStatus.FAILED)
    assert failed.task == "warm-up"
    # staging files of workers that closed cleanly are removed
    assert not list((tmp_path / "staging").glob("*.db"))


def _staged_runs(staging: Path, pid: int) -> set[str]:
    """Run ids with a ``task_started`` in the staging store of the worker process ``pid``."""
    runs: set[str] = set()
    for path in staging.glob(f"*-{pid}-*.db"):
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            try:
                rows = conn.execute("SELECT DISTINCT run_id FROM events WHERE kind = 'task_started'").fetchall()
            except sqlite3.OperationalError:  # the schema is not there yet
                continue
        runs.update(r[0] for r in rows)
    return runs


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_no_run_and_counts_none_twice(tmp_path: Path, run_events: Any) -> None:
    pb = new_playbook("cohort", tmp_path / "pbs")
    staging = tmp_path / "staging"
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        pids = list(client.run(os.getpid).values())
        delivered: list[str] = []
        killed: dict[str, Any] = {}

        def kill_one_worker_mid_run(result: Any) -> None:
            delivered.append(result.run_id)
            if len(delivered) != 6:  # one try, a few runs in
                return
            victim = pids[0]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # wait until the victim has a run started and not delivered
                in_flight = _staged_runs(staging, victim) - set(delivered)
                if in_flight:
                    os.kill(victim, signal.SIGKILL)
                    killed.update(pid=victim, runs=in_flight)
                    return
                time.sleep(0.05)

        runner = DaskBatchRunner(
            scheduler=cluster.scheduler_address, progress=False, version="author", staging_dir=staging,
            on_result=kill_one_worker_mid_run,
        )
        batch = runner.run(pb, [BatchJob(learner=f"learner-{i:02d}", parameters={"repeats": 2}) for i in range(RUNS)])
    assert killed, "no worker was killed mid-run"
    # the dead worker's half-done run is still in its abandoned staging file ...
    assert killed["runs"] <= _staged_runs(staging, killed["pid"])
    # ... and was rerun elsewhere: every run delivered once, completed, recorded exactly once
    assert len(batch.results) == RUNS and len({r.run_id for r in batch.results}) == RUNS
    assert killed["runs"] <= {r.run_id for r in batch.results}
    assert batch.counts == {"completed": RUNS}
    once = Counter({("task_started", "warm-up", "started"): 1, ("task_completed", "warm-up", "completed"): 1,
                    ("task_started", "reflect", "started"): 1, ("task_completed", "reflect", "completed"): 1})
    for result in batch.results:
        kinds = _kinds(run_events, result.run_id)
        assert {k: n for k, n in kinds.items() if k[0].startswith("task_")} == once, result.run_id
        assert nbformat.read(result.output_path, as_version=4).cells


def test_batch_runner_picks_the_executor() -> None:
    assert isinstance(batch_runner("local", workers=3), BatchRunner)
    runner = batch_runner("dask", scheduler="tcp://127.0.0.1:8786", timeout=5.0)
    assert isinstance(runner, DaskBatchRunner) and runner.workers == 2 and runner.timeout == 5.0
    with pytest.raises(ValidationError, match="unknown executor 'spark'"):
        batch_runner("spark")
    with pytest.raises(ValidationError, match="--scheduler needs the dask executor"):
        batch_runner("local", scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(ValidationError, match="threads_per_worker must be at least 1"):
        DaskBatchRunner(threads_per_worker=0)


def _cli(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, dict[str, Any]]:
    import json

    from workbench.cli import main

    try:
        code = main([*args, "--json"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, json.loads(capsys.readouterr().out)


def test_cli_refuses_a_scheduler_without_the_dask_executor(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pb = new_playbook("cohort", tmp_path / "pbs")
    code, data = _cli(capsys, ["playbook", "batch", str(pb.root), "--learners", "ana", "--scheduler", "tcp://h:8786"])
    assert code == 2 and data["field"] == "scheduler" and "--executor dask" in data["hint"]


@pytest.mark.slow
def test_cli_batch_on_dask(capsys: pytest.CaptureFixture[str], tmp_path: Path, run_events: Any) -> None:
    pb = new_playbook("cohort", tmp_path / "pbs")
    code, data = _cli(capsys, ["playbook", "batch", str(pb.root), "--author", "--learners", "ana,ben,cy",
                               "--executor", "dask", "--workers", "2"])
    assert code == 0 and data["workers"] == 2 and data["counts"] == {"completed": 3}
    for run in data["runs"]:
        assert Counter(str(e.kind) for e in run_events(run["run_id"]))["task_completed"] == 2
