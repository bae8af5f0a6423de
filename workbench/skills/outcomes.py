"""Outcome metrics from telemetry: time to complete, attempts, review cycles, guardrail incidents, tokens and cost.

A *task* here is one (learner, playbook, task) unit: the same learner retrying a task is one task with several
attempts. Per group (a team, a playbook task, a month, or everyone):

- ``learners``: distinct learners with any event;
- ``tasks``: tasks started or finished; ``tasks_completed``, ``completion_rate``;
- ``median_time_to_complete_s``: median ``duration_s`` of ``task_completed`` events;
- ``attempts_per_task``: finished attempts (failed + the completing one) until the first completion, per task;
- ``review_cycles_per_task``: ``review`` events per task;
- ``guardrail_incidents``: ``guardrail`` events whose action is ``redact`` or ``block``, and per 100 tasks;
- ``tokens_per_task`` and ``cost_per_task``: ``generation`` tokens (input + output) and cost per task; cost is the
  event's ``cost`` attribute, or the model's price in settings when the event has none.

Everything runs on integer codes (``numpy.bincount`` and integer group-bys), so a million events take a couple
of seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

OUTCOME_COLUMNS: tuple[str, ...] = (
    "learners",
    "tasks",
    "tasks_completed",
    "completion_rate",
    "median_time_to_complete_s",
    "attempts_per_task",
    "review_cycles_per_task",
    "guardrail_incidents",
    "incidents_per_100_tasks",
    "tokens_per_task",
    "cost_per_task",
)
INCIDENT_ACTIONS = frozenset({"redact", "block"})
_KINDS = ("task_started", "task_completed", "task_failed", "generation", "review", "guardrail")
_STARTED, _COMPLETED, _FAILED, _GENERATION, _REVIEW, _GUARDRAIL = range(len(_KINDS))


@dataclass
class OutcomeEvents:
    """The events outcomes read, as integer codes and numbers.

    Attributes:
        kind: Index into ``_KINDS`` per event.
        learner: Learner code per event.
        unit: (learner, playbook, task) code per event; -1 when the event has no task.
        time: Event time (ns since the epoch).
        duration: ``duration_s``.
        tokens: Input + output tokens (generations).
        cost: Cost (generations).
        incident: A guardrail incident.
        groups: Group code per event for each dimension (``team``, ``task``, ``period``), with the labels.
    """

    kind: np.ndarray
    learner: np.ndarray
    unit: np.ndarray
    time: np.ndarray
    duration: np.ndarray
    tokens: np.ndarray
    cost: np.ndarray
    incident: np.ndarray
    groups: dict[str, tuple[np.ndarray, list[str]]]

    def __len__(self) -> int:
        return len(self.kind)


def _codes(values: pd.Series | np.ndarray) -> tuple[np.ndarray, list[str]]:
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    return codes.astype(np.int64), [str(u) for u in uniques]


def prepare_outcome_events(
    events: pd.DataFrame,
    prices: Mapping[str, tuple[float, float]],
    *,
    team_of: Mapping[str, str] | None = None,
    period: str = "month",
) -> OutcomeEvents:
    """Encode the events that outcome metrics read.

    Args:
        events: A normalised events frame.
        prices: ``{model: (input_per_1k, output_per_1k)}`` for generations without a ``cost`` attribute.
        team_of: Learner -> team used for team groups (default: the event's own team).
        period: ``"month"`` or ``"week"`` for the period groups.
    """
    kind_codes = pd.Index(list(_KINDS)).get_indexer(events["kind"]).astype(np.int64)
    frame = events.loc[:, ["kind", "learner", "team", "playbook", "task", "time", "duration_s", "attributes"]].iloc[
        np.flatnonzero(kind_codes >= 0)]
    attrs = frame["attributes"].tolist()
    kind = frame["kind"].to_numpy()
    gen = np.flatnonzero(kind == "generation")
    n = len(frame)
    columns = {name: np.full(n, np.nan) for name in ("input_tokens", "output_tokens", "cost")}
    model = np.full(n, None, dtype=object)
    action = np.full(n, None, dtype=object)
    if len(gen):
        gattrs = [attrs[i] for i in gen]
        for name, key in (("input_tokens", "gen_ai.usage.input_tokens"), ("output_tokens", "gen_ai.usage.output_tokens"),
                          ("cost", "cost")):
            columns[name][gen] = _numbers([a.get(key) for a in gattrs], fill=np.nan)
        model[gen] = [a.get("gen_ai.request.model") for a in gattrs]
    guard = np.flatnonzero(kind == "guardrail")
    action[guard] = [attrs[i].get("action") for i in guard]
    narrow = frame.drop(columns="attributes").assign(**columns, model=model, action=action)
    return prepare_outcome_columns(narrow, prices, team_of=team_of, period=period)


def prepare_outcome_columns(
    frame: pd.DataFrame,
    prices: Mapping[str, tuple[float, float]],
    *,
    team_of: Mapping[str, str] | None = None,
    period: str = "month",
) -> OutcomeEvents:
    """Encode outcome events given as narrow columns (``kind``, ``learner``, ``team``, ``playbook``, ``task``,
    ``time``, ``duration_s``, and the attributes read: ``input_tokens``, ``output_tokens``, ``cost``, ``model``
    of generations, ``action`` of guardrail events; NaN/None elsewhere), as :func:`prepare_outcome_events` or
    the database (``workbench.skills.sql_report.read_outcome_columns``) makes them."""
    kind_codes = pd.Index(list(_KINDS)).get_indexer(frame["kind"]).astype(np.int64)
    keep = np.flatnonzero(kind_codes >= 0)
    frame = frame.iloc[keep]
    kind = kind_codes[keep]
    n = len(frame)
    tokens = np.zeros(n)
    cost = np.zeros(n)
    gen = np.flatnonzero(kind == _GENERATION)
    if len(gen):
        tin = np.nan_to_num(frame["input_tokens"].to_numpy(dtype=float)[gen], nan=0.0, posinf=0.0, neginf=0.0)
        tout = np.nan_to_num(frame["output_tokens"].to_numpy(dtype=float)[gen], nan=0.0, posinf=0.0, neginf=0.0)
        given = frame["cost"].to_numpy(dtype=float)[gen]
        given = np.where(np.isfinite(given), given, np.nan)
        model = pd.Series(frame["model"].to_numpy(dtype=object)[gen], dtype=object)
        pin = model.map({m: p[0] for m, p in prices.items()}).fillna(0.0).to_numpy(dtype=float)
        pout = model.map({m: p[1] for m, p in prices.items()}).fillna(0.0).to_numpy(dtype=float)
        tokens[gen] = tin + tout
        cost[gen] = np.where(np.isnan(given), (tin * pin + tout * pout) / 1000.0, given)
    incident = (kind == _GUARDRAIL) & pd.Series(frame["action"].to_numpy(dtype=object)).isin(
        INCIDENT_ACTIONS).to_numpy()
    learner, _ = _codes(frame["learner"])
    playbook_code, playbook_names = _codes(frame["playbook"])
    bare_task, bare_names = _codes(frame["task"])
    combined = np.where(bare_task >= 0, (playbook_code + 1) * max(1, len(bare_names)) + bare_task, -1)
    task_code, task_keys = pd.factorize(combined, use_na_sentinel=True)
    task_code = np.where(combined >= 0, task_code, -1).astype(np.int64)
    task_names = []
    for key in np.asarray(task_keys, dtype=np.int64):
        if key < 0:
            task_names.append("")
            continue
        pb, tk = divmod(int(key), max(1, len(bare_names)))
        task_names.append(f"{playbook_names[pb - 1] if pb > 0 else '-'}/{bare_names[tk]}")
    unit = np.where((task_code >= 0) & (learner >= 0), learner * max(1, len(task_names)) + task_code, -1)
    teams = frame["learner"].map(team_of).to_numpy() if team_of is not None else frame["team"].to_numpy()
    team_code, team_names = _codes(teams)
    freq = "M" if period == "month" else "W"
    naive = frame["time"].dt.tz_convert("UTC").dt.tz_localize(None)
    ordinals = pd.PeriodIndex(naive.dt.to_period(freq)).asi8 if n else np.zeros(0, dtype=np.int64)
    period_code, period_uniques = pd.factorize(ordinals, sort=True)
    period_names = [str(pd.Period(ordinal=int(o), freq=freq)) for o in period_uniques]
    return OutcomeEvents(
        kind=kind,
        learner=learner,
        unit=unit,
        time=frame["time"].to_numpy(dtype="datetime64[ns]").view("int64"),
        duration=frame["duration_s"].to_numpy(dtype=float),
        tokens=tokens,
        cost=cost,
        incident=incident,
        groups={
            "team": (team_code, team_names),
            "task": (task_code, task_names),
            "period": (period_code.astype(np.int64), period_names),
        },
    )


def _numbers(values: list[object], fill: float = 0.0) -> np.ndarray:
    try:
        out = np.array(values, dtype=float)
    except (TypeError, ValueError):
        out = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float)
    return np.where(np.isfinite(out), out, fill)


def outcome_metrics(ev: OutcomeEvents, by: str | None) -> pd.DataFrame:
    """Outcome metrics per group of dimension ``by`` (``team``, ``task``, ``period``; ``None``: everyone).

    Returns:
        One row per group (index = the group label), columns :data:`OUTCOME_COLUMNS`.
    """
    if by is None:
        codes, names = np.zeros(len(ev), dtype=np.int64), ["all"]
    else:
        codes, names = ev.groups[by]
    index = pd.Index(names, name=by or "group")
    if len(ev) == 0 or not names:
        return pd.DataFrame(columns=list(OUTCOME_COLUMNS), index=index.astype(object)).iloc[0:0]
    g = len(names)
    ok = codes >= 0
    kind, unit = ev.kind, ev.unit

    def count(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        m = mask & ok
        return np.bincount(codes[m], weights=None if weights is None else weights[m], minlength=g)

    def distinct(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
        m = mask & ok & (values >= 0)
        pairs = np.unique(codes[m] * (int(values.max(initial=0)) + 1) + values[m])
        return np.bincount(pairs // (int(values.max(initial=0)) + 1), minlength=g)

    is_task = (kind == _STARTED) | (kind == _COMPLETED) | (kind == _FAILED)
    completed = kind == _COMPLETED
    learners = distinct(np.ones(len(ev), dtype=bool), ev.learner)
    tasks = distinct(is_task, unit).astype(float)
    done = distinct(completed, unit).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = pd.DataFrame(
            {
                "learners": learners,
                "tasks": tasks.astype(int),
                "tasks_completed": done.astype(int),
                "completion_rate": np.where(tasks > 0, done / tasks, np.nan),
                "median_time_to_complete_s": _median(codes, completed & ok, ev.duration, g),
                "attempts_per_task": _attempts(ev, codes, g),
                "review_cycles_per_task": np.where(tasks > 0, count(kind == _REVIEW) / tasks, np.nan),
                "guardrail_incidents": count(ev.incident).astype(int),
                "incidents_per_100_tasks": np.where(tasks > 0, 100.0 * count(ev.incident) / tasks, np.nan),
                "tokens_per_task": np.where(tasks > 0, count(kind == _GENERATION, ev.tokens) / tasks, np.nan),
                "cost_per_task": np.where(tasks > 0, count(kind == _GENERATION, ev.cost) / tasks, np.nan),
            },
            index=index,
        )
    out = out.loc[out["learners"] > 0]
    return out.sort_index()


def _median(codes: np.ndarray, mask: np.ndarray, values: np.ndarray, g: int) -> np.ndarray:
    m = mask & np.isfinite(values)
    if not m.any():
        return np.full(g, np.nan)
    med = pd.Series(values[m]).groupby(codes[m]).median()
    return med.reindex(range(g)).to_numpy(dtype=float)


def _attempts(ev: OutcomeEvents, codes: np.ndarray, g: int) -> np.ndarray:
    """Mean finished attempts up to and including the first completion, per task unit, by group.

    Re-doing a task after completing it is practice, not another attempt; a task never completed counts all
    its failed attempts.
    """
    finished = ((ev.kind == _COMPLETED) | (ev.kind == _FAILED)) & (ev.unit >= 0) & (codes >= 0)
    if not finished.any():
        return np.full(g, np.nan)
    unit = ev.unit[finished]
    group = codes[finished]
    key = group * (int(ev.unit.max()) + 1) + unit  # (group, unit): a unit's events can span groups (periods)
    key_code, keys = pd.factorize(key)
    time = ev.time[finished]
    done = ev.kind[finished] == _COMPLETED
    first = np.full(len(keys), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, key_code[done], time[done])
    counted = time <= first[key_code]  # never completed: first = max, every attempt counts
    per_key = np.bincount(key_code, weights=counted.astype(float), minlength=len(keys))
    key_group = np.asarray(keys) // (int(ev.unit.max()) + 1)
    total = np.bincount(key_group, weights=per_key, minlength=g)
    n = np.bincount(key_group, minlength=g)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / n, np.nan)


def suppress_small(table: pd.DataFrame, min_group_size: int) -> pd.DataFrame:
    """``table`` with every metric, the learner count included, blanked for groups under ``min_group_size``."""
    out = table.copy()
    small = out["learners"].to_numpy() < min_group_size
    out.insert(0, "suppressed", small)
    metrics = list(OUTCOME_COLUMNS)
    out[metrics] = out[metrics].astype(float)
    out.loc[small, metrics] = np.nan
    return out
