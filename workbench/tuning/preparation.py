"""The first step of a run, before any weight is loaded: check, read, plan, and start the run card.

:func:`prepare_run` refuses to overwrite an earlier run by accident (or finds the checkpoint to resume), reads
and tokenises the data (bad lines, empty files and over-long examples fail here), checks the LoRA targets on
the meta device, picks the device, estimates the peak memory and writes the config; it returns a
:class:`RunSetup` the trainer's later steps read.
"""

from __future__ import annotations

import json
import math
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError, WorkbenchError
from workbench.tuning.checkpoint import CHECKPOINTS, latest_checkpoint, read_trainer_state
from workbench.tuning.config import CONFIG_FILE, TrainingConfig, TuneConfig, library_versions
from workbench.tuning.data import (
    TokenizedExample,
    files_sha256,
    load_examples,
    split_examples,
    tokenize_examples,
)
from workbench.tuning.plan import MemoryEstimate, PlanRequest, estimate_memory
from workbench.tuning.runcard import RunCard
from workbench.tuning.state import TrainerState
from workbench.tuning.tracing import build_meta_model, check_targets


@dataclass(frozen=True)
class BaseModelFiles:
    """The base model as read before loading its weights.

    Attributes:
        model_dir: Its folder.
        config: Its ``PretrainedConfig``.
        context_length: Tokens it attends to (``max_position_embeddings``).
        tokenizer: Its tokenizer (pad token set to EOS when it has none).
    """

    model_dir: Path
    config: Any
    context_length: int
    tokenizer: Any


@dataclass(frozen=True)
class DeviceChoice:
    """Where the run trains.

    Attributes:
        kind: Device kind (``cuda``, ``xpu``, ``npu``, ``mps``, ``cpu``).
        name: Human-readable device name.
        torch_device: The torch device string (``cuda:0``, ``cpu``...).
    """

    kind: str
    name: str
    torch_device: str


@dataclass(frozen=True)
class TrainingData:
    """The tokenised examples of a run.

    Attributes:
        train: Training examples.
        eval: Held-out examples (may be empty).
        max_length: Tokens per example at most.
        summary: The run card's ``dataset`` record (files, sha256, counts, dropped, longest).
    """

    train: list[TokenizedExample]
    eval: list[TokenizedExample]
    max_length: int
    summary: dict[str, Any]


@dataclass
class RunSetup:
    """What :func:`prepare_run` found and decided; the trainer's later steps read it.

    Attributes:
        config: The run.
        output_dir: The run folder.
        resume_from: The checkpoint to continue from (``None``: a fresh start).
        base: The base model's folder, config and tokenizer.
        data: The tokenised examples.
        device: Where it trains.
        plan: The preflight request for this run's shape and its estimate.
        estimate: The estimate of ``plan``.
        total_steps: Optimizer steps the run takes.
        state: The trainer state (fresh, or read from ``resume_from``).
        card: The run card, status ``running``.
    """

    config: TuneConfig
    output_dir: Path
    resume_from: Path | None
    base: BaseModelFiles
    data: TrainingData
    device: DeviceChoice
    plan: PlanRequest
    estimate: MemoryEstimate
    total_steps: int
    state: TrainerState
    card: RunCard


def prepare_run(
    config: TuneConfig, output_dir: Path, *, resume: bool, overwrite: bool, notes: list[str]
) -> RunSetup:
    """Everything before the weights load (see the module docstring); writes the config into ``output_dir``.

    Args:
        config: The run.
        output_dir: Its folder.
        resume: Continue from the newest compatible checkpoint.
        overwrite: Remove an earlier run's checkpoints and adapter first.
        notes: The run card's notes (dropped examples are noted here).

    Raises:
        ConfigError: An earlier run in the way, an incompatible checkpoint, or unknown target modules.
        WorkbenchError: No training example left after tokenisation.
    """
    from workbench.tuning._runtime import device_summary, torch_device

    resume_from = check_output_dir(output_dir, config, resume=resume, overwrite=overwrite)
    base = read_base(config.model)
    data = prepare_data(config, base.tokenizer, base.context_length, notes)
    check_targets(build_meta_model(base.config, "float32"), config.method.target_modules)
    kind, name, _ = device_summary(config.device)
    device = DeviceChoice(kind, name, torch_device(config.device))
    plan = plan_request(config, max(x.n_tokens for x in data.train), device.torch_device)
    estimate = estimate_memory(plan, config=base.config)
    if resume_from is not None:
        state = TrainerState.from_saved(read_trainer_state(resume_from))
    else:
        state = TrainerState(run_id=f"tune-{config.name}-{uuid.uuid4().hex[:8]}")
    output_dir.mkdir(parents=True, exist_ok=True)
    config.save(output_dir / CONFIG_FILE)
    card = RunCard(
        run_id=state.run_id,
        name=config.name,
        config=config.to_dict(),
        model={
            "name": config.model,
            "path": str(base.model_dir),
            "context_length": base.context_length,
            "parameters": estimate.parameters,
        },
        method={**config.method.model_dump(mode="json"), "bits": config.method.bits},
        dataset=data.summary,
        device={"kind": device.kind, "name": device.name, "torch_device": device.torch_device},
        plan={"request": plan.model_dump(mode="json"), **estimate.to_dict()},
        versions=library_versions(),
        notes=notes,
    )
    steps = total_steps(config.training, len(data.train))
    return RunSetup(config, output_dir, resume_from, base, data, device, plan, estimate, steps, state, card)


def read_base(model: str) -> BaseModelFiles:
    """The folder, config, context length and tokenizer of base model ``model`` (no weights read)."""
    from transformers import AutoConfig, AutoTokenizer

    from workbench.tuning._runtime import resolve_model_dir

    model_dir = resolve_model_dir(model)
    model_config = AutoConfig.from_pretrained(str(model_dir))
    text_config = model_config.get_text_config()
    context_length = int(getattr(text_config, "max_position_embeddings", 2048) or 2048)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return BaseModelFiles(model_dir, model_config, context_length, tokenizer)


def prepare_data(config: TuneConfig, tokenizer: Any, context_length: int, notes: list[str]) -> TrainingData:
    """Read, split and tokenise the run's data (dropped over-long examples are noted in ``notes``).

    Raises:
        ValidationError: Bad dataset lines (all listed by number) or an empty dataset.
        ContextLengthError: Examples longer than the context (with ``overlength: error``).
        WorkbenchError: No training example is left after tokenisation.
    """
    d = config.data
    train_examples = load_examples(d.train, format=d.format, system_prompt=d.system_prompt)
    if d.eval is not None:
        eval_examples = load_examples(d.eval, format=d.format, system_prompt=d.system_prompt)
    else:
        train_examples, eval_examples = split_examples(train_examples, d.eval_fraction, config.training.seed)
    max_length = min(d.max_length or context_length, context_length)
    options: dict[str, Any] = {
        "max_length": max_length,
        "overlength": d.overlength,
        "train_on_prompt": d.train_on_prompt,
    }
    train_items, dropped = tokenize_examples(train_examples, tokenizer, **options)
    eval_items, eval_dropped = tokenize_examples(eval_examples, tokenizer, **options)
    if not train_items:
        raise WorkbenchError(
            "no training example is left after tokenisation",
            file=d.train,
            field="data.overlength",
            hint="the examples are longer than data.max_length; raise it or shorten them",
        )
    if dropped or eval_dropped:
        notes.append(f"dropped {len(dropped)} training and {len(eval_dropped)} held-out over-long examples")
    summary = {
        "train": str(d.train),
        "eval": str(d.eval) if d.eval else None,
        "format": d.format,
        "sha256": files_sha256([d.train, d.eval]),
        "train_examples": len(train_items),
        "eval_examples": len(eval_items),
        "dropped": len(dropped) + len(eval_dropped),
        "longest_tokens": max(t.n_tokens for t in train_items + eval_items),
        "max_length": max_length,
        "train_tokens": sum(t.n_tokens for t in train_items),
    }
    return TrainingData(train_items, eval_items, max_length, summary)


def total_steps(training: TrainingConfig, n_train: int) -> int:
    """Optimizer steps of a run: ``max_steps``, else ``epochs`` over ``n_train`` examples."""
    if training.max_steps is not None:
        return training.max_steps
    per_epoch = math.ceil(n_train / training.batch_size)
    return max(1, math.ceil((training.epochs or 1.0) * per_epoch / training.gradient_accumulation_steps))


def plan_request(config: TuneConfig, seq_len: int, device: str) -> PlanRequest:
    """The preflight request of ``config`` at ``seq_len`` tokens, as it will run on ``device``.

    Where bitsandbytes cannot run, the run falls back to 16-bit LoRA and torch AdamW (see
    :class:`~workbench.tuning.methods.QLoRAMethod` and :func:`~workbench.tuning.optimization.build_optimizer`),
    and so does the request.
    """
    from workbench.tuning._runtime import quantization_support

    m, t = config.method, config.training
    bits, optimizer = m.bits, t.optimizer
    if (bits < 16 or optimizer != "adamw") and not quantization_support(device)[0]:
        bits, optimizer = max(bits, 16), "adamw"
    targets = ("all-linear",) if m.target_modules == "all-linear" else tuple(m.target_modules)
    return PlanRequest(
        model=config.model,
        bits=bits,  # type: ignore[arg-type]
        rank=m.rank,
        targets=targets,
        seq_len=seq_len,
        batch_size=t.batch_size,
        optimizer=optimizer,
        gradient_checkpointing=t.gradient_checkpointing,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        compute_dtype=getattr(m, "compute_dtype", "float32") if m.bits < 16 else "float32",
        double_quant=getattr(m, "double_quant", True),
    )


def check_output_dir(output_dir: Path, config: TuneConfig, *, resume: bool, overwrite: bool) -> Path | None:
    """The checkpoint to resume from, after making sure an earlier run is not overwritten by accident.

    Raises:
        ConfigError: The folder holds a trained adapter or checkpoints that may not be resumed or overwritten.
    """
    latest = latest_checkpoint(output_dir)
    if overwrite:
        shutil.rmtree(output_dir / CHECKPOINTS, ignore_errors=True)
        shutil.rmtree(output_dir / "adapter", ignore_errors=True)
        return None
    if latest is None:
        if (output_dir / "adapter").exists():
            raise ConfigError(
                f"'{output_dir}' already holds a trained adapter",
                field="output_dir",
                hint="choose another name/output_dir, or pass --overwrite to start over",
            )
        return None
    saved = json.loads((latest / CONFIG_FILE).read_text(encoding="utf-8"))
    if not resume:
        raise ConfigError(
            f"'{output_dir}' holds checkpoints of an earlier run (newest: {latest.name})",
            field="output_dir",
            hint="resume it (drop --no-resume), pass --overwrite to start over, or choose another name",
        )
    if not checkpoint_compatible(saved, config):
        raise ConfigError(
            f"the checkpoint {latest} was made with a different model, method, data or training setup",
            field="output_dir",
            hint="use the same config to resume, another name/output_dir, or --overwrite to start over",
        )
    return latest


def checkpoint_compatible(saved: dict[str, Any], config: TuneConfig) -> bool:
    """Whether a checkpoint's config trains the same thing (everything but the run length may not change)."""
    current = config.to_dict()
    ignore = {
        "max_steps",
        "epochs",
        "eval_every",
        "save_every",
        "keep_checkpoints",
        "log_every",
        "num_threads",
    }
    for key in ("model", "method", "data"):
        if saved.get(key) != current.get(key):
            return False
    a = {k: v for k, v in (saved.get("training") or {}).items() if k not in ignore}
    b = {k: v for k, v in current["training"].items() if k not in ignore}
    return a == b
