"""Run one playbook headless with papermill (the only module, with :mod:`.batch`, that imports it).

The pipeline is papermill's (load -> parameterize -> execute -> write) with Workbench's seams around it:

- parameters are validated against the manifest (types coerced, unknown names rejected);
- the learner's pseudonym and a run id are injected as parameters (``workbench_learner``,
  ``workbench_run_id``) and as ``WORKBENCH_*`` environment variables of the kernel, so that the kernel-side
  :func:`workbench.playbooks.task` and every other telemetry call land in the run's context;
- the status comes from the exception papermill/nbclient raised (:func:`~.results.status_of`), because papermill
  marks every cell completed after a timeout or a dead kernel;
- the output notebook is always saved and tagged, and the runner records ``task_failed`` for the task in flight
  when the kernel could not (:func:`~.results.record_runner_failure`).

Kernels get their environment through a small papermill engine (``workbench``), papermill's own seam for this.

Which notebook runs (:attr:`PreparedRun.version`): by default the *learner* version (solution regions become
stubs, :mod:`.release`; written into the run folder as ``<name>.input.ipynb``), as a learner would get it; the
*author* version for authors and CI, whose evidence is then marked ``origin: solution`` (``author`` for
``workbench playbook test``) and counts for nothing; or a given notebook (a learner's own copy, or simulated
answers, :mod:`.answers`). ``continue_on_error`` runs every cell even after one fails (nbclient's
``allow_errors``): the run still ends ``failed``, and each task records its own outcome.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import nbformat
import papermill
from jupyter_client.manager import AsyncKernelManager
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook
from papermill.utils import merge_kwargs, remove_args
from traitlets import default

from workbench.errors import ValidationError
from workbench.playbooks.discovery import Playbook, get_playbook
from workbench.playbooks.kernel import ENV_ORIGIN, ENV_PLAYBOOK_DIR, ENV_RUN_DIR, ENV_SMOKE
from workbench.playbooks.notebook import parameters_cell, read_notebook
from workbench.playbooks.params import resolve_parameters
from workbench.playbooks.redaction import KERNEL_LOG
from workbench.playbooks.results import (
    RunResult,
    RunStatus,
    describe_error,
    record_runner_failure,
    save_output,
    status_of,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

#: Which notebook a run executes: the learner version (default) or the author version.
VERSIONS: tuple[str, ...] = ("learner", "author")
#: Code the runners execute silently in the kernel after the last cell: flush buffered telemetry.
EPILOGUE = "import workbench.playbooks.kernel as _wb_kernel; _wb_kernel._end_run(); del _wb_kernel"


class IpcKernelManager(AsyncKernelManager):
    """A kernel manager on Unix sockets: no TCP ports open, no "running over TCP without encryption" warning."""

    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"

    @default("ip")
    def _default_ip(self) -> str:
        # An absolute, short socket prefix: the kernel runs in another working folder than this process.
        return str(Path(tempfile.gettempdir()) / f"wbk-{uuid.uuid4().hex[:12]}")


def kernel_manager_class() -> type[AsyncKernelManager]:
    """The kernel manager the runners use: IPC where the platform has Unix sockets, else papermill's TCP."""
    return IpcKernelManager if os.name == "posix" else AsyncKernelManager


def package_root() -> Path:
    """The folder that holds the ``workbench`` package (put first on the kernel's ``PYTHONPATH``)."""
    return Path(__file__).resolve().parent.parent.parent


def learner_pseudonym(learner: str | None) -> str:
    """The pseudonym recorded for ``learner`` (default: settings / ``$USER``, as telemetry resolves it)."""
    from workbench.telemetry import pseudonymize, resolve_context

    raw = learner or resolve_context()["learner"] or "anonymous"
    return pseudonymize(raw)


def base_kernel_env() -> dict[str, str]:
    """Environment every playbook kernel starts with: this process's, plus the store, data dirs and path."""
    from workbench.settings import get_settings

    settings = get_settings()
    env = dict(os.environ)
    for name in ("WORKBENCH_TASK", "WORKBENCH_TEAM", ENV_RUN_DIR, ENV_PLAYBOOK_DIR, ENV_ORIGIN):
        env.pop(name, None)
    root = str(package_root())
    env["PYTHONPATH"] = os.pathsep.join(
        [root, *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]]
    )
    env["WORKBENCH_STORE_URL"] = str(settings.store_url)
    env["WORKBENCH_DATA_DIR"] = str(settings.data_dir)
    env["WORKBENCH_CACHE_DIR"] = str(settings.cache_dir)
    env["WORKBENCH_DATASETS_DIR"] = str(settings.datasets_dir)
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # silences a debugger warning in headless kernels
    return env


@dataclass
class PreparedRun:
    """Everything decided before a run executes (shared by :class:`PlaybookRunner` and the batch runner).

    Attributes:
        playbook: The playbook.
        parameters: Validated manifest parameters.
        learner: The learner's pseudonym.
        team: The learner's team.
        run_id: The run id.
        output_path: Where the output notebook goes.
        smoke: Whether smoke parameters apply.
        version: ``learner`` (solution regions become stubs) or ``author`` (the playbook's notebook as is).
        origin: The origin the run's evidence records (``author``, ``solution``), or ``None``: read from the
            code that runs (:mod:`.exercises`).
        notebook: A notebook to run instead of ``version``'s (nbformat node), e.g. a learner's answers.
        continue_on_error: Run every cell even after one fails.
    """

    playbook: Playbook
    parameters: dict[str, Any]
    learner: str
    team: str | None
    run_id: str
    output_path: Path
    smoke: bool = False
    version: str = "learner"
    origin: str | None = None
    notebook: Any = None
    continue_on_error: bool = False
    _input_written: bool = field(default=False, init=False, repr=False, compare=False)

    @property
    def injected(self) -> dict[str, Any]:
        """The papermill parameters: the manifest's plus the reserved ``workbench_*`` ones."""
        return {**self.parameters, "workbench_learner": self.learner, "workbench_run_id": self.run_id}

    @property
    def run_env(self) -> dict[str, str | None]:
        """Per-run ``WORKBENCH_*`` variables for the kernel (``None`` = unset)."""
        return {
            "WORKBENCH_LEARNER": self.learner,
            "WORKBENCH_TEAM": self.team,
            "WORKBENCH_PLAYBOOK": self.playbook.id,
            "WORKBENCH_RUN_ID": self.run_id,
            "WORKBENCH_TASK": None,
            ENV_PLAYBOOK_DIR: str(self.playbook.root),
            ENV_RUN_DIR: str(self.output_path.parent),
            ENV_SMOKE: "1" if self.smoke else "0",
            ENV_ORIGIN: self.origin,
        }

    def input_path(self) -> Path:
        """The notebook file this run executes: the author notebook, or the run's own ``<name>.input.ipynb``."""
        if self.version == "author" and self.notebook is None:
            return self.playbook.notebook_path
        path = self.output_path.parent / f"{Path(self.playbook.manifest.notebook_name).stem}.input.ipynb"
        if not self._input_written or not path.is_file():  # once per run: an earlier run's file is never reused
            from workbench.playbooks.release import learner_notebook, write_notebook

            write_notebook(self.notebook if self.notebook is not None else learner_notebook(self.playbook), path)
            self._input_written = True
        return path

    def result(self, status: RunStatus, started: datetime, duration_s: float) -> RunResult:
        """A :class:`RunResult` for this run."""
        return RunResult(
            run_id=self.run_id,
            playbook=self.playbook.id,
            playbook_version=self.playbook.manifest.version,
            learner=self.learner,
            team=self.team,
            status=status,
            parameters=dict(self.parameters),
            output_path=self.output_path,
            started_at=started,
            duration_s=duration_s,
        )


class RunOptions(TypedDict, total=False):
    """The keywords of one run, passed on by :meth:`PlaybookRunner.run` and :func:`run_playbook` to
    :func:`prepare_run` (which documents them)."""

    learner: str | None
    team: str | None
    parameters: Mapping[str, Any] | None
    smoke: bool
    run_id: str | None
    output_path: str | Path | None
    version: str
    origin: str | None
    notebook: Any
    continue_on_error: bool


def prepare_run(
    playbook: str | Path | Playbook,
    *,
    learner: str | None = None,
    team: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    smoke: bool = False,
    run_id: str | None = None,
    runs_dir: str | Path | None = None,
    output_path: str | Path | None = None,
    version: str = "learner",
    origin: str | None = None,
    notebook: Any = None,
    continue_on_error: bool = False,
) -> PreparedRun:
    """Resolve the playbook, validate parameters and pick ids and paths for one run.

    ``version``, ``origin``, ``notebook`` and ``continue_on_error`` are :class:`PreparedRun`'s; a run of the
    author version records ``origin: solution`` unless ``origin`` says otherwise.

    Args:
        playbook: An id, a folder or a :class:`Playbook`.
        learner: Raw learner id (stored only as a pseudonym); default settings / ``$USER``.
        team: The learner's team.
        parameters: Manifest parameters (strings are coerced to the declared types).
        smoke: Use the manifest's smoke parameters (CI).
        run_id: Use this run id instead of a fresh one.
        runs_dir: Where run folders go (default ``settings.runs_dir``).
        output_path: Where to write the output notebook.
        version: ``learner`` (default: solution regions become stubs) or ``author``.
        origin: Force the origin the run's evidence records (default: see above).
        notebook: Run this notebook (nbformat node) instead of ``version``'s.
        continue_on_error: Run every cell even after one fails.

    Raises:
        NotFoundError: For an unknown playbook id.
        ValidationError: For bad parameters, a notebook without a ``parameters`` cell, or an unknown version.
    """
    from workbench.settings import get_settings

    pb = get_playbook(playbook)
    params = resolve_parameters(pb.manifest, parameters, smoke=smoke, file=pb.manifest_path)
    if parameters_cell(read_notebook(pb.notebook_path)) is None:
        raise ValidationError(
            "the notebook has no cell tagged 'parameters'",
            file=pb.notebook_path,
            field="parameters",
            hint="add a code cell assigning the manifest's parameters and give it the tag 'parameters' "
            "(JupyterLab: property inspector -> Cell Tags)",
        )
    if version not in VERSIONS:
        raise ValidationError(f"unknown playbook version '{version}'", field="version",
                              hint=f"use one of: {', '.join(VERSIONS)}")
    run_id = run_id or uuid.uuid4().hex
    base = Path(runs_dir) if runs_dir is not None else get_settings().runs_dir
    out = Path(output_path) if output_path is not None else base / pb.id / run_id / pb.manifest.notebook_name
    if origin is None and version == "author" and notebook is None:
        origin = "solution"
    return PreparedRun(pb, params, learner_pseudonym(learner), team, run_id, out.resolve(), smoke, version, origin,
                       notebook, continue_on_error)


class _Client(PapermillNotebookClient):
    """papermill's client plus a silent epilogue after the last cell (flushes kernel telemetry)."""

    def papermill_execute_cells(self) -> None:
        super().papermill_execute_cells()
        assert self.kc is not None
        self.wait_for_reply(self.kc.execute(EPILOGUE, silent=True, store_history=False))


class WorkbenchEngine(NBClientEngine):
    """papermill's nbclient engine, starting the kernel with the run's environment and working folder."""

    @classmethod
    def execute_managed_notebook(  # type: ignore[override]
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: int = 60,
        execution_timeout: float | None = None,
        kernel_env: dict[str, str] | None = None,
        kernel_cwd: str | None = None,
        kernel_log: str | None = None,
        on_cell_start: Any = None,
        **kwargs: Any,
    ) -> Any:
        kwargs = remove_args(["input_path"], **kwargs)
        safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
        final_kwargs = merge_kwargs(
            safe_kwargs,
            timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
        )
        final_kwargs["kernel_manager_class"] = kernel_manager_class()
        if on_cell_start is not None:
            final_kwargs["on_cell_start"] = on_cell_start
        start: dict[str, Any] = {}
        if kernel_env is not None:
            start["env"] = kernel_env
        if kernel_cwd is not None:
            start["cwd"] = kernel_cwd
        if kernel_log is None:
            return _Client(nb_man, **final_kwargs).execute(**start)
        # The kernel process's own stdout/stderr (kernel warnings, C-level output, crash messages) go to a
        # log file in the run folder instead of this process's terminal; cell output still comes over iopub.
        with open(kernel_log, "ab") as log:
            return _Client(nb_man, **final_kwargs).execute(**start, stdout=log, stderr=log)


papermill_engines.register("workbench", WorkbenchEngine)


class _ReservedParameterFilter(logging.Filter):
    """Drop papermill's "Passed unknown parameter" warning for the ids the runner always injects."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith("Passed unknown parameter: workbench_")


logging.getLogger("papermill").addFilter(_ReservedParameterFilter())


@dataclass(kw_only=True, eq=False)
class PlaybookRunner:
    """Runs playbooks one at a time, each in a fresh kernel (papermill).

    Args:
        timeout: Per-cell execution timeout in seconds (papermill's ``execution_timeout``); ``None`` = none.
        start_timeout: Seconds to wait for the kernel to start.
        runs_dir: Where run folders go (default ``settings.runs_dir``).
        progress_bar: Show papermill's per-cell progress bar.
        log_output: Echo cell outputs to the log (papermill's ``log_output``).
    """

    timeout: float | None = None
    start_timeout: float = 60.0
    runs_dir: str | Path | None = None
    progress_bar: bool = False
    log_output: bool = False

    def run(self, playbook: str | Path | Playbook, **options: Unpack[RunOptions]) -> RunResult:
        """Execute ``playbook`` once and return its honest :class:`RunResult` (never raises for a failed run).

        Args:
            playbook: An id, a folder or a :class:`Playbook`.
            **options: The run's :class:`RunOptions` (learner, team, parameters, smoke, run_id, output_path,
                version, origin, notebook, continue_on_error), as :func:`prepare_run` documents them.

        Raises:
            NotFoundError: For an unknown playbook.
            ValidationError: For bad parameters or a notebook without a parameters cell.
        """
        return self.execute(prepare_run(playbook, runs_dir=self.runs_dir, **options))

    def execute(self, prep: PreparedRun) -> RunResult:
        """Execute a prepared run (see :func:`prepare_run`)."""
        env = base_kernel_env()
        for name, value in prep.run_env.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        current: dict[str, int | None] = {"cell": None}

        def on_cell_start(cell: Any, cell_index: int) -> None:
            current["cell"] = cell_index

        prep.output_path.parent.mkdir(parents=True, exist_ok=True)
        started = datetime.now(timezone.utc)
        t0 = time.perf_counter()
        error: BaseException | None = None
        try:
            papermill.execute_notebook(
                str(prep.input_path()),
                str(prep.output_path),
                parameters=prep.injected,
                engine_name="workbench",
                kernel_name=prep.playbook.manifest.kernel,
                progress_bar=self.progress_bar,
                log_output=self.log_output,
                start_timeout=int(self.start_timeout),
                execution_timeout=max(1, math.ceil(self.timeout)) if self.timeout else None,
                kernel_env=env,
                kernel_cwd=str(prep.playbook.root),
                kernel_log=str(prep.output_path.parent / KERNEL_LOG),
                on_cell_start=on_cell_start,
                allow_errors=prep.continue_on_error,
            )
        except Exception as exc:  # every executor failure becomes a status, never a crash of the caller
            error = exc
        result = prep.result(status_of(error), started, time.perf_counter() - t0)
        nb = _output_or_input(prep)
        # papermill numbers cells before adding its error banner; find the failed one in its output.
        nb_index = _failed_cell(nb) if result.status == RunStatus.FAILED else None
        return record_outcome(prep, result, nb, error, current["cell"], nb_cell_index=nb_index)


def record_outcome(
    prep: PreparedRun,
    result: RunResult,
    nb: Any,
    error: BaseException | None,
    running_cell: int | None,
    *,
    nb_cell_index: int | None = None,
    store_url: str | None = None,
) -> RunResult:
    """Finish ``result`` once a run has executed (shared by :class:`PlaybookRunner` and the batch runner).

    Fills in the error, records ``task_failed`` where the kernel could not
    (:func:`~.results.record_runner_failure`) and saves the tagged output notebook.

    Args:
        prep: The run.
        result: Its result so far (status and timing).
        nb: The executed notebook.
        error: What the executor raised, or ``None``.
        running_cell: The cell that was running, for an error that does not name its cell.
        nb_cell_index: Index of the failed cell in ``nb`` where that differs (papermill adds banner cells).
        store_url: The store the run's kernel wrote to (default ``settings.store_url``).
    """
    if error is not None:
        result.error_type, result.error_message, cell_index = describe_error(error)
        result.cell_index = cell_index if cell_index is not None else running_cell
        record_runner_failure(result, prep.playbook, nb, nb_cell_index, origin=prep.origin, store_url=store_url)
    save_output(nb, result, prep.playbook.manifest)
    return result


def _output_or_input(prep: PreparedRun) -> Any:
    """The output notebook papermill wrote, else the parameterized input (a run that never started)."""
    if prep.output_path.is_file():
        try:
            return nbformat.read(prep.output_path, as_version=4)
        except Exception:  # a half-written file: fall back to the input
            pass
    return parameterized(load_notebook_node(str(prep.input_path())), prep)


def parameterized(nb: Any, prep: PreparedRun) -> Any:
    """A copy of ``nb`` (as papermill's ``load_notebook_node`` reads it) with the run's parameters injected."""
    nb = copy.deepcopy(nb)
    nb.metadata.papermill["input_path"] = str(prep.input_path())
    nb.metadata.papermill["output_path"] = str(prep.output_path)
    return parameterize_notebook(nb, prep.injected, kernel_name=prep.playbook.manifest.kernel)


def _failed_cell(nb: Any) -> int | None:
    """Index of the cell papermill marked failed (ignoring its banner cells), else ``None``."""
    for index, cell in enumerate(nb.cells):
        if cell.get("metadata", {}).get("papermill", {}).get("status") == "failed":
            return index
    return None


def run_playbook(
    playbook: str | Path | Playbook,
    *,
    timeout: float | None = None,
    runs_dir: str | Path | None = None,
    progress_bar: bool = False,
    **options: Unpack[RunOptions],
) -> RunResult:
    """Run ``playbook`` once in a fresh kernel; see :meth:`PlaybookRunner.run` (default: the learner version).

    ``timeout``, ``runs_dir`` and ``progress_bar`` are :class:`PlaybookRunner`'s; ``options`` are the run's.
    """
    runner = PlaybookRunner(timeout=timeout, runs_dir=runs_dir, progress_bar=progress_bar)
    return runner.run(playbook, **options)


__all__ = [
    "EPILOGUE",
    "VERSIONS",
    "PlaybookRunner",
    "PreparedRun",
    "RunOptions",
    "WorkbenchEngine",
    "base_kernel_env",
    "prepare_run",
    "record_outcome",
    "run_playbook",
]
