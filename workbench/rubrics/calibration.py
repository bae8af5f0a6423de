"""Calibration: how far a rubric's scorers agree with a person's levels on a labelled set.

A **labelled set** is a JSONL file of items for one rubric: each item has the fields the rubric reads and a
``human`` object mapping criterion ids to the level a person gave (``{"faithful": 2, "cites-sources": 1}``).
Criteria may be left out of an item's labels; extra keys on an item (``note``, ``borderline``) are ignored.
``datasets/judge/`` ships two, written and labelled by hand (see its README).

:func:`measure_agreement` scores the items through :func:`~workbench.rubrics.score_items`, the product's own
path (same scorers, same judge, same k-sample confidence routing), and compares every labelled criterion's
verdicts with the human levels. One :class:`RaterAgreement` row per criterion and rater:

- ``deterministic`` / ``reference``: a criterion scored by a check or a reference metric;
- ``judge``: the LLM judge's verdict (the modal score of its k samples) on every labelled item;
- ``judge-confident``: only the verdicts the judge keeps (agreement across samples reached its
  ``min_confidence``), i.e. what is recorded without a person;
- ``judge-to-review``: the verdicts routed to the review queue (low agreement or no valid answer);
- ``baseline:<criterion>``: another criterion's deterministic verdicts read against this criterion's human
  levels (e.g. token F1 against the reference as a cheap proxy for faithfulness), when asked for.

Each row has exact agreement and Cohen's kappa with linear and quadratic weights over the criterion's full level
range (:mod:`workbench.rubrics.agreement`), and the confusion matrix (rows: human level, columns: rater level).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from workbench.errors import ValidationError
from workbench.rubrics.agreement import exact_agreement, weighted_kappa
from workbench.rubrics.context import judge_model_name
from workbench.rubrics.review import ReviewQueue
from workbench.rubrics.schema import Criterion, Rubric, load_rubric
from workbench.rubrics.scorers import SCORERS
from workbench.rubrics.scoring import load_items, score_items, validate_items
from workbench.rubrics.verdicts import CriterionScore, ItemScore

#: The item field holding the human levels.
LABELS_FIELD = "human"


# --- the labelled set ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelledSet:
    """Items for one rubric, each with a person's level per criterion.

    Attributes:
        rubric: The rubric the levels belong to.
        items: The items (with every field, ``human`` included).
        labels: Per item, criterion id -> human level.
        source: The file the set came from, if any.
        lines: The items' line numbers in ``source``.
    """

    rubric: Rubric
    items: tuple[dict[str, Any], ...]
    labels: tuple[dict[str, int], ...]
    source: Path | None = None
    lines: tuple[int, ...] | None = None

    def __len__(self) -> int:
        return len(self.items)

    def labelled_criteria(self) -> list[str]:
        """Criteria with at least one human level, in rubric order."""
        seen = {criterion for labels in self.labels for criterion in labels}
        return [c.id for c in self.rubric.criteria if c.id in seen]


def labelled_set(
    rubric: Rubric | str | Path,
    items: Sequence[Mapping[str, Any]],
    *,
    source: str | Path | None = None,
    lines: Sequence[int] | None = None,
) -> LabelledSet:
    """Check ``items`` against ``rubric`` (fields and human levels) and return them as a :class:`LabelledSet`.

    Raises:
        ValidationError: an item lacks a field the rubric reads, has no ``human`` object, or labels an unknown
            criterion or a level the criterion does not have (names the file, line and field).
    """
    rub = load_rubric(rubric)
    batch = [dict(item) for item in items]
    file = Path(source) if source is not None else None
    validate_items(rub, batch, file=file, lines=lines)
    labels = [_labels_of(rub, item, index, file, lines) for index, item in enumerate(batch)]
    if not batch:
        raise ValidationError("the labelled set has no items", file=file,
                              hint=f'one JSON object per line with the rubric\'s fields and "{LABELS_FIELD}"')
    return LabelledSet(rub, tuple(batch), tuple(labels), file, tuple(lines) if lines is not None else None)


def load_labelled_set(rubric: Rubric | str | Path, path: str | Path) -> LabelledSet:
    """Read and check a labelled JSONL file (see :func:`labelled_set`)."""
    items, lines = load_items(path)
    return labelled_set(rubric, items, source=path, lines=lines)


def _labels_of(
    rubric: Rubric, item: Mapping[str, Any], index: int, file: Path | None, lines: Sequence[int] | None
) -> dict[str, int]:
    line = lines[index] if lines is not None else index + 1
    where = f"line {line}" if file is not None else f"item {index + 1}"
    value = item.get(LABELS_FIELD)
    criteria = ", ".join(c.id for c in rubric.criteria)
    if not isinstance(value, Mapping) or not value:
        raise ValidationError(
            f"{where} has no '{LABELS_FIELD}' object with the human levels", file=file,
            line=line if file else None, field=LABELS_FIELD,
            hint=f'add e.g. "{LABELS_FIELD}": {{"{rubric.criteria[0].id}": 1}}; criteria: {criteria}',
        )
    labels: dict[str, int] = {}
    for name, level in value.items():
        known = next((c for c in rubric.criteria if c.id == name), None)
        if known is None:
            raise ValidationError(
                f"{where} labels criterion '{name}', which rubric '{rubric.id}' does not have", file=file,
                line=line if file else None, field=f"{LABELS_FIELD}.{name}", hint=f"criteria: {criteria}",
            )
        if isinstance(level, bool) or not isinstance(level, int) or level not in known.level_scores:
            raise ValidationError(
                f"{where} gives criterion '{name}' the level {level!r}, which it does not have", file=file,
                line=line if file else None, field=f"{LABELS_FIELD}.{name}",
                hint=f"levels of '{name}': {', '.join(map(str, known.level_scores))}",
            )
        labels[str(name)] = level
    return labels


# --- the report ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RaterAgreement:
    """Agreement between the human levels and one rater on one criterion.

    Attributes:
        criterion: The criterion whose human levels are compared.
        rater: ``deterministic``, ``reference``, ``judge``, ``judge-confident``, ``judge-to-review`` or
            ``baseline:<criterion>``.
        scorer: The rater's scorer type (``citations``, ``judge``...).
        n: Items compared.
        exact: Share of items with the same level (``None`` for no items).
        kappa_linear: Cohen's kappa, linear weights (``None`` when undefined).
        kappa_quadratic: Cohen's kappa, quadratic weights (``None`` when undefined).
        confusion: Counts, rows the human level, columns the rater's.
    """

    criterion: str
    rater: str
    scorer: str
    n: int
    exact: float | None
    kappa_linear: float | None
    kappa_quadratic: float | None
    confusion: tuple[tuple[int, ...], ...]

    @property
    def rater_levels(self) -> list[int]:
        """How often the rater gave each level."""
        return [sum(row[j] for row in self.confusion) for j in range(len(self.confusion))]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        data = asdict(self)
        data["confusion"] = [list(row) for row in self.confusion]
        data["rater_levels"] = self.rater_levels
        return data


@dataclass(frozen=True)
class CriterionCalibration:
    """One labelled criterion: its scorer, the human level counts and, for judges, what went to review.

    Attributes:
        criterion: The criterion id.
        scorer: Its scorer type; ``kind``: ``deterministic``, ``reference`` or ``judge``.
        labelled: Items with a human level for it.
        human_levels: How often the person gave each level.
        majority_exact: The exact agreement of a rater that always gives the most common human level.
        k: Samples per item (judges).
        min_confidence: Below this agreement across samples a verdict goes to review (judges).
        to_review: Verdicts routed to review; ``queued``: those a review queue received.
        review_reasons: Why they were routed (``low_confidence``, ``invalid_judge_output``...).
        invalid_samples: Judge samples that were not a schema-valid verdict.
    """

    criterion: str
    scorer: str
    kind: str
    labelled: int
    human_levels: tuple[int, ...]
    majority_exact: float | None
    k: int | None = None
    min_confidence: float | None = None
    to_review: int = 0
    queued: int = 0
    review_reasons: dict[str, int] = field(default_factory=dict)
    invalid_samples: int = 0

    @property
    def review_share(self) -> float | None:
        """Share of the labelled items routed to review."""
        return self.to_review / self.labelled if self.labelled else None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        data = asdict(self)
        data["human_levels"] = list(self.human_levels)
        data["review_share"] = self.review_share
        return data


@dataclass(frozen=True)
class AgreementReport:
    """What :func:`measure_agreement` measured on one labelled set.

    Attributes:
        rubric: The rubric's reference (``id@version``).
        labels: The labelled file, if any.
        items: Items scored.
        model: The judge model's name (``None`` when no judge ran).
        seconds: Wall time of scoring (model loading excluded); ``load_seconds``: loading the judge model.
        judge_calls: Judge samples drawn.
        criteria: One entry per labelled criterion scored.
        rows: The agreement table.
    """

    rubric: str
    labels: str | None
    items: int
    model: str | None
    seconds: float
    load_seconds: float | None
    judge_calls: int
    criteria: tuple[CriterionCalibration, ...]
    rows: tuple[RaterAgreement, ...]

    def row(self, criterion: str, rater: str) -> RaterAgreement:
        """The row of ``criterion`` and ``rater``."""
        for r in self.rows:
            if r.criterion == criterion and r.rater == rater:
                return r
        raise KeyError(f"no agreement row for {criterion} / {rater}")

    def criterion(self, criterion: str) -> CriterionCalibration:
        """The calibration entry of ``criterion``."""
        for c in self.criteria:
            if c.criterion == criterion:
                return c
        raise KeyError(f"criterion {criterion} was not measured")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (the ``--json`` form)."""
        data = {name: getattr(self, name) for name in
                ("rubric", "labels", "items", "model", "seconds", "load_seconds", "judge_calls")}
        data["criteria"] = [c.to_dict() for c in self.criteria]
        data["rows"] = [r.to_dict() for r in self.rows]
        return data

    def lines(self) -> list[str]:
        """The report as text: a header, the agreement table and one line per judged criterion's routing."""
        head = f"{self.rubric}: {self.items} items"
        if self.labels:
            head += f" from {self.labels}"
        if self.model:
            load = f", load {self.load_seconds:.1f} s" if self.load_seconds is not None else ""
            head += f"; judge {self.model}, {self.judge_calls} samples in {self.seconds:.1f} s{load}"
        else:
            head += f"; scored in {self.seconds:.2f} s"
        width = max([len("criterion"), *(len(r.criterion) for r in self.rows)])
        rwidth = max([len("rater"), *(len(r.rater) for r in self.rows)])
        out = [head, f"  {'criterion':<{width}}  {'rater':<{rwidth}}  {'n':>4}  {'exact':>5}  "
                     f"{'kappa-lin':>9}  {'kappa-quad':>10}  rater levels (human levels)"]
        humans = {c.criterion: c for c in self.criteria}
        for r in self.rows:
            human = humans[r.criterion].human_levels
            out.append(f"  {r.criterion:<{width}}  {r.rater:<{rwidth}}  {r.n:>4}  {_fmt(r.exact):>5}  "
                       f"{_fmt(r.kappa_linear):>9}  {_fmt(r.kappa_quadratic):>10}  "
                       f"{'/'.join(map(str, r.rater_levels))} ({'/'.join(map(str, human))})")
        for c in self.criteria:
            out.append(f"  {c.criterion}: majority-level exact {_fmt(c.majority_exact)}")
            if c.kind == "judge" and c.k is not None:
                reasons = ", ".join(f"{k} {v}" for k, v in sorted(c.review_reasons.items())) or "none"
                out[-1] += (f"; k={c.k}, min confidence {c.min_confidence:g}: {c.to_review}/{c.labelled} "
                            f"({_fmt(c.review_share)}) sent to review ({reasons}); {c.queued} queued; "
                            f"{c.invalid_samples} invalid samples")
        return out


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


# --- measuring -----------------------------------------------------------------------------------------------


def measure_agreement(
    rubric: Rubric | str | Path,
    labels: LabelledSet | str | Path,
    *,
    backend: Any = None,
    model: str | None = None,
    k: int | None = None,
    seed: int = 0,
    judge: bool = True,
    review_queue: ReviewQueue | Literal[False] | None = False,
    baselines: Mapping[str, str] | None = None,
) -> AgreementReport:
    """Score a labelled set with ``rubric`` and compare every labelled criterion with the human levels.

    Args:
        rubric: A :class:`Rubric`, a rubric file or a built-in id.
        labels: A :class:`LabelledSet` or a labelled JSONL file.
        backend: A loaded judge backend; default load ``model``.
        model: The judge model; default :func:`~workbench.rubrics.context.judge_model_name`
            (``WORKBENCH_JUDGE_MODEL``, else the default model).
        k: Overrides each judge's number of samples.
        seed: Added to each judge's seed.
        judge: ``False`` skips judge criteria (deterministic and reference scorers only, fast).
        review_queue: Where the judge's unsure verdicts go: ``False`` (default) routes them nowhere, since the
            items already carry human levels; a :class:`ReviewQueue`, or ``None`` for the default queue.
        baselines: Judge criterion -> another criterion of the rubric (same levels) whose verdicts are read
            as a cheap stand-in for the judge (rater ``baseline:<criterion>``).

    Returns:
        The :class:`AgreementReport`. Nothing is written to telemetry.
    """
    rub = load_rubric(rubric)
    lab = labels if isinstance(labels, LabelledSet) else load_labelled_set(rub, labels)
    if lab.rubric.ref != rub.ref:
        raise ValidationError(f"the labelled set is for rubric '{lab.rubric.ref}', not '{rub.ref}'",
                              hint="load the labelled set with the rubric you measure")
    labelled = [rub.criterion(cid) for cid in lab.labelled_criteria()]
    measured = [c for c in labelled if judge or _kind(c) != "judge"]
    proxies = _check_baselines(rub, labelled, baselines or {})
    scored_criteria = [c for c in rub.criteria if c in measured or c.id in proxies.values()]
    if not scored_criteria:
        raise ValidationError("nothing to measure: no labelled criterion is scored", field="judge",
                              hint="label a deterministic criterion, or measure the judge too")
    sub = rub.model_copy(update={"criteria": tuple(scored_criteria)})  # agreement needs no overall weights
    backend, name, load_seconds = _judge_backend(scored_criteria, backend, model)
    start = time.perf_counter()
    scored = score_items(sub, lab.items, backend=backend, model=model, k=k, seed=seed, record=False,
                         review_queue=review_queue, source=lab.source, lines=lab.lines)
    seconds = time.perf_counter() - start
    rows: list[RaterAgreement] = []
    summaries = []
    for criterion in labelled:
        if criterion in measured:
            verdicts = [item.criterion(criterion.id) for item in scored]
            summaries.append(_calibration(criterion, lab, verdicts, k))
            rows += _rows(criterion, lab, verdicts)
        if criterion.id in proxies:
            if criterion not in measured:  # the judge did not run: the human levels still frame the baseline
                summaries.append(_calibration(criterion, lab, [], None, judged=False))
            proxy = rub.criterion(proxies[criterion.id])
            rows += _rows(criterion, lab, [item.criterion(proxy.id) for item in scored],
                          rater=f"baseline:{proxy.id}", scorer=proxy.scorer.type)
    return AgreementReport(
        rubric=rub.ref, labels=str(lab.source) if lab.source else None, items=len(lab), model=name,
        seconds=round(seconds, 3), load_seconds=load_seconds, judge_calls=_judge_calls(scored),
        criteria=tuple(summaries), rows=tuple(rows),
    )


def _kind(criterion: Criterion) -> str:
    return SCORERS.get(criterion.scorer.type).kind


def _check_baselines(rubric: Rubric, measured: Sequence[Criterion], baselines: Mapping[str, str]) -> dict[str, str]:
    """The baselines that apply to measured criteria, checked (same levels, a non-judge scorer)."""
    chosen = {}
    for target, proxy_id in baselines.items():
        criterion = rubric.criterion(target)
        if criterion not in measured:
            continue
        proxy = rubric.criterion(proxy_id)
        if proxy.level_scores != criterion.level_scores or _kind(proxy) == "judge":
            raise ValidationError(
                f"criterion '{proxy_id}' cannot stand in for '{target}': a baseline needs the same levels and a "
                "deterministic or reference scorer", field="baselines",
                hint=f"levels of '{target}': {criterion.level_scores}; of '{proxy_id}': {proxy.level_scores}",
            )
        chosen[target] = proxy_id
    return chosen


def _judge_backend(criteria: Sequence[Criterion], backend: Any, model: str | None) -> tuple[Any, str | None, float | None]:
    """The judge backend (loaded here, timed, when a judge will run and none was given), its name, load time."""
    judged = [c for c in criteria if _kind(c) == "judge"]
    if not judged:
        return backend, None, None
    if backend is not None:
        return backend, str(getattr(backend, "name", None) or model or "backend"), None
    if any(getattr(c.scorer, "model", None) for c in judged):  # a rubric that names its own judge model
        return None, model or judge_model_name(), None
    from workbench.models import load_model

    name = model or judge_model_name()
    start = time.perf_counter()
    loaded = load_model(name)
    return loaded, str(getattr(loaded, "name", name)), round(time.perf_counter() - start, 3)


def _judge_calls(scored: Sequence[ItemScore]) -> int:
    return sum(len(c.details.get("samples", ())) for item in scored for c in item.criteria if c.scorer == "judge")


def _calibration(
    criterion: Criterion, lab: LabelledSet, verdicts: Sequence[CriterionScore], k: int | None, *,
    judged: bool = True,
) -> CriterionCalibration:
    """The human level counts of ``criterion`` and, for a judge that ran (``judged``), what its routing did."""
    counts = Counter(labels[criterion.id] for labels in lab.labels if criterion.id in labels)
    human = tuple(counts.get(level, 0) for level in criterion.level_scores)
    total = sum(human)
    majority = max(human) / total if total else None
    kind = _kind(criterion)
    if kind != "judge" or not judged:
        return CriterionCalibration(criterion.id, criterion.scorer.type, kind, total, human, majority)
    pairs = [(labels[criterion.id], v) for labels, v in zip(lab.labels, verdicts, strict=True)
             if criterion.id in labels]
    routed = [v for _, v in pairs if v.needs_review]
    reasons = Counter(str(v.review_reason) for v in routed)
    invalid = sum(len(v.details.get("samples", ())) - int(v.details.get("valid", 0)) for _, v in pairs)
    return CriterionCalibration(
        criterion.id, criterion.scorer.type, kind, len(pairs), human, majority,
        k=k if k is not None else getattr(criterion.scorer, "k", None),
        min_confidence=getattr(criterion.scorer, "min_confidence", None), to_review=len(routed),
        queued=sum(v.review_id is not None for v in routed), review_reasons=dict(reasons), invalid_samples=invalid,
    )


def _rows(
    criterion: Criterion, lab: LabelledSet, verdicts: Sequence[CriterionScore], *, rater: str | None = None,
    scorer: str | None = None,
) -> list[RaterAgreement]:
    """Agreement rows of ``criterion``: one for a non-judge scorer; all, confident and routed for a judge."""
    pairs = [(labels[criterion.id], v) for labels, v in zip(lab.labels, verdicts, strict=True)
             if criterion.id in labels]
    kind = _kind(criterion)
    if rater is not None or kind != "judge":
        return [_agreement(criterion, rater or kind, scorer or criterion.scorer.type, pairs)]
    return [
        _agreement(criterion, "judge", criterion.scorer.type, pairs),
        _agreement(criterion, "judge-confident", criterion.scorer.type, [p for p in pairs if not p[1].needs_review]),
        _agreement(criterion, "judge-to-review", criterion.scorer.type, [p for p in pairs if p[1].needs_review]),
    ]


def _agreement(
    criterion: Criterion, rater: str, scorer: str, pairs: Sequence[tuple[int, CriterionScore]]
) -> RaterAgreement:
    levels = criterion.level_scores
    human = [h for h, _ in pairs]
    given = [v.raw_score for _, v in pairs]
    index = {level: i for i, level in enumerate(levels)}
    confusion = [[0] * len(levels) for _ in levels]
    for h, g in zip(human, given, strict=True):
        confusion[index[h]][index[g]] += 1
    return RaterAgreement(
        criterion=criterion.id, rater=rater, scorer=scorer, n=len(pairs), exact=exact_agreement(human, given),
        kappa_linear=weighted_kappa(human, given, labels=levels, weights="linear"),
        kappa_quadratic=weighted_kappa(human, given, labels=levels, weights="quadratic"),
        confusion=tuple(tuple(row) for row in confusion),
    )
