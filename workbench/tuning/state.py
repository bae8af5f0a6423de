"""What a training run knows about itself: the saved trainer state and the volatile progress of one invocation.

:class:`TrainerState` is written into every checkpoint (``trainer_state.json``) and read back on resume, so a run
continues with the same step, data position, curves and early-stopping state. :class:`RunProgress` is what only
the running process knows (the newest checkpoint, whether the optimizer is mid-update, the memory meter): what
the failure and finish steps need.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench.tuning.memory import PeakMemoryMeter


@dataclass
class TrainerState:
    """The resumable state of a run (saved as ``trainer_state.json`` in each checkpoint).

    Attributes:
        run_id: Telemetry run id, kept across resumes.
        step: Completed optimizer steps.
        micro_batches: Micro-batches consumed (the data position, see :class:`~workbench.tuning.optimization.BatchOrder`).
        tokens: Non-padding tokens trained on.
        train_seconds: Time inside optimizer steps, over every invocation.
        train_losses: ``[{step, loss}]``.
        eval_losses: ``[{step, loss}]``.
        best_eval_loss: Lowest held-out loss so far.
        best_step: Step of ``best_eval_loss``.
        evals_without_improvement: Evaluations since the last improvement (early stopping).
        eval_before: Evaluation of the untouched model (``EvalResult.to_dict()``).
        started_at: ISO time the run first started.
        resumed_from: Steps at which the run was resumed.
    """

    run_id: str
    step: int = 0
    micro_batches: int = 0
    tokens: int = 0
    train_seconds: float = 0.0
    train_losses: list[dict[str, float]] = field(default_factory=list)
    eval_losses: list[dict[str, float]] = field(default_factory=list)
    best_eval_loss: float | None = None
    best_step: int | None = None
    evals_without_improvement: int = 0
    eval_before: dict[str, Any] | None = None
    started_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    resumed_from: list[int] = field(default_factory=list)

    @classmethod
    def from_saved(cls, saved: dict[str, Any]) -> TrainerState:
        """The state read from a checkpoint's ``trainer_state.json`` (unknown keys ignored), marked resumed."""
        state = cls(**{k: v for k, v in saved.items() if k in cls.__dataclass_fields__})
        state.resumed_from.append(state.step)
        return state

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what checkpoints store)."""
        return asdict(self)

    def record_eval(self, step: int, value: float | None, min_delta: float) -> None:
        """Add a held-out loss to the curve and update the early-stopping counters (``None`` is ignored)."""
        if value is None:
            return
        self.eval_losses.append({"step": step, "loss": round(value, 6)})
        if self.best_eval_loss is None or value < self.best_eval_loss - min_delta:
            self.best_eval_loss, self.best_step = value, step
            self.evals_without_improvement = 0
        else:
            self.evals_without_improvement += 1


@dataclass
class RunProgress:
    """The volatile side of one invocation of a run (never saved).

    Attributes:
        meter: Peak memory of this invocation.
        wall_start: ``time.perf_counter()`` when it started.
        last_checkpoint: The newest checkpoint on disk (the one resumed from, at first).
        in_update: Inside ``optimizer.step()``: the weights may be half-updated, so nothing is checkpointed.
        step_start_micro: Data position when the unfinished step began (its batches are trained again on
            resume); ``None`` between steps.
        step_times: Wall time of each step of this invocation (for the ETA).
        model_bytes: Bytes of the model's tensors once loaded with its adapter (the measured counterpart of
            the plan's weights + adapters).
    """

    meter: PeakMemoryMeter
    wall_start: float
    last_checkpoint: Path | None = None
    in_update: bool = False
    step_start_micro: int | None = None
    step_times: list[float] = field(default_factory=list)
    model_bytes: int | None = None
