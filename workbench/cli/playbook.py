"""``workbench playbook``: author, validate, release, run, batch-run, smoke-test and follow playbooks.

A thin wrapper over :mod:`workbench.playbooks` (papermill habit): every subcommand is one library call plus
printing. Run exit codes: 0 completed, 1 failed, 3 timeout, 4 kernel died, 5 error (2: a user error such as an
unknown playbook or a bad parameter). ``batch``, ``test`` and ``validate`` exit 1 when anything failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from workbench.cli import emit_json

_DIR_HELP = "Extra folder to look for playbooks in (repeatable); also settings.playbook_dirs."
_AUTHOR_HELP = (
    "Run the author version (solutions in place) instead of the learner version (solution regions become stubs); "
    "its evidence is marked origin=solution and counts for nobody."
)


def _exit(code: int) -> None:
    """End the command with ``code``. SystemExit, not ``ctx.exit``: click's non-standalone mode (used by
    ``workbench.cli.main``) turns ``ctx.exit(n)`` into a return value that the caller may drop."""
    if code:
        raise SystemExit(code)


def _table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    cells = [[str(h) for h in headers], *[[("" if v is None else str(v)) for v in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            click.echo("  ".join("-" * w for w in widths))


@click.group(name="playbook")
def command() -> None:
    """Author, validate, run and test playbooks (papermill underneath)."""


@command.command("list")
@click.option("--dir", "dirs", multiple=True, type=click.Path(path_type=Path), help=_DIR_HELP)
@click.option("--skill", help="Only playbooks that practise this skill id (in the manifest or a task).")
@click.option("--role", help="Only playbooks for this role id (their audience lists it, or is empty).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(dirs: tuple[Path, ...], skill: str | None, role: str | None, as_json: bool) -> None:
    """List the playbooks Workbench can see (built-in pack, plugins, configured folders)."""
    from workbench.playbooks import discover_playbooks, filter_playbooks

    catalog = discover_playbooks(dirs)
    shown = filter_playbooks(catalog, skill=skill, role=role)
    if as_json:
        emit_json(
            {
                "playbooks": [pb.summary() for pb in shown],
                "filters": {"skill": skill, "role": role},
                "broken": {name: exc.to_dict() for name, exc in catalog.broken.items()},
                "plugin_failures": catalog.plugin_failures,
            }
        )
        return
    rows = [
        (
            pb.id,
            pb.manifest.version,
            pb.manifest.estimated_minutes,
            len(pb.manifest.tasks),
            pb.source,
            pb.manifest.title,
        )
        for pb in shown
    ]
    if rows:
        _table(rows, ("id", "version", "min", "tasks", "source", "title"))
    elif skill or role:
        click.echo("no playbooks match these filters (drop --skill/--role to see them all)")
    else:
        click.echo("no playbooks found (see `workbench playbook new`)")
    for name, exc in catalog.broken.items():
        click.secho(f"broken: {name}: {exc}", fg="red", err=True)
    for name, why in catalog.plugin_failures.items():
        click.secho(f"plugin pack '{name}' failed to load: {why}", fg="yellow", err=True)


@command.command()
@click.argument("playbook_id")
@click.option(
    "--dir", "directory", type=click.Path(path_type=Path), help="Parent folder (default ./playbooks)."
)
@click.option("--title", help="Human title (default from the id).")
@click.option("--skill", "skills", multiple=True, metavar="ID=WEIGHT", help="Skill weight (repeatable).")
@click.option("--force", is_flag=True, help="Overwrite the files of an existing playbook.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def new(
    playbook_id: str,
    directory: Path | None,
    title: str | None,
    skills: tuple[str, ...],
    force: bool,
    as_json: bool,
) -> None:
    """Scaffold a playbook: manifest, notebook with a parameters cell, rubric stub, skills mapping."""
    from workbench.errors import ValidationError
    from workbench.playbooks import new_playbook

    weights: dict[str, float] = {}
    for item in skills:
        name, sep, value = item.partition("=")
        try:
            weights[name.strip()] = float(value) if sep else 1.0
        except ValueError:
            raise ValidationError(
                f"skill weight '{item}' is not ID=NUMBER", field="skills", hint="e.g. --skill prompting=0.7"
            ) from None
    pb = new_playbook(playbook_id, directory, title=title, skills=weights or None, force=force)
    files = [pb.manifest_path, pb.notebook_path, *sorted((pb.root / "rubrics").glob("*.yaml"))]
    if as_json:
        emit_json({"id": pb.id, "path": str(pb.root), "files": [str(f) for f in files]})
        return
    click.echo(f"created playbook '{pb.id}' in {pb.root}")
    for f in files:
        click.echo(f"  {f.relative_to(pb.root)}")
    click.echo(
        f"next: edit the notebook, then `workbench playbook validate {pb.root}` and `... test {pb.root}`"
    )


@command.command()
@click.argument("targets", nargs=-1)
@click.option("--dir", "dirs", multiple=True, type=click.Path(path_type=Path), help=_DIR_HELP)
@click.option("--coverage", is_flag=True,
              help="Print the skill x rubric-graded-task table of the catalog instead; exit 1 when a skill has fewer "
                   "graded tasks than the taxonomy's min_graded_tasks.")  # fmt: skip
@click.option("--taxonomy", default=None, help="With --coverage: taxonomy YAML file or shipped name.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def validate(
    targets: tuple[str, ...], dirs: tuple[Path, ...], coverage: bool, taxonomy: str | None, as_json: bool
) -> None:
    """Check playbooks (ids or folders; default all): schema, parameters cell, stripped outputs, rubrics, skills."""
    from workbench.playbooks import discover_playbooks, get_playbook
    from workbench.playbooks.validate import Problem, errors_only, validate_playbook

    if coverage:
        _coverage(targets, dirs, taxonomy, as_json)
        return

    report: dict[str, list[Problem]] = {}
    if targets:
        for target in targets:
            path = Path(target).expanduser()
            if path.exists():
                report[str(path)] = validate_playbook(path)
            else:
                pb = get_playbook(target, dirs)
                report[pb.id] = validate_playbook(pb)
    else:
        catalog = discover_playbooks(dirs)
        report = {pb.id: validate_playbook(pb) for pb in catalog}
        for name, exc in catalog.broken.items():
            report[name] = [Problem.of(exc)]
    failed = [name for name, problems in report.items() if errors_only(problems)]
    if as_json:
        emit_json(
            {
                "ok": not failed,
                "playbooks": {
                    name: {"ok": not errors_only(p), "problems": [x.to_dict() for x in p]}
                    for name, p in report.items()
                },
            }
        )
    else:
        for name, problems in report.items():
            mark = (
                click.style("ok", fg="green") if not errors_only(problems) else click.style("FAIL", fg="red")
            )
            click.echo(f"{mark}  {name}")
            for problem in problems:
                click.echo(f"    {problem}")
        if not report:
            click.echo("no playbooks to validate")
    _exit(1 if failed else 0)


def _coverage(targets: tuple[str, ...], dirs: tuple[Path, ...], taxonomy: str | None, as_json: bool) -> None:
    from workbench.playbooks import discover_playbooks, get_playbook
    from workbench.playbooks.coverage import skill_coverage

    playbooks = [get_playbook(t, dirs) for t in targets] if targets else list(discover_playbooks(dirs))
    table = skill_coverage(playbooks, taxonomy=taxonomy)
    if as_json:
        emit_json(table.to_dict())
    else:
        click.echo(f"{len(table.playbooks)} playbooks, taxonomy '{table.taxonomy}', floor {table.floor} graded tasks")
        rows = [(r.skill, len(r.graded), r.tasks, "ok" if r.ok else "BELOW", ", ".join(r.graded)) for r in table.rows]
        _table(rows, ("skill", "graded", "tasks", "", "graded tasks (playbook/task)"))
        if not table.ok:
            click.secho(f"{len(table.below)} skill(s) below the floor of {table.floor}: {', '.join(table.below)} "
                        "(give tasks that train them a rubric:, or add playbooks)", fg="red")  # fmt: skip
    _exit(0 if table.ok else 1)


@command.command()
@click.argument("playbook")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("release"), show_default=True,
              help="Parent folder of the released copy (<out>/<id>/).")
@click.option("--dir", "dirs", multiple=True, type=click.Path(path_type=Path), help=_DIR_HELP)
@click.option("--force", is_flag=True, help="Replace the files of an existing released copy.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def release(playbook: str, out_dir: Path, dirs: tuple[Path, ...], force: bool, as_json: bool) -> None:
    """Write the learner version: solution regions become stubs, hints go to the notebook's metadata."""
    from workbench.playbooks import get_playbook, release_playbook
    from workbench.playbooks.exercises import release_info
    from workbench.playbooks.notebook import read_notebook

    pb = get_playbook(playbook, dirs)
    notebook = release_playbook(pb, out_dir, force=force)
    exercises = dict((release_info(read_notebook(notebook).metadata) or {}).get("exercises") or {})
    if as_json:
        emit_json({"id": pb.id, "path": str(notebook.parent), "notebook": str(notebook),
                   "exercises": {k: {"task": v.get("task"), "hints": len(v.get("hints") or [])}
                                 for k, v in exercises.items()}})
        return
    click.echo(f"released '{pb.id}' for learners: {notebook}")
    click.echo(f"  {len(exercises)} exercise(s) became stubs: {', '.join(exercises) or 'none'}")
    if not exercises:
        click.secho("  this playbook has no solution regions: learners get its answers "
                    "(see playbooks/README.md, 'Exercises')", fg="yellow")


def _print_run(result: Any) -> None:
    colour = "green" if result.ok else "red"
    click.secho(
        f"{result.status}: {result.playbook} run {result.run_id} ({result.duration_s:.1f} s)", fg=colour
    )
    if not result.ok:
        where = f" in task '{result.task}'" if result.task else ""
        click.echo(f"  {result.error_type}: {result.error_message}{where} (cell {result.cell_index})")
    click.echo(f"  output: {result.output_path}")


@command.command()
@click.argument("playbook")
@click.option("--learner", "-l", help="Learner id (stored as a pseudonym; default settings.learner / $USER).")
@click.option("--team", help="The learner's team.")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="Parameter (repeatable).")
@click.option("--smoke", is_flag=True, help="Use the manifest's smoke parameters.")
@click.option("--timeout", type=float, help="Per-cell execution timeout in seconds.")
@click.option("--output", type=click.Path(path_type=Path), help="Output notebook path.")
@click.option("--author", is_flag=True, help=_AUTHOR_HELP)
@click.option("--notebook", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Run this notebook instead (a learner's own copy, answers filled in).")
@click.option("--progress/--no-progress", default=False, help="Show papermill's cell progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the run result as JSON.")
def run(
    playbook: str,
    learner: str | None,
    team: str | None,
    params: tuple[str, ...],
    smoke: bool,
    timeout: float | None,
    output: Path | None,
    author: bool,
    notebook: Path | None,
    progress: bool,
    as_json: bool,
) -> None:
    """Run a playbook once, headless, in a fresh kernel (exit code = run status).

    By default the learner version runs, as a learner gets it: its stubs fail until answered. Pass --notebook
    with a learner's own copy, or --version author for the solutions.
    """
    from workbench.playbooks import PlaybookRunner
    from workbench.playbooks.notebook import read_notebook
    from workbench.playbooks.params import parse_assignments

    runner = PlaybookRunner(timeout=timeout, progress_bar=progress and not as_json)
    result = runner.run(
        playbook,
        learner=learner,
        team=team,
        parameters=parse_assignments(params),
        smoke=smoke,
        output_path=output,
        version="author" if author else "learner",
        notebook=read_notebook(notebook) if notebook is not None else None,
    )
    if as_json:
        emit_json(result.to_dict())
    else:
        _print_run(result)
    _exit(result.exit_code)


@command.command()
@click.argument("playbook")
@click.option("--learners", help="Comma-separated learner ids.")
@click.option("--params-file", type=click.Path(path_type=Path), help="JSONL or YAML list of parameter sets.")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="Parameter for every run.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Kernels in parallel (default: CPU count); with --executor dask, local cluster workers (default 2).",
)
@click.option("--timeout", type=float, help="Per-cell execution timeout in seconds.")
@click.option("--smoke", is_flag=True, help="Use the manifest's smoke parameters.")
@click.option(
    "--executor",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="local: reused kernels in this process; dask: a Dask cluster (pip install 'workbench[dask]').",
)
@click.option("--scheduler", metavar="ADDRESS", help="Dask scheduler address (default: a LocalCluster).")
@click.option(
    "--isolation",
    type=click.Choice(["reset", "restart"]),
    default="reset",
    show_default=True,
    help="reset: fresh IPython session in a reused kernel; restart: a new kernel per run.",
)
@click.option("--author", is_flag=True, help=_AUTHOR_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def batch(
    playbook: str,
    learners: str | None,
    params_file: Path | None,
    params: tuple[str, ...],
    workers: int | None,
    timeout: float | None,
    smoke: bool,
    executor: str,
    scheduler: str | None,
    isolation: str,
    author: bool,
    as_json: bool,
) -> None:
    """Run a playbook for many learners / parameter sets through reused kernels, with a progress bar.

    With --executor dask the runs go to a Dask cluster (--scheduler ADDRESS, else a local one): a worker that
    dies has its runs retried elsewhere, each counted once.
    """
    from workbench.errors import ValidationError
    from workbench.playbooks import batch_runner, jobs_from, load_parameter_sets
    from workbench.playbooks.params import parse_assignments

    if not learners and not params_file:
        raise ValidationError(
            "nothing to run", field="learners", hint="pass --learners a,b,c and/or --params-file FILE"
        )
    common = parse_assignments(params)
    sets = load_parameter_sets(params_file) if params_file else [{}]
    names = [n.strip() for n in learners.split(",") if n.strip()] if learners else None
    jobs = jobs_from(names, [{**common, **s} for s in sets])
    runner = batch_runner(
        executor, scheduler=scheduler, workers=workers, timeout=timeout, progress=not as_json,
        isolation=isolation, version="author" if author else "learner",
    )
    result = runner.run(playbook, jobs, smoke=smoke)
    if as_json:
        emit_json(result.to_dict())
    else:
        rows = [
            (r.run_id[:12], r.learner, r.status, f"{r.duration_s:.2f}", r.task or "", r.output_path.parent)
            for r in result.results
        ]
        _table(rows, ("run", "learner", "status", "seconds", "failed task", "folder"))
        counts = ", ".join(f"{k}: {v}" for k, v in result.counts.items())
        click.echo(
            f"{len(result.results)} runs in {result.duration_s:.1f} s on {result.workers} worker(s), "
            f"{result.kernel_starts} kernel start(s); {counts}"
        )
    _exit(0 if result.ok else 1)


@command.command()
@click.argument("playbooks", nargs=-1)
@click.option("--dir", "dirs", multiple=True, type=click.Path(path_type=Path), help=_DIR_HELP)
@click.option("--timeout", type=float, default=600, show_default=True, help="Per-cell execution timeout (s).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def test(playbooks: tuple[str, ...], dirs: tuple[Path, ...], timeout: float, as_json: bool) -> None:
    """Validate and run playbooks headless with their smoke parameters (default: all; used in CI).

    The author version must complete; the learner version (stubs unchanged) must fail every graded task.
    """
    from workbench.playbooks import smoke_test

    def show(r: Any) -> None:
        if as_json:
            return
        colour = "green" if r.ok else "red"
        seconds = f" ({r.run.duration_s:.1f} s)" if r.run else ""
        click.secho(f"{r.status:<12} {r.playbook}{seconds}", fg=colour)
        for problem in r.problems:
            click.echo(f"    {problem}")
        if r.run is not None and not r.run.ok:
            click.echo(
                f"    {r.run.error_type}: {r.run.error_message} (task {r.run.task}); see {r.run.output_path}"
            )
        if r.released is not None and not r.passing_unchanged:
            click.echo("    learner version: every graded task fails with its stub unchanged")

    results = smoke_test(playbooks or None, timeout=timeout, extra_dirs=dirs, on_result=show)
    ok = all(r.ok for r in results)
    if as_json:
        emit_json({"ok": ok, "playbooks": [r.to_dict() for r in results]})
    else:
        passed = sum(r.ok for r in results)
        click.echo(f"{passed}/{len(results)} playbooks passed")
    _exit(0 if ok and results else 1)


@command.command()
@click.option("--learner", "-l", required=True, help="Learner id (or pseudonym).")
@click.option("--playbook", help="Only this playbook (id or folder).")
@click.option("--dir", "dirs", multiple=True, type=click.Path(path_type=Path), help=_DIR_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def progress(learner: str, playbook: str | None, dirs: tuple[Path, ...], as_json: bool) -> None:
    """A learner's progress: finished tasks, scores, time spent, and where to resume."""
    from workbench.playbooks import learner_progress

    items = learner_progress(learner, playbook=playbook, extra_dirs=dirs)
    if as_json:
        emit_json({"learner": learner, "playbooks": [p.to_dict() for p in items]})
        return
    if not items:
        click.echo(f"no playbook activity recorded for '{learner}'")
        return
    for p in items:
        nxt = p.next_task
        resume = f"resume at '{nxt.id}' ({nxt.title})" if nxt else "done"
        click.echo(
            f"{p.playbook}: {p.completed}/{len(p.tasks)} tasks, {p.time_spent_s:.0f} s, {p.runs} run(s); {resume}"
        )
        rows = [
            (
                t.id,
                t.status,
                t.attempts,
                f"{t.time_spent_s:.1f}",
                ""
                if t.score is None
                else f"{t.score:.2f}" + (" pass" if t.passed else " fail" if t.passed is False else ""),
            )
            for t in p.tasks
        ]
        _table(rows, ("task", "status", "attempts", "seconds", "score"))
        click.echo()


@command.command("path")
@click.option("--learner", "-l", default=None, help="Learner id (default: settings.learner). Only your own data.")
@click.option("--role", default=None, help="Your role in the taxonomy (default: settings.role).")
@click.option("--store", "store_url", default=None, help="Telemetry store URL (default: settings.store_url).")
@click.option("--taxonomy", default=None, help="Taxonomy YAML file or shipped name (default genai-copilot).")
@click.option("--dir", "dirs", multiple=True, type=click.Path(path_type=Path), help=_DIR_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def path_(
    learner: str | None, role: str | None, store_url: str | None, taxonomy: str | None, dirs: tuple[Path, ...],
    as_json: bool,
) -> None:  # fmt: skip
    """Your role's path through the catalog, your gaps, and the playbook to do next (advice, never a lock)."""
    from workbench.playbooks.paths import learner_path

    result = learner_path(learner, role=role, taxonomy=taxonomy, source=store_url, extra_dirs=dirs)
    if as_json:
        emit_json(result.to_dict())
        return
    if result.role is None:
        click.echo("no role set: pass --role (or set WORKBENCH_ROLE) to see your role's path and gaps")
        return
    click.echo(f"path for role '{result.role}':")
    rows = [(n, s.playbook, s.status, s.minutes, ", ".join(s.recommended_first)) for n, s in
            enumerate(result.steps, 1)]  # fmt: skip
    _table(rows, ("#", "playbook", "status", "minutes", "recommended first"))
    nxt = result.next
    if nxt is None:
        click.echo("next: nothing left — every gap is closed and every step is done")
    else:
        first = f" (recommended first: {', '.join(nxt.recommended_first)})" if nxt.recommended_first else ""
        click.echo(f"next: {nxt.playbook} — {nxt.reason}{first}")


@command.command()
@click.option("--team", default=None, help="Only this team.")
@click.option("--roster", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="CSV with columns learner,role: each learner's role (for targets).")
@click.option("--limit", type=click.IntRange(min=1), default=5, show_default=True, help="Playbooks per team.")
@click.option("--store", "store_url", default=None, help="Telemetry store URL (default: settings.store_url).")
@click.option("--taxonomy", default=None, help="Taxonomy YAML file or shipped name (default genai-copilot).")
@click.option("--dir", "dirs", multiple=True, type=click.Path(path_type=Path), help=_DIR_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def recommend(
    team: str | None, roster: Path | None, limit: int, store_url: str | None, taxonomy: str | None,
    dirs: tuple[Path, ...], as_json: bool,
) -> None:  # fmt: skip
    """Per team, the playbooks that close the most gap-weighted skill for the fewest learner-hours.

    Teams smaller than the minimum group size are left out, as in the skills report.
    """
    from workbench.cli.report import _roster
    from workbench.playbooks.paths import team_recommendations

    recs = team_recommendations(team, taxonomy=taxonomy, source=store_url, limit=limit, extra_dirs=dirs,
                                roles=_roster(roster) if roster else None)  # fmt: skip
    if as_json:
        emit_json({"teams": {t: [r.to_dict() for r in rows] for t, rows in recs.items()}})
        return
    if not recs:
        click.echo("no team with gaps in view (teams under the minimum group size are suppressed)")
        return
    for name, rows in recs.items():
        click.echo(f"team {name}:")
        table = [(r.playbook, r.learners, f"{r.learner_hours:.1f}", f"{r.gap_closed:.2f}", f"{r.per_hour:.2f}")
                 for r in rows]  # fmt: skip
        _table(table, ("playbook", "learners", "learner-hours", "gap closed", "per hour"))
        click.echo()
