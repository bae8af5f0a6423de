"""What a training run hands to your code: the stop request, per-step metrics, and the callback hooks.

The widget, the CLI progress bar and tests implement :class:`TrainingCallback`; :func:`workbench.tuning.train`
calls its hooks and hands it a :class:`RunInfo` at the start and a :class:`StepMetrics` after every step.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.tuning.config import TuneConfig
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

    def on_phase(self, phase: str) -> None:
        """A long stretch outside the step loop begins (loading the base, scoring it on held-out examples,
        saving the adapter, scoring the tuned model): ``phase`` says which, in words for people."""

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
