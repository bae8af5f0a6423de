"""The kernel-side API: what playbook notebooks call while a learner (or the runner) executes them.

Light on purpose (no papermill, no nbclient, no torch): it runs inside every kernel.

``task("id")`` wraps :func:`workbench.telemetry.track`: it emits ``task_started`` and then ``task_completed``
(with the duration) or ``task_failed`` (with the error), adds the manifest's skill weights for the task, and
makes those events durable at once so that the runner can tell which task was in flight if the kernel dies.
``check(...)`` is the exercise assertion: it prints a tick, or fails the task with a hint.

The playbook is found from ``WORKBENCH_PLAYBOOK_DIR`` (set by the runner), else from the ``playbook.yaml``
next to the notebook (the kernel's working folder, when a learner opens the notebook in JupyterLab).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from workbench.errors import NotFoundError
from workbench.playbooks.manifest import MANIFEST_NAME, PlaybookManifest, TaskSpec, load_manifest

#: Environment variables the runner sets in the kernels it starts (with WORKBENCH_LEARNER / _PLAYBOOK / _RUN_ID).
ENV_PLAYBOOK_DIR = "WORKBENCH_PLAYBOOK_DIR"
ENV_RUN_DIR = "WORKBENCH_RUN_DIR"
ENV_SMOKE = "WORKBENCH_SMOKE"


class CheckFailed(AssertionError):
    """An exercise check did not pass; the message says what to look at."""


@lru_cache(maxsize=16)
def _manifest_at(folder: str, mtime_ns: int) -> PlaybookManifest:
    return load_manifest(Path(folder))


def playbook_dir() -> Path | None:
    """The folder of the playbook being run or worked on, or ``None`` outside a playbook."""
    explicit = os.environ.get(ENV_PLAYBOOK_DIR)
    if explicit:
        return Path(explicit)
    here = Path.cwd()
    return here if (here / MANIFEST_NAME).is_file() else None


def current_manifest() -> PlaybookManifest | None:
    """The manifest of the playbook being run or worked on, or ``None`` outside a playbook."""
    folder = playbook_dir()
    if folder is None:
        return None
    path = folder / MANIFEST_NAME
    return _manifest_at(str(folder), path.stat().st_mtime_ns if path.exists() else 0)


def is_smoke_run() -> bool:
    """Whether this is a headless smoke run (``workbench playbook test``): lessons may do less work."""
    return os.environ.get(ENV_SMOKE, "").lower() in ("1", "true", "yes")


def run_dir() -> Path:
    """A folder for this run's files: the runner's run folder, else ``<data_dir>/runs/interactive``."""
    explicit = os.environ.get(ENV_RUN_DIR)
    if explicit:
        path = Path(explicit)
    else:
        from workbench.settings import get_settings

        path = get_settings().runs_dir / "interactive"
    path.mkdir(parents=True, exist_ok=True)
    return path


class PlaybookTask:
    """What ``with task("id") as t`` yields: the manifest entry plus :meth:`set` for completion attributes."""

    def __init__(self, task_id: str, spec: TaskSpec | None, handle: Any) -> None:
        self.id = task_id
        #: The task's manifest entry, or ``None`` outside a playbook.
        self.spec = spec
        self._handle = handle

    @property
    def title(self) -> str:
        """The task's title (its id outside a playbook)."""
        return self.spec.title if self.spec else self.id

    @property
    def done(self) -> str:
        """What counts as done, from the manifest."""
        return self.spec.done if self.spec else ""

    @property
    def elapsed_s(self) -> float:
        """Seconds since the task started."""
        return float(self._handle.elapsed_s)

    def set(self, **attributes: Any) -> None:
        """Add attributes to the ``task_completed`` / ``task_failed`` event (e.g. ``attempts=2``)."""
        self._handle.set(**attributes)

    def __repr__(self) -> str:
        return f"PlaybookTask({self.id!r}, title={self.title!r})"


@contextmanager
def task(task_id: str, **attributes: Any) -> Iterator[PlaybookTask]:
    """Record one playbook task: ``task_started``, then ``task_completed`` or ``task_failed``.

    Use it around the cells' work::

        with task("first-prompt"):
            reply = model.generate(prompt)
            check(reply.output_tokens > 0, "the model answered")

    Args:
        task_id: A task id from the manifest.
        **attributes: Extra JSON attributes for the events.

    Yields:
        A :class:`PlaybookTask`: the manifest entry (title, done criteria) and ``set()`` for attributes.

    Raises:
        NotFoundError: When the playbook's manifest has no such task.
    """
    from workbench.telemetry import context, get_recorder, track

    manifest = current_manifest()
    spec: TaskSpec | None = None
    scope: dict[str, str | None] = {"task": task_id}
    if manifest is not None:
        spec = manifest.task(task_id)
        if spec is None:
            known = ", ".join(t.id for t in manifest.tasks)
            raise NotFoundError(
                f"playbook '{manifest.id}' has no task '{task_id}'",
                field="tasks",
                hint=f"use one of: {known} (or add the task to playbook.yaml)",
            )
        attributes.setdefault("skills", manifest.skills_for(task_id))
        if not os.environ.get("WORKBENCH_PLAYBOOK"):
            scope["playbook"] = manifest.id
    recorder = get_recorder()
    try:
        with context(**scope), track(task_id, recorder=recorder, **attributes) as handle:
            recorder.flush()  # task_started is durable before the work starts: a dying kernel leaves a trace
            yield PlaybookTask(task_id, spec, handle)
    finally:
        recorder.flush()


def check(condition: Any, message: str, *, hint: str | None = None) -> None:
    """Assert an exercise outcome: print ``✓ message``, or raise :class:`CheckFailed` with the hint.

    Args:
        condition: Anything truthy when the learner got it right.
        message: What is being checked, phrased as the goal ("the prompt fits in 64 tokens").
        hint: What to try when it fails.
    """
    if condition:
        print(f"✓ {message}")
        return
    text = f"✗ {message}"
    if hint:
        text += f"\n  hint: {hint}"
    raise CheckFailed(text)


def _begin_run() -> None:
    """Called by the batch runner in a reused kernel before each run: forget per-run caches."""
    _manifest_at.cache_clear()


def _end_run() -> None:
    """Called by the runners after the last cell: make buffered events durable before the kernel moves on."""
    try:
        from workbench.telemetry import get_recorder
    except ImportError:  # pragma: no cover - telemetry is part of the package
        return
    get_recorder().flush()
