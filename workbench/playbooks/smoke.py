"""``workbench playbook test``: validate playbooks, run them headless with smoke parameters, prove the exercises.

For each playbook:

1. validate it (:func:`~.validate.validate_playbook`);
2. run the *author* version (solutions in place) with its smoke parameters: it must complete;
3. run the *learner* version (solution regions become stubs, :mod:`.release`), every cell even after one fails:
   every graded task must fail there. A graded task that completes with its stub unchanged is a defect, named
   in the result's problems: its checks do not depend on the exercise.

Both runs record their evidence as ``origin: author`` (CI), which counts for nobody's proficiency.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.playbooks.discovery import Playbook, discover_playbooks, get_playbook
from workbench.playbooks.results import RunResult
from workbench.playbooks.validate import Problem, errors_only, validate_playbook

#: The learner id smoke runs record under (pseudonymised like any other).
SMOKE_LEARNER = "ci-smoke"


@dataclass
class SmokeResult:
    """One playbook's smoke test.

    Attributes:
        playbook: The playbook id.
        problems: Validation problems (errors and warnings), and graded tasks that pass in the learner version.
        run: The author version's run, when validation passed.
        released: The learner version's run, when the author version completed.
        passing_unchanged: Graded tasks that completed in the learner version with their stubs unchanged.
    """

    playbook: str
    problems: list[Problem] = field(default_factory=list)
    run: RunResult | None = None
    released: RunResult | None = None
    passing_unchanged: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Valid, the author version completed, and the learner version failed every graded task."""
        return (
            not errors_only(self.problems)
            and self.run is not None
            and self.run.ok
            and self.released is not None
            and not self.passing_unchanged
        )

    @property
    def status(self) -> str:
        """``invalid``, the author run's status when it failed, else ``exercises-pass-unchanged`` or its status."""
        if self.run is None:
            return "invalid"
        if self.run.ok and self.passing_unchanged:
            return "exercises-pass-unchanged"
        return str(self.run.status)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "playbook": self.playbook,
            "ok": self.ok,
            "status": self.status,
            "problems": [p.to_dict() for p in self.problems],
            "run": self.run.to_dict() if self.run else None,
            "released": self.released.to_dict() if self.released else None,
            "passing_unchanged": list(self.passing_unchanged),
        }


def completed_tasks(run_id: str) -> set[str]:
    """Tasks with a ``task_completed`` event in the run."""
    from workbench.settings import get_settings
    from workbench.telemetry import open_store

    with open_store(get_settings().store_url) as store:
        return {e.task for e in store.query(run_id=run_id, kind="task_completed") if e.task}


def exercise_check(pb: Playbook, released: RunResult) -> tuple[list[str], list[Problem]]:
    """Graded tasks that completed in the learner version's run, and a problem naming each."""
    from workbench.playbooks.exercise_checks import graded_tasks
    from workbench.playbooks.notebook import read_notebook

    graded = graded_tasks(pb.manifest, read_notebook(pb.notebook_path))
    done = completed_tasks(released.run_id)
    passing = [t.id for t in pb.manifest.tasks if t.id in graded and t.id in done]
    problems = [
        Problem(
            str(pb.notebook_path),
            f"graded task '{task}' passes in the learner version with its stub unchanged: its checks do not "
            "depend on the exercise",
            f"tasks[{[t.id for t in pb.manifest.tasks].index(task)}]",
            hint="make the task's checks test what the solution region computes (and put the checks after it); "
            f"see the learner version's run: {released.output_path}",
        )
        for task in passing
    ]
    return passing, problems


def smoke_test(
    playbooks: Iterable[str | Path | Playbook] | None = None,
    *,
    timeout: float | None = 600,
    extra_dirs: Iterable[str | Path] = (),
    on_result: Callable[[SmokeResult], None] | None = None,
) -> list[SmokeResult]:
    """Validate, then run the author version and the learner version of each playbook (default: all).

    The author version runs with smoke parameters and must complete; the learner version runs every cell and
    must fail every graded task. Each run gets a fresh kernel (papermill), as a learner's first run would.
    """
    from workbench.playbooks.runner import PlaybookRunner

    targets = list(playbooks) if playbooks is not None else list(discover_playbooks(extra_dirs))
    runner = PlaybookRunner(timeout=timeout)
    out = []
    for target in targets:
        pb = get_playbook(target, extra_dirs)
        result = SmokeResult(pb.id, validate_playbook(pb))
        if not errors_only(result.problems):
            result.run = runner.run(pb, learner=SMOKE_LEARNER, smoke=True, version="author", origin="author")
        if result.run is not None and result.run.ok:
            result.released = runner.run(pb, learner=SMOKE_LEARNER, smoke=True, version="learner",
                                         origin="author", continue_on_error=True)
            result.passing_unchanged, problems = exercise_check(pb, result.released)
            result.problems += problems
        out.append(result)
        if on_result is not None:
            on_result(result)
    return out
