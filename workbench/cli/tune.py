"""``workbench tune``: plan, run, evaluate and merge LoRA/QLoRA fine-tunes (a thin wrapper over workbench.tuning)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from workbench.cli import emit_json
from workbench.tuning.trainer import TrainingCallback

_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kmgt]?i?b?)?\s*$", re.I)
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1e3,
    "m": 1e6,
    "g": 1e9,
    "t": 1e12,
    "ki": 2**10,
    "mi": 2**20,
    "gi": 2**30,
    "ti": 2**40,
}


def parse_size(text: str) -> int:
    """``"8GiB"``, ``"500MB"``, ``"1.5g"``, ``"1048576"`` -> bytes."""
    match = _SIZE.match(text)
    if not match:
        raise click.BadParameter(f"cannot read the size '{text}'; use e.g. 8GiB, 500MB or 1048576")
    unit = (match.group(2) or "").lower().removesuffix("b")
    if unit not in _UNITS:
        raise click.BadParameter(f"unknown unit in '{text}'; use B, KB, MB, GB, KiB, MiB, GiB")
    return int(float(match.group(1)) * _UNITS[unit])


def _mib(value: Any) -> str:
    return f"{value / 2**20:,.1f} MiB" if isinstance(value, (int, float)) else "n/a"


@click.group("tune")
def command() -> None:
    """Plan and run LoRA/QLoRA fine-tuning; evaluate and merge adapters."""


@command.command("plan")
@click.option(
    "--model", "model", default="workbench-tiny", show_default=True, help="Base model name or folder."
)
@click.option("--bits", type=click.Choice(["4", "8", "16", "32"]), default="4", show_default=True)
@click.option("--rank", type=click.IntRange(min=1), default=16, show_default=True, help="LoRA rank.")
@click.option(
    "--targets", default="all-linear", show_default=True, help="Comma-separated modules or all-linear."
)
@click.option("--seq-len", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=4, show_default=True)
@click.option(
    "--optimizer",
    type=click.Choice(["adamw", "adamw8bit", "paged_adamw8bit"]),
    default="adamw",
    show_default=True,
)
@click.option("--gradient-checkpointing/--no-gradient-checkpointing", default=False, show_default=True)
@click.option("--compute-dtype", type=click.Choice(["float32", "bfloat16", "float16"]), default="float32")
@click.option("--device", default=None, help="Plan for this device kind (default: the best found).")
@click.option(
    "--free-memory", default=None, help="Plan against this budget instead of free memory (e.g. 24GiB)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan_command(
    model: str,
    bits: str,
    rank: int,
    targets: str,
    seq_len: int,
    batch_size: int,
    optimizer: str,
    gradient_checkpointing: bool,
    compute_dtype: str,
    device: str | None,
    free_memory: str | None,
    as_json: bool,
) -> None:
    """Estimate peak training memory from the model's config (no weights loaded) and recommend what fits."""
    from workbench.tuning.plan import PlanRequest, plan_memory

    request = PlanRequest(
        model=model,
        bits=int(bits),  # type: ignore[arg-type]
        rank=rank,
        targets=tuple(t.strip() for t in targets.split(",") if t.strip()),
        seq_len=seq_len,
        batch_size=batch_size,
        optimizer=optimizer,  # type: ignore[arg-type]
        gradient_checkpointing=gradient_checkpointing,
        compute_dtype=compute_dtype,  # type: ignore[arg-type]
        gradient_accumulation_steps=1,
        double_quant=True,
    )
    budget = parse_size(free_memory) if free_memory else None
    plan = plan_memory(request, device=device, free_bytes=budget)
    if as_json:
        emit_json(plan.to_dict())
        return
    est = plan.estimate
    click.echo(f"model {model}: {est.details['parameters']:,} parameters, {est.details['layers']} layers")
    click.echo(
        f"request: {plan.request.bits}-bit base, rank {rank}, targets {targets}, seq {seq_len} x batch "
        f"{batch_size}, {plan.request.optimizer}, gradient checkpointing {'on' if gradient_checkpointing else 'off'}"
    )
    for name in ("weights", "adapters", "optimizer", "gradients", "activations"):
        click.echo(f"  {name:<12} {_mib(getattr(est, name)):>14}")
    click.echo(f"  {'total':<12} {_mib(est.total):>14}")
    click.echo(f"device {plan.device} ({plan.device_name}): {_mib(plan.free_bytes)} free")
    if plan.fits:
        click.secho("fits", fg="green")
    elif plan.recommendation is not None and plan.recommended_estimate is not None:
        click.secho("does not fit; recommended:", fg="yellow")
        for change in plan.changes:
            click.echo(f"  - {change}")
        click.echo(f"  estimated peak then {_mib(plan.recommended_estimate.total)}")
    else:
        click.secho("does not fit, and nothing tried does", fg="red")
    for note in plan.notes:
        click.echo(f"note: {note}")


class _ProgressBar(TrainingCallback):
    """A CLI progress bar fed by the training loop."""

    def __init__(self) -> None:
        self.bar: Any = None

    def on_train_begin(self, info: Any) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=info.total_steps, initial=info.start_step, desc=info.config.name, unit="step")

    def on_step_end(self, metrics: Any) -> None:
        if self.bar is None:
            return
        postfix = {"loss": f"{metrics.loss:.3f}", "tok/s": f"{metrics.tokens_per_s:.0f}"}
        if metrics.eval_loss is not None:
            postfix["eval"] = f"{metrics.eval_loss:.3f}"
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(1)

    def on_train_end(self, card: Any) -> None:
        if self.bar is not None:
            self.bar.close()


@command.command("run")
@click.argument("config", type=click.Path(path_type=Path))
@click.option(
    "--resume/--no-resume", default=True, show_default=True, help="Continue from the newest checkpoint."
)
@click.option(
    "--overwrite", is_flag=True, help="Start over, deleting this run's earlier checkpoints and adapter."
)
@click.option("--max-steps", type=click.IntRange(min=1), default=None, help="Override training.max_steps.")
@click.option("--output-dir", type=click.Path(path_type=Path), default=None, help="Override output_dir.")
@click.option("--json", "as_json", is_flag=True, help="Print the result (with the run card) as JSON.")
def run_command(
    config: Path, resume: bool, overwrite: bool, max_steps: int | None, output_dir: Path | None, as_json: bool
) -> None:
    """Train a LoRA/QLoRA adapter from a YAML/JSON CONFIG; writes the adapter and a run card."""
    from workbench.tuning import load_config, train

    cfg = load_config(config)
    changes: dict[str, Any] = {}
    if max_steps is not None:
        changes["training.max_steps"] = max_steps
    if output_dir is not None:
        changes["output_dir"] = str(output_dir.resolve())
    if changes:
        cfg = cfg.replace(**changes)
    callbacks = [] if as_json else [_ProgressBar()]
    result = train(cfg, callbacks=callbacks, resume=resume, overwrite=overwrite)  # type: ignore[arg-type]
    if as_json:
        emit_json(result.to_dict())
        return
    card = result.card
    click.echo(f"{card.status}: {card.timing.get('steps')} steps in {card.timing.get('train_time_s')} s")
    if card.loss_curve:
        click.echo(f"loss {card.loss_curve[0]['loss']:.4f} -> {card.loss_curve[-1]['loss']:.4f}")
    ev = card.evaluation or {}
    before, after = ev.get("before") or {}, ev.get("after") or {}
    if after:
        click.echo(f"held-out perplexity {before.get('perplexity')} -> {after.get('perplexity')}")
        for key, value in (after.get("scores") or {}).items():
            click.echo(f"held-out {key} {(before.get('scores') or {}).get(key)} -> {value}")
    click.echo(f"adapter: {result.adapter_dir}")
    click.echo(f"run card: {result.output_dir / 'run_card.md'}")
    for note in card.notes:
        click.echo(f"note: {note}")


@command.command("eval")
@click.argument("adapter", type=click.Path(path_type=Path))
@click.option(
    "--data", type=click.Path(path_type=Path), default=None, help="Held-out JSONL (default: the run's)."
)
@click.option("--base", default=None, help="Base model (default: the one it was trained on).")
@click.option("--bits", type=click.Choice(["4", "8", "16", "32"]), default=None, help="Bits of the base.")
@click.option("--max-examples", type=click.IntRange(min=0), default=24, show_default=True)
@click.option("--scorer", type=click.Choice(["house_format", "exact", "none"]), default="house_format")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def eval_command(
    adapter: Path,
    data: Path | None,
    base: str | None,
    bits: str | None,
    max_examples: int,
    scorer: str,
    as_json: bool,
) -> None:
    """Compare a tuned ADAPTER with its base on held-out examples (perplexity and answer scores)."""
    from workbench.tuning import evaluate_adapter

    result = evaluate_adapter(
        adapter,
        data=data,
        base=base,
        bits=int(bits) if bits else None,
        max_examples=max_examples,
        scorer=scorer,
    )
    if as_json:
        emit_json(result)
        return
    click.echo(f"held-out data: {result['data']}")
    click.echo(f"perplexity: base {result['base']['perplexity']} -> tuned {result['tuned']['perplexity']}")
    for key, value in result["tuned"]["scores"].items():
        click.echo(f"{key}: base {result['base']['scores'].get(key)} -> tuned {value}")


@command.command("merge")
@click.argument("adapter", type=click.Path(path_type=Path))
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), required=True, help="Folder for the merged model."
)
@click.option("--base", default=None, help="Base model (default: the one it was trained on).")
@click.option(
    "--dtype", type=click.Choice(["float32", "bfloat16", "float16"]), default="float32", show_default=True
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def merge_command(adapter: Path, out_dir: Path, base: str | None, dtype: str, as_json: bool) -> None:
    """Merge ADAPTER into a full-precision copy of its base and save it (load it with --model OUT)."""
    from workbench.tuning import merge_adapter

    info = merge_adapter(adapter, out_dir, base=base, dtype=dtype)
    if as_json:
        emit_json(info)
        return
    click.echo(
        f"merged model written to {info['out_dir']} ({dtype}; max logit difference {info['max_logit_diff']:.2e})"
    )


@command.command("validate")
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["auto", "instruction", "chat"]), default="auto")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def validate_command(data: Path, fmt: str, as_json: bool) -> None:
    """Check a fine-tuning JSONL file line by line; exit 2 when any line is bad."""
    from workbench.errors import ValidationError
    from workbench.tuning import validate_file

    report = validate_file(data, format=fmt)  # type: ignore[arg-type]
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(
            f"{data}: {len(report.examples)} examples ({report.formats['instruction']} instruction, "
            f"{report.formats['chat']} chat), {len(report.errors)} bad lines"
        )
        for error in report.errors:
            click.echo(f"  line {error.line}: {error.message}")
    if not report.ok:
        if as_json:
            raise SystemExit(2)
        if not report.errors:
            raise report.empty_error()
        raise ValidationError(
            f"{len(report.errors)} bad line(s)", file=data, line=report.errors[0].line,
            hint="fix the lines listed above",
        )
