"""``workbench report``: skills-gap heatmaps (HTML, PNG, CSV) from the evidence in the telemetry store."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import click

from workbench.cli import emit_json


def _roster(path: Path) -> dict[str, str]:
    """``{learner: role}`` from a CSV with the columns ``learner`` and ``role``."""
    from workbench.errors import ValidationError

    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"learner", "role"} - set(reader.fieldnames or ())
        if missing:
            raise ValidationError(
                f"roster is missing the column(s) {sorted(missing)}",
                file=path,
                line=1,
                hint="write a CSV header 'learner,role' (learner: raw id or pseudonym; role: a taxonomy role id)",
            )
        return {row["learner"]: row["role"] for row in reader if row.get("learner") and row.get("role")}


@click.command("report")
@click.option("--team", default=None, help="Only this team.")
@click.option("--role", default=None, help="Compare everyone in view with this role's targets.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default <data_dir>/reports/skills).")
@click.option("--store", "store_url", default=None, help="Telemetry store URL (default: settings.store_url).")
@click.option("--taxonomy", default=None, help="Taxonomy YAML file or shipped name (default genai-copilot).")
@click.option("--roster", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="CSV with columns learner,role: each learner's role (for targets).")
@click.option("--since", default=None, help="Only evidence at or after this time (ISO 8601).")
@click.option("--until", default=None, help="Only evidence before this time (ISO 8601).")
@click.option("--period", type=click.Choice(["month", "week"]), default="month", show_default=True,
              help="Trend granularity.")
@click.option("--format", "formats", multiple=True, type=click.Choice(["html", "png", "csv"]),
              help="Files to write (repeatable; default all).")
@click.option("--min-group-size", type=click.IntRange(min=1), default=None,
              help="Suppress groups smaller than this (default: settings.min_group_size).")
@click.option("--me", is_flag=True, help="Learner view: only your own data (settings.learner or your login).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def command(
    team: str | None,
    role: str | None,
    out_dir: Path | None,
    store_url: str | None,
    taxonomy: str | None,
    roster: Path | None,
    since: str | None,
    until: str | None,
    period: str,
    formats: tuple[str, ...],
    min_group_size: int | None,
    me: bool,
    as_json: bool,
) -> None:
    """Write skills-gap heatmaps (people and teams x skills, gaps to role targets, trends, outcomes).

    Every cell of the HTML report drills down to the evidence (event ids, runs, scores). Teams smaller than
    the minimum group size are suppressed; learner ids are pseudonyms. report.json and skill_external_ids.csv
    list each skill's public ids (ESCO, O*NET, Lightcast) for joining with HR systems.
    """
    from workbench.settings import get_settings
    from workbench.skills.report import FORMATS, build_report, learner_view

    settings = get_settings()
    out = out_dir or settings.data_dir / "reports" / ("my-skills" if me else "skills")
    chosen = formats or FORMATS
    if me:
        from workbench.errors import ValidationError
        from workbench.telemetry import resolve_context

        if team or roster:
            raise ValidationError("--me cannot be combined with --team or --roster", field="--me",
                                  hint="a learner view shows only your own data; drop --team/--roster")
        who = resolve_context()["learner"]
        if not who:
            raise ValidationError("cannot tell who you are", field="learner",
                                  hint="set WORKBENCH_LEARNER (or learner in workbench.toml)")
        report = learner_view(store_url, requester=who, taxonomy=taxonomy, role=role, out_dir=out,
                              formats=chosen, period=period)
    else:
        report = build_report(
            store_url,
            taxonomy=taxonomy,
            team=team,
            role=role,
            roles=_roster(roster) if roster else None,
            out_dir=out,
            formats=chosen,
            since=since,
            until=until,
            period=period,
            min_group_size=min_group_size,
        )
    summary = report.summary()
    if as_json:
        emit_json(summary)
        return
    _print(summary)


def _print(summary: dict[str, Any]) -> None:
    counts = summary["counts"]
    click.echo(f"{summary['title']} (taxonomy {summary['taxonomy']['id']}, as of {summary['as_of'][:19]}Z)")
    click.echo(
        f"  {counts['visible_learners']} learners shown of {counts['learners']}, {counts['teams']} teams, "
        f"{counts['events']} events, {counts['evidence']} evidence items"
    )
    for message in summary["messages"]:
        click.secho(f"  note: {message}", fg="yellow")
    if summary["largest_gaps"]:
        click.echo("  largest mean gaps to role targets:")
        for row in summary["largest_gaps"]:
            click.echo(f"    {row['skill']:<26} gap {row['mean_gap']:+.2f}  (mean level {row['mean_level']:.2f})")
    files = summary["files"]
    if files:
        click.echo("files:")
        shown = ("csv_people_skills", "csv_teams_skills", "csv_evidence", "csv_skill_external_ids")
        for key in ("html", "png_teams", "png_people", "png_trends", *shown, "json"):
            if key in files:
                click.echo(f"  {key:<22} {files[key]}")
        others = len([k for k in files if k.startswith("csv_")]) - sum(k in files for k in shown)
        if others > 0:
            click.echo(f"  (+{others} more CSV files in {Path(files['json']).parent})")
