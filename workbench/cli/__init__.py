"""The ``workbench`` command line: a thin wrapper over the library (papermill habit).

Subcommands live in their own modules and are imported only when invoked, so ``workbench --help`` stays fast.
Each module exposes a click command or group named ``command``. Errors the user caused
(:class:`~workbench.errors.WorkbenchError`) are printed with their hint and exit with status 2, as JSON when
``--json`` was given; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

import click

from workbench import __version__
from workbench.errors import WorkbenchError

#: name -> (module, one-line help). The help is repeated here so that ``--help`` needs no import.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "doctor": ("workbench.cli.doctor", "Report the environment: versions, device, quantization, store."),
    "generate": ("workbench.cli.generate", "Generate text from a prompt with a model."),
    "models": ("workbench.cli.models", "List the built-in models; measure their footprint and quality by bits."),
    "demo": ("workbench.cli.demo", "Run the main job on embedded defaults and print where everything is."),
    "telemetry": ("workbench.cli.telemetry", "Inspect the telemetry store."),
    "rag": ("workbench.cli.rag", "Build, query and evaluate retrieval indexes."),
    "tune": ("workbench.cli.tune", "Plan and run LoRA/QLoRA fine-tuning."),
    "rubric": ("workbench.cli.rubric", "Score outputs or submissions with a rubric."),
    "playbook": ("workbench.cli.playbook", "Author, validate, run and test playbooks."),
    "report": ("workbench.cli.report", "Write skills-gap heatmap reports."),
    "template": ("workbench.cli.template", "List and render prompt templates."),
    "guard": ("workbench.cli.guard", "Check text against the guardrail policy."),
    "copilot": ("workbench.cli.copilot", "Build, evaluate, promote, serve and export copilots."),
    "lti": ("workbench.cli.lti", "LTI 1.3: send playbook scores back to the LMS (grade passback)."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, (module, _) in SUBCOMMANDS.items() if _module_exists(module))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = SUBCOMMANDS.get(cmd_name)
        if entry is None or not _module_exists(entry[0]):
            return None
        command = importlib.import_module(entry[0]).command
        return command  # type: ignore[no-any-return]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SUBCOMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _module_exists(module: str) -> bool:
    from workbench._optional import is_available

    return is_available(module)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="workbench")
def cli() -> None:
    """Workbench: prompt, retrieve, fine-tune, critique and measure skills, from JupyterLab or the shell."""


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON (the ``--json`` contract)."""
    click.echo(json.dumps(data, indent=2, default=str))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``workbench`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        # With standalone_mode=False, click returns the code of ``ctx.exit(n)`` instead of raising it.
        result = cli.main(args=args, prog_name="workbench", standalone_mode=False)
    except WorkbenchError as exc:
        if "--json" in args:
            click.echo(json.dumps(exc.to_dict(), indent=2))
        else:
            click.secho(f"error: {exc}", fg="red", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
