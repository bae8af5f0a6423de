"""``workbench generate``: one guarded, recorded generation from the shell."""

from __future__ import annotations

import sys
from typing import Any

import click

from workbench.errors import ValidationError


def parse_vars(pairs: tuple[str, ...]) -> dict[str, str]:
    """``("k=v", ...)`` -> ``{"k": "v"}``; a pair without ``=`` is a :class:`ValidationError`."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"--var '{pair}' is not KEY=VALUE", field="--var", hint="e.g. --var tone=formal")
        out[key.strip()] = value
    return out


@click.command("generate")
@click.argument("prompt", required=False)
@click.option("--model", "-m", help="Model name (default: smollm2-135m-instruct, or WORKBENCH_DEFAULT_MODEL).")
@click.option("--template", "-t", help="Template id or id@version (see 'workbench template list').")
@click.option("--var", "variables", multiple=True, metavar="KEY=VALUE", help="Template variable (repeatable).")
@click.option("--system", help="System prompt (overrides the template's).")
@click.option("--bits", type=click.Choice(["4", "8", "16", "32"]), help="Weight precision to load the model in.")
@click.option("--max-new-tokens", type=click.IntRange(min=1), help="Most tokens to generate.")
@click.option("--temperature", type=click.FloatRange(min=0.0), help="0 = greedy.")
@click.option("--top-p", type=click.FloatRange(min=0.0, max=1.0, min_open=True), help="Nucleus sampling mass.")
@click.option("--seed", type=int, help="Random seed for sampling.")
@click.option(
    "--format",
    "response_format",
    type=click.Choice(["text", "json"]),
    help="json: constrain the output to one valid JSON object (default: the template's, else text).",
)
@click.option("--stream", is_flag=True, help="Print the output as it is generated.")
@click.option("--policy", type=click.Path(dir_okay=False), help="Guardrail policy YAML (default: built-in).")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
def command(
    prompt: str | None,
    model: str | None,
    template: str | None,
    variables: tuple[str, ...],
    system: str | None,
    bits: str | None,
    max_new_tokens: int | None,
    temperature: float | None,
    top_p: float | None,
    seed: int | None,
    response_format: str | None,
    stream: bool,
    policy: str | None,
    as_json: bool,
) -> None:
    """Generate text from PROMPT (or a template), through the guardrails, recorded in telemetry.

    PROMPT '-' reads standard input. With --template, PROMPT fills the template's first required variable
    that no --var gave.

    \b
    Examples:
      workbench generate "Write a haiku about tests"
      workbench generate --template classify-ticket --var ticket="I was charged twice"
      cat report.txt | workbench generate - --template summarise@2 --var audience=executive --json
      workbench generate "Name and team of: Ana works in Support." --format json
    """
    from workbench.guardrails import Guard
    from workbench.prompting import Playground

    if prompt == "-":
        prompt = sys.stdin.read()
    values: dict[str, Any] = parse_vars(variables)
    if template is None and prompt is None:
        raise ValidationError(
            "nothing to generate from", field="PROMPT", hint="give a PROMPT, or --template T with --var KEY=VALUE"
        )
    pg = Playground(model, guard=Guard(policy) if policy else None, bits=int(bits) if bits else None)
    if template is not None:
        tpl = pg.get_template(template)
        assert tpl is not None
        if prompt is not None:
            free = next((v.name for v in tpl.variables if v.is_required and v.name not in values), None)
            if free is None:
                raise ValidationError(
                    f"template '{tpl.ref}' has no unfilled required variable to take PROMPT",
                    field="PROMPT",
                    hint="pass every value with --var and drop PROMPT",
                )
            values[free] = prompt

    def echo(piece: str) -> None:
        click.echo(piece, nl=False)
        sys.stdout.flush()

    try:
        run = pg.run(
            template=template or "",
            variables=values if template else None,
            prompt=prompt,
            system=system,
            stream=stream and not as_json,
            on_text=echo if stream and not as_json else None,
            coerce=True,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            response_format={"json": "json_object", "text": "text"}.get(response_format or ""),
        )
    finally:
        _flush_telemetry()
    if as_json:
        from workbench.cli import emit_json

        emit_json(run.to_dict())
        return
    if stream:
        click.echo()
        if run.status == "blocked" or run.text.startswith("[withheld"):
            click.echo(run.text)
    else:
        click.echo(run.text)
    for note in run.notes:
        click.secho(f"note: {note}", fg="yellow", err=True)
    m = run.metrics()
    click.secho(
        f"[{run.model}{f' · {run.bits}-bit' if run.bits else ''}{' · ' + run.template if run.template else ''}] "
        f"{m['input_tokens']} in · "
        f"{m['output_tokens']} out · {m['latency_s']:.3f} s · cost {m['cost']:.6f}",
        fg="bright_black",
        err=True,
    )


def _flush_telemetry() -> None:
    try:
        from workbench.telemetry import get_recorder

        get_recorder().flush()
    except Exception as exc:  # telemetry must not hide the generation's own outcome
        click.secho(f"warning: telemetry not flushed: {exc}", fg="yellow", err=True)
