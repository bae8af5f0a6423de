"""Run outcomes: statuses, results, tagged output notebooks and the runner's own failure records.

papermill marks every cell ``completed`` when a cell times out or the kernel dies, so a run's status comes from
the exception the executor raised (:func:`status_of`), never from the output notebook. The notebook is still
always saved, and tagged with the outcome (notebook metadata ``workbench`` plus a first markdown cell on
failure), and the runner records ``task_failed`` for the task that was in flight when the kernel could not.
"""

from __future__ import annotations

import enum
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench.playbooks.discovery import Playbook
from workbench.playbooks.notebook import STATUS_TAG, task_of_cell

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:  # pragma: no cover - Python 3.10

    class StrEnum(str, enum.Enum):
        """``enum.StrEnum`` for Python 3.10."""

        def __str__(self) -> str:
            return str(self.value)


class RunStatus(StrEnum):
    """How a playbook run ended."""

    COMPLETED = "completed"
    #: A cell raised an exception (a failed check included).
    FAILED = "failed"
    #: A cell ran longer than the execution timeout.
    TIMEOUT = "timeout"
    #: The kernel process died (killed, out of memory, segfault).
    KERNEL_DIED = "kernel_died"
    #: The run could not start or the executor broke (kernel would not start, bad notebook...).
    ERROR = "error"


#: Process exit codes of ``workbench playbook run`` per status (2 is taken by user errors).
EXIT_CODES: dict[RunStatus, int] = {
    RunStatus.COMPLETED: 0,
    RunStatus.FAILED: 1,
    RunStatus.TIMEOUT: 3,
    RunStatus.KERNEL_DIED: 4,
    RunStatus.ERROR: 5,
}


def status_of(exc: BaseException | None) -> RunStatus:
    """The run status an executor exception means (by type, never by notebook content)."""
    if exc is None:
        return RunStatus.COMPLETED
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    if isinstance(exc, CellTimeoutError):
        return RunStatus.TIMEOUT
    if isinstance(exc, DeadKernelError):
        return RunStatus.KERNEL_DIED
    if isinstance(exc, CellExecutionError) or type(exc).__name__ == "PapermillExecutionError":
        return RunStatus.FAILED
    return RunStatus.ERROR


@dataclass
class RunResult:
    """The outcome of one playbook run.

    Attributes:
        run_id: The run's id (also in every telemetry event of the run).
        playbook: The playbook id.
        playbook_version: Its manifest version.
        learner: The learner's pseudonym.
        team: The learner's team, if given.
        status: A :class:`RunStatus`.
        parameters: The parameters the run used (after defaults and coercion).
        output_path: The saved output notebook.
        started_at: UTC start time.
        duration_s: Wall-clock seconds.
        task: The task that was running when the run failed.
        cell_index: The notebook cell that was running when the run failed.
        error_type: The exception's type name (``ename`` for a cell error).
        error_message: The exception's message (``evalue`` for a cell error).
    """

    run_id: str
    playbook: str
    playbook_version: str
    learner: str
    status: RunStatus
    parameters: dict[str, Any]
    output_path: Path
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    duration_s: float = 0.0
    team: str | None = None
    task: str | None = None
    cell_index: int | None = None
    error_type: str | None = None
    error_message: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the run completed."""
        return self.status == RunStatus.COMPLETED

    @property
    def exit_code(self) -> int:
        """The CLI exit code for this status (:data:`EXIT_CODES`)."""
        return EXIT_CODES[self.status]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``--json`` output, ``run.json`` and the notebook's metadata)."""
        data = asdict(self)
        data["status"] = str(self.status)
        data["output_path"] = str(self.output_path)
        data["started_at"] = self.started_at.isoformat()
        data["duration_s"] = round(self.duration_s, 3)
        data["ok"] = self.ok
        return json.loads(json.dumps(data, default=str))


def describe_error(exc: BaseException) -> tuple[str, str, int | None]:
    """(error type, message, cell index) of an executor exception, as a learner would want to read them."""
    ename = getattr(exc, "ename", None)
    evalue = getattr(exc, "evalue", None)
    cell_index = getattr(exc, "cell_index", None)
    if ename:
        return str(ename), str(evalue or ""), cell_index
    message = str(exc).strip().splitlines()
    return type(exc).__name__, (message[0] if message else ""), cell_index


_HEADLINES = {
    RunStatus.FAILED: "a cell raised an exception",
    RunStatus.TIMEOUT: "a cell ran past the execution timeout",
    RunStatus.KERNEL_DIED: "the kernel died (killed, out of memory or crashed)",
    RunStatus.ERROR: "the run could not be executed",
}


def tag_output_notebook(nb: Any, result: RunResult) -> Any:
    """Record the outcome in ``nb`` (in place): ``metadata.workbench`` always, a first markdown cell on failure."""
    import nbformat

    nb.metadata["workbench"] = result.to_dict()
    nb.cells = [c for c in nb.cells if STATUS_TAG not in c.get("metadata", {}).get("tags", [])]
    if not result.ok:
        where = f" in task `{result.task}`" if result.task else ""
        cell = f", cell {result.cell_index}" if result.cell_index is not None else ""
        text = (
            f"## ⚠ Workbench run {result.status}: {_HEADLINES[result.status]}{where}{cell}\n\n"
            f"**{result.error_type or 'Error'}**: {result.error_message or '(no message)'}\n\n"
            f"Playbook `{result.playbook}` v{result.playbook_version}, run `{result.run_id}`, "
            f"learner `{result.learner}`, {result.duration_s:.1f} s. "
            "The status comes from the executor, not from the cell states below (they read *completed* "
            "after a timeout or a dead kernel)."
        )
        banner = nbformat.v4.new_markdown_cell(text)
        banner.metadata["tags"] = [STATUS_TAG]
        if nb.get("nbformat_minor", 0) < 5:  # cell ids exist from nbformat 4.5 on
            banner.pop("id", None)
        nb.cells.insert(0, banner)
    return nb


def save_output(nb: Any, result: RunResult, manifest: Any = None) -> None:
    """Redact, tag and write the output notebook, plus ``run.json`` beside it (see :mod:`.redaction`; the
    ``manifest``'s parameter defaults and choices are kept as they are)."""
    import nbformat

    from workbench.playbooks.redaction import redact_run_record, vocabulary

    redact_run_record(nb, result, vocabulary(manifest))
    tag_output_notebook(nb, result)
    result.output_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = result.output_path.with_suffix(".tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, result.output_path)
    (result.output_path.parent / "run.json").write_text(
        json.dumps(result.to_dict(), indent=2), encoding="utf-8"
    )


def first_cell_error(nb: Any) -> BaseException | None:
    """papermill's error for the first cell with an error output (runs that continue after errors), or ``None``."""
    from papermill.exceptions import PapermillExecutionError

    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            if output.get("output_type") == "error":
                return PapermillExecutionError(
                    cell_index=index, exec_count=cell.get("execution_count"), source=cell.get("source", ""),
                    ename=output.get("ename", ""), evalue=output.get("evalue", ""),
                    traceback=output.get("traceback", []),
                )
    return None


def _task_events(store: Any, run_id: str) -> list[Any]:
    kinds = ("task_started", "task_completed", "task_failed")
    return sorted((e for e in store.query(run_id=run_id) if str(e.kind) in kinds), key=lambda e: e.time)


def in_flight_task(events: list[Any]) -> Any | None:
    """The ``task_started`` event of the last task that never completed nor failed, or ``None``."""
    open_spans: dict[str, Any] = {}
    for event in events:
        span = event.attributes.get("span_id") or event.task
        if str(event.kind) == "task_started":
            open_spans[span] = event
        else:
            open_spans.pop(span, None)
    return list(open_spans.values())[-1] if open_spans else None


def _interrupted_task(events: list[Any]) -> Any | None:
    """The ``task_started`` event of the task the executor interrupted (the kernel saw a KeyboardInterrupt).

    On a timeout papermill interrupts the kernel, so ``task()`` closes the task as failed with a
    ``KeyboardInterrupt`` before the runner looks; that task is the one that timed out.
    """
    for event in reversed(events):
        if str(event.kind) == "task_failed" and event.attributes.get("error_type") == "KeyboardInterrupt":
            span = event.attributes.get("span_id")
            return next(
                (e for e in events if str(e.kind) == "task_started" and e.attributes.get("span_id") == span),
                None,
            )
    return None


def failed_cell_origin(playbook: Playbook, nb: Any | None, index: int | None, task_id: str) -> str:
    """Whose work the failed cell was (:mod:`.exercises`): its stub, the shipped solution, or the learner's own."""
    from workbench.playbooks.exercises import combine, load_exercises, signal

    tags = {t.tag: t.id for t in playbook.manifest.tasks}
    exercises = [e for e in load_exercises(playbook.root, playbook.manifest.notebook_name, tags).values()
                 if e.task == task_id]
    cells = nb.cells if nb is not None else []
    source = str(cells[index].get("source", "")) if index is not None and 0 <= index < len(cells) else ""
    return combine(signal(source, e) or "learner" for e in exercises)


def record_runner_failure(
    result: RunResult,
    playbook: Playbook,
    nb: Any | None,
    nb_cell_index: int | None = None,
    *,
    origin: str | None = None,
    store_url: str | None = None,
) -> None:
    """Record ``task_failed`` for the task in flight when a run failed, unless the kernel recorded it.

    For a timeout or a dead kernel the kernel cannot honestly report the outcome, so the runner always does
    (status ``timeout`` / ``kernel_died``). For a raised exception the kernel's ``task()`` normally has;
    the runner adds one only when the error escaped outside any ``task()`` block. Sets ``result.task``.
    The task comes from the store (a ``task_started`` without an end), else from the cell tags around
    ``nb_cell_index`` (default ``result.cell_index``) in ``nb``. The record's ``origin`` is ``origin`` when the
    run forces one, else read from the failed cell (:func:`failed_cell_origin`). The store is ``store_url``
    (default ``settings.store_url``): where the run's kernel wrote its events.
    """
    from workbench.settings import get_settings
    from workbench.telemetry import Event, EventKind, open_store

    with open_store(store_url or get_settings().store_url) as store:
        events = _task_events(store, result.run_id)
        started = in_flight_task(events)
        kernel_failed = [e for e in events if str(e.kind) == "task_failed"]
        if result.status == RunStatus.FAILED and kernel_failed:
            result.task = result.task or kernel_failed[-1].task
            return
        if started is None and result.status == RunStatus.TIMEOUT:
            started = _interrupted_task(events)
        task_id = started.task if started is not None else None
        index = nb_cell_index if nb_cell_index is not None else result.cell_index
        if task_id is None and nb is not None and index is not None:
            tags = {t.tag: t.id for t in playbook.manifest.tasks}
            task_id = task_of_cell(nb, index, tags)
        result.task = task_id
        now = datetime.now(timezone.utc)
        duration = (now - started.time).total_seconds() if started is not None else None
        attributes: dict[str, Any] = {
            "error_type": result.error_type,
            "error_message": result.error_message,
            "recorded_by": "runner",
            "cell_index": result.cell_index,
        }
        if started is not None and "span_id" in started.attributes:
            attributes["span_id"] = started.attributes["span_id"]
        if task_id is not None:
            attributes["skills"] = playbook.manifest.skills_for(task_id)
            attributes["origin"] = origin or failed_cell_origin(playbook, nb, index, task_id)
        store.append(
            Event.new(
                EventKind.TASK_FAILED,
                learner=result.learner,
                team=result.team,
                playbook=result.playbook,
                task=task_id,
                run_id=result.run_id,
                duration_s=max(duration, 0.0) if duration is not None else None,
                status=str(result.status),
                attributes=attributes,
            )
        )
