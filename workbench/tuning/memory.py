"""Measuring memory: the live meter the trainer reports, and the exact tensor peak the plan is checked against.

Two questions, two tools:

- **How much did this run hold?** :class:`PeakMemoryMeter`. On CUDA/XPU/NPU it reads the device allocator's
  peak (``max_memory_allocated``). On CPU it reads the process's peak resident set (Linux ``VmHWM``, reset
  through ``/proc/self/clear_refs`` when the kernel allows; ``psutil`` RSS samples elsewhere). CPU figures
  include what glibc's allocator keeps cached, so they run above the tensor peak.
- **What is the peak of live tensors?** :func:`measure_tensor_peak`. The PyTorch profiler records every CPU
  allocation and free (``profile_memory=True``); the running sum of those events, on top of the model's
  tensors already alive, peaks where ``max_memory_allocated`` would on a GPU. This is the measurement the
  preflight plan (:mod:`workbench.tuning.plan`) estimates and ``bench/tuning.py`` compares against. It slows the
  profiled steps several times, so it is for benchmarks and tests, not for every run.
  :func:`measure_step_peak` profiles the training step the plan estimates, on a fixed random batch.

The trainer also uses :func:`is_out_of_memory` and :func:`empty_accelerator_caches` when a run fails.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_bytes(key: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def current_rss() -> int:
    """Resident set size of this process in bytes."""
    value = _status_bytes("VmRSS:")
    if value is not None:
        return value
    import psutil

    return int(psutil.Process(os.getpid()).memory_info().rss)


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (Linux ``clear_refs`` 5); False where that is not possible."""
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def peak_rss() -> int | None:
    """Peak resident set size since start or the last :func:`reset_peak_rss` (Linux), else ``None``."""
    return _status_bytes("VmHWM:")


def release_freed_memory() -> None:
    """Give freed heap memory back to the OS (glibc ``malloc_trim``), so RSS reflects live memory."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except OSError:
            pass


class PeakMemoryMeter:
    """Peak memory of a device over a span (see the module docstring for what each device reports).

    Args:
        device: ``cpu``, ``cuda``, ``xpu``, ``npu`` or ``mps``.
    """

    def __init__(self, device: str = "cpu") -> None:
        self.device = device.split(":")[0]
        self.method = "rss" if self.device == "cpu" else "allocator"
        self._baseline = 0
        self._peak_sampled = 0
        self._hwm_ok = False

    def _accel(self) -> Any:
        import torch

        return getattr(torch, self.device, None)

    def start(self) -> PeakMemoryMeter:
        """Reset the peak and record the baseline."""
        if self.device == "cpu":
            release_freed_memory()
            self._hwm_ok = reset_peak_rss()
            self._baseline = current_rss()
            self._peak_sampled = self._baseline
        else:
            accel = self._accel()
            if accel is not None and hasattr(accel, "reset_peak_memory_stats"):
                accel.reset_peak_memory_stats()
            self._baseline = self.current()
        return self

    def current(self) -> int:
        """Memory in use now (process RSS on CPU, allocated tensor bytes on accelerators)."""
        if self.device == "cpu":
            value = current_rss()
            self._peak_sampled = max(self._peak_sampled, value)
            return value
        accel = self._accel()
        if accel is not None and hasattr(accel, "memory_allocated"):
            return int(accel.memory_allocated())
        return 0

    @property
    def peak(self) -> int:
        """Peak bytes since :meth:`start` (absolute, not a delta)."""
        if self.device == "cpu":
            hwm = peak_rss() if self._hwm_ok else None
            return max(hwm or 0, self._peak_sampled, current_rss())
        accel = self._accel()
        if accel is not None and hasattr(accel, "max_memory_allocated"):
            return int(accel.max_memory_allocated())
        return self.current()

    @property
    def baseline(self) -> int:
        """Bytes in use when :meth:`start` ran."""
        return self._baseline

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready readings."""
        return {
            "device": self.device,
            "method": self.method,
            "baseline_bytes": self.baseline,
            "peak_bytes": self.peak,
        }


def model_tensor_bytes(model: Any) -> int:
    """Bytes of every tensor a model holds: parameters, buffers and bitsandbytes quantization state."""
    import torch

    seen: set[int] = set()
    total = 0

    def add(tensor: Any) -> None:
        nonlocal total
        if not isinstance(tensor, torch.Tensor) or tensor.device.type == "meta":
            return
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        if key in seen:
            return
        seen.add(key)
        total += storage.nbytes()

    for tensor in list(model.parameters()) + list(model.buffers()):
        add(tensor)
        state = getattr(tensor, "quant_state", None)
        while state is not None:
            for attr in ("absmax", "code", "offset"):
                add(getattr(state, attr, None))
            state = getattr(state, "state2", None)
        add(getattr(tensor, "SCB", None))
    return total


def measure_tensor_peak(step: Callable[[], Any], *, model: Any = None, steps: int = 2) -> dict[str, int]:
    """Peak of live tensor bytes while ``step()`` runs ``steps`` times, measured with the PyTorch profiler.

    Args:
        step: One training step (forward, backward, optimizer step, zero_grad).
        model: The model, whose tensors (already alive) are added to the measured delta.
        steps: How many steps to profile; the second includes the optimizer state created by the first.

    Returns:
        ``{"peak_bytes", "delta_bytes", "model_bytes", "end_delta_bytes"}``; ``peak = model + delta``.
    """
    from torch.profiler import ProfilerActivity, profile

    base = model_tensor_bytes(model) if model is not None else 0
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        for _ in range(steps):
            step()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]  # type: ignore[union-attr]
    events.sort(key=lambda e: e.start_ns())
    current = peak = 0
    for event in events:
        current += event.nbytes()
        peak = max(peak, current)
    return {"peak_bytes": base + peak, "delta_bytes": peak, "model_bytes": base, "end_delta_bytes": current}


def quantized_weight_bytes(model: Any) -> dict[str, int]:
    """Storage of a bitsandbytes-quantized model's quantized linear layers, split into weights and constants.

    Returns:
        ``quantized_params`` (weights the layers represent), ``weight_bytes`` (packed 4-bit / int8 data),
        ``constant_bytes`` (absmax blocks, double-quantization state, code books, int8 row scales),
        ``other_bytes`` (every other parameter and buffer: embeddings, norms, the head).
    """
    import torch

    quantized = weights = constants = 0
    seen: set[int] = set()

    def storage(tensor: Any) -> int:
        if not isinstance(tensor, torch.Tensor):
            return 0
        key = tensor.untyped_storage().data_ptr()
        if key in seen:
            return 0
        seen.add(key)
        return int(tensor.untyped_storage().nbytes())

    for module in model.modules():
        weight = getattr(module, "weight", None)
        kind = type(weight).__name__ if weight is not None else ""
        if kind not in ("Params4bit", "Int8Params"):
            continue
        quantized += int(module.in_features * module.out_features)
        weights += storage(weight)
        state = getattr(weight, "quant_state", None)
        while state is not None:
            for attr in ("absmax", "code", "offset"):
                constants += storage(getattr(state, attr, None))
            state = getattr(state, "state2", None)
        constants += storage(getattr(weight, "SCB", None))
    other = model_tensor_bytes(model) - weights - constants
    return {
        "quantized_params": quantized,
        "weight_bytes": weights,
        "constant_bytes": constants,
        "other_bytes": other,
    }


def measure_step_peak(
    model: Any, batch: int, seq: int, *, optimizer: Any = None, steps: int = 2
) -> dict[str, int]:
    """:func:`measure_tensor_peak` of training steps of ``model`` on a fixed random batch of token ids.

    The step is what the preflight plan estimates: forward with labels, backward, optimizer step, zero_grad.

    Args:
        model: A trainable (peft) causal LM.
        batch: Examples per batch.
        seq: Tokens per example.
        optimizer: The optimizer to step (default: torch AdamW over the trainable parameters).
        steps: Steps to profile (see :func:`measure_tensor_peak`).

    Returns:
        What :func:`measure_tensor_peak` returns (``peak_bytes`` first of all).
    """
    import torch

    if optimizer is None:
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    ids = torch.randint(10, 1000, (batch, seq), generator=torch.Generator().manual_seed(0))
    model.train()

    def step() -> None:
        model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=ids).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return measure_tensor_peak(step, model=model, steps=steps)


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an out-of-memory failure (any device, CPU allocator included)."""
    import torch

    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text or "defaultcpuallocator" in text
    )


def empty_accelerator_caches() -> None:
    """Return cached accelerator memory to the device (best effort; after an out-of-memory failure)."""
    import torch

    for name in ("cuda", "xpu", "npu", "mps"):
        accel = getattr(torch, name, None)
        try:
            if accel is not None and accel.is_available():
                accel.empty_cache()
        except Exception:  # pragma: no cover - best effort
            pass
