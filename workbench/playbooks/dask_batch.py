"""Cohort runs on a Dask cluster: ``workbench playbook batch --executor dask [--scheduler ADDRESS]``.

Why Dask: issue #17 asks for an existing engine rather than a home-grown scheduler. ``dask.distributed`` is
pure Python, pip-installable, and already does what a cohort batch needs beyond one machine's kernel pool: a
scheduler that hands tasks to worker processes, notices a worker that died and reruns its tasks elsewhere, a
``LocalCluster`` for one machine and the same client API for a real cluster (SSH, Kubernetes, HPC job queues
through dask-jobqueue), plus a dashboard. Ray would also do, but is a much heavier install for this job.

How a batch runs: every run is one Dask task (key ``workbench-run-<run id>``), prepared and validated on the
client exactly as :class:`~.batch.BatchRunner` does. Each worker process keeps warm kernels (one per worker
thread) on its own event-loop thread and runs notebooks through them with the local batch runner's own code
(:meth:`~.batch.BatchRunner._run_one`: a fresh IPython session per run, the same statuses, the same saved and
tagged output notebooks, the same runner-side ``task_failed`` records).

Recording is idempotent: kernels on a Dask worker write telemetry to a *staging* store private to the worker
process (SQLite in ``staging_dir``, default the system temp folder), never to the real store. When a run ends,
the worker reads that run's events from its staging store and returns them with the result; the client, which
receives each task's result once, commits them to the real store in one transaction, and skips a run whose id
already has events there. A worker that dies mid-run leaves the half-run's events (``task_started`` without an
end, perhaps a first ``task_completed``) in its own staging file, which nobody commits; the scheduler reruns the
task on another worker under the same run id and output path, so the run is counted once and its notebook is the
complete attempt's. A run whose task kills workers repeatedly (Dask's ``allowed-failures``, default 3) ends
``error``.

A remote cluster needs the playbooks and the runs folder on a filesystem the workers share, and the same
Workbench settings (cache and data folders) in the workers' environment; telemetry needs no shared store.
xAPI forwarding is off in staging kernels; committed events are forwarded by the client after the batch.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._optional import require
from workbench.errors import ValidationError
from workbench.playbooks.batch import (
    BatchJob,
    BatchResult,
    BatchRunner,
    Isolation,
    _tally,
    _unstarted,
    prepare_jobs,
)
from workbench.playbooks.discovery import Playbook, get_playbook
from workbench.playbooks.results import RunResult
from workbench.playbooks.runner import PreparedRun

if TYPE_CHECKING:
    from workbench.playbooks.dask_worker import Outcome, WorkerOptions

log = logging.getLogger(__name__)

#: Prefix of the Dask task keys (``workbench-run-<run id>``).
KEY_PREFIX = "workbench-run-"


@dataclass(kw_only=True, eq=False)
class DaskBatchRunner:
    """Runs one playbook many times on a Dask cluster; the same results as :class:`~.batch.BatchRunner`.

    Args:
        scheduler: A Dask scheduler address (``tcp://host:8786``); ``None`` starts a ``LocalCluster``.
        workers: Worker processes of the ``LocalCluster`` (default 2); ignored with ``scheduler``.
        threads_per_worker: Threads (and so warm kernels) per worker process of the ``LocalCluster``.
        timeout: Per-cell execution timeout in seconds; ``None`` = none.
        start_timeout: Seconds to wait for a kernel to start.
        runs_dir: Where run folders go (default ``settings.runs_dir``); shared by the workers.
        progress: Show a progress bar (tqdm, on stderr).
        isolation: ``reset`` (fresh IPython session in a reused kernel) or ``restart`` (new kernel per run).
        on_result: Called with each :class:`RunResult` as it is committed.
        version: ``learner`` (default: solution regions become stubs) or ``author``.
        origin: Force the origin the runs' evidence records.
        continue_on_error: Run every cell even after one fails.
        staging_dir: Where each worker process keeps its staging store (default: the system temp folder).
    """

    scheduler: str | None = None
    workers: int = 2
    threads_per_worker: int = 1
    timeout: float | None = None
    start_timeout: float = 60.0
    runs_dir: str | Path | None = None
    progress: bool = True
    isolation: Isolation = "reset"
    on_result: Callable[[RunResult], None] | None = None
    version: str = "learner"
    origin: str | None = None
    continue_on_error: bool = False
    staging_dir: str | Path | None = None
    _committed: set[str] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("workers", "threads_per_worker"):
            if getattr(self, name) < 1:
                raise ValidationError(f"{name} must be at least 1, got {getattr(self, name)}", field=name)

    def run(
        self,
        playbook: str | Path | Playbook,
        jobs: Iterable[BatchJob | Mapping[str, Any]],
        *,
        smoke: bool = False,
    ) -> BatchResult:
        """Run every job on the cluster; never raises for a failed run (see each result's status).

        Raises:
            NotFoundError: For an unknown playbook.
            ValidationError: For a job with bad parameters (before anything is sent to the cluster).
            MissingExtraError: When ``distributed`` is not installed.
        """
        distributed = require("distributed", extra="dask")
        from workbench.playbooks.dask_worker import KernelPoolPlugin, WorkerOptions
        pb = get_playbook(playbook)
        preps = prepare_jobs(
            pb, jobs, smoke=smoke, runs_dir=self.runs_dir, version=self.version, origin=self.origin,
            continue_on_error=self.continue_on_error,
        )
        t0 = time.perf_counter()
        with contextlib.ExitStack() as stack:
            client = stack.enter_context(self._client(distributed))
            client.register_plugin(KernelPoolPlugin(), name=KernelPoolPlugin.name)
            threads = sum(w["nthreads"] for w in client.scheduler_info()["workers"].values()) or 1
            opts = WorkerOptions(
                self.timeout, self.start_timeout, self.isolation,
                str(self.staging_dir or Path(tempfile.gettempdir()) / "workbench-dask-staging"),
                max(1, (os.cpu_count() or 1) // threads),
            )
            results, starts = self._gather(distributed, client, pb, preps, opts)
        _forward_to_lrs()
        return BatchResult(pb.id, results, time.perf_counter() - t0, threads, starts)

    def _client(self, distributed: Any) -> Any:
        if self.scheduler is not None:
            try:
                return distributed.Client(self.scheduler, timeout=self.start_timeout)
            except OSError as exc:
                raise ValidationError(
                    f"cannot reach the Dask scheduler {self.scheduler}: {exc}", field="scheduler",
                    hint="pass the address `dask scheduler` printed (tcp://host:8786), or omit --scheduler "
                    "for a local cluster",
                ) from None
        cluster = distributed.LocalCluster(
            n_workers=self.workers, threads_per_worker=self.threads_per_worker, processes=True,
            dashboard_address=None, silence_logs=logging.ERROR,
        )
        return _OwnedClient(distributed.Client(cluster), cluster)

    def _gather(
        self, distributed: Any, client: Any, pb: Playbook, preps: list[PreparedRun], opts: WorkerOptions
    ) -> tuple[list[RunResult], int]:
        from tqdm.auto import tqdm

        from workbench.playbooks.dask_worker import execute_run
        from workbench.telemetry import open_store

        futures = {
            client.submit(execute_run, prep, opts, key=KEY_PREFIX + prep.run_id, pure=False): index
            for index, prep in enumerate(preps)
        }
        results: list[RunResult | None] = [None] * len(preps)
        starts = 0
        bar = tqdm(total=len(preps), desc=pb.id, unit="run", disable=not self.progress, leave=False)
        try:
            with open_store() as store:
                for future in distributed.as_completed(futures):
                    index = futures[future]
                    outcome = _outcome(future, preps[index])
                    self._commit(store, outcome)
                    starts += outcome.kernel_starts
                    results[index] = outcome.result
                    if self.on_result is not None:
                        self.on_result(outcome.result)
                    bar.update(1)
                    bar.set_postfix(_tally(results), refresh=False)
        finally:
            bar.close()
        return [r for r in results if r is not None], starts

    def _commit(self, store: Any, outcome: Outcome) -> None:
        """Append a run's events to the real store once (one transaction), whatever delivered them."""
        run_id = outcome.result.run_id
        if run_id in self._committed or (outcome.events and store.count(run_id=run_id)):
            log.warning("run %s was delivered twice; its events are already recorded", run_id)
            return
        if outcome.events:
            store.append_many(outcome.events)
        self._committed.add(run_id)


@dataclass
class _OwnedClient:
    """A client and the ``LocalCluster`` it was made for: both close together."""

    client: Any
    cluster: Any

    def __enter__(self) -> Any:
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.cluster.close()


def _outcome(future: Any, prep: PreparedRun) -> Outcome:
    """The future's outcome, or an ``error`` run (saved notebook, no events) when the task itself failed."""
    from workbench.playbooks.dask_worker import Outcome

    try:
        return future.result()  # type: ignore[no-any-return]
    except Exception as exc:  # KilledWorker after repeated worker deaths, or a worker that could not run it
        return Outcome(_unstarted(prep, exc), [], 0)


def _forward_to_lrs() -> None:
    """Send the committed events to the learning record store, when one is configured (kernels did not)."""
    from workbench.telemetry.xapi import XapiConfig, sync_statements

    if XapiConfig.from_settings() is None:
        return
    try:
        sync_statements()
    except Exception as exc:  # the statements stay unsent in the store; the next sync sends them
        log.warning("could not forward the batch's events to the learning record store: %s", exc)


#: The executors ``workbench playbook batch --executor`` accepts.
EXECUTORS: tuple[str, ...] = ("local", "dask")


def batch_runner(
    executor: str = "local", *, scheduler: str | None = None, workers: int | None = None, **options: Any
) -> BatchRunner | DaskBatchRunner:
    """The batch runner for ``executor`` (the one door the CLI uses).

    Args:
        executor: ``local`` (a pool of reused kernels in this process) or ``dask`` (a Dask cluster).
        scheduler: A Dask scheduler address (``dask`` only; default: a ``LocalCluster``).
        workers: Kernels in parallel (``local``) or ``LocalCluster`` worker processes (``dask``, default 2).
        **options: The runners' shared options (timeout, progress, isolation, version, runs_dir...).

    Raises:
        ValidationError: For an unknown executor, or a scheduler given to the local one.
    """
    if executor == "dask":
        return DaskBatchRunner(scheduler=scheduler, workers=workers or 2, **options)
    if executor != "local":
        raise ValidationError(f"unknown executor '{executor}'", field="executor",
                              hint=f"use one of: {', '.join(EXECUTORS)}")
    if scheduler is not None:
        raise ValidationError("--scheduler needs the dask executor", field="scheduler",
                              hint="add --executor dask")
    return BatchRunner(workers=workers, **options)


__all__ = ["EXECUTORS", "KEY_PREFIX", "DaskBatchRunner", "batch_runner"]
