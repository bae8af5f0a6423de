"""``workbench telemetry``: inspect and administer the telemetry store.

``stats`` and ``tail`` read it; ``migrate`` upgrades its schema (or prints the DDL); ``erase`` deletes one
learner's events with an audit record, and ``erasures`` lists that audit log.
"""

from __future__ import annotations

import json
from typing import Any

import click

from workbench.cli import emit_json

_URL_HELP = "Store URL (default: settings.store_url, i.e. WORKBENCH_STORE_URL)."


@click.group(name="telemetry")
def command() -> None:
    """Inspect and administer the telemetry store."""


@command.command()
@click.option("--url", default=None, help=_URL_HELP)
@click.option(
    "--top",
    default=20,
    show_default=True,
    type=click.IntRange(min=1),
    help="Learners and teams listed (busiest).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats(url: str | None, top: int, as_json: bool) -> None:
    """Event counts by kind, learner (pseudonyms) and team, and the time span."""
    from workbench.telemetry import open_store

    with open_store(url) as store:
        info = store.describe()
        first, last = store.time_range()
        learners, teams = store.value_counts("learner"), store.value_counts("team")
        data: dict[str, Any] = {
            "store": info["url"],
            "dialect": info["dialect"],
            "events": info["events"],
            "first": first.isoformat() if first else None,
            "last": last.isoformat() if last else None,
            "by_kind": store.value_counts("kind"),
            "learners": sum(1 for k in learners if k is not None),
            "teams": sum(1 for k in teams if k is not None),
            "by_learner": _keyed(learners, top),
            "by_team": _keyed(teams, top),
            "schema_versions": {str(k): v for k, v in store.value_counts("schema_version").items()},
        }
    if as_json:
        emit_json(data)
        return
    click.echo(f"store:   {data['store']}")
    click.echo(f"events:  {data['events']}")
    if data["events"]:
        click.echo(f"from:    {data['first']}")
        click.echo(f"to:      {data['last']}")
        click.echo(f"learners: {data['learners']}, teams: {data['teams']}")
    sections = (
        ("by kind", "by_kind", len(data["by_kind"])),
        ("by learner", "by_learner", data["learners"]),
        ("by team", "by_team", data["teams"]),
    )
    for title, key, total in sections:
        counts = data[key]
        if not counts:
            continue
        shown = f" (busiest {len(counts)} of {total})" if key != "by_kind" and total > len(counts) else ""
        click.echo(f"\n{title}{shown}:")
        width = max(len(str(k)) for k in counts)
        for name, count in counts.items():
            click.echo(f"  {name!s:<{width}}  {count:>8}")


@command.command()
@click.option(
    "-n", "--lines", "n", default=10, show_default=True, type=click.IntRange(min=1), help="How many events."
)
@click.option("--kind", "kinds", multiple=True, help="Only this kind (repeatable).")
@click.option("--url", default=None, help=_URL_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tail(n: int, kinds: tuple[str, ...], url: str | None, as_json: bool) -> None:
    """The latest N events, oldest of them first."""
    from workbench.telemetry import open_store

    with open_store(url) as store:
        events = store.query(kind=list(kinds) or None, limit=n, newest_first=True)[::-1]
    if as_json:
        emit_json([e.model_dump(mode="json") for e in events])
        return
    for e in events:
        where = "/".join(p for p in (e.playbook, e.task) if p) or "-"
        duration = f"{e.duration_s:.3f}s" if e.duration_s is not None else "-"
        attrs = json.dumps(e.attributes, separators=(",", ":"), ensure_ascii=False, default=str)
        if len(attrs) > 120:
            attrs = attrs[:117] + "..."
        click.echo(
            f"{e.time.isoformat(timespec='seconds')}  {e.kind!s:<14} {e.learner or '-'}  {e.team or '-'}  "
            f"{where}  {e.status or '-'}  {duration}  {attrs}"
        )


@command.command()
@click.option("--url", default=None, help=_URL_HELP)
@click.option("--to", "target", default="head", show_default=True, help="The revision to upgrade to.")
@click.option("--sql", "as_sql", is_flag=True, help="Print the DDL for the URL's database instead of running it.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def migrate(url: str | None, target: str, as_sql: bool, as_json: bool) -> None:
    """Upgrade the store's schema (stores also upgrade themselves when opened)."""
    if as_sql:
        from workbench.settings import get_settings
        from workbench.telemetry.migrate import migration_sql

        click.echo(migration_sql(url or str(get_settings().store_url), target))
        return
    from workbench.telemetry.maintenance import upgrade_store

    result = upgrade_store(url, target)
    if as_json:
        emit_json(result.to_dict())
        return
    change = f"upgraded from {result.before or 'an empty database'}" if result.changed else "already current"
    click.echo(f"{result.url}: schema revision {result.after} ({change})")


@command.command()
@click.argument("learner")
@click.option("--requested-by", required=True, help="Who asks for the erasure (kept in the audit log).")
@click.option("--reason", required=True, help="Why: a ticket, 'learner request', 'retention policy'.")
@click.option("--url", default=None, help=_URL_HELP)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def erase(learner: str, requested_by: str, reason: str, url: str | None, yes: bool, as_json: bool) -> None:
    """Delete every event of LEARNER (raw id or pseudonym), recorded in the erasure audit log."""
    from workbench.telemetry import pseudonymize
    from workbench.telemetry.maintenance import erase_learner

    if not yes and not as_json:
        click.confirm(f"Delete every event of {pseudonymize(learner)} for good?", abort=True)
    record = erase_learner(learner, requested_by=requested_by, reason=reason, store=url)
    if as_json:
        emit_json(record.to_dict())
        return
    click.echo(f"erased {record.events} events of {record.learner} (erasure {record.id})")


@command.command()
@click.option("--learner", default=None, help="Only this learner's erasures (raw id or pseudonym).")
@click.option("--url", default=None, help=_URL_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def erasures(learner: str | None, url: str | None, as_json: bool) -> None:
    """The erasure audit log, oldest first."""
    from workbench.telemetry.maintenance import erasures as read_log

    log = read_log(url, learner=learner)
    if as_json:
        emit_json([e.to_dict() for e in log])
        return
    for e in log:
        click.echo(f"{e.time.isoformat(timespec='seconds')}  {e.learner}  {e.events:>7} events  "
                   f"by {e.requested_by}: {e.reason}  ({e.id})")


@command.command("xapi-sync")
@click.option("--limit", type=int, default=None, help="Send at most this many statements.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def xapi_sync(limit: int | None, as_json: bool) -> None:
    """Send learners' task and score events not yet acknowledged to the learning record store (xAPI).

    The LRS is WORKBENCH_XAPI_ENDPOINT (its xAPI base URL) with WORKBENCH_XAPI_USERNAME and _PASSWORD. Nothing
    is lost while it is unreachable: unsent events stay queued in the store and go with the next sync. Exits
    1 when statements are still waiting.
    """
    from workbench.telemetry.xapi import sync_statements

    result = sync_statements(limit)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(f"sent {result.sent} statements; {result.pending} waiting"
                   + (f" ({result.error})" if result.error else ""))  # fmt: skip
    if result.error is not None:
        raise SystemExit(1)


def _keyed(counts: dict[Any, int], top: int) -> dict[str, int]:
    """The ``top`` largest counts (already sorted), keyed by text; events without a value are ``(none)``."""
    return {("(none)" if k is None else str(k)): v for k, v in list(counts.items())[:top]}
