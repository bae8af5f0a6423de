"""What synthetic cohort to generate (:class:`CohortSpec`), and loading one from YAML (:func:`load_cohort_spec`)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from workbench.errors import ValidationError


class CohortSpec(BaseModel):
    """What cohort to generate. Load one from YAML with :func:`load_cohort_spec`.

    Attributes:
        learners: Number of learners.
        events: Total events to write (exact when given); default about 120 per learner.
        teams: Number of teams; default one per 12 learners.
        months: Length of the time window, ending at ``end``.
        dropout: Share of learners who stop early.
        noise: Standard deviation of score noise (mastery units, 0..1).
        small_team: Add one team of 3 learners (below the default minimum group size).
        unknown_skills: Skill ids outside the taxonomy that some score events name (bad-input demos).
        unknown_rate: Share of criterion scores that name one of ``unknown_skills``.
        seed: Random seed (same seed, same cohort; event ids and pseudonyms aside).
        end: End of the window (default: now).
        learner_prefix: Raw learner ids are ``<prefix><number>``; only their pseudonyms are stored.
        solution_rate: Share of completed attempts whose submitted answer is the shipped solution (recorded
            with ``origin: solution``; it counts for nothing).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    learners: int = Field(default=60, ge=1)
    events: int | None = Field(default=None, ge=1)
    teams: int | None = Field(default=None, ge=1)
    months: int = Field(default=6, ge=1, le=60)
    dropout: float = Field(default=0.12, ge=0, le=1)
    noise: float = Field(default=0.12, ge=0, le=1)
    small_team: bool = True
    unknown_skills: tuple[str, ...] = ()
    unknown_rate: float = Field(default=0.0, ge=0, le=1)
    seed: int = 0
    end: datetime | None = None
    learner_prefix: str = "learner-"
    solution_rate: float = Field(default=0.0, ge=0, le=1)


def load_cohort_spec(source: str | Path = "demo-cohort") -> CohortSpec:
    """A :class:`CohortSpec` from a YAML file or the name of one shipped in ``datasets/skills``."""
    from pydantic import ValidationError as PydanticValidationError

    from workbench.settings import get_settings

    path = Path(source)
    if not path.exists() and not path.suffix:
        path = Path(get_settings().datasets_dir) / "skills" / f"{source}.yaml"
    if not path.is_file():
        from workbench.errors import NotFoundError

        raise NotFoundError(f"cohort spec '{source}' does not exist", file=path,
                            hint="pass a YAML file with CohortSpec fields, or 'demo-cohort'")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        return CohortSpec.model_validate(data)
    except PydanticValidationError as exc:
        err = exc.errors()[0]
        raise ValidationError(
            f"invalid cohort spec: {err['msg']}",
            file=path,
            field=".".join(str(p) for p in err["loc"]),
            hint="see the CohortSpec fields in workbench/skills/cohort_spec.py",
        ) from None


__all__ = ["CohortSpec", "load_cohort_spec"]
