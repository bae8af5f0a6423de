"""``workbench copilot``: build, check, evaluate, version, promote, serve and export copilots.

A thin layer over :mod:`workbench.copilots` (one domain call per command) and :mod:`workbench.serving`.
A TARGET is a ``copilot.yaml`` (or its folder) or a registered ``id@version``; ``serve`` also takes a bare id
(its GA version, plus its canary).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import click

from workbench.cli import emit_json

#: Subcommands another edge contributes: imported by module name on first use, like the top-level commands, so
#: the CLI does not depend on that edge (``serve`` lives with the server in ``workbench.serving``).
CONTRIBUTED: dict[str, str] = {"serve": "workbench.serving.command"}


class _CopilotGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *CONTRIBUTED])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in CONTRIBUTED:
            return importlib.import_module(CONTRIBUTED[cmd_name]).command  # type: ignore[no-any-return]
        return super().get_command(ctx, cmd_name)


@click.group("copilot", cls=_CopilotGroup)
def command() -> None:
    """Build, check, evaluate, version, promote, serve (OpenAI-compatible) and export copilots."""


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


@command.command("new")
@click.argument("copilot_id")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Folder to create (default ./ID).")
@click.option("--title", default=None, help="A human title.")
@click.option("--model", default=None, help="Model name or folder (default: the default model).")
@click.option("--index", type=click.Path(path_type=Path), default=None,
              help="A RAG index folder ('workbench rag index'): the copilot retrieves and cites.")  # fmt: skip
@click.option("--adapter", type=click.Path(path_type=Path), default=None,
              help="A LoRA adapter folder ('workbench tune run') loaded over the model.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the spec as JSON.")
def new_cmd(
    copilot_id: str, out: Path | None, title: str | None, model: str | None, index: Path | None,
    adapter: Path | None, as_json: bool,
) -> None:  # fmt: skip
    """Scaffold a copilot folder: copilot.yaml, a prompt template, a rubric and an evaluation suite."""
    from workbench.copilots import new_copilot

    spec = new_copilot(copilot_id, out, title=title, model=model, index=index, adapter=adapter)
    if as_json:
        emit_json({"spec": str(spec.source), **spec.to_dict()})
        return
    folder = spec.source.parent if spec.source else out
    click.echo(f"created {spec.ref} in {folder}")
    click.echo(f"next: workbench copilot eval {folder}   (then: promote --to canary|ga, serve, export)")


@command.command("validate")
@click.argument("specs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def validate_cmd(specs: tuple[Path, ...], as_json: bool) -> None:
    """Check copilot specs: schema, files, template and rubric (no model is loaded)."""
    from workbench.copilots import check_references, load_spec
    from workbench.errors import WorkbenchError

    results: list[dict[str, Any]] = []
    for path in specs:
        try:
            spec = load_spec(path)
            check_references(spec)
        except WorkbenchError as exc:
            results.append({"spec": str(path), "ok": False, **exc.to_dict()})
        else:
            results.append({"spec": str(spec.source), "ok": True, "copilot": spec.ref, "digest": spec.digest()})
    if as_json:
        emit_json(results)
    else:
        for r in results:
            if r["ok"]:
                click.echo(f"ok    {r['copilot']}  {r['spec']}")
            else:
                where = f"{r['file']}:{r['line']}" if r.get("line") else (r.get("file") or r["spec"])
                field = f" (field '{r['field']}')" if r.get("field") else ""
                click.secho(f"error {where}{field}: {r['message']}", fg="red", err=True)
                if r.get("hint"):
                    click.echo(f"      hint: {r['hint']}", err=True)
    if not all(r["ok"] for r in results):
        raise click.exceptions.Exit(2)


@command.command("list")
@click.argument("folders", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def list_cmd(folders: tuple[Path, ...], as_json: bool) -> None:
    """List registered copilots (GA, canary, versions) and the specs found in FOLDERS (default: here and
    <data_dir>/copilots)."""
    from workbench.copilots import find_specs, open_registry

    with open_registry() as registry:
        registered = []
        for copilot in registry.copilots():
            state = registry.state(copilot)
            versions = [v.version for v in registry.versions(copilot)]
            registered.append({"copilot": copilot, "ga": state.ga, "canary": state.canary, "versions": versions})
    specs = [str(p) for p in find_specs(folders or None)]
    if as_json:
        emit_json({"registered": registered, "specs": specs})
        return
    click.echo("registered:" if registered else "registered: none (workbench copilot eval SPEC registers one)")
    for r in registered:
        canary = f"  canary {r['canary']}" if r["canary"] else ""
        click.echo(f"  {r['copilot']}  GA {_fmt(r['ga'])}{canary}  versions: {', '.join(r['versions'])}")
    click.echo("specs:" if specs else "specs: none found")
    for path in specs:
        click.echo(f"  {path}")


@command.command("show")
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def show_cmd(target: str, as_json: bool) -> None:
    """Show a spec (resolved) or a registered copilot: versions, stages, history, last evaluation."""
    from workbench.copilots import describe_copilot

    overview = describe_copilot(target)
    spec, state, last, history, versions = (overview.spec, overview.state, overview.last, overview.history,
                                            overview.registered)  # fmt: skip
    data = overview.to_dict()
    if as_json:
        emit_json(data)
        return
    click.secho(f"{spec.ref}  {spec.title}", bold=True)
    click.echo(f"file: {data['file'] or '(registry snapshot)'}   digest: {data['digest']}")
    click.echo(f"model: {spec.model.name}" + (f" + adapter {spec.model.adapter}" if spec.model.adapter else "")
               + (f" ({spec.model.bits}-bit)" if spec.model.bits else ""))  # fmt: skip
    click.echo(f"template: {spec.prompt.template or '(none)'}   parameters: {spec.prompt.parameters.as_dict()}")
    if spec.retrieval is not None:
        click.echo(f"retrieval: {spec.retrieval.index} ({spec.retrieval.mode}, k={_fmt(spec.retrieval.k)})")
    click.echo(f"guardrails: {spec.guardrails.policy or 'built-in default policy'}")
    click.echo(f"stage: {data['stage'] or 'not promoted'}   GA: {_fmt(state.ga)}   canary: {_fmt(state.canary)}")
    click.echo(f"registered versions: {', '.join(versions) or 'none'}")
    if last is not None:
        shown = ", ".join(f"{k}={_fmt(v)}" for k, v in last.metrics.items() if v is not None)
        click.echo(f"last evaluation ({'passed' if last.passed else 'FAILED'}): {shown}")
    for p in history[-10:]:
        click.echo(f"  {p.created_at:%Y-%m-%d %H:%M}  {p.action} {p.stage} {p.version}"
                   + (f" (was {p.previous})" if p.previous else "") + (f": {p.note}" if p.note else ""))  # fmt: skip


@command.command("eval")
@click.argument("target")
@click.option("--limit", type=int, default=None, help="Evaluate only the first N questions.")
@click.option("--check", is_flag=True, help="Exit with status 1 when a gate fails (for CI).")
@click.option("--json", "as_json", is_flag=True, help="Print the report and the comparison as JSON.")
def eval_cmd(target: str, limit: int | None, check: bool, as_json: bool) -> None:
    """Evaluate a copilot version on its suite, side by side with the promoted (GA) version.

    Reports rubric pass rate, retrieval recall, groundedness of cited answers, latency p50/p95, tokens, cost and
    guardrail flags, the regression table and the questions whose outcome changed. The version is registered
    and the report stored, so 'promote' can check its gates.
    """
    from workbench.copilots import evaluate_version, format_report

    outcome = evaluate_version(target, limit=limit)
    if as_json:
        emit_json(outcome.to_dict())
    else:
        click.echo(format_report(outcome.report, outcome.comparison))
    if check and not outcome.report.passed:
        raise click.exceptions.Exit(1)


@command.command("promote")
@click.argument("target")
@click.option("--to", "stage", type=click.Choice(["canary", "ga"]), required=True, help="The stage.")
@click.option("--note", default=None, help="Why (kept in the history).")
@click.option("--json", "as_json", is_flag=True, help="Print the promotion as JSON.")
def promote_cmd(target: str, stage: str, note: str | None, as_json: bool) -> None:
    """Promote a version to canary or GA; refused, with the failing gate named, unless its last evaluation
    meets every threshold and SLO of its spec."""
    from workbench.copilots import promote_version

    promotion = promote_version(target, stage, note=note)
    if as_json:
        emit_json(promotion.__dict__)
        return
    was = f" (was {promotion.previous})" if promotion.previous else ""
    click.echo(f"promoted {promotion.copilot}@{promotion.version} to {promotion.stage}{was}")


@command.command("rollback")
@click.argument("copilot")
@click.option("--note", default=None, help="Why (kept in the history).")
@click.option("--json", "as_json", is_flag=True, help="Print the rollback as JSON.")
def rollback_cmd(copilot: str, note: str | None, as_json: bool) -> None:
    """Restore the previous GA version of COPILOT (an id)."""
    from workbench.copilots import rollback_copilot

    promotion = rollback_copilot(copilot, note=note)
    if as_json:
        emit_json(promotion.__dict__)
        return
    click.echo(f"rolled back {promotion.copilot}: GA is {promotion.version} again (was {promotion.previous})")



@command.command("export")
@click.argument("target")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder to write.")
@click.option("--force", is_flag=True, help="Replace what is in --out.")
@click.option("--json", "as_json", is_flag=True, help="Print where everything went, as JSON.")
def export_cmd(target: str, out: Path, force: bool, as_json: bool) -> None:
    """Export a copilot: a merged model folder (safetensors, tokenizer, chat template) that transformers and vLLM
    load, an Ollama Modelfile, and the spec's prompt, retrieval and guardrail settings (copilot.json)."""
    from workbench.copilots import export_copilot, resolve_spec

    result = export_copilot(resolve_spec(target), out, overwrite=force)
    if as_json:
        emit_json(result.to_dict())
        return
    what = "adapter merged into its base" if result.merged_adapter else "base model"
    click.echo(f"exported {result.copilot} ({what}) to {result.out_dir}")
    click.echo(f"  transformers/vLLM: {result.model_dir}")
    click.echo(f"  Ollama: ollama create {result.copilot.split('@')[0]} -f {result.modelfile}")
    click.echo(f"  settings: {result.settings}")
