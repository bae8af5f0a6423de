"""A copilot's life: register, evaluate against the promoted version, promote, roll back, find a served spec.

One function per step, shared by the CLI, the server and notebooks (each edge calls these, never the registry's
internals): :func:`resolve_spec`, :func:`evaluate_version`, :func:`promote_version`, :func:`rollback_copilot`,
:func:`serving_versions`, and :func:`describe_copilot` for what a person looks at (``copilot show``, the widget).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.copilots.compare import Comparison, compare
from workbench.copilots.evaluation import EvalReport, evaluate_copilot
from workbench.copilots.registry import Promotion, StageState, open_registry, parse_ref
from workbench.copilots.runtime import Copilot
from workbench.copilots.spec import SPEC_NAME, CopilotSpec, check_references, load_spec


def _is_path(target: str | Path) -> bool:
    path = Path(target).expanduser()
    return path.is_file() or (path.is_dir() and (path / SPEC_NAME).is_file()) or str(target).endswith((".yaml", ".yml"))


def resolve_spec(target: str | Path | CopilotSpec, *, url: str | None = None) -> CopilotSpec:
    """A checked spec from a ``copilot.yaml`` path (or its folder), or a registered ``id@version`` / ``id`` (its
    GA version, else its newest).

    Raises:
        NotFoundError: No such file, or no such registered copilot or version.
        ValidationError: The spec is invalid or points at something missing.
    """
    if isinstance(target, CopilotSpec):
        spec = target
    elif _is_path(target):
        spec = load_spec(target)
    else:
        copilot, version = parse_ref(str(target))
        with open_registry(url) as registry:
            spec = registry.get(copilot, version).load_spec()
    check_references(spec)
    return spec


@dataclass
class EvalOutcome:
    """An evaluation next to the promoted version's: the report, the regression table, this version's stage."""

    report: EvalReport
    comparison: Comparison
    stage: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``workbench copilot eval --json``)."""
        return {"report": self.report.to_dict(), "comparison": self.comparison.to_dict(), "stage": self.stage}


def evaluate_version(
    target: str | Path | CopilotSpec | Copilot, *, limit: int | None = None, url: str | None = None
) -> EvalOutcome:
    """Register a version, run its suite, store the report, and compare it with the promoted (GA) version.

    The baseline is the GA version's newest evaluation; when this version is GA itself, the previous GA's.
    """
    copilot = target if isinstance(target, Copilot) else None
    spec = copilot.spec if copilot is not None else resolve_spec(target, url=url)  # type: ignore[arg-type]
    with open_registry(url) as registry:
        registry.register(spec)
        state = registry.state(spec.id)
        base = state.ga if state.ga != spec.version else state.previous_ga
        baseline = registry.last_evaluation(spec.id, base) if base else None
    report = evaluate_copilot(copilot or spec, limit=limit)
    with open_registry(url) as registry:
        registry.record_evaluation(report)
    return EvalOutcome(report, compare(report, baseline), state.stage_of(spec.version))


def promote_version(
    target: str | Path | CopilotSpec, stage: str, *, note: str | None = None, url: str | None = None
) -> Promotion:
    """Promote a spec (registered first) or a registered ``id@version`` to ``canary`` or ``ga``.

    Raises:
        PromotionError: No evaluation of this version, or a failed gate (named in the message and ``field``).
    """
    subject: CopilotSpec | str = (
        resolve_spec(target) if isinstance(target, CopilotSpec) or _is_path(target) else str(target)
    )
    with open_registry(url) as registry:
        return registry.promote(subject, stage, note=note)


def rollback_copilot(copilot: str, *, note: str | None = None, url: str | None = None) -> Promotion:
    """Restore the previous GA version of ``copilot``.

    Raises:
        PromotionError: There is no previous GA version.
    """
    with open_registry(url) as registry:
        return registry.rollback(parse_ref(copilot)[0], note=note)


def copilot_state(copilot: str, *, url: str | None = None) -> StageState:
    """Where ``copilot``'s versions serve (GA, canary, GA history)."""
    with open_registry(url) as registry:
        return registry.state(copilot)


@dataclass
class CopilotOverview:
    """A spec next to its registry record: versions, stages, promotion history and this version's last evaluation.

    Attributes:
        spec: The spec (resolved from a file or the registry).
        registered: The registered versions of its copilot, oldest first.
        state: Where its versions serve (GA, canary, GA history).
        history: Its stage changes, oldest first.
        last: This version's newest evaluation, if it has one.
    """

    spec: CopilotSpec
    registered: list[str]
    state: StageState
    history: list[Promotion]
    last: EvalReport | None

    @property
    def stage(self) -> str | None:
        """This version's stage: ``ga``, ``canary`` or ``None``."""
        return self.state.stage_of(self.spec.version)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``workbench copilot show --json``, the copilot widget)."""
        last = self.last
        return {
            "spec": self.spec.to_dict(), "file": str(self.spec.source) if self.spec.source else None,
            "digest": self.spec.digest(), "registered": self.registered, "ga": self.state.ga,
            "canary": self.state.canary, "previous_ga": self.state.previous_ga, "stage": self.stage,
            "history": [p.__dict__ for p in self.history],
            "last_evaluation": None if last is None else {
                "passed": last.passed, "metrics": last.metrics, "created_at": last.created_at,
                "gates": [g.__dict__ for g in last.gates],
            },
        }  # fmt: skip


def describe_copilot(target: str | Path | CopilotSpec, *, url: str | None = None) -> CopilotOverview:
    """The :class:`CopilotOverview` of a spec file, a registered ``id@version`` or ``id``.

    Raises:
        NotFoundError: No such file, or no such registered copilot or version.
        ValidationError: The spec is invalid or points at something missing.
    """
    spec = resolve_spec(target, url=url)
    with open_registry(url) as registry:
        registered = [v.version for v in registry.versions(spec.id)]
        last = registry.last_evaluation(spec.id, spec.version) if spec.version in registered else None
        return CopilotOverview(spec, registered, registry.state(spec.id), registry.history(spec.id), last)


@dataclass(frozen=True)
class ServedVersion:
    """A version a server runs: its spec and stage (``ga``, ``canary``, or ``None`` for a spec served as is)."""

    spec: CopilotSpec
    stage: str | None


def serving_versions(target: str | Path, *, url: str | None = None) -> list[ServedVersion]:
    """What ``workbench copilot serve TARGET`` runs.

    A spec path (or ``id@version``) serves exactly that version. A registered id serves its GA version and,
    when one is promoted, its canary (which takes ``serving.canary_share`` of the requests).

    Raises:
        NotFoundError: Unknown spec or copilot, or a copilot with nothing promoted to GA.
    """
    from workbench.errors import NotFoundError

    if _is_path(target) or "@" in str(target):
        return [ServedVersion(resolve_spec(target, url=url), None)]
    copilot = str(target)
    with open_registry(url) as registry:
        state = registry.state(copilot)
        if state.ga is None:
            raise NotFoundError(
                f"copilot '{copilot}' has no GA version to serve",
                hint="serve a spec file, or promote a version: workbench copilot promote SPEC --to ga",
            )
        served = [ServedVersion(registry.get(copilot, state.ga).load_spec(), "ga")]
        if state.canary is not None:
            served.append(ServedVersion(registry.get(copilot, state.canary).load_spec(), "canary"))
    for version in served:
        check_references(version.spec)
    return served
