"""The live fine-tuning widget (anywidget): Start and Stop, loss curves, throughput, memory and ETA.

A thin view over :func:`workbench.tuning.train`. The widget is a
:class:`~workbench.tuning.TrainingCallback`: the training loop pushes each step's metrics into synced traits,
and the view draws them. The Start button sends ``{"action": "start"}``: the widget trains its ``config`` in
a background thread (the notebook stays usable), with live progress (steps, loss chart, ETA, memory). The
Stop button sends ``{"action": "stop"}``; the widget turns it into a :class:`~workbench.tuning.StopSignal`
request, and the run ends after the current step with a checkpoint and an adapter (status ``stopped``). When
the run ends, the summary compares the preflight memory estimate with what was measured, quantity for
quantity. Everything the view can do, Python can do too (``start``, ``stop``, ``wait``, ``run``)::

    w = TuningWidget("datasets/finetune/house-format/qlora-4bit.yaml")
    w                                   # shows the dashboard; press Start
    w.start()                           # or start from code (a background thread, like the button)
    w.stop()                            # same as the Stop button
    result = w.wait()                   # TrainingResult (or the run's error re-raised)

Headless (papermill, CI): ``w.run()`` trains in the calling thread and returns the result, and
:attr:`TuningWidget.result` holds the latest run's result however it was started.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import traitlets

from workbench.tuning.config import TuneConfig
from workbench.tuning.runcard import memory_comparison
from workbench.tuning.trainer import RunInfo, StepMetrics, StopSignal, TrainingCallback, TrainingResult
from workbench.widgets._static import STATIC, widget_esm
from workbench.widgets.action import ActionWidget, Handler

#: Synced trait names; ``static/tuning.js`` declares the same list (a test keeps them in step).
FIELDS: tuple[str, ...] = (
    "run_name",
    "config_name",
    "status",
    "phase",
    "step",
    "total_steps",
    "train_loss",
    "eval_loss",
    "tokens_per_s",
    "step_time_s",
    "memory_bytes",
    "peak_memory_bytes",
    "memory_kind",
    "eta_s",
    "elapsed_s",
    "message",
    "error",
    "summary",
)

#: The view gets at most this many trait updates per second (the loop can run hundreds of steps a second).
MAX_UPDATES_PER_S = 4.0


class TuningWidget(ActionWidget, TrainingCallback):
    """Dashboard of a training run with Start and Stop; also a training callback (``train(callbacks=[w])``).

    Args:
        config: What Start trains: a :class:`~workbench.tuning.TuneConfig` or a YAML/JSON config path
            (default: none; pass one to :meth:`start` or :meth:`run`, or set :attr:`config`).
        overwrite: Start over when the config's output folder holds an earlier run (default: resume it).
        stop_signal: The signal the stop button sets (default: a new one).
    """

    _esm = widget_esm("tuning.js")
    _css = STATIC / "tuning.css"

    run_name = traitlets.Unicode("").tag(sync=True)
    config_name = traitlets.Unicode("").tag(sync=True)
    phase = traitlets.Unicode("").tag(sync=True)
    step = traitlets.Int(0).tag(sync=True)
    total_steps = traitlets.Int(0).tag(sync=True)
    train_loss = traitlets.List(traitlets.List()).tag(sync=True)
    eval_loss = traitlets.List(traitlets.List()).tag(sync=True)
    tokens_per_s = traitlets.Float(0.0).tag(sync=True)
    step_time_s = traitlets.Float(0.0).tag(sync=True)
    memory_bytes = traitlets.Int(0).tag(sync=True)
    peak_memory_bytes = traitlets.Int(0).tag(sync=True)
    memory_kind = traitlets.Unicode("").tag(sync=True)
    eta_s = traitlets.Float(0.0).tag(sync=True)
    elapsed_s = traitlets.Float(0.0).tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    summary = traitlets.Dict().tag(sync=True)

    #: Start trains in a worker thread (see :class:`ActionWidget`); Stop acts at once.
    background_actions: ClassVar[frozenset[str]] = frozenset({"start"})

    def __init__(
        self,
        config: TuneConfig | str | Path | None = None,
        *,
        overwrite: bool = False,
        stop_signal: StopSignal | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.stop_signal = stop_signal or StopSignal()
        self.overwrite = overwrite
        self.result: TrainingResult | None = None
        self._config: TuneConfig | str | Path | None = None
        self._pending: dict[str, Any] = {}
        self._last_push = 0.0
        self._started = 0.0
        self.config = config

    @property
    def config(self) -> TuneConfig | str | Path | None:
        """What Start trains (a config or a config file)."""
        return self._config

    @config.setter
    def config(self, value: TuneConfig | str | Path | None) -> None:
        self._config = value
        self.config_name = _config_label(value)
        if value is not None and not self.busy:
            self.message = f"press Start to train {self.config_name}"

    # -- actions ---------------------------------------------------------------------------------------------

    def actions(self) -> Mapping[str, Handler]:
        """The front end's actions: Start (a worker thread) and Stop (see :class:`ActionWidget`)."""
        return {"start": lambda _content: self.run(), "stop": lambda _content: self.stop()}

    def error_status(self, exc: BaseException) -> str:
        """A run that raised is ``failed``."""
        return "failed"

    def stop(self) -> None:
        """Ask the run to stop after the current step (it keeps a checkpoint and saves the adapter)."""
        self.stop_signal.request("stop button")
        if self.status == "running":
            self.status = "stopping"
            self.message = "stopping after the current step..."

    def start(self, config: TuneConfig | str | Path | None = None, **train_kwargs: Any) -> None:
        """Train in a background thread, as the Start button does (the notebook stays usable; Stop works).

        Args:
            config: What to train (default: :attr:`config`); it becomes :attr:`config`.
            **train_kwargs: Passed to :func:`workbench.tuning.train` (``callbacks``, ``resume``, ``overwrite``).

        Raises:
            RunError: When a run is already in progress in this widget.
        """
        if config is not None:
            self.config = config
        self.start_action("start", lambda: self.run(**train_kwargs))

    def run(self, config: TuneConfig | str | Path | None = None, **train_kwargs: Any) -> TrainingResult:
        """Train in this thread with this widget as a callback (headless use); also what Start runs.

        Raises:
            ConfigError: When no config was given here or to the widget.
            RunError: When a run started with Start is still in progress in this widget.
        """
        from workbench.tuning import train

        worker = self._run.thread if self._run is not None else None
        if self.busy and worker is not threading.current_thread():
            from workbench.errors import RunError

            raise RunError("a run is already in progress in this widget", hint="wait() for it, or stop() it first")
        if config is not None:
            self.config = config
        chosen = self.config
        self.stop_signal.clear()
        callbacks = [self, *train_kwargs.pop("callbacks", [])]
        train_kwargs.setdefault("overwrite", self.overwrite)
        with self.hold_sync():
            self.status, self.error, self.phase = "starting", "", "loading the data and the model"
            self.message = "reading the data, loading the base model and scoring it on held-out examples..."
            self.train_loss, self.eval_loss, self.summary = [], [], {}
            self.step, self.eta_s, self.elapsed_s = 0, 0.0, 0.0

        def work() -> TrainingResult:
            if chosen is None:
                from workbench.errors import ConfigError

                self.message, self.phase = "", ""
                raise ConfigError("no training config to start", field="config",
                                  hint="TuningWidget(config) or widget.config = 'path/to/config.yaml'")  # fmt: skip
            return train(chosen, callbacks=callbacks, stop=self.stop_signal, **train_kwargs)

        result = self.perform(work)
        assert result is not None
        self.result = result
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

    def on_phase(self, phase: str) -> None:
        """A long stretch outside the steps (loading, scoring, saving) shows as the run's phase."""
        self._push(force=True, phase=phase, message=f"{phase}...")

    def on_train_begin(self, info: RunInfo) -> None:
        self._started = time.monotonic()
        self._push(
            force=True,
            run_name=info.config.name,
            total_steps=info.total_steps,
            step=info.start_step,
            status="running" if not self.stop_signal.requested else "stopping",
            phase="training",
            memory_kind="process resident memory" if info.device.startswith("cpu") else "allocated on the device",
            message=f"training on {info.device}"
            + (f", resumed at step {info.start_step}" if info.start_step else ""),
        )

    def on_step_end(self, metrics: StepMetrics) -> None:
        self._pending.setdefault("train_loss", list(self.train_loss))
        self._pending["train_loss"] = [*self._pending["train_loss"], [metrics.step, round(metrics.loss, 5)]]
        remaining = metrics.total_steps - metrics.step
        self._push(
            # the first and the last step show at once: the last one is followed by long work (scoring, saving)
            force=metrics.step == 1 or remaining <= 0,
            step=metrics.step,
            tokens_per_s=round(metrics.tokens_per_s, 2),
            step_time_s=round(metrics.step_time_s, 4),
            memory_bytes=metrics.memory_bytes,
            peak_memory_bytes=max(self.peak_memory_bytes, metrics.memory_bytes),
            # the trainer's ETA: steps left x the moving average of the last step times; never 0 while steps remain
            eta_s=max(round(metrics.eta_s, 1), 0.1) if remaining > 0 else 0.0,
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
            # estimate and measurement of the same quantities, row by row (not a process peak beside a tensor sum)
            "memory": [row.to_dict() for row in memory_comparison(card)],
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
            phase="",
            error=error,
            message=message,
        )


def _config_label(config: TuneConfig | str | Path | None) -> str:
    """How the view names a config: its ``name``, or the file's name."""
    if config is None:
        return ""
    if isinstance(config, TuneConfig):
        return config.name
    return Path(config).name
