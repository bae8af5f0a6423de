"""The last step of every run, whatever its outcome: complete and write the run card, record the run, call back.

Telemetry is evidence, not a dependency of the run: :func:`record_event` notes a telemetry failure on the card
instead of letting it stop training, and a callback failing at the end is noted too, never hiding the run's own
outcome.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench.tuning.callbacks import TrainingCallback
from workbench.tuning.checkpoint import list_checkpoints
from workbench.tuning.runcard import RunCard
from workbench.tuning.state import RunProgress, TrainerState


def record_event(kind: str, notes: list[str], **kwargs: Any) -> None:
    """Emit a telemetry event; a telemetry failure is added to ``notes`` (once), never raised."""
    try:
        from workbench.telemetry import record

        record(kind, **kwargs)
    except Exception as exc:  # telemetry is evidence, not a dependency of the run
        message = f"telemetry unavailable: {type(exc).__name__}: {exc}"
        if message not in notes:
            notes.append(message)


def finish_run(
    card: RunCard,
    state: TrainerState,
    progress: RunProgress,
    *,
    output_dir: Path,
    notes: list[str],
    callbacks: Sequence[TrainingCallback],
) -> None:
    """Fill in the card's timing, memory and checkpoints, write it, record a ``training_run`` event, call back.

    The card is written into ``output_dir`` and, when the run saved one, into the adapter folder too.
    """
    duration = time.perf_counter() - progress.wall_start
    fill_card(card, state, progress, output_dir=output_dir, duration=duration, notes=notes)
    card.write(output_dir)
    if card.adapter.get("dir"):
        card.write(Path(card.adapter["dir"]))
    record_event(
        "training_run",
        notes,
        run_id=state.run_id,
        duration_s=duration,
        status=card.status,
        attributes=run_attributes(card, state, output_dir),
    )
    try:
        from workbench.telemetry import get_recorder

        get_recorder().flush()
    except Exception:  # see record_event
        pass
    for cb in callbacks:
        try:
            cb.on_train_end(card)
        except Exception as exc:  # a display callback must not hide the run's own outcome
            notes.append(f"callback {type(cb).__name__} failed at the end: {exc}")


def fill_card(
    card: RunCard,
    state: TrainerState,
    progress: RunProgress,
    *,
    output_dir: Path,
    duration: float,
    notes: list[str],
) -> None:
    """Copy the curves, measured memory, timing, checkpoints and notes of a run onto its card."""
    meter = progress.meter
    train_time = state.train_seconds
    card.loss_curve = state.train_losses
    card.eval_curve = state.eval_losses
    card.memory = {**meter.to_dict(), "peak_delta_bytes": meter.peak - meter.baseline}
    if progress.model_bytes is not None:
        card.memory["model_bytes"] = progress.model_bytes
    card.timing = {
        "started_at": state.started_at,
        "finished_at": datetime.now(timezone.utc).isoformat(),
        "duration_s": round(duration, 3),
        "train_time_s": round(train_time, 3),
        "steps": state.step,
        "tokens": state.tokens,
        "steps_per_s": round(state.step / train_time, 4) if train_time > 0 else None,
        "tokens_per_s": round(state.tokens / train_time, 2) if train_time > 0 else None,
        "resumed_from_steps": state.resumed_from,
    }
    last = progress.last_checkpoint
    kept = list_checkpoints(output_dir)
    card.checkpoints = {"last": str(last) if last else None, "kept": [str(p) for p in kept]}
    if state.eval_losses and state.best_step is not None:
        card.checkpoints["best_eval_step"] = state.best_step
    card.notes = notes


def run_attributes(card: RunCard, state: TrainerState, output_dir: Path) -> dict[str, Any]:
    """The attributes of a run's ``training_run`` telemetry event (what the skills report reads)."""
    evaluation = card.evaluation or {}
    before = evaluation.get("before") or {}
    after = evaluation.get("after") or {}
    return {
        "run": card.name,
        "model": card.model.get("name"),
        "method": card.method.get("type"),
        "bits": card.method.get("bits"),
        "rank": card.method.get("rank"),
        "steps": state.step,
        "tokens": state.tokens,
        "final_loss": state.train_losses[-1]["loss"] if state.train_losses else None,
        "peak_memory_bytes": card.memory.get("peak_bytes"),
        "estimated_memory_bytes": card.plan.get("bytes", {}).get("total"),
        "dataset_sha256": card.dataset.get("sha256"),
        "device": card.device.get("kind"),
        "perplexity_before": before.get("perplexity"),
        "perplexity_after": after.get("perplexity"),
        "scores_before": before.get("scores"),
        "scores_after": after.get("scores"),
        "output_dir": str(output_dir),
        "error_type": (card.error or {}).get("type"),
    }


def evaluation_delta(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    """The card's ``evaluation`` record: ``{before, after, delta}`` (perplexity and score differences)."""
    delta: dict[str, Any] = {}
    if before:
        if before.get("perplexity") is not None and after.get("perplexity") is not None:
            delta["perplexity"] = round(after["perplexity"] - before["perplexity"], 5)
        for key, value in (after.get("scores") or {}).items():
            old = (before.get("scores") or {}).get(key)
            if old is not None and value is not None:
                delta[key] = round(value - old, 5)
    return {"before": before, "after": after, "delta": delta}


def file_sha256(path: Path) -> str | None:
    """Hex sha256 of a file, ``None`` when it does not exist."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
