"""Skill coverage of a playbook catalog: how many rubric-graded tasks train each skill of the taxonomy.

A skill whose heatmap cells rest on completion events alone says little about what a learner can do; a task
with a ``rubric:`` scores the learner's own work. :func:`skill_coverage` counts, per taxonomy skill, the graded
tasks whose skills include it (weight > 0), and compares the count with the taxonomy's ``min_graded_tasks``.
``workbench playbook validate --coverage`` prints the table and exits 1 when a skill is below the floor.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.playbooks.discovery import Playbook, discover_playbooks


@dataclass(frozen=True)
class SkillCoverage:
    """One skill's row: the graded tasks that train it (``playbook/task``) and every task that does."""

    skill: str
    name: str
    graded: tuple[str, ...]
    tasks: int
    floor: int

    @property
    def ok(self) -> bool:
        """At or above the floor."""
        return len(self.graded) >= self.floor


@dataclass
class Coverage:
    """The skill x graded-task table of a catalog against a taxonomy's floor."""

    taxonomy: str
    floor: int
    playbooks: list[str]
    rows: list[SkillCoverage] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every skill at or above the floor."""
        return all(r.ok for r in self.rows)

    @property
    def below(self) -> list[str]:
        """Skills under the floor."""
        return [r.skill for r in self.rows if not r.ok]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"ok": self.ok, "taxonomy": self.taxonomy, "floor": self.floor, "playbooks": self.playbooks,
                "below": self.below,
                "skills": [{"skill": r.skill, "name": r.name, "graded": len(r.graded), "graded_tasks": list(r.graded),
                            "tasks": r.tasks, "ok": r.ok} for r in self.rows]}  # fmt: skip


def skill_coverage(
    playbooks: Iterable[Playbook] | None = None,
    *,
    taxonomy: Any = None,
    floor: int | None = None,
    extra_dirs: Iterable[str | Path] = (),
) -> Coverage:
    """Count the rubric-graded tasks per skill.

    Args:
        playbooks: The catalog (default: every playbook Workbench can see).
        taxonomy: Taxonomy file, name or object (default: the shipped one).
        floor: Graded tasks each skill needs (default: the taxonomy's ``min_graded_tasks``).
        extra_dirs: More playbook folders, when ``playbooks`` is not given.
    """
    from workbench.skills import load_taxonomy

    tax = load_taxonomy(taxonomy)
    catalog = list(discover_playbooks(extra_dirs) if playbooks is None else playbooks)
    need = tax.min_graded_tasks if floor is None else floor
    graded: dict[str, list[str]] = {s.id: [] for s in tax.skills}
    trained: dict[str, int] = dict.fromkeys(graded, 0)
    for pb in catalog:
        for spec in pb.manifest.tasks:
            weights = spec.skills or pb.manifest.skills
            for skill, weight in weights.items():
                if skill not in graded or weight <= 0:
                    continue
                trained[skill] += 1
                if spec.rubric:
                    graded[skill].append(f"{pb.id}/{spec.id}")
    rows = [SkillCoverage(s.id, s.name, tuple(graded[s.id]), trained[s.id], need) for s in tax.skills]
    return Coverage(tax.id, need, sorted(pb.id for pb in catalog), rows)
