"""The kernel-side API: what playbook notebooks call while a learner (or the runner) executes them.

Light on purpose (no papermill, no nbclient, no torch): it runs inside every kernel.

``task("id")`` wraps :func:`workbench.telemetry.track`: it emits ``task_started`` and then ``task_completed``
(with the duration) or ``task_failed`` (with the error), adds the manifest's skill weights for the task, and
makes those events durable at once so that the runner can tell which task was in flight if the kernel dies.
``check(...)`` is the exercise assertion: it prints a tick, or fails the task with a hint. ``hint("exercise-id")``
shows an exercise's next hint and records that it was revealed.

Every event made inside a ``task()`` block (the task's own and the rubric's ``score`` events) carries whose work
it is (``origin``: ``learner``, ``solution``, ``author`` or ``stub``; see :mod:`.exercises`), per exercise
(``exercises``), the attempt number (``attempt``) and the hints revealed for the task (``hints``). The runner
forces the origin for runs of the author version (``WORKBENCH_ORIGIN``: ``author`` in CI, else ``solution``);
otherwise it is read from the code that ran (:mod:`.session`).

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
from workbench.playbooks.exercises import ORIGINS, Exercise, classify, combine, load_exercises
from workbench.playbooks.manifest import MANIFEST_NAME, PlaybookManifest, TaskSpec, load_manifest
from workbench.playbooks.session import caller_source, install_hook, session

#: Environment variables the runner sets in the kernels it starts (with WORKBENCH_LEARNER / _PLAYBOOK / _RUN_ID).
ENV_PLAYBOOK_DIR = "WORKBENCH_PLAYBOOK_DIR"
ENV_RUN_DIR = "WORKBENCH_RUN_DIR"
ENV_SMOKE = "WORKBENCH_SMOKE"
#: Forces the origin of a run's evidence (``author`` for CI, ``solution`` for other runs of the author version).
ENV_ORIGIN = "WORKBENCH_ORIGIN"


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


def playbook_exercises() -> dict[str, Exercise]:
    """The exercises of the playbook being run or worked on (empty outside a playbook or without regions)."""
    manifest, folder = current_manifest(), playbook_dir()
    if manifest is None or folder is None:
        return {}
    return load_exercises(folder, manifest.notebook_name, {t.tag: t.id for t in manifest.tasks})


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
    from workbench.telemetry import context, event_attributes, get_recorder, track

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
    evidence = _evidence_attributes(task_id) if manifest is not None else {}
    recorder = get_recorder()
    session.active[task_id] = evidence
    try:
        with context(**scope), event_attributes(evidence), track(task_id, recorder=recorder, **attributes) as handle:
            recorder.flush()  # task_started is durable before the work starts: a dying kernel leaves a trace
            yield PlaybookTask(task_id, spec, handle)
    finally:
        session.active.pop(task_id, None)
        recorder.flush()


def _evidence_attributes(task_id: str) -> dict[str, Any]:
    """Origin (overall and per exercise), attempt number and hints revealed for a task that is starting."""
    exercises = {k: e for k, e in playbook_exercises().items() if e.task == task_id}
    session.ensure_current(caller_source())
    forced = os.environ.get(ENV_ORIGIN, "")
    if forced in ORIGINS:
        per = {k: forced for k in exercises}
        origin = forced
    else:
        sources = session.sources_for(task_id)
        per = {k: classify(sources, e) for k, e in exercises.items()}
        origin = combine(per.values())
    session.mark_task(task_id)
    return {
        "origin": origin,
        "exercises": per,
        "attempt": session.next_attempt(task_id, _prior_counts),
        "hints": session.task_hints(list(exercises)),
    }


def _prior_counts(task_id: str) -> tuple[int, dict[str, int]]:
    """(attempts, hints revealed per exercise) the store already holds for ``task_id`` in this run id."""
    from workbench.telemetry import get_recorder, resolve_context

    run_id = resolve_context()["run_id"]
    if not run_id:
        return 0, {}
    try:
        recorder = get_recorder()
        recorder.flush()
        events = recorder.store.query(run_id=run_id, task=task_id, kind=["task_started", "hint"])
    except Exception:  # counting is best effort: a store problem must not break the learner's task
        return 0, {}
    attempts = sum(1 for e in events if str(e.kind) == "task_started")
    hints: dict[str, int] = {}
    for e in events:
        exercise, index = e.attributes.get("exercise"), e.attributes.get("hint_index")
        if str(e.kind) == "hint" and isinstance(exercise, str) and isinstance(index, int):
            hints[exercise] = max(hints.get(exercise, 0), index)
    return attempts, hints


def hint(exercise_id: str) -> None:
    """Show the next hint of an exercise (each call reveals one more) and record that it was revealed.

    Hints revealed before a task's work lower the weight of its evidence (see :mod:`workbench.skills.evidence`).

    Args:
        exercise_id: The exercise's id, as its stub names it (``hint("prompt-review")``).

    Raises:
        NotFoundError: When the playbook has no such exercise.
    """
    from workbench.telemetry import get_recorder

    exercises = playbook_exercises()
    exercise = exercises.get(exercise_id)
    if exercise is None:
        known = ", ".join(sorted(exercises)) or "none: this notebook has no exercises"
        raise NotFoundError(f"no exercise '{exercise_id}' in this playbook", field="exercise",
                            hint=f"use the id the stub names; exercises: {known}")
    total = len(exercise.hints)
    if not total:
        print(f"No hint for exercise {exercise_id}: reread the task's instructions above.")
        return
    session.load_prior(exercise.task or "", _prior_counts)
    shown = session.hints.get(exercise_id, 0)
    count = min(shown + 1, total)
    for number, text in enumerate(exercise.hints[:count], 1):
        print(f"hint {number}/{total}: {text}")
    if count == shown:
        print("(that was the last hint)")
        return
    session.hint_revealed(exercise_id, exercise.task, count)
    recorder = get_recorder()
    recorder.emit("hint", task=exercise.task, exercise=exercise_id, hint_index=count, hints_total=total)
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
    """Called by the batch runner in a reused kernel before each run: forget per-run caches and the session."""
    _manifest_at.cache_clear()
    session.reset()


def _end_run() -> None:
    """Called by the runners after the last cell: make buffered events durable before the kernel moves on."""
    try:
        from workbench.telemetry import get_recorder
    except ImportError:  # pragma: no cover - telemetry is part of the package
        return
    get_recorder().flush()


install_hook()  # inside a kernel: remember the cells that run from now on (the origin of each task's work)
