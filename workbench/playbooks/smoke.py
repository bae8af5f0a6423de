"""``workbench playbook test``: validate and run playbooks headless with their smoke parameters (CI)."""

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
        problems: Validation problems (errors and warnings).
        run: The run, when validation passed.
    """

    playbook: str
    problems: list[Problem] = field(default_factory=list)
    run: RunResult | None = None

    @property
    def ok(self) -> bool:
        """Valid and completed."""
        return not errors_only(self.problems) and self.run is not None and self.run.ok

    @property
    def status(self) -> str:
        """``invalid``, or the run's status."""
        if errors_only(self.problems) or self.run is None:
            return "invalid"
        return str(self.run.status)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "playbook": self.playbook,
            "ok": self.ok,
            "status": self.status,
            "problems": [p.to_dict() for p in self.problems],
            "run": self.run.to_dict() if self.run else None,
        }


def smoke_test(
    playbooks: Iterable[str | Path | Playbook] | None = None,
    *,
    timeout: float | None = 600,
    extra_dirs: Iterable[str | Path] = (),
    on_result: Callable[[SmokeResult], None] | None = None,
) -> list[SmokeResult]:
    """Validate each playbook (default: every discovered one), then run it once with smoke parameters.

    Each run gets a fresh kernel (papermill), as a learner's first run would.
    """
    from workbench.playbooks.runner import PlaybookRunner

    targets = list(playbooks) if playbooks is not None else list(discover_playbooks(extra_dirs))
    runner = PlaybookRunner(timeout=timeout)
    out = []
    for target in targets:
        pb = get_playbook(target, extra_dirs)
        result = SmokeResult(pb.id, validate_playbook(pb))
        if not errors_only(result.problems):
            result.run = runner.run(pb, learner=SMOKE_LEARNER, smoke=True)
        out.append(result)
        if on_result is not None:
            on_result(result)
    return out
