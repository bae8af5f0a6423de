"""``workbench rubric``: list, show, validate rubrics; score JSONL items; review agreement.

A thin wrapper over :mod:`workbench.rubrics`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from workbench.cli import emit_json


@click.group("rubric")
def command() -> None:
    """Score outputs or submissions with a rubric."""


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the rubrics as JSON.")
def list_command(as_json: bool) -> None:
    """List the built-in rubrics."""
    from workbench.rubrics import list_rubrics

    rubrics = list_rubrics()
    rows: list[dict[str, Any]] = [
        {"id": r.id, "version": r.version, "title": r.title, "criteria": len(r.criteria),
         "scorers": sorted({c.scorer.type for c in r.criteria}), "fields": r.input_fields()}
        for r in rubrics
    ]
    if as_json:
        emit_json(rows)
        return
    width = max(len(r["id"]) for r in rows)
    for row in rows:
        click.echo(f"{row['id']:<{width}}  v{row['version']}  {row['title']}  (reads: {', '.join(row['fields'])})")


@command.command("show")
@click.argument("rubric")
@click.option("--json", "as_json", is_flag=True, help="Print the rubric as JSON.")
def show_command(rubric: str, as_json: bool) -> None:
    """Show a rubric (built-in id or YAML file): criteria, weights, skills, levels and scorers."""
    from workbench.rubrics import example_file, load_rubric

    rub = load_rubric(rubric)
    example = example_file(rub) if rub.source and rub.source.parent.name == "builtin" else None
    if as_json:
        emit_json({**rub.to_dict(), "example_input": str(example) if example else None})
        return
    click.echo(f"{rub.ref}: {rub.title}")
    if rub.description:
        click.echo(f"  {rub.description}")
    click.echo(f"  pass threshold {rub.pass_threshold:g}; reads {', '.join(rub.input_fields())}")
    if example:
        click.echo(f"  example input: {example}")
    for c in rub.criteria:
        req = ", required" if c.required else ""
        click.echo(f"\n  {c.id} (weight {c.weight:g}, skill {c.skill}, scorer {c.scorer.type}{req})")
        click.echo(f"    {c.description}")
        for level in c.levels:
            click.echo(f"    {level.score}: {level.descriptor}")


@command.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--taxonomy", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Skills taxonomy YAML whose ids the rubric's skills must use, validated as "
                   "`workbench report --taxonomy` does (default: built-in ids).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def validate_command(file: Path, taxonomy: Path | None, as_json: bool) -> None:
    """Check a rubric file; errors name the line and field."""
    from workbench.rubrics import load_rubric
    from workbench.skills import load_taxonomy

    # The taxonomy goes through the same loader as `workbench report --taxonomy` (duplicate ids, levels...).
    rub = load_rubric(file, taxonomy=load_taxonomy(taxonomy).skill_ids if taxonomy else None)
    if as_json:
        emit_json({"valid": True, "id": rub.id, "version": rub.version, "criteria": len(rub.criteria),
                   "fields": rub.input_fields()})
    else:
        click.echo(f"{file}: valid rubric {rub.ref} ({len(rub.criteria)} criteria; reads {', '.join(rub.input_fields())})")


@command.command("score")
@click.argument("rubric")
@click.option("--input", "input_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="JSONL file, one item per line, with the fields the rubric reads.")
@click.option("--model", "-m", help="Judge model (default: WORKBENCH_JUDGE_MODEL, else the default model).")
@click.option("--k", type=click.IntRange(min=1, max=32), help="Judge samples per item (default: the rubric's).")
@click.option("--seed", type=int, default=0, show_default=True, help="Added to every judge's seed.")
@click.option("--subject", type=click.Choice(["copilot", "learner"]), default="copilot", show_default=True,
              help="Whose work the items are: model outputs or learner submissions.")
@click.option("--no-record", is_flag=True, help="Do not write score events to telemetry.")
@click.option("--no-review", is_flag=True, help="Do not send uncertain verdicts to the review queue.")
@click.option("--review-sample", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True,
              help="Share of confident judge verdicts also sent to review (calibrates AI-human agreement).")
@click.option("--json", "as_json", is_flag=True, help="Print per-item and per-criterion scores as JSON.")
def score_command(rubric: str, input_file: Path, model: str | None, k: int | None, seed: int, subject: str,
                  no_record: bool, no_review: bool, review_sample: float, as_json: bool) -> None:
    """Score every item of a JSONL file with RUBRIC (a built-in id or a YAML file)."""
    from workbench.rubrics import load_rubric, score_file, summarize

    rub = load_rubric(rubric)
    scored = score_file(rub, input_file, model=model, k=k, seed=seed, subject=subject,  # type: ignore[arg-type]
                        record=not no_record, review_queue=False if no_review else None,
                        review_sample=review_sample)
    summary = summarize(scored)
    if as_json:
        emit_json({"rubric": rub.ref, "input": str(input_file), "items": [s.to_dict() for s in scored],
                   "summary": summary})
        return
    for item in scored:
        verdict = "PASS" if item.passed else "FAIL"
        parts = [f"{c.criterion}={c.raw_score}/{c.max_score}{'?' if c.needs_review else ''}" for c in item.criteria]
        click.echo(f"{item.item}  {item.score:.2f}  {verdict}  {'  '.join(parts)}")
    click.echo(_summary_line(summary))


def _summary_line(summary: dict[str, Any]) -> str:
    if not summary["items"]:
        return "no items"
    line = f"{summary['items']} items, {summary['passed']} passed, mean score {summary['mean_score']:.2f}"
    if summary["to_review"]:
        line += f"; {summary['to_review']} verdict(s) sent to review (marked ?)"
    return line


@command.command("review")
@click.option("--rubric", help="Only this rubric id.")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the pending verdicts as JSON.")
def review_command(rubric: str | None, limit: int, as_json: bool) -> None:
    """List verdicts waiting for human review (review them in the notebook widget)."""
    from workbench.rubrics import ReviewQueue

    with ReviewQueue() as queue:
        pending = queue.pending(rubric=rubric, limit=limit)
        counts = queue.counts()
    if as_json:
        emit_json({"counts": counts, "pending": [p.to_dict() for p in pending]})
        return
    for p in pending:
        click.echo(f"{p.id[:8]}  {p.rubric}/{p.criterion}  item {p.item_id}  AI {p.ai_score}/{p.max_score} "
                   f"(confidence {p.confidence:.2f}, {p.reason})")
    click.echo(f"{counts['pending']} pending, {counts['accepted']} accepted, {counts['overridden']} overridden")


@command.command("agreement")
@click.argument("rubric", required=False)
@click.option("--labels", type=click.Path(dir_okay=False, path_type=Path),
              help="Labelled JSONL set (items with a 'human' object of levels, e.g. datasets/judge/*.jsonl): "
                   "measure RUBRIC's scorers against it.")
@click.option("--model", "-m", help="Judge model (default: WORKBENCH_JUDGE_MODEL, else the default model).")
@click.option("--k", type=click.IntRange(min=1, max=32), help="Judge samples per item (default: the rubric's).")
@click.option("--seed", type=int, default=0, show_default=True, help="Added to every judge's seed.")
@click.option("--no-judge", is_flag=True, help="Only the deterministic and reference scorers (seconds).")
@click.option("--baseline", "baselines", multiple=True, metavar="CRITERION=OTHER",
              help="Also read OTHER's deterministic verdicts against CRITERION's human levels "
                   "(e.g. faithful=answer-overlap).")
@click.option("--review", is_flag=True,
              help="Also send the verdicts the judge is unsure of to the review queue (off: the items are labelled).")
@click.option("--rubric", "rubric_filter", help="Only this rubric id (review-queue agreement).")
@click.option("--json", "as_json", is_flag=True, help="Print the agreement table as JSON.")
def agreement_command(rubric: str | None, labels: Path | None, model: str | None, k: int | None, seed: int,
                      no_judge: bool, baselines: tuple[str, ...], review: bool, rubric_filter: str | None,
                      as_json: bool) -> None:
    """Agreement with people: exact agreement and weighted Cohen's kappa (linear and quadratic).

    With --labels, score a labelled set with RUBRIC and compare each labelled criterion with the human
    levels: the deterministic scorers, the judge, the judge's confident verdicts and the share it sends to
    review. Without --labels, agreement between AI verdicts and reviewers' decisions in the review queue
    (RUBRIC, or --rubric, filters it).
    """
    if labels is not None:
        _labelled_agreement(rubric, labels, model, k, seed, no_judge, baselines, review, as_json)
        return
    from workbench.rubrics import ReviewQueue

    with ReviewQueue() as queue:
        rows = queue.agreement(rubric=rubric or rubric_filter)
    if as_json:
        emit_json([r.to_dict() for r in rows])
        return
    if not rows:
        click.echo("no reviewed verdicts yet")
        return

    def fmt(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f}"

    for r in rows:
        click.echo(f"{r.rubric}/{r.criterion or '(all)'}  n={r.n}  exact={fmt(r.exact)}  "
                   f"kappa(quadratic)={fmt(r.kappa_quadratic)}  kappa(linear)={fmt(r.kappa_linear)}")


def _labelled_agreement(rubric: str | None, labels: Path, model: str | None, k: int | None, seed: int,
                        no_judge: bool, baselines: tuple[str, ...], review: bool, as_json: bool) -> None:
    from workbench.errors import ValidationError
    from workbench.rubrics import measure_agreement

    if not rubric:
        raise ValidationError("--labels needs the rubric the levels belong to", field="RUBRIC",
                              hint="workbench rubric agreement rag-faithfulness --labels "
                                   "datasets/judge/rag-faithfulness.jsonl")
    pairs = {}
    for text in baselines:
        target, sep, proxy = text.partition("=")
        if not sep or not target.strip() or not proxy.strip():
            raise ValidationError(f"--baseline '{text}' is not CRITERION=OTHER", field="baseline",
                                  hint="e.g. --baseline faithful=answer-overlap")
        pairs[target.strip()] = proxy.strip()
    report = measure_agreement(rubric, labels, model=model, k=k, seed=seed, judge=not no_judge,
                               review_queue=None if review else False, baselines=pairs)
    if as_json:
        emit_json(report.to_dict())
        return
    for line in report.lines():
        click.echo(line)
