"""``workbench lti``: LTI 1.3 grade passback to the LMS (run on the JupyterHub host; see
:mod:`workbench.playbooks.lti_ags` and extensions/jupyterhub/README.md, "Grade passback")."""

from __future__ import annotations

import json
from typing import Any

import click

from workbench.cli import emit_json


@click.group(name="lti")
def command() -> None:
    """LTI 1.3: send playbook scores back to the LMS; print the tool's public key set."""


@command.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object per pass).")
@click.option(
    "--every",
    type=click.FloatRange(min=1),
    default=None,
    help="Run as a service: a pass every this many seconds, for ever (a JupyterHub managed service).",
)
@click.option(
    "--passes", type=click.IntRange(min=1), default=None, hidden=True, help="With --every: stop after N."
)
def passback(as_json: bool, every: float | None, passes: int | None) -> None:
    """Send each LMS-launched learner's changed playbook score to the LMS (LTI Assignment and Grade Services).

    Reads the links kept at launch and the learners' events from WORKBENCH_STORE_URL; signs the token request
    with WORKBENCH_LTI_TOOL_KEY (the tool's RSA private key, PEM) for WORKBENCH_LTI_TOKEN_URL (the platform's
    OAuth2 token endpoint). An unchanged score is not sent again; a failed one stays queued and goes with the
    next pass. Exits 1 when a score could not be sent (without --every).
    """
    from workbench.playbooks.lti_ags import pass_back_grades, run_passback_service

    def report(result: Any) -> None:
        if as_json:
            click.echo(json.dumps(result.to_dict()))
            return
        click.echo(f"sent {result.sent}, unchanged {result.unchanged}, no score yet {result.waiting}, "
                   f"failed {result.failed}")  # fmt: skip
        for error in result.errors:
            click.echo(f"  {error}", err=True)

    if every is not None:
        run_passback_service(every, passes=passes, report=report)
        return
    result = pass_back_grades()
    if as_json:
        emit_json(result.to_dict())
    else:
        report(result)
    if result.failed:
        click.get_current_context().exit(1)


@command.command()
def jwks() -> None:
    """Print the tool's public JWKS (from WORKBENCH_LTI_TOOL_KEY) to register in the LMS as the tool's keys."""
    from workbench.playbooks.lti_ags import load_tool_key

    emit_json(load_tool_key().jwks())
