"""``workbench models``: the built-in models, and what 8- and 4-bit quantization costs them, measured here."""

from __future__ import annotations

import click

from workbench.cli import emit_json


@click.command("models")
@click.option("--measure", "measure", is_flag=True, help="Measure again (footprint, load time, perplexity).")
@click.option("--model", "-m", "names", multiple=True, help="Measure these models (default: the default model).")
@click.option("--bits", "bits", default="32,8,4", show_default=True, help="Bit widths to measure, comma-separated.")
@click.option("--no-quality", is_flag=True, help="Only list the models; load nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def command(measure: bool, names: tuple[str, ...], bits: str, no_quality: bool, as_json: bool) -> None:
    """List the built-in models and their state here, and each model's weights footprint, load time and held-out
    perplexity at 32, 8 and 4 bits (bitsandbytes). Measurements are cached; --measure takes them again.

    \b
    Examples:
      workbench models --no-quality
      workbench models                       # the default model at 32/8/4 bits (about a minute the first time)
      workbench models -m workbench-tiny --bits 32,4 --json
    """
    from workbench.errors import ValidationError
    from workbench.models import default_model_name
    from workbench.models.measure import builtin_models, measure_bits

    try:
        widths = tuple(int(b) for b in bits.split(",") if b.strip())
    except ValueError:
        raise ValidationError(f"--bits '{bits}' is not a list of numbers", field="bits", hint="e.g. 32,8,4") from None
    models = builtin_models()
    quality = [] if no_quality else [
        m for name in (names or (default_model_name(),)) for m in measure_bits(name, widths, fresh=measure)
    ]  # fmt: skip
    if as_json:
        emit_json({"models": [m.to_dict() for m in models], "quality": [q.to_dict() for q in quality]})
        return
    _print(models, quality)


def _print(models: list, quality: list) -> None:  # type: ignore[type-arg]
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="built-in models")
    for col in ("name", "default", "available", "built", "note"):
        table.add_column(col)
    for m in models:
        table.add_row(m.name, "yes" if m.default else "", "yes" if m.available else "[red]no[/]",
                      "yes" if m.built else "not yet", m.note)  # fmt: skip
    console.print(table)
    if not quality:
        return
    table = Table(title=f"quantization cost (held-out perplexity, {quality[0].tokens} tokens; lower is better)")
    for col in ("model", "bits", "method", "footprint", "load", "perplexity"):
        table.add_column(col, justify="right" if col not in ("model", "method") else "left")
    for q in quality:
        size = f"{q.footprint_bytes / 2**20:.1f} MiB" if q.footprint_bytes else "?"
        table.add_row(q.model, str(q.bits), q.method, size, f"{q.load_s:.1f} s", f"{q.perplexity:.2f}")
    console.print(table)
