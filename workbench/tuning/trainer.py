"""The training loop: LoRA/QLoRA through peft + accelerate, with checkpoints, a stop, telemetry and a run card.

:func:`train` runs one :class:`~workbench.tuning.config.TuneConfig` through :class:`Tuner`'s named steps:

1. **prepare** (:func:`~workbench.tuning.preparation.prepare_run`): reads and validates the data first (bad
   lines, empty files and over-long examples fail before any weight is loaded), checks the target modules on
   the meta device, estimates the peak memory (:mod:`workbench.tuning.plan`) and starts the run card;
2. **build**: loads the base through its method (4/8-bit via bitsandbytes, or 16/32-bit), attaches the adapter,
   builds the optimizer, schedule and accelerator (:mod:`workbench.tuning.optimization`);
3. **begin**: evaluates the untouched model on the held-out examples (perplexity, generation scores);
4. **the step loop**: gradient accumulation, clipping, schedule, evaluation and early stopping, checkpoints
   every ``save_every`` steps; every step is a ``training_step`` telemetry event and a callback call;
5. **complete**: saves the adapter (safetensors) and evaluates again;
6. **finish** (:func:`~workbench.tuning.finish.finish_run`, whatever the outcome): writes the run card and a
   ``training_run`` event.

The steps pass small dataclasses: :class:`~workbench.tuning.preparation.RunSetup` (what preparation found),
:class:`TrainingParts` (the model and what updates it), :class:`~workbench.tuning.state.TrainerState` (saved in
every checkpoint) and :class:`~workbench.tuning.state.RunProgress` (what only this process knows).

A :class:`StopSignal` (the widget's stop button, or your code) ends the run after the current step with a
checkpoint and an adapter; Ctrl-C does the same and re-raises. Running out of memory (``torch.OutOfMemoryError``
or a CPU allocation failure) is caught: the last consistent state is checkpointed when possible, the run card is
marked ``failed`` and :class:`~workbench.errors.RunError` says how to resume with less memory. A run resumes from
its newest checkpoint when started again with the same config (``resume=True``, the default).
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import RunError, WorkbenchError
from workbench.tuning.callbacks import RunInfo, StepMetrics, StopSignal, TrainingCallback
from workbench.tuning.checkpoint import (
    ADAPTER_WEIGHTS,
    checkpoint_name,
    load_adapter_weights,
    load_optimizer,
    load_rng,
    save_adapter,
    save_checkpoint,
)
from workbench.tuning.config import CONFIG_FILE, TuneConfig, load_config
from workbench.tuning.data import collate
from workbench.tuning.evaluate import EvalResult, eval_loss, evaluate_model, probe_logits
from workbench.tuning.finish import evaluation_delta, file_sha256, finish_run, record_event
from workbench.tuning.memory import (
    PeakMemoryMeter,
    empty_accelerator_caches,
    is_out_of_memory,
    model_tensor_bytes,
)
from workbench.tuning.methods import method_for
from workbench.tuning.optimization import BatchOrder, build_optimizer, lr_lambda, make_accelerator
from workbench.tuning.preparation import RunSetup, prepare_run
from workbench.tuning.runcard import RunCard, RunStatus
from workbench.tuning.state import RunProgress

# The callback types lived here first; ``workbench.tuning.trainer`` keeps offering them to the CLI and widget.
__all__ = [
    "RunInfo",
    "StepMetrics",
    "StopSignal",
    "TrainingCallback",
    "TrainingParts",
    "TrainingResult",
    "Tuner",
    "is_out_of_memory",
    "train",
]


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
class TrainingParts:
    """The trainable model and what updates it (the build step's result).

    Attributes:
        model: The peft model being trained.
        optimizer: Its optimizer (prepared by accelerate).
        scheduler: The learning-rate schedule.
        accelerator: The ``accelerate.Accelerator`` (autocast, backward, clipping).
        params: The trainable parameters.
        trainable: How many trainable parameters.
    """

    model: Any
    optimizer: Any
    scheduler: Any
    accelerator: Any
    params: list[Any]
    trainable: int


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

    def run(self) -> TrainingResult:
        """Train; see the module docstring. Returns the result, raising only after the card is written."""
        setup = prepare_run(
            self.config, self.output_dir, resume=self.resume, overwrite=self.overwrite, notes=self.notes
        )
        meter = PeakMemoryMeter(setup.device.torch_device).start()
        progress = RunProgress(meter, time.perf_counter(), last_checkpoint=setup.resume_from)
        parts: TrainingParts | None = None
        try:
            self._phase(f"loading {self.config.model} ({self.config.method.type})")
            parts = self._build(setup)
            progress.model_bytes = model_tensor_bytes(parts.model)
            self._begin(setup, parts)
            status = self._train_steps(setup, parts, progress)
            self._complete(setup, parts, progress, status)
        except KeyboardInterrupt:
            self._fail(setup, parts, progress, "interrupted", None)
            self._finish(setup, progress)
            raise
        except Exception as exc:
            oom = is_out_of_memory(exc)
            if not oom and isinstance(exc, WorkbenchError):
                raise  # a user error (bad adapter/targets...) before training started: nothing to keep
            self._fail(setup, parts, progress, "failed", exc)
            self._finish(setup, progress)
            if oom:
                detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise RunError(
                    f"out of memory at step {setup.state.step + 1}: {detail}",
                    file=self.output_dir / "run_card.json",
                    hint=_oom_hint(progress.last_checkpoint),
                ) from exc
            raise
        else:
            self._finish(setup, progress)
            parts.model.eval()
            card = setup.card
            return TrainingResult(
                card,
                self.output_dir,
                self.output_dir / "adapter",
                card.status,
                parts.model,
                setup.base.tokenizer,
            )

    # -- build and begin -----------------------------------------------------------------------------------

    def _phase(self, phase: str) -> None:
        """Tell the callbacks that a long stretch outside the step loop begins."""
        for cb in self.callbacks:
            hook = getattr(cb, "on_phase", None)  # callbacks written before the hook existed lack it
            if hook is not None:
                hook(phase)

    def _build(self, setup: RunSetup) -> TrainingParts:
        """Load the base through its method with the adapter attached; the optimizer, schedule and accelerator."""
        import torch

        t, card, device = self.config.training, setup.card, setup.device.torch_device
        prepared = method_for(self.config.method).build(setup.base.model_dir, device, t)
        model = prepared.model
        self.notes.extend(prepared.notes)
        card.quantization = prepared.quantization
        card.method["bits"] = prepared.bits
        card.method["adapted_modules"] = len(prepared.target_modules)
        if setup.resume_from is not None:
            load_adapter_weights(model, setup.resume_from)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer, opt_notes = build_optimizer(t.optimizer, params, t, device)
        self.notes.extend(opt_notes)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(t, setup.total_steps))
        if setup.resume_from is not None:
            # The saved param groups carry the learning rate of the next step already.
            load_optimizer(optimizer, setup.resume_from, device=str(device))
            load_rng(setup.resume_from)
            scheduler.last_epoch = setup.state.step
        accelerator = make_accelerator(setup.device.kind, t.mixed_precision)
        optimizer = accelerator.prepare_optimizer(optimizer)
        return TrainingParts(model, optimizer, scheduler, accelerator, params, sum(p.numel() for p in params))

    def _evaluate(self, setup: RunSetup, model: Any) -> EvalResult:
        """The held-out evaluation the config asks for (perplexity, generation and rubric scores)."""
        ev = self.config.evaluation
        return evaluate_model(
            model,
            setup.base.tokenizer,
            setup.data.eval,
            scorer=ev.scorer,
            max_examples=ev.max_examples,
            max_new_tokens=ev.max_new_tokens,
            batch_size=self.config.training.batch_size,
            rubric=ev.rubric,
        )

    def _begin(self, setup: RunSetup, parts: TrainingParts) -> None:
        """Evaluate the untouched model (once per run, not again on resume), then ``on_train_begin``."""
        state = setup.state
        if self.config.evaluation.enabled and setup.data.eval and state.eval_before is None:
            self._phase("scoring the base model on the held-out examples")
            state.eval_before = self._evaluate(setup, parts.model).to_dict()
        info = RunInfo(
            state.run_id,
            self.config,
            self.output_dir,
            setup.total_steps,
            state.step,
            setup.device.torch_device,
            self.stop,
            parts.model,
        )
        for cb in self.callbacks:
            cb.on_train_begin(info)

    # -- the step loop -------------------------------------------------------------------------------------

    def _train_steps(self, setup: RunSetup, parts: TrainingParts, progress: RunProgress) -> RunStatus:
        """Step until the last step, a stop request or early stopping; returns which ended the loop."""
        t = self.config.training
        order = BatchOrder(len(setup.data.train), t.batch_size, t.seed)
        parts.model.train()
        while setup.state.step < setup.total_steps:
            if self.stop.requested:
                return "stopped"
            metrics = self._step(setup, parts, progress, order)
            if self._after_step(setup, parts, progress, metrics):
                return "early_stopped"
        return "completed"

    def _step(
        self, setup: RunSetup, parts: TrainingParts, progress: RunProgress, order: BatchOrder
    ) -> StepMetrics:
        """One optimizer step over ``gradient_accumulation_steps`` micro-batches."""
        t, state = self.config.training, setup.state
        step_no = state.step + 1
        progress.step_start_micro = state.micro_batches
        for cb in self.callbacks:
            cb.on_step_begin(step_no)
        started = time.perf_counter()
        losses, tokens = self._accumulate(setup, parts, order)
        grad_norm = None
        if t.max_grad_norm > 0:
            grad_norm = float(parts.accelerator.clip_grad_norm_(parts.params, t.max_grad_norm))
        progress.in_update = True
        parts.optimizer.step()
        parts.scheduler.step()
        parts.optimizer.zero_grad(set_to_none=True)
        progress.in_update = False
        state.step = step_no
        state.tokens += tokens
        state.train_seconds += time.perf_counter() - started
        progress.step_start_micro = None
        elapsed = time.perf_counter() - started
        progress.step_times.append(elapsed)
        mean_loss = sum(losses) / len(losses)
        state.train_losses.append({"step": step_no, "loss": round(mean_loss, 6)})
        recent = progress.step_times[-10:]
        return StepMetrics(
            step=step_no,
            total_steps=setup.total_steps,
            epoch=round(state.micro_batches / order.per_epoch, 4),
            loss=mean_loss,
            learning_rate=float(parts.optimizer.param_groups[0]["lr"]),
            grad_norm=grad_norm,
            tokens=tokens,
            step_time_s=elapsed,
            tokens_per_s=tokens / elapsed if elapsed > 0 else 0.0,
            memory_bytes=progress.meter.current(),
            eta_s=(setup.total_steps - step_no) * sum(recent) / len(recent),
        )

    def _accumulate(
        self, setup: RunSetup, parts: TrainingParts, order: BatchOrder
    ) -> tuple[list[float], int]:
        """Forward and backward passes of one step's micro-batches; returns their losses and token count."""
        t, state = self.config.training, setup.state
        pad_id = setup.base.tokenizer.pad_token_id
        losses: list[float] = []
        tokens = 0
        for _ in range(t.gradient_accumulation_steps):
            items = [setup.data.train[i] for i in order.indices(state.micro_batches)]
            state.micro_batches += 1
            batch = {k: v.to(setup.device.torch_device) for k, v in collate(items, pad_id).items()}
            with parts.accelerator.autocast():
                loss = parts.model(**batch).loss
            parts.accelerator.backward(loss / t.gradient_accumulation_steps)
            losses.append(float(loss.detach()))
            tokens += int(batch["attention_mask"].sum())
        return losses, tokens

    def _after_step(
        self, setup: RunSetup, parts: TrainingParts, progress: RunProgress, metrics: StepMetrics
    ) -> bool:
        """Evaluate, log, call back and checkpoint after a step; ``True`` when early stopping ends the run."""
        t, state, step_no = self.config.training, setup.state, metrics.step
        evaluate_now = t.eval_every and step_no % t.eval_every == 0 and step_no < setup.total_steps
        if evaluate_now and setup.data.eval:
            pad_id = setup.base.tokenizer.pad_token_id
            metrics.eval_loss = eval_loss(
                parts.model, setup.data.eval, pad_id=pad_id, batch_size=t.batch_size
            )
            state.record_eval(step_no, metrics.eval_loss, t.early_stopping_min_delta)
        if step_no % t.log_every == 0 or step_no == setup.total_steps:
            record_event(
                "training_step",
                self.notes,
                run_id=state.run_id,
                duration_s=metrics.step_time_s,
                attributes={"run": self.config.name, **metrics.to_dict()},
            )
        for cb in self.callbacks:
            cb.on_step_end(metrics)
            if metrics.eval_loss is not None:
                cb.on_evaluate(step_no, metrics.eval_loss)
        patience = t.early_stopping_patience
        if patience is not None and state.evals_without_improvement >= patience:
            self.notes.append(
                f"early stopping at step {step_no}: no held-out improvement in {patience} evaluations "
                f"(best {state.best_eval_loss:.4f} at step {state.best_step})"
            )
            return True
        if t.save_every and step_no % t.save_every == 0 and step_no < setup.total_steps:
            self._save(setup, parts, progress, step_no)
        return False

    def _save(self, setup: RunSetup, parts: TrainingParts, progress: RunProgress, step: int) -> Path:
        """Write a checkpoint of ``step`` and tell the callbacks."""
        path = save_checkpoint(
            self.output_dir,
            step,
            model=parts.model,
            optimizer=parts.optimizer,
            trainer_state=setup.state.to_dict(),
            config_json=self.config.to_dict(),
            keep=self.config.training.keep_checkpoints,
        )
        progress.last_checkpoint = path
        for cb in self.callbacks:
            cb.on_checkpoint(step, path)
        return path

    # -- the end -------------------------------------------------------------------------------------------

    def _complete(
        self, setup: RunSetup, parts: TrainingParts, progress: RunProgress, status: RunStatus
    ) -> None:
        """After the loop: the final evaluation and checkpoint, the adapter, and its record on the card."""
        t, ev, state, card = self.config.training, self.config.evaluation, setup.state, setup.card
        if status == "stopped":
            self.notes.append(f"stopped at step {state.step}: {self.stop.reason}")
        if setup.data.eval and state.step > 0 and (ev.enabled or t.eval_every):
            pad_id = setup.base.tokenizer.pad_token_id
            final_eval = eval_loss(parts.model, setup.data.eval, pad_id=pad_id, batch_size=t.batch_size)
            if final_eval is not None and (
                not state.eval_losses or state.eval_losses[-1]["step"] != state.step
            ):
                state.record_eval(state.step, final_eval, t.early_stopping_min_delta)
        last = progress.last_checkpoint
        if last is None or last.name != checkpoint_name(state.step):
            self._save(setup, parts, progress, state.step)
        adapter_dir = self.output_dir / "adapter"
        self._phase("saving the adapter")
        files = save_adapter(parts.model, adapter_dir)
        self.config.save(adapter_dir / CONFIG_FILE)
        if ev.enabled and setup.data.eval:
            self._phase("scoring the tuned model on the held-out examples")
            after = self._evaluate(setup, parts.model).to_dict()
            card.evaluation = evaluation_delta(state.eval_before, after)
        card.adapter = {
            "dir": str(adapter_dir),
            "files": files,
            "sha256": file_sha256(adapter_dir / ADAPTER_WEIGHTS),
            "trainable_parameters": parts.trainable,
            "probe": probe_logits(parts.model, setup.base.tokenizer),
        }
        card.status = status

    def _fail(
        self,
        setup: RunSetup,
        parts: TrainingParts | None,
        progress: RunProgress,
        status: RunStatus,
        exc: BaseException | None,
    ) -> None:
        """Record the failure; checkpoint the last completed step when the state is consistent."""
        card, state = setup.card, setup.state
        if progress.step_start_micro is not None:  # the unfinished step's batches are trained again on resume
            state.micro_batches = progress.step_start_micro
        card.status = status
        if exc is not None:
            card.error = {"type": type(exc).__name__, "message": str(exc)[:500], "step": state.step + 1}
        if parts is not None:
            with contextlib.suppress(Exception):  # best effort while failing
                parts.optimizer.zero_grad(set_to_none=True)
        gc.collect()
        empty_accelerator_caches()
        last = progress.last_checkpoint
        already = last is not None and last.name.endswith(f"{state.step:07d}")
        if parts is not None and not progress.in_update and state.step > 0 and not already:
            try:
                self._save(setup, parts, progress, state.step)
                self.notes.append(f"saved the last completed step ({state.step}) as a checkpoint")
            except Exception as save_exc:  # keep the older checkpoint rather than fail twice
                self.notes.append(f"could not checkpoint step {state.step}: {save_exc}")
        elif progress.in_update:
            self.notes.append("failed inside the optimizer update: kept the previous checkpoint only")
        if card.error is not None and exc is not None and is_out_of_memory(exc):
            card.error["hint"] = _oom_hint(progress.last_checkpoint)

    def _finish(self, setup: RunSetup, progress: RunProgress) -> None:
        """Write the card and the ``training_run`` event, whatever the outcome (see :func:`finish_run`)."""
        finish_run(
            setup.card,
            setup.state,
            progress,
            output_dir=self.output_dir,
            notes=self.notes,
            callbacks=self.callbacks,
        )


def _oom_hint(last_ckpt: Path | None) -> str:
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
        config = load_config(config)
    from workbench.tuning._runtime import quiet_bitsandbytes, quiet_libraries

    quiet_bitsandbytes()
    tuner = Tuner(config, callbacks=callbacks, stop=stop, resume=resume, overwrite=overwrite)
    threads = config.training.num_threads
    with quiet_libraries():  # library warnings, log lines and bars go to the log, not the notebook
        if threads is None:
            return tuner.run()
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return tuner.run()
        finally:
            torch.set_num_threads(before)
