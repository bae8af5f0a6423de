"""Synthetic cohorts: realistic learners, teams and roles working through playbooks, as contract-shaped events.

Used by the tests, the browser tests and the 1,000,000-event benchmark. The real playbooks a cohort practises
come in as data (``playbooks=``, built by the caller with ``workbench.playbooks.task_skill_weights()``), so this
package never imports the playbooks package (which imports it for the taxonomy). The generative model:

- **Teams** of uneven size (Dirichlet weights), each with a dominant role; optionally one team below the
  minimum group size so that suppression shows.
- **Learners** have a talent and, per skill, a starting mastery and an asymptote that grows with the role's
  target for the skill (people practise what their job needs). Mastery follows a learning curve
  ``m(k) = a_inf - (a_inf - a_0) * exp(-k / tau)`` in the practice ``k`` a learner has put into the skill.
- **Episodes**: a learner picks playbook tasks (weighted towards their role's targets) at increasing times over
  the window; a weak learner may fail attempts before completing, or abandon the task. Some drop out early.
- **Events** per attempt follow the telemetry contract: ``task_started`` (with ``role``), ``generation``
  (OpenTelemetry GenAI token attributes and cost), sometimes ``guardrail`` and ``review``, one ``score`` per rubric
  criterion (``skill``, ``score`` 0..1, ``scorer``, ``confidence``, ``subject``...) plus the overall score, and
  ``task_completed`` (``skills`` weights, ``duration_s``) or ``task_failed``.
- **Noise**: scores are the current mastery plus Gaussian noise and a scorer bias, quantised to rubric levels.
- **Provenance**: task and score events carry ``origin`` (``learner``; ``solution`` for a ``solution_rate`` share of
  attempts, which then count for nothing), ``attempt`` and ``hints`` (weaker learners reveal more), as real
  playbook runs record them; drawn from a separate random stream, so the rest of a seeded cohort is unchanged.

Events are built without re-validation (``Event.model_construct``; the generator only writes valid, JSON-ready
values and pseudonymous ids) and written with ``store.append_many`` in large batches: the fast bulk path.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from workbench.skills.cohort_spec import CohortSpec
from workbench.skills.taxonomy import LevelDescriptor, Role, Skill, Taxonomy, load_taxonomy

TEAM_NAMES = (
    "support-ops", "claims", "search-platform", "billing", "onboarding", "data-platform", "risk", "payments",
    "mobile", "web", "sales-ops", "hr-systems", "legal-tech", "marketing-analytics", "logistics", "procurement",
    "security", "finance-ops", "customer-success", "devex", "ml-platform", "content", "pricing", "partner-apis",
)
_SCORERS = (("deterministic", 0.45), ("reference", 0.2), ("judge", 0.25), ("human", 0.1))
_SCORER_BIAS = {"deterministic": -0.02, "reference": 0.0, "judge": 0.05, "human": 0.0}
_MODELS = (("workbench-tiny", 0.7, 0.0, 0.0), ("gpt-4o-mini", 0.3, 0.00015, 0.0006))
_PII = ("email", "phone", "credit_card", "iban", "ip_address")

#: Task -> skill weights of playbooks: ``{playbook_id: {task_id: {skill_id: weight}}}``.
TaskSkills = Mapping[str, Mapping[str, Mapping[str, float]]]


@dataclass
class Cohort:
    """What :func:`generate_cohort` wrote.

    Attributes:
        roster: One row per learner: raw_id, learner (pseudonym), team, role, dropped_out.
        events: Number of events written.
        playbooks: The synthetic playbooks: ``{playbook: {task: {skill: weight}}}``.
        start: Start of the time window.
        end: End of the time window.
    """

    roster: list[dict[str, Any]]
    events: int
    playbooks: dict[str, dict[str, dict[str, float]]]
    start: datetime
    end: datetime

    def roster_frame(self) -> Any:
        """The roster as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.roster)

    def roles(self) -> dict[str, str]:
        """``{pseudonym: role}`` (a roster for ``build_report(roles=...)``)."""
        return {r["learner"]: r["role"] for r in self.roster if r["role"]}


# -- taxonomy and playbooks ------------------------------------------------------------------------------
_EXTRA_SKILLS = (
    ("agent_tool_use", "Agents and tool use", "Delivery"),
    ("multimodal_inputs", "Multimodal inputs", "Prompting and generation"),
    ("prompt_injection_defense", "Prompt-injection defence", "Responsible operation"),
    ("observability_tracing", "Observability and tracing", "Delivery"),
    ("vector_databases", "Vector databases", "Retrieval (RAG)"),
    ("reranking", "Re-ranking", "Retrieval (RAG)"),
    ("synthetic_data", "Synthetic data generation", "Model adaptation"),
    ("distillation", "Distillation", "Model adaptation"),
    ("llm_judges", "LLM judges", "Evaluation and critique"),
    ("human_feedback", "Human feedback loops", "Evaluation and critique"),
    ("privacy_engineering", "Privacy engineering", "Responsible operation"),
    ("model_selection", "Model selection", "Model adaptation"),
    ("latency_optimization", "Latency optimisation", "Model adaptation"),
    ("chat_ux_design", "Conversational UX", "Delivery"),
    ("change_management", "Change management", "Delivery"),
    ("ai_policy", "AI policy and risk", "Responsible operation"),
    ("code_assistants", "Code assistants", "Prompting and generation"),
    ("experiment_design", "Experiment design", "Evaluation and critique"),
)


def synthetic_taxonomy(n_skills: int = 30) -> Taxonomy:
    """A taxonomy of ``n_skills`` skills: the default taxonomy's skills and roles, extended with more GenAI skills.

    Roles keep their targets for the default skills and get targets for the added ones (varied by role), so
    gaps exist everywhere. Used for the 10,000 x 30 scale run.
    """
    base = load_taxonomy()
    skills = list(base.skills)
    extra = list(_EXTRA_SKILLS)
    i = 0
    while len(skills) < n_skills:
        if i < len(extra):
            sid, name, group = extra[i]
        else:
            sid, name, group = f"skill_{i + 1:03d}", f"Skill {i + 1}", "Other"
        skills.append(Skill(id=sid, name=name, group=group, description=f"{name} (synthetic scale-test skill)."))
        i += 1
    skills = skills[:n_skills]
    ids = {s.id for s in skills}
    roles = []
    for r, role in enumerate(base.roles):
        targets = {k: v for k, v in role.targets.items() if k in ids}
        for j, skill in enumerate(skills):
            if skill.id not in targets and skill.id not in {s.id for s in base.skills}:
                targets[skill.id] = 1 + (j + r) % 3
        roles.append(Role(id=role.id, name=role.name, description=role.description, targets=targets))
    return Taxonomy(
        id=f"genai-copilot-{n_skills}",
        version=1,
        title=f"GenAI copilot skills (synthetic, {n_skills} skills)",
        description="The default taxonomy extended with synthetic skills for scale runs.",
        levels=tuple(LevelDescriptor.model_validate(lv.model_dump()) for lv in base.levels),
        skills=tuple(skills),
        roles=tuple(roles),
        source="synthetic",
    )


def synthetic_playbooks(
    taxonomy: Taxonomy, playbooks: TaskSkills | None = None
) -> dict[str, dict[str, dict[str, float]]]:
    """The playbooks a synthetic cohort works through: ``{playbook_id: {task_id: {skill_id: weight}}}``.

    The given ``playbooks``' tasks come first (those whose skills the taxonomy knows), so the evidence is tied to
    real lessons; every skill they do not practise gets a generic task in a playbook per skill group (70% that
    skill, 30% a neighbour in the group), so every skill has evidence.

    Args:
        taxonomy: The skills and roles of the cohort.
        playbooks: Real playbooks' task -> skill weights, ``{playbook_id: {task_id: {skill_id: weight}}}``
            (the caller reads them from the playbooks package: ``workbench.playbooks.task_skill_weights()``).
    """
    known = set(taxonomy.skill_ids)
    out: dict[str, dict[str, dict[str, float]]] = {}
    covered: set[str] = set()
    for playbook, mapping in (playbooks or {}).items():
        usable = {task: dict(skills) for task, skills in mapping.items() if skills and set(skills) <= known}
        if usable:
            out[playbook] = usable
            covered.update(skill for skills in usable.values() for skill in skills)
    groups: dict[str, list[str]] = {}
    for skill in taxonomy.skills:
        groups.setdefault(skill.group, []).append(skill.id)
    for group, ids in groups.items():
        missing = [sid for sid in ids if sid not in covered]
        if not missing:
            continue
        slug = "".join(ch if ch.isalnum() else "-" for ch in group.lower()).strip("-")
        while "--" in slug:
            slug = slug.replace("--", "-")
        tasks: dict[str, dict[str, float]] = {}
        for sid in missing:
            neighbour = ids[(ids.index(sid) + 1) % len(ids)]
            tasks[f"practise-{sid.replace('_', '-')}"] = (
                {sid: 0.7, neighbour: 0.3} if neighbour != sid else {sid: 1.0}
            )
        out[f"practice-{slug}"] = tasks
    return out


# -- generation ------------------------------------------------------------------------------------------
@dataclass
class _Learner:
    raw_id: str
    pseudonym: str
    team: str
    role: str | None
    talent: float
    start: float
    stop: float
    a0: dict[str, float]
    ainf: dict[str, float]
    tau: dict[str, float]
    practice: dict[str, float] = field(default_factory=dict)
    clock: float = 0.0
    dropped: bool = False

    def mastery(self, skill: str) -> float:
        k = self.practice.get(skill, 0.0)
        a0, ainf = self.a0.get(skill, 0.15), self.ainf.get(skill, 0.6)
        return ainf - (ainf - a0) * math.exp(-k / self.tau.get(skill, 4.0))


class _Generator:
    def __init__(self, spec: CohortSpec, taxonomy: Taxonomy, playbooks: TaskSkills | None) -> None:
        from workbench.telemetry import EventKind, pseudonymize

        self.spec = spec
        self.tax = taxonomy
        self.rng = random.Random(spec.seed)
        self.help_rng = random.Random(spec.seed * 7919 + 1)
        self.kinds = {k.value: k for k in EventKind}
        end = spec.end or datetime.now(timezone.utc)
        self.end = end if end.tzinfo else end.replace(tzinfo=timezone.utc)
        self.start = self.end - timedelta(days=30.4 * spec.months)
        self.t0, self.t1 = self.start.timestamp(), self.end.timestamp()
        self.last_start = self.t1 - 7_200.0  # episodes start early enough to finish inside the window
        self.playbooks = synthetic_playbooks(taxonomy, playbooks)
        self.tasks = [(pb, task, skills) for pb, tasks in self.playbooks.items() for task, skills in tasks.items()]
        self.targets = taxonomy.target_matrix()
        self.learners = self._cohort(pseudonymize)

    # -- cohort ----------------------------------------------------------------------------------------
    def _cohort(self, pseudonymize: Any) -> list[_Learner]:
        spec, rng = self.spec, self.rng
        n = spec.learners
        n_small = 3 if spec.small_team and n >= 13 else 0
        n_teams = spec.teams or max(1, round((n - n_small) / 12))
        # Regular teams get at least 6 learners when the cohort allows (only the small team is meant to be
        # suppressed); the rest is spread with Dirichlet weights, so team sizes are uneven.
        floor = min(6, (n - n_small) // n_teams)
        weights = [rng.gammavariate(3.0, 1.0) for _ in range(n_teams)]
        total = sum(weights)
        spare = n - n_small - floor * n_teams
        sizes = [floor + int(spare * w / total) for w in weights]
        while sum(sizes) < n - n_small:
            sizes[rng.randrange(n_teams)] += 1
        names = [TEAM_NAMES[i] if i < len(TEAM_NAMES) else f"team-{i + 1:04d}" for i in range(n_teams)]
        if n_small:
            names.append("small-team")
            sizes.append(n_small)
        roles = self.tax.role_ids
        learners = []
        number = 0
        for t, (team, size) in enumerate(zip(names, sizes, strict=True)):
            dominant = roles[t % len(roles)] if roles else None
            for _ in range(size):
                number += 1
                role = dominant if (not roles or rng.random() < 0.7) else rng.choice(roles)
                learners.append(self._learner(f"{spec.learner_prefix}{number:05d}", team, role, pseudonymize))
        return learners

    def _learner(self, raw_id: str, team: str, role: str | None, pseudonymize: Any) -> _Learner:
        rng = self.rng
        talent = min(0.97, max(0.3, rng.gauss(0.74, 0.13)))
        experience = rng.betavariate(2.0, 2.5)  # prior experience: some join as beginners, some as experts
        targets = self.targets.get(role or "", {})
        a0, ainf, tau = {}, {}, {}
        for skill in self.tax.skill_ids:
            need = targets.get(skill, 1) / 4.0
            a0[skill] = min(0.85, max(0.02, 0.05 + 0.45 * experience + 0.2 * need + rng.gauss(0, 0.08)))
            ainf[skill] = min(0.98, max(a0[skill], talent + 0.2 * need - 0.04 + rng.gauss(0, 0.07)))
            tau[skill] = rng.uniform(1.0, 3.5)
        span = self.t1 - self.t0
        start = self.t0 + rng.random() * 0.45 * span
        stop = self.last_start
        dropped = rng.random() < self.spec.dropout
        if dropped:
            stop = start + (0.1 + 0.5 * rng.random()) * (self.last_start - start)
        return _Learner(raw_id, pseudonymize(raw_id), team, role, talent, start, stop, a0, ainf, tau,
                        clock=start, dropped=dropped)

    # -- events ----------------------------------------------------------------------------------------
    def _event(self, kind: str, learner: _Learner, ts: float, playbook: str, task: str, run_id: str,
               attributes: dict[str, Any], duration: float | None = None, status: str | None = None) -> Any:
        from workbench.telemetry import SCHEMA_VERSION, Event

        return Event.model_construct(
            id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            time=datetime.fromtimestamp(ts, tz=timezone.utc),
            schema_version=SCHEMA_VERSION,
            learner=learner.pseudonym,
            team=learner.team,
            playbook=playbook,
            task=task,
            run_id=run_id,
            kind=self.kinds[kind],
            duration_s=duration,
            status=status,
            attributes=attributes,
        )

    def _pick_task(self, learner: _Learner) -> tuple[str, str, dict[str, float]]:
        targets = self.targets.get(learner.role or "", {})
        rng = self.rng
        # Two draws, keep the task whose primary skill the role needs more: a cheap role-weighted choice.
        a, b = rng.choice(self.tasks), rng.choice(self.tasks)
        pa = targets.get(next(iter(a[2])), 1)
        pb = targets.get(next(iter(b[2])), 1)
        return a if pa >= pb else b

    def episode(self, learner: _Learner, ts: float) -> list[Any]:
        """All events of one learner working on one task (attempts until completed or abandoned)."""
        rng = self.rng
        playbook, task, skills = self._pick_task(learner)
        primary = next(iter(skills))
        run_id = f"run-{rng.getrandbits(48):012x}"
        events: list[Any] = []
        for attempt in range(1, 4):
            m = learner.mastery(primary)
            made = self._provenance(m, attempt)
            fail_p = 0.55 / (1.0 + math.exp((m - 0.4) * 9.0))
            events.append(self._event("task_started", learner, ts, playbook, task, run_id,
                                      {"role": learner.role, "attempt": attempt}, status="started"))
            minutes = min(110.0, max(2.0, rng.lognormvariate(math.log(25.0 * (1.4 - m)), 0.45)))
            t = ts
            for _ in range(min(6, int(rng.expovariate(0.7)))):
                t += rng.uniform(20, 240)
                events.append(self._generation(learner, t, playbook, task, run_id))
            if rng.random() < 0.07:
                t += rng.uniform(5, 60)
                action = rng.choices(("allow", "redact", "block"), (0.45, 0.45, 0.10))[0]
                events.append(self._event(
                    "guardrail", learner, t, playbook, task, run_id,
                    {"check": "pii", "action": action, "kinds": [rng.choice(_PII)] if action != "allow" else []}))
            end_ts = ts + minutes * 60.0
            if rng.random() < fail_p:
                events.append(self._event(
                    "task_failed", learner, end_ts, playbook, task, run_id,
                    {"skills": dict(skills), "error_type": "AssertionError",
                     "error_message": "a check in the notebook did not pass", **made},
                    duration=round(minutes * 60.0, 1), status="failed"))
                for s, w in skills.items():
                    learner.practice[s] = learner.practice.get(s, 0.0) + 0.5 * w
                ts = end_ts + rng.uniform(600, 3 * 86_400)
                if ts > self.t1 - 7_200.0:
                    break  # the window ends: the task stays unfinished
                continue
            events.extend(self._scores(learner, end_ts - 30.0, playbook, task, run_id, skills, made))
            if rng.random() < 0.12:
                ai = round(min(1.0, max(0.0, m + rng.gauss(0.05, 0.1))), 2)
                human = round(min(1.0, max(0.0, m + rng.gauss(0, 0.1))), 2)
                events.append(self._event("review", learner, end_ts - 10.0, playbook, task, run_id, {
                    "rubric": f"{playbook}-rubric", "criterion": "c1", "item": f"{task}-1",
                    "ai_score": ai, "human_score": human, "agreed": abs(ai - human) < 0.2, "comment": None}))
            events.append(self._event("task_completed", learner, end_ts, playbook, task, run_id,
                                      {"skills": dict(skills), **made}, duration=round(minutes * 60.0, 1),
                                      status="completed"))
            for s, w in skills.items():
                learner.practice[s] = learner.practice.get(s, 0.0) + 1.5 * w
            break
        return events

    def _provenance(self, mastery: float, attempt: int) -> dict[str, Any]:
        """Whose work an attempt is and the help it took (its own random stream, see the module docstring)."""
        rng = self.help_rng
        hints = sum(rng.random() < 0.5 * (1.0 - mastery) for _ in range(2))
        copied = rng.random() < self.spec.solution_rate
        return {"origin": "solution" if copied else "learner", "attempt": attempt, "hints": hints}

    def _generation(self, learner: _Learner, ts: float, playbook: str, task: str, run_id: str) -> Any:
        rng = self.rng
        model, _, pin, pout = _MODELS[0] if rng.random() < _MODELS[0][1] else _MODELS[1]
        tin = int(rng.uniform(150, 1600))
        tout = int(rng.uniform(30, 450))
        latency = round(0.05 + tout * rng.uniform(0.004, 0.02), 3)
        return self._event("generation", learner, ts, playbook, task, run_id, {
            "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": tin,
            "gen_ai.usage.output_tokens": tout,
            "gen_ai.response.finish_reasons": ["stop"],
            "latency_s": latency,
            "ttft_s": round(latency * 0.2, 3),
            "cost": round((tin * pin + tout * pout) / 1000.0, 8),
        }, duration=latency, status="ok")

    def _scores(self, learner: _Learner, ts: float, playbook: str, task: str, run_id: str,
                skills: dict[str, float], made: dict[str, Any]) -> list[Any]:
        rng, spec = self.rng, self.spec
        rubric = f"{playbook}-rubric"
        criteria = list(skills) + ([next(iter(skills))] if rng.random() < 0.5 else [])
        events = []
        total = 0.0
        for n, skill in enumerate(criteria, start=1):
            scorer = rng.choices([s for s, _ in _SCORERS], [w for _, w in _SCORERS])[0]
            named = skill
            if spec.unknown_skills and rng.random() < spec.unknown_rate:
                named = rng.choice(spec.unknown_skills)
            value = learner.mastery(skill) + rng.gauss(0.0, spec.noise) + _SCORER_BIAS[scorer]
            raw = round(min(1.0, max(0.0, value)) * 4)
            score = raw / 4.0
            total += score
            confidence = round(rng.uniform(0.55, 0.95), 2) if scorer == "judge" else 1.0
            events.append(self._event("score", learner, ts + n, playbook, task, run_id, {
                "rubric": rubric, "rubric_version": 1, "criterion": f"c{n}", "skill": named,
                "score": score, "raw_score": raw, "max_score": 4, "passed": score >= 0.5, "scorer": scorer,
                "confidence": confidence, "item": f"{task}-1",
                "subject": "copilot" if rng.random() < 0.2 else "learner", **made}))
        overall = total / len(criteria)
        events.append(self._event("score", learner, ts + len(criteria) + 1, playbook, task, run_id, {
            "rubric": rubric, "rubric_version": 1, "criterion": None, "skill": None, "score": round(overall, 4),
            "passed": overall >= 0.5, "scorer": "deterministic", "confidence": 1.0, "item": f"{task}-1",
            "subject": "learner", **made}))
        return events

    # -- driving -----------------------------------------------------------------------------------------
    def batches(self, batch_size: int) -> Iterator[list[Any]]:
        spec, rng = self.spec, self.rng
        target = spec.events
        per_learner = (target / spec.learners) if target else 120.0
        episodes_per = max(1.0, per_learner / 7.6)
        if target:
            episodes_per *= 0.96  # calibrated a little under; topped up below to the exact total
        buffer: list[Any] = []
        written = 0

        def take(events: list[Any]) -> Iterator[list[Any]]:
            nonlocal buffer, written
            if target is not None:
                events = events[: max(0, target - written)]
            buffer.extend(events)
            written += len(events)
            while len(buffer) >= batch_size:
                yield buffer[:batch_size]
                buffer = buffer[batch_size:]

        for learner in self.learners:
            planned = episodes_per * (learner.stop - learner.start) / (self.t1 - learner.start + 1.0)
            count = max(1, int(rng.gauss(planned, max(1.0, planned * 0.25))))
            gap = (learner.stop - learner.start) / (count + 1)
            ts = learner.start
            for _ in range(count):
                ts += rng.uniform(0.3, 1.7) * gap
                if ts >= learner.stop:
                    break
                yield from take(self.episode(learner, ts))
                learner.clock = ts
            if target is not None and written >= target:
                break
        if target is not None:
            active = [lr for lr in self.learners if not lr.dropped] or self.learners
            while written < target:
                learner = rng.choice(active)
                ts = min(self.last_start, max(learner.clock, learner.start) + rng.uniform(0.0, 0.1) * (
                    self.t1 - learner.start))
                learner.clock = ts
                yield from take(self.episode(learner, ts))
        if buffer:
            yield buffer

    def roster(self) -> list[dict[str, Any]]:
        return [
            {"raw_id": lr.raw_id, "learner": lr.pseudonym, "team": lr.team, "role": lr.role,
             "dropped_out": lr.dropped}
            for lr in self.learners
        ]


def generate_events(
    spec: CohortSpec | None = None,
    *,
    taxonomy: str | Path | Taxonomy | None = None,
    playbooks: TaskSkills | None = None,
    batch_size: int = 20_000,
    **overrides: Any,
) -> tuple[Iterator[list[Any]], Cohort]:
    """Generate a cohort's events in batches without writing them.

    Args:
        spec: The cohort; fields in ``overrides`` replace the spec's.
        taxonomy: The taxonomy whose skills and roles the cohort uses.
        playbooks: Real playbooks' task -> skill weights for the cohort to practise (see
            :func:`synthetic_playbooks`); default none, so only generic practice tasks.
        batch_size: Events per batch.

    Returns:
        ``(batches, cohort)``: an iterator of event lists, and the :class:`Cohort` description (its ``events``
        count is filled in as batches are consumed).
    """
    spec = (spec or CohortSpec()).model_copy(update=overrides) if overrides else (spec or CohortSpec())
    if overrides:
        spec = CohortSpec.model_validate(spec.model_dump())
    gen = _Generator(spec, load_taxonomy(taxonomy), playbooks)
    cohort = Cohort(roster=gen.roster(), events=0, playbooks=gen.playbooks, start=gen.start, end=gen.end)

    def counted() -> Iterator[list[Any]]:
        for batch in gen.batches(batch_size):
            cohort.events += len(batch)
            yield batch
        cohort.roster = gen.roster()

    return counted(), cohort


def generate_cohort(
    store: Any = None,
    spec: CohortSpec | None = None,
    *,
    taxonomy: str | Path | Taxonomy | None = None,
    playbooks: TaskSkills | None = None,
    batch_size: int = 20_000,
    **overrides: Any,
) -> Cohort:
    """Generate a synthetic cohort and write its events into ``store`` (bulk ``append_many`` batches).

    Args:
        store: A ``TelemetryStore``, a store URL, or ``None`` for the store in settings.
        spec: The cohort (default :class:`CohortSpec`); keyword ``overrides`` replace its fields,
            e.g. ``generate_cohort(store, learners=200, seed=3)``.
        taxonomy: Taxonomy file, name or object (default: the shipped taxonomy).
        playbooks: Real playbooks' task -> skill weights for the cohort to practise, e.g.
            ``workbench.playbooks.task_skill_weights()`` for the built-in ones; default none (generic tasks only).
        batch_size: Events per ``append_many`` transaction.

    Returns:
        The :class:`Cohort` (roster, event count, playbooks).
    """
    batches, cohort = generate_events(spec, taxonomy=taxonomy, playbooks=playbooks, batch_size=batch_size,
                                      **overrides)
    owned = store is None or isinstance(store, str | Path)
    if owned:
        from workbench.telemetry import open_store

        store = open_store(store)
    try:
        for batch in batches:
            store.append_many(batch)
    finally:
        if owned:
            store.close()
    return cohort
