"""Run one playbook for many learners or parameter sets through a pool of reused kernels.

papermill starts (and stops) a kernel per notebook, ~1 s each; a batch instead keeps ``workers`` kernels warm
and runs notebooks through them with nbclient (the route papermill's maintainers point to, nteract/papermill#616).
Between runs a kernel is reset: a fresh IPython session (``reset(new_session=True)``: empty namespace, execution
count 1) with the next run's ``WORKBENCH_*`` environment and working folder. Imported modules stay loaded
(that is the speed-up); a run that times out or kills its kernel gets a fresh kernel for the next run.

Runs are still honest: each gets its own run id, output notebook, status from the executor's exception, and
runner-side ``task_failed`` record, exactly as :class:`~workbench.playbooks.runner.PlaybookRunner` does. A kernel
is never shared by two runs at once. For untrusted notebooks of different people prefer
``isolation="restart"`` (a fresh kernel per run, still without papermill's per-run setup cost).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import yaml
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from papermill.iorw import load_notebook_node

from workbench.errors import ValidationError
from workbench.playbooks.discovery import Playbook, get_playbook
from workbench.playbooks.results import (
    RunResult,
    RunStatus,
    describe_error,
    first_cell_error,
    save_output,
    status_of,
)
from workbench.playbooks.runner import (
    EPILOGUE,
    PreparedRun,
    base_kernel_env,
    kernel_manager_class,
    parameterized,
    prepare_run,
    record_outcome,
)

Isolation = Literal["reset", "restart"]


@dataclass(frozen=True)
class BatchJob:
    """One run of a batch.

    Attributes:
        learner: Raw learner id (stored as a pseudonym).
        parameters: Manifest parameters for this run.
        team: The learner's team.
        notebook: A notebook to run instead of the batch's version (e.g. a simulated learner's answers).
    """

    learner: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    team: str | None = None
    notebook: Any = None


@dataclass
class BatchResult:
    """What a batch did.

    Attributes:
        playbook: The playbook id.
        results: One :class:`RunResult` per job, in job order.
        duration_s: Wall-clock seconds for the whole batch.
        workers: Kernels run in parallel.
        kernel_starts: Kernels started (workers plus restarts after timeouts and deaths).
    """

    playbook: str
    results: list[RunResult]
    duration_s: float
    workers: int
    kernel_starts: int

    @property
    def counts(self) -> dict[str, int]:
        """Number of runs per status."""
        out: dict[str, int] = {}
        for r in self.results:
            out[str(r.status)] = out.get(str(r.status), 0) + 1
        return out

    @property
    def ok(self) -> bool:
        """Whether every run completed."""
        return all(r.ok for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``--json``)."""
        return {
            "playbook": self.playbook,
            "ok": self.ok,
            "counts": self.counts,
            "duration_s": round(self.duration_s, 3),
            "workers": self.workers,
            "kernel_starts": self.kernel_starts,
            "runs": [r.to_dict() for r in self.results],
        }


def jobs_from(
    learners: Iterable[str] | None = None, parameter_sets: Iterable[Mapping[str, Any]] | None = None
) -> list[BatchJob]:
    """Jobs for every learner x every parameter set (either may be omitted).

    A parameter set may carry ``learner`` and ``team`` keys; the rest are manifest parameters.
    """
    sets = [dict(p) for p in parameter_sets] if parameter_sets is not None else [{}]
    names = list(learners) if learners is not None else [None]
    jobs = []
    for name in names:
        for params in sets:
            params = dict(params)
            learner = params.pop("learner", None) or name
            team = params.pop("team", None)
            jobs.append(BatchJob(learner=learner, parameters=params, team=team))
    return jobs


def load_parameter_sets(path: str | Path) -> list[dict[str, Any]]:
    """Parameter sets from a JSONL file (one object a line) or a YAML/JSON list of objects.

    Raises:
        ValidationError: Naming the file and line of a bad entry.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationError(
            "parameters file not found", file=path, hint="pass a .jsonl or .yaml file"
        ) from None
    if path.suffix == ".jsonl":
        out = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValidationError(f"not JSON: {exc.msg}", file=path, line=lineno) from None
            if not isinstance(item, dict):
                raise ValidationError("each line must be a JSON object", file=path, line=lineno)
            out.append(item)
        return out
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError(f"not valid YAML/JSON: {exc}", file=path) from None
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise ValidationError(
            "expected a list of parameter objects",
            file=path,
            hint="e.g. [{learner: ana, max_new_tokens: 16}]",
        )
    return data


@dataclass(eq=False)
class _Kernel:
    """One warm kernel owned by one worker."""

    kernel_name: str
    env: dict[str, str]
    cwd: str
    start_timeout: float
    log: Path
    km: AsyncKernelManager | None = field(default=None, init=False)
    kc: Any = field(default=None, init=False)
    starts: int = field(default=0, init=False)
    language_info: dict[str, Any] | None = field(default=None, init=False)

    async def start(self) -> None:
        self.km = kernel_manager_class()(kernel_name=self.kernel_name)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:  # the child keeps its own descriptor
            await self.km.start_kernel(
                env=self.env,
                cwd=self.cwd,
                extra_arguments=["--HistoryManager.hist_file=:memory:"],
                stdout=log,
                stderr=log,
            )
        self.kc = self.km.client()
        self.kc.start_channels()
        await self.kc.wait_for_ready(timeout=self.start_timeout)
        self.starts += 1
        reply = await self.kc.kernel_info(reply=True, timeout=self.start_timeout)
        self.language_info = reply["content"].get("language_info")

    async def shutdown(self) -> None:
        if self.kc is not None:
            self.kc.stop_channels()
            self.kc = None
        if self.km is not None:
            with contextlib.suppress(Exception):  # already dead: nothing left to stop
                await self.km.shutdown_kernel(now=True)
            self.km = None

    async def restart(self) -> None:
        await self.shutdown()
        await self.start()

    async def silent(self, code: str, timeout: float | None) -> dict[str, Any]:
        """Run ``code`` without output or history; the execute reply's content."""
        assert self.kc is not None
        msg_id = self.kc.execute(code, silent=True, store_history=False)
        while True:
            reply = await self.kc.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                return dict(reply["content"])


def _preamble(prep: PreparedRun) -> str:
    env = {k: v for k, v in prep.run_env.items()}
    return (
        "get_ipython().reset(new_session=True)\n"
        "import os as _wb_os\n"
        f"_wb_os.chdir({str(prep.playbook.root)!r})\n"
        f"for _wb_k, _wb_v in {env!r}.items():\n"
        "    if _wb_v is None:\n"
        "        _wb_os.environ.pop(_wb_k, None)\n"
        "    else:\n"
        "        _wb_os.environ[_wb_k] = _wb_v\n"
        "import workbench.playbooks.kernel as _wb_kernel\n"
        "_wb_kernel._begin_run()\n"
        "del _wb_os, _wb_k, _wb_v, _wb_kernel\n"
    )


@dataclass(kw_only=True, eq=False)
class BatchRunner:
    """Runs one playbook many times through ``workers`` reused kernels, with a progress bar.

    Args:
        workers: Kernels in parallel (default: CPU count, at most the number of jobs).
        timeout: Per-cell execution timeout in seconds; ``None`` = none.
        start_timeout: Seconds to wait for a kernel to start.
        runs_dir: Where run folders go (default ``settings.runs_dir``).
        progress: Show a progress bar (tqdm, on stderr).
        isolation: ``reset`` (fresh IPython session in a reused kernel) or ``restart`` (new kernel per run).
        on_result: Called with each :class:`RunResult` as it finishes.
        version: ``learner`` (default: solution regions become stubs) or ``author``.
        origin: Force the origin the runs' evidence records (default: see :func:`~.runner.prepare_run`).
        continue_on_error: Run every cell even after one fails (each task records its own outcome).
        store_url: Where the runs' events go (default ``settings.store_url``); the Dask runner points it at a
            worker's staging store (:mod:`.dask_batch`).
    """

    workers: int | None = None
    timeout: float | None = None
    start_timeout: float = 60.0
    runs_dir: str | Path | None = None
    progress: bool = True
    isolation: Isolation = "reset"
    on_result: Callable[[RunResult], None] | None = None
    version: str = "learner"
    origin: str | None = None
    continue_on_error: bool = False
    store_url: str | None = None

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ValidationError(f"workers must be at least 1, got {self.workers}", field="workers")

    def kernel_env(self, kernels: int) -> dict[str, str]:
        """The environment the batch's kernels start with, when ``kernels`` of them share this machine."""
        env = base_kernel_env()
        if self.store_url is not None:
            env["WORKBENCH_STORE_URL"] = self.store_url
        # K kernels on C cores: give each kernel's BLAS/torch pool C // K threads unless the user chose.
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(name, str(max(1, (os.cpu_count() or 1) // kernels)))
        return env

    def run(
        self,
        playbook: str | Path | Playbook,
        jobs: Iterable[BatchJob | Mapping[str, Any]],
        *,
        smoke: bool = False,
    ) -> BatchResult:
        """Run every job; never raises for a failed run (see each result's status).

        Raises:
            NotFoundError: For an unknown playbook.
            ValidationError: For a job with bad parameters (before any kernel starts).
        """
        pb = get_playbook(playbook)
        preps = prepare_jobs(
            pb, jobs, smoke=smoke, runs_dir=self.runs_dir, version=self.version, origin=self.origin,
            continue_on_error=self.continue_on_error,
        )
        workers = min(self.workers or os.cpu_count() or 1, max(len(preps), 1))
        coro = self._run_all(pb, preps, workers)
        t0 = time.perf_counter()
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            results, starts = asyncio.run(coro)
        else:  # called from a running loop (a notebook): run the batch on its own thread and loop
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                results, starts = pool.submit(asyncio.run, coro).result()
        return BatchResult(pb.id, results, time.perf_counter() - t0, workers, starts)

    async def _run_all(
        self, pb: Playbook, preps: list[PreparedRun], workers: int
    ) -> tuple[list[RunResult], int]:
        from tqdm.auto import tqdm

        env = self.kernel_env(workers)
        queue: asyncio.Queue[tuple[int, PreparedRun]] = asyncio.Queue()
        for item in enumerate(preps):
            queue.put_nowait(item)
        results: list[RunResult | None] = [None] * len(preps)
        from workbench.settings import get_settings

        logs = Path(self.runs_dir or get_settings().runs_dir) / pb.id / "kernels"
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        kernels = [
            _Kernel(
                pb.manifest.kernel, env, str(pb.root), self.start_timeout, logs / f"batch-{stamp}-w{k}.log"
            )
            for k in range(workers)
        ]
        bar = tqdm(total=len(preps), desc=pb.id, unit="run", disable=not self.progress, leave=False)

        async def worker(kernel: _Kernel) -> None:
            try:
                while not queue.empty():
                    index, prep = queue.get_nowait()
                    try:
                        if kernel.kc is None or self.isolation == "restart":
                            await kernel.restart()
                    except Exception as exc:  # no kernel: this run errs and the worker stops
                        results[index] = _unstarted(prep, exc)
                        bar.update(1)
                        return
                    result = await self._run_one(kernel, prep)
                    results[index] = result
                    if self.on_result is not None:
                        self.on_result(result)
                    bar.update(1)
                    bar.set_postfix({k: v for k, v in _tally(results).items()}, refresh=False)
            finally:
                await kernel.shutdown()

        try:
            await asyncio.gather(*(worker(k) for k in kernels))
        finally:
            bar.close()
        while not queue.empty():  # every worker lost its kernel
            index, prep = queue.get_nowait()
            results[index] = _unstarted(prep, RuntimeError("no kernel could be started"))
        return [r for r in results if r is not None], sum(k.starts for k in kernels)

    async def _run_one(self, kernel: _Kernel, prep: PreparedRun) -> RunResult:
        nb = parameterized(load_notebook_node(str(prep.input_path())), prep)
        prep.output_path.parent.mkdir(parents=True, exist_ok=True)
        current: dict[str, int | None] = {"cell": None}

        def on_cell_start(cell: Any, cell_index: int) -> None:
            current["cell"] = cell_index

        started = datetime.now(timezone.utc)
        t0 = time.perf_counter()
        error: BaseException | None = None
        try:
            reply = await kernel.silent(_preamble(prep), self.start_timeout)
            if reply.get("status") != "ok":
                raise RuntimeError(f"could not reset the kernel: {reply.get('ename')}: {reply.get('evalue')}")
            client = NotebookClient(
                nb,
                km=kernel.km,
                timeout=_seconds(self.timeout),
                kernel_name=prep.playbook.manifest.kernel,
                on_cell_start=on_cell_start,
                allow_errors=prep.continue_on_error,
            )
            client.kc = kernel.kc  # a warm client: nbclient neither starts nor stops anything
            if kernel.language_info:
                nb.metadata["language_info"] = kernel.language_info
            for index, cell in enumerate(nb.cells):
                await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
            if prep.continue_on_error:
                error = first_cell_error(nb)  # every cell ran; the run still failed if one raised
        except Exception as exc:  # cell errors, timeouts, dead kernels, executor trouble: all become a status
            error = exc
        status = status_of(error)
        needs_restart = status not in (RunStatus.COMPLETED, RunStatus.FAILED)
        if not needs_restart:
            try:
                await kernel.silent(EPILOGUE, self.start_timeout)  # flush the kernel's telemetry
            except Exception:
                needs_restart = True
        if needs_restart:  # a timed-out kernel is still busy; a dead one is gone
            await kernel.shutdown()
        result = prep.result(status, started, time.perf_counter() - t0)
        nb.metadata.setdefault("papermill", {}).update(
            {"start_time": started.isoformat(), "duration": result.duration_s, "exception": error is not None}
        )
        return await asyncio.to_thread(
            record_outcome, prep, result, nb, error, current["cell"], store_url=self.store_url
        )


def prepare_jobs(
    pb: Playbook,
    jobs: Iterable[BatchJob | Mapping[str, Any]],
    *,
    smoke: bool = False,
    runs_dir: str | Path | None = None,
    version: str = "learner",
    origin: str | None = None,
    continue_on_error: bool = False,
) -> list[PreparedRun]:
    """Validate every job and pick its run id and paths (before any kernel starts); see :func:`.runner.prepare_run`.

    Raises:
        ValidationError: Naming the job (index and learner) with bad parameters.
    """
    preps = []
    for index, job in enumerate(jobs):
        if isinstance(job, Mapping):
            job = jobs_from(None, [job])[0]
        try:
            preps.append(
                prepare_run(
                    pb, learner=job.learner, team=job.team, parameters=job.parameters, smoke=smoke,
                    runs_dir=runs_dir, version=version, origin=origin, notebook=job.notebook,
                    continue_on_error=continue_on_error,
                )
            )
        except ValidationError as exc:
            raise ValidationError(
                f"job {index} (learner {job.learner!r}): {exc.message}",
                file=exc.file,
                line=exc.line,
                field=exc.field,
                hint=exc.hint,
            ) from None
    return preps


def _seconds(value: float | None) -> int | None:
    """nbclient wants whole seconds; round a fractional timeout up."""
    return None if value is None else max(1, math.ceil(value))


def _unstarted(prep: PreparedRun, exc: BaseException) -> RunResult:
    """An ``error`` result (with its saved, tagged notebook) for a run that never got a kernel."""
    result = prep.result(RunStatus.ERROR, datetime.now(timezone.utc), 0.0)
    result.error_type, result.error_message, _ = describe_error(exc)
    save_output(parameterized(load_notebook_node(str(prep.input_path())), prep), result, prep.playbook.manifest)
    return result


def _tally(results: list[RunResult | None]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in results:
        if r is not None:
            out[str(r.status)] = out.get(str(r.status), 0) + 1
    return out


def run_batch(
    playbook: str | Path | Playbook,
    *,
    learners: Iterable[str] | None = None,
    parameter_sets: Iterable[Mapping[str, Any]] | None = None,
    workers: int | None = None,
    timeout: float | None = None,
    smoke: bool = False,
    progress: bool = True,
    runs_dir: str | Path | None = None,
    isolation: Isolation = "reset",
    version: str = "learner",
    origin: str | None = None,
    continue_on_error: bool = False,
) -> BatchResult:
    """Run ``playbook`` for every learner x parameter set through reused kernels; see :class:`BatchRunner`."""
    runner = BatchRunner(
        workers=workers, timeout=timeout, progress=progress, runs_dir=runs_dir, isolation=isolation,
        version=version, origin=origin, continue_on_error=continue_on_error,
    )
    return runner.run(playbook, jobs_from(learners, parameter_sets), smoke=smoke)
