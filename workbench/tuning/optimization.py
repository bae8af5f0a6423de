"""What turns gradients into updates: the optimizer, the learning-rate schedule, accelerate, and the batch order.

Each piece is deterministic given the config, so a resumed run continues exactly where the checkpoint left off:
the schedule is a function of the step, and :class:`BatchOrder` addresses micro-batches by position.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

from workbench.tuning.config import TrainingConfig


def lr_lambda(training: TrainingConfig, total: int) -> Callable[[int], float]:
    """The learning-rate factor of each step: linear warm-up, then constant, linear or cosine decay to ``total``."""
    t = training

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


def build_optimizer(
    name: str, params: list[Any], training: TrainingConfig, device: str
) -> tuple[Any, list[str]]:
    """The optimizer ``name`` over ``params``, and notes on any fallback.

    bitsandbytes' 8-bit optimizers fall back to torch AdamW where bitsandbytes cannot run; the paged one is
    plain 8-bit AdamW on CPU (there is no GPU memory to page).
    """
    import torch

    t = training
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


def make_accelerator(device_kind: str, mixed_precision: str) -> Any:
    """An ``accelerate.Accelerator`` for ``device_kind``, resetting the process-wide state an earlier run set."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState

    kwargs = {"cpu": device_kind == "cpu", "mixed_precision": mixed_precision}
    try:
        return Accelerator(**kwargs)
    except ValueError:  # the process-wide state was set up with other settings by an earlier run
        AcceleratorState._reset_state(True)
        GradientState._reset_state()
        return Accelerator(**kwargs)


class BatchOrder:
    """Deterministic micro-batch order: a fresh seeded shuffle per epoch, addressable by position (resumable).

    Args:
        n: Training examples.
        batch_size: Examples per micro-batch.
        seed: The run's seed.
    """

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.per_epoch = math.ceil(n / batch_size)
        self._cache: tuple[int, list[int]] | None = None

    def indices(self, position: int) -> list[int]:
        """Example indices of micro-batch ``position`` (counted over every epoch)."""
        epoch, index = divmod(position, self.per_epoch)
        if self._cache is None or self._cache[0] != epoch:
            order = list(range(self.n))
            random.Random(self.seed * 1_000_003 + epoch).shuffle(order)
            self._cache = (epoch, order)
        order = self._cache[1]
        return order[index * self.batch_size : (index + 1) * self.batch_size]
