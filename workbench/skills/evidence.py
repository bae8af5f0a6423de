"""Telemetry events -> per-skill evidence rows (vectorised; no per-learner loops).

Two kinds of events are evidence of a skill (attribute conventions in the shared contracts):

- ``score`` events with an ``attributes.skill``: one rubric criterion, normalised ``score`` 0..1, from a
  ``scorer`` (deterministic, reference, judge, human) with a ``confidence`` 0..1 and a ``subject`` (the learner's
  own work, or the copilot the learner built).
- ``task_completed`` / ``task_failed`` events with ``attributes.skills`` = ``{skill_id: weight}`` (the playbook
  manifest's mapping of the task). Finishing a task is weaker evidence than a rubric score: it shows the learner
  could do the task, not how well.

Every row keeps the event id, run id, playbook and task, so each heatmap cell can be traced back to the runs and
scores behind it. Evidence naming a skill the taxonomy does not know is set aside and reported, never fatal.

**Whose work.** Playbook events record their ``origin`` (:mod:`workbench.playbooks.exercises`): ``learner`` (the
learner's own answer), ``solution`` (the shipped solution: the author version, or a learner cell identical to it
after normalisation), ``author`` (CI) or ``stub`` (the untouched exercise stub). Only ``learner`` work counts:
other rows keep weight 0, are left out of the estimates and are kept in :attr:`Evidence.uncounted` for the
drill-down, which shows them with their origin. Events without an origin (recorded before origins existed, or
outside a playbook) count as the learner's own, as they always did.

**Help taken.** Evidence recorded after ``hints`` were revealed, or at a later ``attempt``, says less about what
the learner can do unaided: its weight is multiplied by ``hint_discount ** hints * attempt_discount **
(attempt - 1)``, never below ``min_effort`` (:class:`EvidenceWeights`). Failed attempts are evidence in their own
right (``task_failed``), so a learner who needed five tries shows both the failures and a discounted success.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import StoreError
from workbench.telemetry.events import EVENT_FIELDS

#: Columns of an events frame: the telemetry store's ``to_frame`` layout, defined once by the event schema.
EVENT_COLUMNS: tuple[str, ...] = EVENT_FIELDS
#: Columns of an evidence frame.
EVIDENCE_COLUMNS: tuple[str, ...] = (
    "event_id",
    "time",
    "learner",
    "team",
    "playbook",
    "task",
    "run_id",
    "skill",
    "source",
    "scorer",
    "criterion",
    "outcome",
    "weight",
    "origin",
    "counted",
)
#: Event kinds the reports read (others, e.g. ``training_step``, are not needed and can be huge).
REPORT_KINDS: tuple[str, ...] = (
    "task_started",
    "task_completed",
    "task_failed",
    "generation",
    "score",
    "review",
    "guardrail",
)


@dataclass(frozen=True)
class EvidenceWeights:
    """How much one piece of evidence counts, before recency decay.

    A rubric score counts ``score_trials * scorer[scorer] * confidence * subject[subject]`` pseudo-observations;
    a task outcome counts ``task * skill weight``. Human review is the reference standard (1.0); deterministic
    and reference checks are reliable but narrow (0.8); LLM judges are noisier (0.6, and their own confidence
    scales them further). Scores of the copilot a learner built say less about the learner than scores of their
    own work. A graded rubric score (levels 0-4) carries more information than one pass/fail trial, so it counts
    as ``score_trials`` trials: 3, a 4-level criterion discounted because criteria of one task are correlated.
    """

    score_trials: float = 3.0

    scorer: Mapping[str, float] = field(
        default_factory=lambda: {"human": 1.0, "deterministic": 0.8, "reference": 0.8, "judge": 0.6}
    )
    unknown_scorer: float = 0.5
    subject: Mapping[str, float] = field(default_factory=lambda: {"learner": 1.0, "copilot": 0.6})
    task: float = 0.5
    #: Outcome value of a completed task (0.75 ~ level 3: can do the task unaided) and of a failed one.
    completed_value: float = 0.75
    failed_value: float = 0.25
    #: Origins that count (see the module docstring); events without an origin count when ``count_unrecorded``.
    counted_origins: tuple[str, ...] = ("learner",)
    count_unrecorded: bool = True
    #: Each hint revealed before the work multiplies its weight by this; each attempt after the first by that.
    hint_discount: float = 0.7
    attempt_discount: float = 0.85
    #: The help discounts never take a weight below this share of the full weight.
    min_effort: float = 0.25


@dataclass
class Evidence:
    """Evidence extracted from events.

    Attributes:
        frame: One row per (event, skill) that counts, columns :data:`EVIDENCE_COLUMNS`.
        unknown: Evidence whose skill the taxonomy does not know: skill, events, learners, example event ids.
        invalid: Number of score events set aside because their score was missing or not a number.
        uncounted: Rows whose origin does not count (``solution``, ``author``, ``stub``), weight 0: shown in
            drill-downs, never in estimates.
    """

    frame: pd.DataFrame
    unknown: pd.DataFrame
    invalid: int = 0
    uncounted: pd.DataFrame = field(default_factory=lambda: _empty_evidence())

    @property
    def empty(self) -> bool:
        return self.frame.empty


# -- loading events --------------------------------------------------------------------------------------
def load_events(
    source: Any = None,
    *,
    learner: str | None = None,
    team: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> pd.DataFrame:
    """An events frame from a telemetry store, a store URL, an events frame, or events.

    Args:
        source: A ``TelemetryStore``, a SQLAlchemy URL, a ``pandas.DataFrame`` in the store's ``to_frame``
            layout, an iterable of ``Event``, or ``None`` for the store in settings.
        learner: Only this learner (raw id or pseudonym).
        team: Only this team.
        since: Only events at or after this time.
        until: Only events before this time.

    Returns:
        A frame with :data:`EVENT_COLUMNS`; ``time`` is tz-aware UTC and ``attributes`` holds dicts.
    """
    if learner is not None:
        learner = _pseudonym(learner)
    if isinstance(source, pd.DataFrame):
        frame = normalise_events(source)
        return _filter(frame, learner=learner, team=team, since=since, until=until)
    if source is not None and not isinstance(source, str) and isinstance(source, Iterable):
        rows = [ev.to_row() if hasattr(ev, "to_row") else dict(ev) for ev in source]
        frame = normalise_events(pd.DataFrame(rows, columns=list(EVENT_COLUMNS)))
        return _filter(frame, learner=learner, team=team, since=since, until=until)
    store, owned = _open(source)
    try:
        return _read_store(store, learner=learner, team=team, since=since, until=until)
    finally:
        if owned:
            store.close()


def _open(source: Any) -> tuple[Any, bool]:
    if source is None or isinstance(source, str):
        from workbench.telemetry import open_store

        return open_store(source), True
    return source, False


def _read_store(store: Any, **filters: Any) -> pd.DataFrame:
    query = {k: v for k, v in filters.items() if v is not None}
    try:
        if hasattr(store, "iter_frames"):
            # Kinds are filtered here, chunk by chunk, not in SQL: a "kind IN (...)" filter makes SQLite walk the
            # kind index and sort by insertion order, about twice the work for the few kinds it would drop.
            frames = [_only_report_kinds(normalise_events(chunk)) for chunk in store.iter_frames(**query)]
            frames = [f for f in frames if not f.empty]
            frame = pd.concat(frames, ignore_index=True) if frames else normalise_events(pd.DataFrame())
        else:
            frame = _only_report_kinds(normalise_events(store.to_frame(**query)))
    except StoreError:
        raise
    except Exception as exc:  # a store error from below (SQLAlchemy, driver) gets an actionable message
        raise StoreError(
            f"cannot read events from the telemetry store: {exc}",
            hint="check the store URL (--store / WORKBENCH_STORE_URL) and that the database is reachable",
        ) from exc
    return frame


def _only_report_kinds(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return frame
    mask = frame["kind"].isin(REPORT_KINDS)
    return frame if bool(mask.all()) else frame.loc[mask].reset_index(drop=True)


def normalise_events(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every event column present, UTC times, string kinds and dict attributes.

    Cheap on frames that are already normal (the store's ``to_frame`` output): each conversion runs only
    where a column needs it, and per-value work runs on unique values.
    """
    out = frame.loc[:, [c for c in frame.columns if c in EVENT_COLUMNS]]
    for column in EVENT_COLUMNS:
        if column not in out.columns:
            out[column] = None
    out = out.loc[:, list(EVENT_COLUMNS)]  # copy-on-write: the caller's frame is never modified
    time = out["time"]
    if not isinstance(time.dtype, pd.DatetimeTZDtype):
        out["time"] = pd.to_datetime(time, utc=True, format="mixed") if len(out) else time.astype(
            "datetime64[ns, UTC]")
    elif str(time.dtype.tz) != "UTC":
        out["time"] = time.dt.tz_convert("UTC")
    kinds = pd.unique(out["kind"])
    if any(not isinstance(k, str) for k in kinds if k is not None) or out["kind"].dtype != object:
        out["kind"] = out["kind"].map({k: getattr(k, "value", k) for k in kinds}).astype(object)
    if out["duration_s"].dtype.kind != "f":
        out["duration_s"] = pd.to_numeric(out["duration_s"], errors="coerce")
    attrs = out["attributes"].tolist()
    if set(map(type, attrs)) - {dict}:
        out["attributes"] = [_as_dict(a) for a in attrs]
    for column in ("id", "learner", "team", "playbook", "task", "run_id", "status"):
        # Text columns stay as they come (object or pandas' string dtype); anything else becomes text or None.
        if out[column].dtype != object and not isinstance(out[column].dtype, pd.StringDtype):
            values = out[column].astype(object)
            out[column] = values.where(values.notna(), None)
    return out


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value:
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _filter(frame: pd.DataFrame, **filters: Any) -> pd.DataFrame:
    mask = np.ones(len(frame), dtype=bool)
    if filters.get("learner") is not None:
        mask &= (frame["learner"] == filters["learner"]).to_numpy()
    if filters.get("team") is not None:
        mask &= (frame["team"] == filters["team"]).to_numpy()
    if filters.get("since") is not None:
        mask &= (frame["time"] >= utc_timestamp(filters["since"])).to_numpy()
    if filters.get("until") is not None:
        mask &= (frame["time"] < utc_timestamp(filters["until"])).to_numpy()
    return frame if bool(mask.all()) else frame.loc[mask].reset_index(drop=True)


def utc_timestamp(value: Any) -> pd.Timestamp:
    """``value`` (datetime, string, Timestamp) as a tz-aware UTC Timestamp; naive values are taken as UTC."""
    ts = pd.Timestamp(value)
    return ts.tz_convert("UTC") if ts.tzinfo is not None else ts.tz_localize("UTC")


def _pseudonym(value: str) -> str:
    from workbench.telemetry import pseudonymize

    return pseudonymize(value)


def pseudonymous(series: pd.Series) -> pd.Series:
    """``series`` of learner ids with every value in pseudonym form (``workbench.telemetry.pseudonymize``).

    Stored events already carry pseudonyms; this guards frames built by hand. Only unique values are checked.
    """
    from workbench.telemetry import is_pseudonym, pseudonymize

    codes, uniques = pd.factorize(series.to_numpy(dtype=object))
    if len(uniques) == 0 or all(is_pseudonym(str(u)) for u in uniques):
        return series
    mapped = np.asarray([pseudonymize(str(u)) for u in uniques], dtype=object)
    return pd.Series(np.where(codes >= 0, mapped[np.maximum(codes, 0)], None), index=series.index, dtype=object)


# -- events -> evidence ----------------------------------------------------------------------------------
def extract_evidence(
    events: pd.DataFrame,
    skills: Iterable[str],
    *,
    weights: EvidenceWeights | None = None,
) -> Evidence:
    """Per-skill evidence rows from an events frame.

    Args:
        events: A normalised events frame (:func:`load_events`).
        skills: The taxonomy's skill ids; evidence for other ids is reported in ``Evidence.unknown``.
        weights: How much each kind of evidence counts.

    Returns:
        The :class:`Evidence`.
    """
    weights = weights or EvidenceWeights()
    known = set(skills)
    kind = events["kind"].to_numpy()
    needed = events.loc[:, ["id", "time", "learner", "team", "playbook", "task", "run_id", "kind", "attributes"]]
    scores, invalid = _score_evidence(needed.loc[kind == "score"], weights)
    tasks = _task_evidence(needed.loc[(kind == "task_completed") | (kind == "task_failed")], weights)
    frame = pd.concat([f for f in (scores, tasks) if not f.empty] or [_empty_evidence()], ignore_index=True)
    has_learner = frame["learner"].notna().to_numpy()
    is_known = frame["skill"].isin(known).to_numpy()
    unknown_rows = frame.loc[has_learner & ~is_known]
    counted = frame["counted"].to_numpy(dtype=bool)
    uncounted = frame.loc[has_learner & is_known & ~counted].reset_index(drop=True)
    uncounted["learner"] = pseudonymous(uncounted["learner"])
    keep = has_learner & is_known & counted & (frame["weight"].to_numpy() > 0)
    frame = frame if keep.all() else frame.loc[keep].reset_index(drop=True)
    frame["learner"] = pseudonymous(frame["learner"])
    return Evidence(frame=frame, unknown=_summarise_unknown(unknown_rows), invalid=invalid, uncounted=uncounted)


def _empty_evidence() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in EVIDENCE_COLUMNS})
    frame["time"] = pd.Series(dtype="datetime64[ns, UTC]")
    frame["outcome"] = pd.Series(dtype=float)
    frame["weight"] = pd.Series(dtype=float)
    frame["counted"] = pd.Series(dtype=bool)
    return frame


@dataclass(frozen=True)
class _Provenance:
    """Per event: its origin, whether it counts, and its help discount (0 when it does not count)."""

    origin: np.ndarray
    counted: np.ndarray
    factor: np.ndarray

    def take(self, index: np.ndarray) -> _Provenance:
        return _Provenance(self.origin[index], self.counted[index], self.factor[index])


def _provenance(origins: list[Any], attempts: list[Any], hints: list[Any], weights: EvidenceWeights) -> _Provenance:
    """Whose work each event is and how much help it took (see the module docstring), vectorised."""
    origin = pd.Series(origins, dtype=object)
    counted = origin.isin(weights.counted_origins).to_numpy()
    if weights.count_unrecorded:
        counted = counted | origin.isna().to_numpy()
    attempt = np.maximum(np.nan_to_num(_floats(attempts), nan=1.0, posinf=1.0, neginf=1.0), 1.0)
    hint = np.maximum(np.nan_to_num(_floats(hints), nan=0.0, posinf=0.0, neginf=0.0), 0.0)
    effort = np.maximum(weights.min_effort,
                        weights.hint_discount ** hint * weights.attempt_discount ** (attempt - 1.0))
    return _Provenance(origin.to_numpy(dtype=object), counted, np.where(counted, effort, 0.0))


def _utc_ns(times: pd.Series) -> np.ndarray:
    """UTC times as ``datetime64[ns]`` (``Series.to_numpy()`` of tz-aware times makes slow Timestamp objects)."""
    return times.to_numpy(dtype="datetime64[ns]")


def _floats(values: list[Any], convert: Any = None) -> np.ndarray:
    """``values`` as floats (None -> NaN); values that are not numbers go through ``convert`` or become NaN."""
    try:
        return np.array(values, dtype=float)
    except (TypeError, ValueError):
        pass
    convert = convert or _number
    return np.array([convert(value) for value in values], dtype=float)


def _score_evidence(events: pd.DataFrame, weights: EvidenceWeights) -> tuple[pd.DataFrame, int]:
    if events.empty:
        return _empty_evidence(), 0
    attrs = events["attributes"].tolist()
    # One pass over the attribute dicts for every field read; the rest is vectorised.
    fields = [
        (a.get("skill"), a.get("score"), a.get("scorer"), a.get("subject"), a.get("confidence"), a.get("criterion"),
         a.get("origin"), a.get("attempt"), a.get("hints"))
        for a in attrs
    ]
    skill, raw, scorers, subjects, confidences, criteria, origins, attempts, hints = (
        np.array(col, dtype=object) for col in zip(*fields, strict=True))
    has_skill = pd.notna(skill) & (skill != "")
    if not has_skill.any():
        return _empty_evidence(), 0
    if not has_skill.all():
        events = events.loc[has_skill]
        keep = np.flatnonzero(has_skill)
        attrs = [attrs[i] for i in keep]
        skill, raw, scorers, subjects, confidences, criteria, origins, attempts, hints = (
            col[keep] for col in (skill, raw, scorers, subjects, confidences, criteria, origins, attempts, hints))
    skill = np.array([s if isinstance(s, str) else str(s) for s in skill], dtype=object) if any(
        not isinstance(s, str) for s in pd.unique(skill)) else skill
    score = _floats(raw.tolist(), _number)
    missing = np.flatnonzero(np.isnan(score))
    for i in missing:  # fall back to raw_score / max_score
        score[i] = _score_of(attrs[i])
    valid = np.isfinite(score)
    invalid = int((~valid).sum())
    scorer = pd.Series(scorers, dtype=object)
    subject = pd.Series(subjects, dtype=object)
    confidence = np.clip(np.nan_to_num(_floats(confidences.tolist()), nan=1.0), 0.0, 1.0)
    scorer_w = scorer.map(dict(weights.scorer)).fillna(weights.unknown_scorer).to_numpy(dtype=float)
    subject_w = subject.map(dict(weights.subject)).fillna(1.0).to_numpy(dtype=float)
    made = _provenance(origins.tolist(), attempts.tolist(), hints.tolist(), weights)
    frame = _evidence_frame(
        events,
        skill=skill,
        source="score",
        scorer=scorer.where(scorer.notna(), "unknown").to_numpy(),
        criterion=criteria,
        outcome=np.clip(score, 0.0, 1.0),
        weight=weights.score_trials * scorer_w * confidence * subject_w * made.factor,
        provenance=made,
    )
    return (frame if valid.all() else frame.loc[valid].reset_index(drop=True)), invalid


def _evidence_frame(
    rows: pd.DataFrame, *, skill: Any, source: Any, scorer: Any, criterion: Any, outcome: Any, weight: Any,
    provenance: _Provenance,
) -> pd.DataFrame:
    """Evidence rows: the events' own columns (id, time, learner, team, playbook, task, run) and the evidence's."""
    frame = pd.DataFrame(
        {
            "event_id": _column(rows["id"]),
            "time": _utc_ns(rows["time"]),
            "learner": _column(rows["learner"]),
            "team": _column(rows["team"]),
            "playbook": _column(rows["playbook"]),
            "task": _column(rows["task"]),
            "run_id": _column(rows["run_id"]),
            "skill": skill,
            "source": source,
            "scorer": scorer,
            "criterion": criterion,
            "outcome": outcome,
            "weight": weight,
            "origin": provenance.origin,
            "counted": provenance.counted,
        }
    )
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame


def _column(values: pd.Series) -> Any:
    """An events column as the evidence frame takes it: Arrow-backed text as it is (no Python object per value),
    anything else as a numpy array."""
    return values.array if isinstance(values.dtype, pd.StringDtype) else values.to_numpy()


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out if math.isfinite(out) else math.nan


def _score_of(attributes: Mapping[str, Any]) -> float:
    value = attributes.get("score")
    if value is None and attributes.get("raw_score") is not None and attributes.get("max_score"):
        try:
            value = float(attributes["raw_score"]) / float(attributes["max_score"])
        except (TypeError, ValueError, ZeroDivisionError):
            return math.nan
    return _number(value)


def _task_evidence(events: pd.DataFrame, weights: EvidenceWeights) -> pd.DataFrame:
    if events.empty:
        return _empty_evidence()
    index: list[int] = []
    skills: list[str] = []
    raw_w: list[Any] = []
    attrs = events["attributes"].tolist()
    for i, attributes in enumerate(attrs):
        mapping = attributes.get("skills")
        if isinstance(mapping, dict):
            index.extend([i] * len(mapping))
            skills.extend(mapping)
            raw_w.extend(mapping.values())
        elif isinstance(mapping, list | tuple):
            index.extend([i] * len(mapping))
            skills.extend(mapping)
            raw_w.extend([1.0] * len(mapping))
    if not index:
        return _empty_evidence()
    skill_w = np.clip(np.nan_to_num(_floats(raw_w), nan=0.0, posinf=0.0, neginf=0.0), 0.0, 1.0)
    rows = events.iloc[np.asarray(index)]
    completed = (rows["kind"] == "task_completed").to_numpy()
    made = _provenance([a.get("origin") for a in attrs], [a.get("attempt") for a in attrs],
                       [a.get("hints") for a in attrs], weights).take(np.asarray(index))
    return _evidence_frame(
        rows,
        skill=np.asarray([str(s) for s in skills], dtype=object),
        source=np.where(completed, "task_completed", "task_failed").astype(object),
        scorer="task",
        criterion=None,
        outcome=np.where(completed, weights.completed_value, weights.failed_value),
        weight=weights.task * skill_w * made.factor,
        provenance=made,
    )


def _summarise_unknown(rows: pd.DataFrame) -> pd.DataFrame:
    columns = ["skill", "events", "learners", "example_event_ids"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    grouped = rows.groupby("skill", sort=True)
    out = pd.DataFrame(
        {
            "events": grouped["event_id"].nunique(),
            "learners": grouped["learner"].nunique(),
            "example_event_ids": grouped["event_id"].agg(lambda ids: list(pd.unique(ids))[:5]),
        }
    ).reset_index()
    return out.loc[:, columns]
