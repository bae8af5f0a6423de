"""The training loop: LoRA/QLoRA through peft + accelerate, with checkpoints, a stop, telemetry and a run card.

:func:`train` runs one :class:`~workbench.tuning.config.TuneConfig`:

1. reads and validates the data first (bad lines, empty files and over-long examples fail before any weight is
   loaded), and checks the target modules on the meta device;
2. estimates the peak memory (:mod:`workbench.tuning.plan`) and notes when it may not fit;
3. loads the base through its method (4/8-bit via bitsandbytes, or 16/32-bit), attaches the adapter;
4. evaluates the untouched model on the held-out examples (perplexity, generation scores);
5. trains: gradient accumulation, clipping, schedule, evaluation and early stopping, checkpoints every
   ``save_every`` steps; every step is a ``training_step`` telemetry event and a callback call;
6. saves the adapter (safetensors) and evaluates again; writes the run card and a ``training_run`` event.

A :class:`StopSignal` (the widget's stop button, or your code) ends the run after the current step with a
checkpoint and an adapter; Ctrl-C does the same and re-raises. Running out of memory (``torch.OutOfMemoryError``
or a CPU allocation failure) is caught: the last consistent state is checkpointed when possible, the run card is
marked ``failed`` and :class:`~workbench.errors.RunError` says how to resume with less memory. A run resumes from
its newest checkpoint when started again with the same config (``resume=True``, the default).
"""

from __future__ import annotations

import contextlib
import math
import random
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError, RunError, WorkbenchError
from workbench.tuning.config import CONFIG_FILE, TuneConfig, library_versions
from workbench.tuning.runcard import RunCard


class StopSignal:
    """A thread-safe request to stop training after the current step (the widget's stop button sets it)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason: str | None = None

    def request(self, reason: str = "stop requested") -> None:
        """Ask the run to stop; it checkpoints and saves the adapter first."""
        self.reason = reason
        self._event.set()

    @property
    def requested(self) -> bool:
        """Whether a stop was requested."""
        return self._event.is_set()

    def clear(self) -> None:
        """Forget a request (before reusing the signal for another run)."""
        self.reason = None
        self._event.clear()


@dataclass
class StepMetrics:
    """What one optimizer step did (sent to callbacks and telemetry).

    Attributes:
        step: Completed optimizer steps (1-based after the first step).
        total_steps: Steps the run will take.
        epoch: Fractional epochs done.
        loss: Mean training loss of the step's micro-batches.
        learning_rate: Learning rate used.
        grad_norm: Gradient norm before clipping (``None`` when clipping is off).
        tokens: Non-padding tokens processed in the step.
        step_time_s: Wall time of the step.
        tokens_per_s: ``tokens / step_time_s``.
        memory_bytes: Memory in use after the step (process RSS on CPU, allocated bytes on accelerators).
        eta_s: Estimated time to the last step.
        eval_loss: Held-out loss, on steps that evaluate.
    """

    step: int
    total_steps: int
    epoch: float
    loss: float
    learning_rate: float
    grad_norm: float | None
    tokens: int
    step_time_s: float
    tokens_per_s: float
    memory_bytes: int
    eta_s: float
    eval_loss: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass
class RunInfo:
    """Handed to callbacks at the start: what is about to run (``model`` is the peft model being trained)."""

    run_id: str
    config: TuneConfig
    output_dir: Path
    total_steps: int
    start_step: int
    device: str
    stop: StopSignal
    model: Any = field(default=None, repr=False)


class TrainingCallback:
    """Hooks into the loop; override what you need. Raising from a hook fails the run (tests inject faults so)."""

    def on_train_begin(self, info: RunInfo) -> None:
        """Before the first step (after evaluation of the base)."""

    def on_step_begin(self, step: int) -> None:
        """Before optimizer step ``step`` (1-based) starts."""

    def on_step_end(self, metrics: StepMetrics) -> None:
        """After every optimizer step."""

    def on_evaluate(self, step: int, eval_loss: float) -> None:
        """After each held-out evaluation."""

    def on_checkpoint(self, step: int, path: Path) -> None:
        """After a checkpoint is written."""

    def on_train_end(self, card: RunCard) -> None:
        """After the run card is written (any status)."""


@dataclass
class TrainingResult:
    """What :func:`train` returns.

    Attributes:
        card: The run card (also written to ``output_dir``).
        output_dir: The run folder.
        adapter_dir: The saved adapter (``None`` when the run failed before saving one).
        status: The card's status.
        model: The trained peft model, still in memory (for notebooks; not serialised).
        tokenizer: Its tokenizer.
    """

    card: RunCard
    output_dir: Path
    adapter_dir: Path | None
    status: str
    model: Any = field(default=None, repr=False)
    tokenizer: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the ``--json`` output of ``workbench tune run``)."""
        return {
            "status": self.status,
            "output_dir": str(self.output_dir),
            "adapter_dir": str(self.adapter_dir) if self.adapter_dir else None,
            "run_card": str(self.output_dir / "run_card.json"),
            "card": self.card.model_dump(mode="json"),
        }


@dataclass
class _State:
    run_id: str
    step: int = 0
    micro_batches: int = 0
    tokens: int = 0
    train_seconds: float = 0.0  # time inside optimizer steps, over every invocation
    train_losses: list[dict[str, float]] = field(default_factory=list)
    eval_losses: list[dict[str, float]] = field(default_factory=list)
    best_eval_loss: float | None = None
    best_step: int | None = None
    evals_without_improvement: int = 0
    eval_before: dict[str, Any] | None = None
    started_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    resumed_from: list[int] = field(default_factory=list)


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an out-of-memory failure (any device, CPU allocator included)."""
    import torch

    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text or "defaultcpuallocator" in text
    )


def _lr_lambda(config: TuneConfig, total: int) -> Any:
    t = config.training

    def factor(step: int) -> float:
        if t.warmup_steps and step < t.warmup_steps:
            return (step + 1) / t.warmup_steps
        if t.lr_scheduler == "constant":
            return 1.0
        progress = (step - t.warmup_steps) / max(1, total - t.warmup_steps)
        progress = min(max(progress, 0.0), 1.0)
        if t.lr_scheduler == "linear":
            return max(0.0, 1.0 - progress)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def _build_optimizer(name: str, params: list[Any], config: TuneConfig, device: str) -> tuple[Any, list[str]]:
    import torch

    t = config.training
    notes: list[str] = []
    if name in ("adamw8bit", "paged_adamw8bit"):
        from workbench.tuning._runtime import quantization_support, quiet_bitsandbytes

        ok, why = quantization_support(device)
        if ok:
            quiet_bitsandbytes()
            import bitsandbytes as bnb

            if name == "paged_adamw8bit" and device != "cpu":
                return bnb.optim.PagedAdamW8bit(
                    params, lr=t.learning_rate, weight_decay=t.weight_decay
                ), notes
            if name == "paged_adamw8bit":
                notes.append("paged optimizers page GPU memory to CPU RAM; on CPU adamw8bit is used instead")
            return bnb.optim.AdamW8bit(params, lr=t.learning_rate, weight_decay=t.weight_decay), notes
        notes.append(f"bitsandbytes optimizers cannot run on {device} ({why}); using torch AdamW")
    return torch.optim.AdamW(params, lr=t.learning_rate, weight_decay=t.weight_decay), notes


def _accelerator(device: str, mixed_precision: str) -> Any:
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState

    kwargs = {"cpu": device == "cpu", "mixed_precision": mixed_precision}
    try:
        return Accelerator(**kwargs)
    except ValueError:  # the process-wide state was set up with other settings by an earlier run
        AcceleratorState._reset_state(True)
        GradientState._reset_state()
        return Accelerator(**kwargs)


def _record(kind: str, notes: list[str], **kwargs: Any) -> None:
    """Emit telemetry; a telemetry failure is noted on the card, never allowed to stop training."""
    try:
        from workbench.telemetry import record

        record(kind, **kwargs)
    except Exception as exc:  # telemetry is evidence, not a dependency of the run
        message = f"telemetry unavailable: {type(exc).__name__}: {exc}"
        if message not in notes:
            notes.append(message)


class _BatchOrder:
    """Deterministic micro-batch order: a fresh seeded shuffle per epoch, addressable by position (resumable)."""

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.per_epoch = math.ceil(n / batch_size)
        self._cache: tuple[int, list[int]] | None = None

    def indices(self, position: int) -> list[int]:
        epoch, index = divmod(position, self.per_epoch)
        if self._cache is None or self._cache[0] != epoch:
            order = list(range(self.n))
            random.Random(self.seed * 1_000_003 + epoch).shuffle(order)
            self._cache = (epoch, order)
        order = self._cache[1]
        return order[index * self.batch_size : (index + 1) * self.batch_size]


def _compatible(saved: dict[str, Any], config: TuneConfig) -> bool:
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


class Tuner:
    """Runs one :class:`TuneConfig` (see the module docstring). Most callers use :func:`train`.

    Args:
        config: The run.
        callbacks: Hooks (the widget, the CLI progress bar, fault injection in tests).
        stop: A :class:`StopSignal` to end the run early; one is made when omitted.
        resume: Continue from the newest compatible checkpoint in the output folder.
        overwrite: Start over even when the output folder holds an earlier run (its checkpoints are removed).
    """

    def __init__(
        self,
        config: TuneConfig,
        *,
        callbacks: Sequence[TrainingCallback] = (),
        stop: StopSignal | None = None,
        resume: bool = True,
        overwrite: bool = False,
    ) -> None:
        self.config = config
        self.callbacks = list(callbacks)
        self.stop = stop or StopSignal()
        self.resume = resume
        self.overwrite = overwrite
        self.output_dir = config.resolved_output_dir()
        self.notes: list[str] = []

    # -- setup ---------------------------------------------------------------------------------------------

    def _device(self) -> tuple[str, str, str]:
        from workbench.tuning._runtime import device_summary, torch_device

        kind, name, _ = device_summary(self.config.device)
        return kind, name, torch_device(self.config.device)

    def _prepare_data(self, tokenizer: Any, context_length: int) -> dict[str, Any]:
        from workbench.tuning.data import files_sha256, load_examples, split_examples, tokenize_examples

        d = self.config.data
        train_examples = load_examples(d.train, format=d.format, system_prompt=d.system_prompt)
        if d.eval is not None:
            eval_examples = load_examples(d.eval, format=d.format, system_prompt=d.system_prompt)
        else:
            train_examples, eval_examples = split_examples(
                train_examples, d.eval_fraction, self.config.training.seed
            )
        max_length = min(d.max_length or context_length, context_length)
        kwargs: dict[str, Any] = {
            "max_length": max_length,
            "overlength": d.overlength,
            "train_on_prompt": d.train_on_prompt,
        }
        train_items, dropped = tokenize_examples(train_examples, tokenizer, **kwargs)
        eval_items, eval_dropped = tokenize_examples(eval_examples, tokenizer, **kwargs)
        if not train_items:
            raise WorkbenchError(
                "no training example is left after tokenisation",
                file=d.train,
                field="data.overlength",
                hint="the examples are longer than data.max_length; raise it or shorten them",
            )
        if dropped or eval_dropped:
            self.notes.append(
                f"dropped {len(dropped)} training and {len(eval_dropped)} held-out over-long examples"
            )
        return {
            "train": train_items,
            "eval": eval_items,
            "max_length": max_length,
            "summary": {
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
            },
        }

    def _total_steps(self, n_train: int) -> int:
        t = self.config.training
        if t.max_steps is not None:
            return t.max_steps
        per_epoch = math.ceil(n_train / t.batch_size)
        return max(1, math.ceil((t.epochs or 1.0) * per_epoch / t.gradient_accumulation_steps))

    def _plan(self, model_config: Any, seq_len: int, device: str) -> dict[str, Any]:
        from workbench.tuning._runtime import quantization_support
        from workbench.tuning.plan import PlanRequest, estimate_memory

        m, t = self.config.method, self.config.training
        bits, optimizer = m.bits, t.optimizer
        if (bits < 16 or optimizer != "adamw") and not quantization_support(device)[0]:
            # The run falls back to 16-bit LoRA and torch AdamW (see QLoRAMethod and _build_optimizer).
            bits, optimizer = max(bits, 16), "adamw"
        targets = ("all-linear",) if m.target_modules == "all-linear" else tuple(m.target_modules)
        request = PlanRequest(
            model=self.config.model,
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
        estimate = estimate_memory(request, config=model_config)
        return {"request": request.model_dump(mode="json"), **estimate.to_dict()}

    def _check_output_dir(self) -> Path | None:
        """The checkpoint to resume from, after making sure an earlier run is not overwritten by accident."""
        import json
        import shutil

        from workbench.tuning.checkpoint import CHECKPOINTS, latest_checkpoint

        latest = latest_checkpoint(self.output_dir)
        if self.overwrite:
            shutil.rmtree(self.output_dir / CHECKPOINTS, ignore_errors=True)
            shutil.rmtree(self.output_dir / "adapter", ignore_errors=True)
            return None
        if latest is None:
            if (self.output_dir / "adapter").exists():
                raise ConfigError(
                    f"'{self.output_dir}' already holds a trained adapter",
                    field="output_dir",
                    hint="choose another name/output_dir, or pass --overwrite to start over",
                )
            return None
        saved = json.loads((latest / "tune_config.json").read_text(encoding="utf-8"))
        if not self.resume:
            raise ConfigError(
                f"'{self.output_dir}' holds checkpoints of an earlier run (newest: {latest.name})",
                field="output_dir",
                hint="resume it (drop --no-resume), pass --overwrite to start over, or choose another name",
            )
        if not _compatible(saved, self.config):
            raise ConfigError(
                f"the checkpoint {latest} was made with a different model, method, data or training setup",
                field="output_dir",
                hint="use the same config to resume, another name/output_dir, or --overwrite to start over",
            )
        return latest

    # -- the run -------------------------------------------------------------------------------------------

    def run(self) -> TrainingResult:
        """Train; see the module docstring. Returns the result, raising only after the card is written."""
        import torch
        from transformers import AutoConfig, AutoTokenizer

        from workbench.tuning import checkpoint as ckpt
        from workbench.tuning._runtime import resolve_model_dir
        from workbench.tuning.evaluate import eval_loss, evaluate_model, probe_logits
        from workbench.tuning.memory import PeakMemoryMeter
        from workbench.tuning.methods import method_for
        from workbench.tuning.plan import _build_meta_model, check_targets

        config = self.config
        t = config.training
        resume_from = self._check_output_dir()
        model_dir = resolve_model_dir(config.model)
        model_config = AutoConfig.from_pretrained(str(model_dir))
        text_config = model_config.get_text_config()
        context_length = int(getattr(text_config, "max_position_embeddings", 2048) or 2048)
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        data = self._prepare_data(tokenizer, context_length)
        check_targets(_build_meta_model(model_config, "float32"), config.method.target_modules)
        seq_len = max(x.n_tokens for x in data["train"])
        kind, device_name, device = self._device()
        plan = self._plan(model_config, seq_len, device)

        state = _State(run_id=f"tune-{config.name}-{uuid.uuid4().hex[:8]}")
        if resume_from is not None:
            saved = ckpt.read_trainer_state(resume_from)
            state = _State(**{k: v for k, v in saved.items() if k in _State.__dataclass_fields__})
            state.resumed_from.append(state.step)

        self.output_dir.mkdir(parents=True, exist_ok=True)
        config.save(self.output_dir / CONFIG_FILE)
        card = RunCard(
            run_id=state.run_id,
            name=config.name,
            config=config.to_dict(),
            model={
                "name": config.model,
                "path": str(model_dir),
                "context_length": context_length,
                "parameters": plan["details"]["parameters"],
            },
            method={**config.method.model_dump(mode="json"), "bits": config.method.bits},
            dataset=data["summary"],
            device={"kind": kind, "name": device_name, "torch_device": device},
            plan=plan,
            versions=library_versions(),
            notes=self.notes,
        )
        meter = PeakMemoryMeter(device).start()
        wall_start = time.perf_counter()
        total_steps = self._total_steps(len(data["train"]))
        model: Any = None
        optimizer: Any = None
        in_update = False
        step_start_micro: int | None = None  # data position when the unfinished step began
        last_ckpt: Path | None = resume_from
        pad_id = tokenizer.pad_token_id

        def save(step: int) -> Path:
            nonlocal last_ckpt
            path = ckpt.save_checkpoint(
                self.output_dir,
                step,
                model=model,
                optimizer=optimizer,
                trainer_state=asdict(state),
                config_json=config.to_dict(),
                keep=t.keep_checkpoints,
            )
            last_ckpt = path
            for cb in self.callbacks:
                cb.on_checkpoint(step, path)
            return path

        try:
            method = method_for(config.method)
            prepared = method.build(model_dir, device, t)
            model = prepared.model
            self.notes.extend(prepared.notes)
            card.quantization = prepared.quantization
            card.method["bits"] = prepared.bits
            card.method["adapted_modules"] = len(prepared.target_modules)
            if resume_from is not None:
                ckpt.load_adapter_weights(model, resume_from)
            params = [p for p in model.parameters() if p.requires_grad]
            trainable = sum(p.numel() for p in params)
            optimizer, opt_notes = _build_optimizer(t.optimizer, params, config, device)
            self.notes.extend(opt_notes)
            scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config, total_steps))
            if resume_from is not None:
                # The saved param groups carry the learning rate of the next step already.
                ckpt.load_optimizer(optimizer, resume_from, device=str(device))
                ckpt.load_rng(resume_from)
                scheduler.last_epoch = state.step
            accelerator = _accelerator(kind, t.mixed_precision)
            optimizer = accelerator.prepare_optimizer(optimizer)

            ev = config.evaluation
            eval_kwargs: dict[str, Any] = {
                "scorer": ev.scorer,
                "max_examples": ev.max_examples,
                "max_new_tokens": ev.max_new_tokens,
                "batch_size": t.batch_size,
                "rubric": ev.rubric,
            }
            if ev.enabled and data["eval"] and state.eval_before is None:
                state.eval_before = evaluate_model(model, tokenizer, data["eval"], **eval_kwargs).to_dict()
            info = RunInfo(
                state.run_id, config, self.output_dir, total_steps, state.step, device, self.stop, model
            )
            for cb in self.callbacks:
                cb.on_train_begin(info)

            order = _BatchOrder(len(data["train"]), t.batch_size, t.seed)
            status = "completed"
            model.train()
            step_times: list[float] = []
            while state.step < total_steps:
                if self.stop.requested:
                    status = "stopped"
                    break
                step_no = state.step + 1
                step_start_micro = state.micro_batches
                for cb in self.callbacks:
                    cb.on_step_begin(step_no)
                started = time.perf_counter()
                losses, tokens = [], 0
                for _ in range(t.gradient_accumulation_steps):
                    batch_items = [data["train"][i] for i in order.indices(state.micro_batches)]
                    state.micro_batches += 1
                    batch = {k: v.to(device) for k, v in _collate(batch_items, pad_id).items()}
                    with accelerator.autocast():
                        loss = model(**batch).loss
                    accelerator.backward(loss / t.gradient_accumulation_steps)
                    losses.append(float(loss.detach()))
                    tokens += int(batch["attention_mask"].sum())
                grad_norm = None
                if t.max_grad_norm > 0:
                    grad_norm = float(accelerator.clip_grad_norm_(params, t.max_grad_norm))
                in_update = True
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                in_update = False
                state.step = step_no
                state.tokens += tokens
                state.train_seconds += time.perf_counter() - started
                step_start_micro = None
                elapsed = time.perf_counter() - started
                step_times.append(elapsed)
                mean_loss = sum(losses) / len(losses)
                state.train_losses.append({"step": step_no, "loss": round(mean_loss, 6)})
                recent = step_times[-10:]
                metrics = StepMetrics(
                    step=step_no,
                    total_steps=total_steps,
                    epoch=round(state.micro_batches / order.per_epoch, 4),
                    loss=mean_loss,
                    learning_rate=float(optimizer.param_groups[0]["lr"]),
                    grad_norm=grad_norm,
                    tokens=tokens,
                    step_time_s=elapsed,
                    tokens_per_s=tokens / elapsed if elapsed > 0 else 0.0,
                    memory_bytes=meter.current(),
                    eta_s=(total_steps - step_no) * sum(recent) / len(recent),
                )
                evaluate_now = t.eval_every and step_no % t.eval_every == 0 and step_no < total_steps
                if evaluate_now and data["eval"]:
                    metrics.eval_loss = eval_loss(model, data["eval"], pad_id=pad_id, batch_size=t.batch_size)
                    self._after_eval(state, step_no, metrics.eval_loss)
                if step_no % t.log_every == 0 or step_no == total_steps:
                    _record(
                        "training_step",
                        self.notes,
                        run_id=state.run_id,
                        duration_s=elapsed,
                        attributes={"run": config.name, **metrics.to_dict()},
                    )
                for cb in self.callbacks:
                    cb.on_step_end(metrics)
                    if metrics.eval_loss is not None:
                        cb.on_evaluate(step_no, metrics.eval_loss)
                patience = t.early_stopping_patience
                if patience is not None and state.evals_without_improvement >= patience:
                    status = "early_stopped"
                    self.notes.append(
                        f"early stopping at step {step_no}: no held-out improvement in {patience} evaluations "
                        f"(best {state.best_eval_loss:.4f} at step {state.best_step})"
                    )
                    break
                if t.save_every and step_no % t.save_every == 0 and step_no < total_steps:
                    save(step_no)
            if status == "stopped":
                self.notes.append(f"stopped at step {state.step}: {self.stop.reason}")
            if data["eval"] and state.step > 0 and (ev.enabled or t.eval_every):
                final_eval = eval_loss(model, data["eval"], pad_id=pad_id, batch_size=t.batch_size)
                if final_eval is not None and (
                    not state.eval_losses or state.eval_losses[-1]["step"] != state.step
                ):
                    self._after_eval(state, state.step, final_eval)
            if last_ckpt is None or last_ckpt.name != ckpt.checkpoint_name(state.step):
                save(state.step)
            adapter_dir = self.output_dir / "adapter"
            files = ckpt.save_adapter(model, adapter_dir)
            config.save(adapter_dir / CONFIG_FILE)
            if ev.enabled and data["eval"]:
                after = evaluate_model(model, tokenizer, data["eval"], **eval_kwargs).to_dict()
                card.evaluation = _evaluation(state.eval_before, after)
            card.adapter = {
                "dir": str(adapter_dir),
                "files": files,
                "sha256": _sha256(adapter_dir / ckpt.ADAPTER_WEIGHTS),
                "trainable_parameters": trainable,
                "probe": probe_logits(model, tokenizer),
            }
            card.status = status  # type: ignore[assignment]
        except KeyboardInterrupt:
            if step_start_micro is not None:  # the unfinished step's batches are trained again on resume
                state.micro_batches = step_start_micro
            self._fail(card, state, "interrupted", None, model, optimizer, in_update, save, last_ckpt)
            self._finish(card, state, meter, wall_start, last_ckpt)
            raise
        except Exception as exc:
            oom = is_out_of_memory(exc)
            if not oom and isinstance(exc, WorkbenchError):
                raise  # a user error (bad adapter/targets...) before training started: nothing to keep
            if step_start_micro is not None:
                state.micro_batches = step_start_micro
            last_ckpt = self._fail(card, state, "failed", exc, model, optimizer, in_update, save, last_ckpt)
            self._finish(card, state, meter, wall_start, last_ckpt)
            if oom:
                detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise RunError(
                    f"out of memory at step {state.step + 1}: {detail}",
                    file=self.output_dir / "run_card.json",
                    hint=_oom_hint(plan, last_ckpt),
                ) from exc
            raise
        self._finish(card, state, meter, wall_start, last_ckpt)
        model.eval()
        return TrainingResult(
            card, self.output_dir, self.output_dir / "adapter", card.status, model, tokenizer
        )

    def _after_eval(self, state: _State, step: int, value: float | None) -> None:
        if value is None:
            return
        state.eval_losses.append({"step": step, "loss": round(value, 6)})
        min_delta = self.config.training.early_stopping_min_delta
        if state.best_eval_loss is None or value < state.best_eval_loss - min_delta:
            state.best_eval_loss, state.best_step = value, step
            state.evals_without_improvement = 0
        else:
            state.evals_without_improvement += 1

    def _fail(
        self,
        card: RunCard,
        state: _State,
        status: str,
        exc: BaseException | None,
        model: Any,
        optimizer: Any,
        in_update: bool,
        save: Any,
        last_ckpt: Path | None,
    ) -> Path | None:
        """Record the failure; checkpoint the last completed step when the state is consistent."""
        import gc

        card.status = status  # type: ignore[assignment]
        if exc is not None:
            card.error = {"type": type(exc).__name__, "message": str(exc)[:500], "step": state.step + 1}
        if optimizer is not None:
            with contextlib.suppress(Exception):  # best effort while failing
                optimizer.zero_grad(set_to_none=True)
        gc.collect()
        _empty_cache()
        already = last_ckpt is not None and last_ckpt.name.endswith(f"{state.step:07d}")
        if model is not None and optimizer is not None and not in_update and state.step > 0 and not already:
            try:
                last_ckpt = save(state.step)
                self.notes.append(f"saved the last completed step ({state.step}) as a checkpoint")
            except Exception as save_exc:  # keep the older checkpoint rather than fail twice
                self.notes.append(f"could not checkpoint step {state.step}: {save_exc}")
        elif in_update:
            self.notes.append("failed inside the optimizer update: kept the previous checkpoint only")
        if card.error is not None and exc is not None and is_out_of_memory(exc):
            card.error["hint"] = _oom_hint(card.plan, last_ckpt)
        return last_ckpt

    def _finish(
        self, card: RunCard, state: _State, meter: Any, wall_start: float, last_ckpt: Path | None
    ) -> None:
        from workbench.tuning.checkpoint import list_checkpoints

        duration = time.perf_counter() - wall_start
        train_time = state.train_seconds
        card.loss_curve = state.train_losses
        card.eval_curve = state.eval_losses
        card.memory = {**meter.to_dict(), "peak_delta_bytes": meter.peak - meter.baseline}
        steps_done = state.step
        card.timing = {
            "started_at": state.started_at,
            "finished_at": datetime.now(timezone.utc).isoformat(),
            "duration_s": round(duration, 3),
            "train_time_s": round(train_time, 3),
            "steps": steps_done,
            "tokens": state.tokens,
            "steps_per_s": round(steps_done / train_time, 4) if train_time > 0 else None,
            "tokens_per_s": round(state.tokens / train_time, 2) if train_time > 0 else None,
            "resumed_from_steps": state.resumed_from,
        }
        kept = list_checkpoints(self.output_dir)
        card.checkpoints = {"last": str(last_ckpt) if last_ckpt else None, "kept": [str(p) for p in kept]}
        if state.eval_losses and state.best_step is not None:
            card.checkpoints["best_eval_step"] = state.best_step
        card.notes = self.notes
        card.write(self.output_dir)
        if card.adapter.get("dir"):
            card.write(Path(card.adapter["dir"]))
        evaluation = card.evaluation or {}
        _record(
            "training_run",
            self.notes,
            run_id=state.run_id,
            duration_s=duration,
            status=card.status,
            attributes={
                "run": card.name,
                "model": card.model.get("name"),
                "method": card.method.get("type"),
                "bits": card.method.get("bits"),
                "rank": card.method.get("rank"),
                "steps": steps_done,
                "tokens": state.tokens,
                "final_loss": state.train_losses[-1]["loss"] if state.train_losses else None,
                "peak_memory_bytes": card.memory.get("peak_bytes"),
                "estimated_memory_bytes": card.plan.get("bytes", {}).get("total"),
                "dataset_sha256": card.dataset.get("sha256"),
                "device": card.device.get("kind"),
                "perplexity_before": (evaluation.get("before") or {}).get("perplexity"),
                "perplexity_after": (evaluation.get("after") or {}).get("perplexity"),
                "scores_before": (evaluation.get("before") or {}).get("scores"),
                "scores_after": (evaluation.get("after") or {}).get("scores"),
                "output_dir": str(self.output_dir),
                "error_type": (card.error or {}).get("type"),
            },
        )
        try:
            from workbench.telemetry import get_recorder

            get_recorder().flush()
        except Exception:  # see _record
            pass
        for cb in self.callbacks:
            try:
                cb.on_train_end(card)
            except Exception as exc:  # a display callback must not hide the run's own outcome
                self.notes.append(f"callback {type(cb).__name__} failed at the end: {exc}")


def _collate(items: list[Any], pad_id: int) -> dict[str, Any]:
    from workbench.tuning.data import collate

    return collate(items, pad_id)


def _empty_cache() -> None:
    import torch

    for name in ("cuda", "xpu", "npu", "mps"):
        accel = getattr(torch, name, None)
        try:
            if accel is not None and accel.is_available():
                accel.empty_cache()
        except Exception:  # pragma: no cover - best effort
            pass


def _sha256(path: Path) -> str | None:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _evaluation(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    if before:
        if before.get("perplexity") is not None and after.get("perplexity") is not None:
            delta["perplexity"] = round(after["perplexity"] - before["perplexity"], 5)
        for key, value in (after.get("scores") or {}).items():
            old = (before.get("scores") or {}).get(key)
            if old is not None and value is not None:
                delta[key] = round(value - old, 5)
    return {"before": before, "after": after, "delta": delta}


def _oom_hint(plan: dict[str, Any], last_ckpt: Path | None) -> str:
    where = f"the last checkpoint ({last_ckpt}) is kept; " if last_ckpt else ""
    return (
        f"{where}run 'workbench tune plan' for a configuration that fits (gradient checkpointing, an 8-bit "
        "optimizer, 4-bit QLoRA or a smaller batch), change the config's training section and run the same "
        "command again to resume"
    )


def train(
    config: TuneConfig | str | Path,
    *,
    callbacks: Sequence[TrainingCallback] = (),
    stop: StopSignal | None = None,
    resume: bool = True,
    overwrite: bool = False,
) -> TrainingResult:
    """Run a fine-tuning config (a :class:`TuneConfig` or a path to a YAML/JSON config).

    Raises:
        ConfigError: Bad config, unknown target modules, or an output folder holding another run.
        ValidationError: Bad dataset lines (all listed by number) or an empty dataset.
        ContextLengthError: Examples longer than the model's context (with ``overlength: error``).
        RunError: Out of memory mid-run (the run card is marked failed; the last checkpoint is kept).
    """
    if not isinstance(config, TuneConfig):
        from workbench.tuning.config import load_config

        config = load_config(config)
    from workbench.tuning._runtime import quiet_bitsandbytes

    quiet_bitsandbytes()
    tuner = Tuner(config, callbacks=callbacks, stop=stop, resume=resume, overwrite=overwrite)
    threads = config.training.num_threads
    if threads is None:
        return tuner.run()
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return tuner.run()
    finally:
        torch.set_num_threads(before)
