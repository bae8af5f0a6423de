"""``workbench template``: list, show and render prompt templates."""

from __future__ import annotations

import click

from workbench.cli.generate import parse_vars


@click.group("template")
def command() -> None:
    """List, show and render prompt templates (built-ins and <data_dir>/templates)."""


@command.command("list")
@click.option("--all", "all_versions", is_flag=True, help="Every version, not only the latest.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def list_cmd(all_versions: bool, as_json: bool) -> None:
    """List the available templates."""
    from workbench.prompting import list_templates

    templates = list_templates(all_versions=all_versions)
    if as_json:
        from workbench.cli import emit_json

        emit_json([t.spec() for t in templates])
        return
    width = max((len(t.ref) for t in templates), default=10)
    for t in templates:
        click.echo(f"{t.ref.ljust(width)}  {t.title}")


@command.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def show_cmd(ref: str, as_json: bool) -> None:
    """Show a template: variables, system prompt, body and recommended parameters."""
    from workbench.prompting import get_template

    tpl = get_template(ref)
    if as_json:
        from workbench.cli import emit_json

        emit_json({**tpl.spec(), "template": tpl.template})
        return
    click.secho(f"{tpl.ref}  {tpl.title}", bold=True)
    if tpl.description:
        click.echo(tpl.description)
    if tpl.source:
        click.echo(f"file: {tpl.source}")
    click.echo("variables:")
    for v in tpl.variables:
        extra = f" choices={v.choices}" if v.choices else ""
        default = "" if v.default is None else f" default={v.default!r}"
        click.echo(f"  {v.name} ({v.type}{', required' if v.is_required else ''}){default}{extra}  {v.description}")
    if tpl.system:
        click.echo(f"system: {tpl.system}")
    click.echo(f"examples: {len(tpl.examples)}")
    click.echo(f"parameters: {tpl.parameters.as_dict()}")
    click.echo("template:")
    click.echo(tpl.template.rstrip())


@command.command("render")
@click.argument("ref")
@click.option("--var", "variables", multiple=True, metavar="KEY=VALUE", help="Template variable (repeatable).")
@click.option("--system", help="System prompt override.")
@click.option("--json", "as_json", is_flag=True, help="Print the messages as JSON.")
def render_cmd(ref: str, variables: tuple[str, ...], system: str | None, as_json: bool) -> None:
    """Render a template with variables, without running a model."""
    from workbench.prompting import get_template

    rendered = get_template(ref).render(parse_vars(variables), system=system, coerce=True)
    if as_json:
        from workbench.cli import emit_json

        emit_json(
            {"template": rendered.template, "messages": rendered.messages, "variables": rendered.variables,
             "parameters": rendered.parameters}
        )
        return
    for m in rendered.messages:
        click.secho(f"[{m['role']}]", bold=True)
        click.echo(m["content"])
