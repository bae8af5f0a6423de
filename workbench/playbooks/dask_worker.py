"""The worker side of :mod:`.dask_batch`: warm kernels and a staging store per Dask worker process.

Imported only where ``distributed`` is installed (by the client when a Dask batch starts, and by the workers
when they unpickle a run). See :mod:`.dask_batch` for why runs stage their events here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from workbench.playbooks.batch import BatchRunner, Isolation, _Kernel, _unstarted
from workbench.playbooks.results import RunResult
from workbench.playbooks.runner import PreparedRun


@dataclass(frozen=True)
class WorkerOptions:
    """What a worker needs to run a batch's runs (sent with every task)."""

    timeout: float | None
    start_timeout: float
    isolation: Isolation
    staging_dir: str
    kernel_threads: int


@dataclass
class Outcome:
    """A finished run as a worker returns it: the result, its staged events and the kernels it started."""

    result: RunResult
    events: list[Any]
    kernel_starts: int


class _WorkerPool:
    """One worker process's warm kernels, their event loop, and its staging store."""

    def __init__(self, staging_dir: str) -> None:
        name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.db"
        self.staging = Path(staging_dir) / name
        self.staging.parent.mkdir(parents=True, exist_ok=True)
        self.store_url = f"sqlite:///{self.staging}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="workbench-kernels", daemon=True)
        self.thread.start()
        self.idle: dict[tuple[str, int], list[_Kernel]] = {}
        self.lock = threading.Lock()
        self.started = 0

    def run(self, prep: PreparedRun, opts: WorkerOptions) -> Outcome:
        """Run ``prep`` on an idle kernel (started if none) and return it with its staged events."""
        runner = BatchRunner(
            timeout=opts.timeout, start_timeout=opts.start_timeout, isolation=opts.isolation, progress=False,
            store_url=self.store_url,
        )
        kernel = self._acquire(prep, opts, runner)
        before = kernel.starts
        try:
            result = asyncio.run_coroutine_threadsafe(self._run(runner, kernel, prep), self.loop).result()
        finally:
            self._release(prep, opts, kernel)
        return Outcome(result, self._staged(prep.run_id), kernel.starts - before)

    async def _run(self, runner: BatchRunner, kernel: _Kernel, prep: PreparedRun) -> RunResult:
        try:
            if kernel.kc is None or runner.isolation == "restart":
                await kernel.restart()
        except Exception as exc:  # no kernel: this run errs (the local batch runner does the same)
            return _unstarted(prep, exc)
        return await runner._run_one(kernel, prep)

    def _acquire(self, prep: PreparedRun, opts: WorkerOptions, runner: BatchRunner) -> _Kernel:
        key = (prep.playbook.manifest.kernel, opts.kernel_threads)
        with self.lock:
            if self.idle.get(key):
                return self.idle[key].pop()
            self.started += 1
            number = self.started
        env = runner.kernel_env(1)
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(name, str(opts.kernel_threads))
        env["WORKBENCH_XAPI_ENDPOINT"] = ""  # staged events are not evidence yet: the client forwards commits
        logs = prep.output_path.parent.parent / "kernels"
        log_name = f"dask-{socket.gethostname()}-{os.getpid()}-k{number}.log"
        return _Kernel(prep.playbook.manifest.kernel, env, str(prep.playbook.root), opts.start_timeout,
                       logs / log_name)

    def _release(self, prep: PreparedRun, opts: WorkerOptions, kernel: _Kernel) -> None:
        with self.lock:
            self.idle.setdefault((prep.playbook.manifest.kernel, opts.kernel_threads), []).append(kernel)

    def _staged(self, run_id: str) -> list[Any]:
        from workbench.telemetry import open_store

        with open_store(self.store_url) as store:
            return sorted(store.query(run_id=run_id), key=lambda e: e.time)

    def close(self) -> None:
        """Stop every kernel and the loop; remove the staging store (every result it fed has been returned)."""
        with self.lock:
            kernels = [k for group in self.idle.values() for k in group]
            self.idle.clear()
        for kernel in kernels:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(kernel.shutdown(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                Path(f"{self.staging}{suffix}").unlink()


_pool: _WorkerPool | None = None
_pool_lock = threading.Lock()


def _worker_pool(staging_dir: str) -> _WorkerPool:
    """This process's pool, made at its first run (a worker keeps its kernels from batch to batch)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = _WorkerPool(staging_dir)
        return _pool


def execute_run(prep: PreparedRun, opts: WorkerOptions) -> Outcome:
    """The Dask task: one run on this worker's warm kernels."""
    return _worker_pool(opts.staging_dir).run(prep, opts)


def _close_pool() -> None:
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.close()


class KernelPoolPlugin(WorkerPlugin):  # type: ignore[misc]
    """A Dask worker plugin: shut this worker's kernels down when the worker closes."""

    name = "workbench-kernels"

    def teardown(self, worker: Any) -> None:
        """Stop the kernels and remove the staging store."""
        _close_pool()
