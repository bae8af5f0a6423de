"""The live fine-tuning widget (anywidget): loss curves, throughput, memory, ETA and a stop button.

A thin view over :func:`workbench.tuning.train`. The widget is a
:class:`~workbench.tuning.TrainingCallback`: the training loop pushes each step's metrics into synced traits,
and the view draws them. The stop button sends ``{"action": "stop"}``; the widget turns it into a
:class:`~workbench.tuning.StopSignal` request, and the run ends after the current step with a checkpoint and
an adapter (status ``stopped``). Everything the view can do, Python can do too (``start``, ``stop``, ``wait``)::

    w = TuningWidget()
    w                                   # shows the dashboard
    w.start("datasets/finetune/house-format/qlora-4bit.yaml")   # trains in a background thread
    w.stop()                            # same as the button
    result = w.wait()                   # TrainingResult (or the run's error re-raised)

Headless (papermill, CI): ``w.run(config)`` trains in the calling thread and returns the result.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import traitlets

from workbench.tuning.config import TuneConfig
from workbench.tuning.trainer import RunInfo, StepMetrics, StopSignal, TrainingCallback, TrainingResult
from workbench.widgets._static import STATIC, widget_esm
from workbench.widgets.action import ActionWidget, Handler

#: Synced trait names; ``static/tuning.js`` declares the same list (a test keeps them in step).
FIELDS: tuple[str, ...] = (
    "run_name",
    "status",
    "step",
    "total_steps",
    "train_loss",
    "eval_loss",
    "tokens_per_s",
    "step_time_s",
    "memory_bytes",
    "peak_memory_bytes",
    "eta_s",
    "elapsed_s",
    "message",
    "error",
    "summary",
)

#: The view gets at most this many trait updates per second (the loop can run hundreds of steps a second).
MAX_UPDATES_PER_S = 4.0


class TuningWidget(ActionWidget, TrainingCallback):
    """Dashboard of one training run; also a training callback (pass it to ``train(callbacks=[w])``).

    Args:
        stop_signal: The signal the stop button sets (default: a new one).
    """

    _esm = widget_esm("tuning.js")
    _css = STATIC / "tuning.css"

    run_name = traitlets.Unicode("").tag(sync=True)
    step = traitlets.Int(0).tag(sync=True)
    total_steps = traitlets.Int(0).tag(sync=True)
    train_loss = traitlets.List(traitlets.List()).tag(sync=True)
    eval_loss = traitlets.List(traitlets.List()).tag(sync=True)
    tokens_per_s = traitlets.Float(0.0).tag(sync=True)
    step_time_s = traitlets.Float(0.0).tag(sync=True)
    memory_bytes = traitlets.Int(0).tag(sync=True)
    peak_memory_bytes = traitlets.Int(0).tag(sync=True)
    eta_s = traitlets.Float(0.0).tag(sync=True)
    elapsed_s = traitlets.Float(0.0).tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    summary = traitlets.Dict().tag(sync=True)

    def __init__(self, *, stop_signal: StopSignal | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stop_signal = stop_signal or StopSignal()
        self._pending: dict[str, Any] = {}
        self._last_push = 0.0
        self._started = 0.0

    # -- actions ---------------------------------------------------------------------------------------------

    def actions(self) -> Mapping[str, Handler]:
        """The front end's one action: the stop button (see :class:`ActionWidget`)."""
        return {"stop": lambda _content: self.stop()}

    def error_status(self, exc: BaseException) -> str:
        """A run that raised is ``failed``."""
        return "failed"

    def stop(self) -> None:
        """Ask the run to stop after the current step (it keeps a checkpoint and saves the adapter)."""
        self.stop_signal.request("stop button")
        if self.status == "running":
            self.status = "stopping"
            self.message = "stopping after the current step..."

    def start(self, config: TuneConfig | str | Path, **train_kwargs: Any) -> threading.Thread:
        """Train ``config`` in a background thread (the notebook stays usable; the stop button works).

        Raises:
            RunError: When a run is already in progress in this widget.
        """
        run = self.start_action("train", lambda: self.run(config, **train_kwargs))
        assert run.thread is not None
        return run.thread

    def run(self, config: TuneConfig | str | Path, **train_kwargs: Any) -> TrainingResult:
        """Train ``config`` in this thread with this widget as a callback (headless use)."""
        from workbench.tuning import train

        self.stop_signal.clear()
        callbacks = [self, *train_kwargs.pop("callbacks", [])]
        self.status, self.error, self.message = "starting", "", "loading data and model..."
        self.train_loss, self.eval_loss, self.summary = [], [], {}
        result = self.perform(lambda: train(config, callbacks=callbacks, stop=self.stop_signal, **train_kwargs))
        assert result is not None
        return result

    def wait(self, timeout: float | None = None, *, raise_errors: bool = True) -> TrainingResult | None:
        """Wait for a run started with :meth:`start`; returns its result or re-raises its error."""
        result: TrainingResult | None = super().wait(timeout, raise_errors=raise_errors)
        return result

    # -- TrainingCallback ------------------------------------------------------------------------------------

    def _push(self, force: bool = False, **values: Any) -> None:
        self._pending.update(values)
        now = time.monotonic()
        if force or now - self._last_push >= 1.0 / MAX_UPDATES_PER_S:
            pending, self._pending = self._pending, {}
            with self.hold_sync():
                for name, value in pending.items():
                    setattr(self, name, value)
            self._last_push = now

    def on_train_begin(self, info: RunInfo) -> None:
        self._started = time.monotonic()
        self._push(
            force=True,
            run_name=info.config.name,
            total_steps=info.total_steps,
            step=info.start_step,
            status="running" if not self.stop_signal.requested else "stopping",
            message=f"training on {info.device}"
            + (f", resumed at step {info.start_step}" if info.start_step else ""),
        )

    def on_step_end(self, metrics: StepMetrics) -> None:
        self._pending.setdefault("train_loss", list(self.train_loss))
        self._pending["train_loss"] = [*self._pending["train_loss"], [metrics.step, round(metrics.loss, 5)]]
        self._push(
            step=metrics.step,
            tokens_per_s=round(metrics.tokens_per_s, 2),
            step_time_s=round(metrics.step_time_s, 4),
            memory_bytes=metrics.memory_bytes,
            peak_memory_bytes=max(self.peak_memory_bytes, metrics.memory_bytes),
            eta_s=round(metrics.eta_s, 1),
            elapsed_s=round(time.monotonic() - self._started, 1),
        )

    def on_evaluate(self, step: int, eval_loss: float) -> None:
        self._push(force=True, eval_loss=[*self.eval_loss, [step, round(eval_loss, 5)]])

    def on_checkpoint(self, step: int, path: Path) -> None:
        self._push(message=f"checkpoint at step {step}")

    def on_train_end(self, card: Any) -> None:
        ev = card.evaluation or {}
        summary = {
            "status": card.status,
            "steps": card.timing.get("steps"),
            "train_time_s": card.timing.get("train_time_s"),
            "peak_memory_bytes": card.memory.get("peak_bytes"),
            "estimated_memory_bytes": card.plan.get("bytes", {}).get("total"),
            "perplexity_before": (ev.get("before") or {}).get("perplexity"),
            "perplexity_after": (ev.get("after") or {}).get("perplexity"),
            "scores_before": (ev.get("before") or {}).get("scores"),
            "scores_after": (ev.get("after") or {}).get("scores"),
            "adapter": card.adapter.get("dir"),
            "last_checkpoint": card.checkpoints.get("last"),
        }
        curve = [[p["step"], p["loss"]] for p in card.loss_curve]
        evals = [[p["step"], p["loss"]] for p in card.eval_curve]
        error = f"{card.error['type']}: {card.error['message']}" if card.error else ""
        message = {
            "completed": "done",
            "stopped": "stopped; the last checkpoint and the adapter are saved",
            "early_stopped": "stopped early: the held-out loss stopped improving",
            "failed": "failed; the last checkpoint is kept (see the run card)",
            "interrupted": "interrupted; the last checkpoint is kept",
        }.get(card.status, card.status)
        self._push(
            force=True,
            status=card.status,
            summary=summary,
            train_loss=curve,
            eval_loss=evals,
            step=int(card.timing.get("steps") or self.step),
            eta_s=0.0,
            error=error,
            message=message,
        )
