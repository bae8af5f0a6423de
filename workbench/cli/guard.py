"""``workbench guard``: check text against the guardrail policy, show the policy, verify the audit log."""

from __future__ import annotations

from pathlib import Path

import click

from workbench.errors import ValidationError


@click.group("guard")
def command() -> None:
    """Check text against the guardrail policy, show the policy, verify the audit log."""


@command.command("check")
@click.argument("text", required=False)
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False), help="Read the text from a file.")
@click.option("--retrieved", is_flag=True, help="Score it as retrieved (RAG) text, not a user prompt.")
@click.option("--output", "as_output", is_flag=True, help="Check it as model output (secrets, leaks).")
@click.option("--model", help="Also check this model against the allow/deny lists.")
@click.option("--policy", type=click.Path(dir_okay=False), help="Policy YAML (default: built-in).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def check_cmd(
    text: str | None,
    file: str | None,
    retrieved: bool,
    as_output: bool,
    model: str | None,
    policy: str | None,
    as_json: bool,
) -> None:
    """Dry-run the policy on TEXT (or --file): PII, injection, denied terms. Exit status 1 when blocked.

    Nothing is written to the audit log or telemetry: this is a preview of what a generation would meet.
    """
    from workbench.guardrails import Guard

    if (text is None) == (file is None):
        raise ValidationError("give either TEXT or --file", field="TEXT", hint="workbench guard check 'some text'")
    body = text if text is not None else Path(file).read_text(encoding="utf-8")  # type: ignore[arg-type]
    guard = Guard(policy, record_telemetry=False)
    decisions = []
    if model:
        decisions.append(guard.check_model(model, audit=False))
    if as_output:
        decisions.append(guard.check_output(body, audit=False))
    elif retrieved:
        decisions.extend(guard.check_retrieved(body, audit=False))
    else:
        decisions.append(guard.check_prompt(body, audit=False))
    blocked = any(d.blocked for d in decisions)
    findings = [
        {"kind": f.kind, "detail": f.detail, "start": f.start, "end": f.end} for d in decisions for f in d.findings
    ]
    if as_json:
        from workbench.cli import emit_json

        emit_json({"policy": guard.policy.ref, "blocked": blocked, "decisions": [d.to_dict() for d in decisions],
                   "findings": findings})  # fmt: skip
    else:
        for d in decisions:
            color = {"allow": "green", "redact": "yellow", "block": "red"}[d.action]
            click.secho(f"{d.check}: {d.action}", fg=color, bold=True)
            if d.kinds:
                click.echo(f"  PII: {', '.join(d.kinds)}")
            if d.injection is not None:
                click.echo(f"  injection score: {d.injection.score:.2f} {d.injection.reasons or ''}")
            for r in d.reasons:
                click.echo(f"  reason: {r}")
            if d.text is not None and d.text != body:
                click.echo(f"  redacted: {d.text}")
    if blocked:
        # SystemExit, not ctx.exit: the CLI runs click with standalone_mode=False, which drops ctx.exit codes.
        raise SystemExit(1)


@command.command("policy")
@click.option("--policy", type=click.Path(dir_okay=False), help="Policy YAML (default: built-in).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def policy_cmd(policy: str | None, as_json: bool) -> None:
    """Show the effective policy (the built-in default, or --policy merged over the defaults)."""
    import yaml

    from workbench.guardrails import load_policy

    data = load_policy(policy).model_dump(mode="json")
    if as_json:
        from workbench.cli import emit_json

        emit_json(data)
    else:
        click.echo(yaml.safe_dump(data, sort_keys=False).rstrip())


@command.command("audit")
@click.option("--path", type=click.Path(dir_okay=False), help="Audit log (default: <data_dir>/guardrails/audit.jsonl).")
@click.option("--tail", type=click.IntRange(min=0), default=10, show_default=True, help="Show the last N entries.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def audit_cmd(path: str | None, tail: int, as_json: bool) -> None:
    """Verify the audit log's hash chain and show its last entries. Exit status 1 when it was tampered with."""
    from workbench.guardrails import AuditLog
    from workbench.settings import get_settings

    log = AuditLog(path or get_settings().data_dir / "guardrails" / "audit.jsonl")
    result = log.verify()
    entries = log.tail(tail) if tail else []
    if as_json:
        from workbench.cli import emit_json

        emit_json({"path": str(log.path), "ok": result.ok, "entries": result.entries, "bad_line": result.bad_line,
                   "reason": result.reason, "tail": entries})  # fmt: skip
    else:
        click.echo(f"{log.path}: {result.entries} entries")
        for e in entries:
            kinds = f" kinds={e.get('kinds')}" if e.get("kinds") else ""
            click.echo(f"  #{e.get('seq')} {e.get('time')} {e.get('check')}: {e.get('action')}{kinds} {e.get('model') or ''}")
        if result.ok:
            click.secho("hash chain intact", fg="green")
        else:
            click.secho(f"TAMPERED at line {result.bad_line}: {result.reason}", fg="red", bold=True)
    if not result.ok:
        raise SystemExit(1)
