"""The preflight plan: "will this fine-tune fit?", answered before a single weight is loaded.

:func:`estimate_memory` reads the model's config (``AutoConfig``) and traces one LoRA training forward pass
on the ``meta`` device (:mod:`workbench.tuning.tracing`: no memory, no weights). That yields exact parameter
counts per module and the exact size of every tensor autograd keeps for the backward pass, for this
architecture, batch and sequence length. The estimate of the peak is then::

    weights      quantized linears at 4 bits (+ absmax constants) or 8 bits (+ row scales), everything else in
                 float32 (prepare_model_for_kbit_training upcasts it) -- or all at 16/32 bits for LoRA
    adapters     LoRA A and B matrices, float32
    gradients    one float32 gradient per adapter parameter
    optimizer    AdamW: 8 bytes per adapter parameter; bitsandbytes 8-bit AdamW: 2 bytes (+ block constants)
                 for tensors of at least 4096 elements, 8 bytes below that (bitsandbytes' min_8bit_size)
    activations  the traced saved tensors + the logits and their gradient, alive together when the backward
                 pass starts; with gradient checkpointing, the layer inputs + the larger of that loss transient
                 and one layer's rebuilt activations

Attention is traced the way the model will run it (see :mod:`workbench.tuning.tracing`).

:func:`plan_memory` compares the estimate with the device's free memory and, when it does not fit, searches
for the nearest configuration that does (gradient checkpointing, 8-bit optimizer, fewer bits, smaller batch
with gradient accumulation, shorter sequences, lower rank -- in that order of preference).

Accuracy: ``bench/tuning.py`` checks the estimate against the peak of live tensor bytes measured with the
PyTorch profiler (:func:`workbench.tuning.memory.measure_step_peak`) for every benchmark configuration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workbench.tuning.tracing import ActivationTrace, TraceShape, load_model_config, trace_model

Bits = Literal[4, 8, 16, 32]
#: bitsandbytes keeps 32-bit optimizer state for tensors smaller than this (``min_8bit_size``).
BNB_MIN_8BIT_SIZE = 4096
#: bitsandbytes 8-bit optimizers quantize their state in blocks of this many values (one fp32 absmax each).
BNB_OPTIM_BLOCK = 256
#: 4-bit weights: block size of the absmax constants.
BNB_4BIT_BLOCK = 64
#: Double quantization: second-level block size.
BNB_4BIT_DQ_BLOCK = 256
#: Device kinds bitsandbytes 4/8-bit runs on (used when planning for a device that is not present).
BNB_DEVICE_KINDS: tuple[str, ...] = ("cuda", "rocm", "xpu", "cpu")
#: Keep this share of free memory unused when deciding whether a plan fits.
HEADROOM = 0.10
GIB = 1024**3


class PlanRequest(BaseModel):
    """What the learner wants to run (the inputs of ``workbench tune plan``).

    Attributes:
        model: Base model: ``workbench-tiny``, a local folder or a cached hub id.
        bits: Bits per frozen base weight: 4 or 8 (QLoRA), 16 or 32 (LoRA).
        rank: LoRA rank.
        targets: Modules to adapt, or ``["all-linear"]``.
        seq_len: Tokens per example (padded length).
        batch_size: Examples per micro-batch.
        optimizer: ``adamw``, ``adamw8bit`` or ``paged_adamw8bit``.
        gradient_checkpointing: Recompute activations in the backward pass.
        gradient_accumulation_steps: Micro-batches per step (does not change the peak; kept for recommendations).
        compute_dtype: dtype of activations for 4/8-bit bases (16-bit LoRA computes in bfloat16, 32 in float32).
        double_quant: 4-bit double quantization of the constants.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = "workbench-tiny"
    bits: Bits = 32
    rank: int = Field(16, gt=0)
    targets: tuple[str, ...] = ("all-linear",)
    seq_len: int = Field(256, gt=0)
    batch_size: int = Field(4, gt=0)
    optimizer: Literal["adamw", "adamw8bit", "paged_adamw8bit"] = "adamw"
    gradient_checkpointing: bool = False
    gradient_accumulation_steps: int = Field(1, gt=0)
    compute_dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    double_quant: bool = True

    @property
    def activation_dtype(self) -> str:
        """dtype of the activations: float32 for 32-bit LoRA, bfloat16 for 16-bit, else ``compute_dtype``."""
        if self.bits == 32:
            return "float32"
        if self.bits == 16:
            return "bfloat16" if self.compute_dtype == "float32" else self.compute_dtype
        return self.compute_dtype

    def changed(self, **changes: Any) -> PlanRequest:
        """A copy with ``changes`` applied."""
        return self.model_copy(update=changes)


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated peak memory of one training step, in bytes, by component.

    Attributes:
        weights: Frozen base weights (quantized layers, quantization constants, unquantized layers).
        adapters: Trainable adapter parameters.
        gradients: Gradients of the adapter parameters.
        optimizer: Optimizer state.
        activations: Saved activations and the loss's transient tensors at the peak.
        details: Counts behind the figures (parameters, quantized parameters, per-layer activation bytes...).
    """

    weights: int
    adapters: int
    gradients: int
    optimizer: int
    activations: int
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Sum of the components."""
        return self.weights + self.adapters + self.gradients + self.optimizer + self.activations

    @property
    def parameters(self) -> int:
        """Parameters of the base model (tied weights once); ``details["parameters"]``."""
        return int(self.details.get("parameters", 0))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready breakdown (bytes and GiB)."""
        parts = {
            "weights": self.weights,
            "adapters": self.adapters,
            "gradients": self.gradients,
            "optimizer": self.optimizer,
            "activations": self.activations,
        }
        return {
            "bytes": {**parts, "total": self.total},
            "gib": {k: round(v / GIB, 4) for k, v in {**parts, "total": self.total}.items()},
            "details": self.details,
        }


@dataclass(frozen=True)
class MemoryPlan:
    """The preflight answer: estimate, device budget, and a configuration that fits.

    Attributes:
        request: What was asked.
        estimate: Its estimated peak.
        device: Device kind (``cuda``, ``xpu``, ``npu``, ``mps``, ``cpu``).
        device_name: Human-readable device name.
        free_bytes: Free memory on the device now.
        fits: Whether ``estimate.total`` fits in ``free_bytes`` with :data:`HEADROOM` to spare.
        recommendation: The nearest request that fits (``request`` itself when it fits; ``None`` if nothing does).
        recommended_estimate: The recommendation's estimate.
        changes: What the recommendation changes, in words.
        notes: Caveats (quantization unavailable here, paged optimizer on CPU...).
    """

    request: PlanRequest
    estimate: MemoryEstimate
    device: str
    device_name: str
    free_bytes: int | None
    fits: bool
    recommendation: PlanRequest | None
    recommended_estimate: MemoryEstimate | None
    changes: list[str]
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready plan (the ``--json`` output of ``workbench tune plan``)."""
        return {
            "request": self.request.model_dump(mode="json"),
            "estimate": self.estimate.to_dict(),
            "device": {"kind": self.device, "name": self.device_name, "free_bytes": self.free_bytes},
            "fits": self.fits,
            "headroom": HEADROOM,
            "recommendation": self.recommendation.model_dump(mode="json") if self.recommendation else None,
            "recommended_estimate": self.recommended_estimate.to_dict()
            if self.recommended_estimate
            else None,
            "changes": self.changes,
            "notes": self.notes,
        }


# --- the trace, cached --------------------------------------------------------------------------------------

_TRACES: dict[tuple[Any, TraceShape], ActivationTrace] = {}


def trace_activations(config: Any, shape: TraceShape) -> ActivationTrace:
    """:func:`~workbench.tuning.tracing.trace_model`, cached per config and shape.

    A plan estimates many candidate configurations of one model; most share a trace.
    """
    import json

    try:
        config_key: Any = json.dumps(config.to_dict(), sort_keys=True, default=str)
    except (TypeError, ValueError):
        config_key = id(config)
    key = (config_key, shape)
    if key not in _TRACES:
        if len(_TRACES) > 64:
            _TRACES.clear()
        from workbench.tuning._runtime import quiet_libraries

        with quiet_libraries():  # importing peft imports bitsandbytes, which logs its kernel loading
            _TRACES[key] = trace_model(config, shape)
    return _TRACES[key]


# --- the estimate ---------------------------------------------------------------------------------------------


def _is_unquantized(name: str, skip: tuple[str, ...]) -> bool:
    return any(name == key or name.endswith(f".{key}") or key == name.rsplit(".", 1)[-1] for key in skip)


def weight_bytes(
    trace: ActivationTrace, bits: int, *, double_quant: bool = True
) -> tuple[int, dict[str, int]]:
    """Bytes of the frozen base at ``bits``, and the counts behind them."""
    if bits in (16, 32):
        return trace.total_params * bits // 8, {
            "quantized_params": 0,
            "unquantized_params": trace.total_params,
        }
    quantized = [
        (i, o) for name, (i, o) in trace.linears.items() if not _is_unquantized(name, trace.unquantized)
    ]
    q_params = sum(i * o for i, o in quantized)
    other = trace.total_params - q_params
    if bits == 8:
        q_bytes = q_params + sum(o * 4 for _, o in quantized)  # int8 weights + one fp32 scale per output row
    else:
        blocks = sum(math.ceil(i * o / BNB_4BIT_BLOCK) for i, o in quantized)
        if double_quant:
            constants = blocks + 4 * math.ceil(blocks / BNB_4BIT_DQ_BLOCK) + 256 * 4 * len(quantized)
        else:
            constants = 4 * blocks
        q_bytes = q_params // 2 + constants
    # prepare_model_for_kbit_training upcasts every unquantized parameter to float32.
    return q_bytes + other * 4, {"quantized_params": q_params, "unquantized_params": other}


def optimizer_bytes(trainable: tuple[int, ...], optimizer: str) -> int:
    """Optimizer state bytes for tensors of the given sizes."""
    if optimizer == "adamw":
        return sum(8 * n for n in trainable)
    total = 0
    for n in trainable:
        if n < BNB_MIN_8BIT_SIZE:
            total += 8 * n
        else:
            total += 2 * n + 2 * 4 * math.ceil(n / BNB_OPTIM_BLOCK)
    return total


def estimate_memory(request: PlanRequest, *, config: Any = None) -> MemoryEstimate:
    """Estimate the peak memory of one training step of ``request`` (see the module docstring).

    Args:
        request: The run's shape.
        config: A ``PretrainedConfig`` to use instead of reading ``request.model``'s.
    """
    model_config = config if config is not None else load_model_config(request.model)
    dtype = request.activation_dtype
    shape = TraceShape(request.rank, tuple(request.targets), request.batch_size, request.seq_len, dtype)
    trace = trace_activations(model_config, shape)
    weights, counts = weight_bytes(trace, request.bits, double_quant=request.double_quant)
    trainable = sum(trace.trainable)
    adapters = 4 * trainable
    gradients = 4 * trainable
    optimizer = optimizer_bytes(trace.trainable, request.optimizer)
    # At the start of the backward pass the logits and the gradient of the loss w.r.t. them (float32) are
    # alive on top of everything saved: the peak of a step without checkpointing.
    elements = trace.logits // max(1, _itemsize(dtype))
    transient = trace.logits + 4 * elements
    if request.gradient_checkpointing and trace.per_layer:
        # Only each layer's input is kept; one layer's activations are rebuilt at a time, after the loss's
        # transient tensors are gone.
        saved = trace.outside + len(trace.per_layer) * trace.layer_input
        activations = saved + max(transient, max(trace.per_layer))
    else:
        saved = sum(trace.per_layer) + trace.outside
        activations = saved + transient
    details = {
        "parameters": trace.total_params,
        "trainable_parameters": trainable,
        "trainable_share": round(trainable / max(1, trace.total_params), 5),
        "adapted_modules": len(trace.targets),
        "layers": len(trace.per_layer),
        "saved_activation_bytes": saved,
        "loss_transient_bytes": transient,
        "activation_dtype": dtype,
        "attention": trace.attention,
        **counts,
    }
    return MemoryEstimate(weights, adapters, gradients, optimizer, activations, details)


def _itemsize(dtype: str) -> int:
    return 4 if dtype == "float32" else 2


# --- the plan -------------------------------------------------------------------------------------------------


def plan_memory(
    request: PlanRequest,
    *,
    config: Any = None,
    device: str | None = None,
    free_bytes: int | None = None,
) -> MemoryPlan:
    """Estimate ``request`` against the device's free memory and recommend a configuration that fits.

    Args:
        request: The run's shape.
        config: A ``PretrainedConfig`` to use instead of reading ``request.model``'s.
        device: Device kind to plan for (default: the best one found by ``workbench.models``). A kind that is
            not present here is planned for when ``free_bytes`` is given.
        free_bytes: Memory budget to plan against (default: the device's free memory now).
    """
    from workbench.errors import ModelError
    from workbench.tuning._runtime import device_summary, quantization_support

    model_config = config if config is not None else load_model_config(request.model)
    notes: list[str] = []
    try:
        kind, name, free = device_summary(device)
        quant_ok, why = quantization_support(kind)
    except ModelError:
        if device is None or free_bytes is None:
            raise
        # Planning for a device that is not here ("will it fit on a 24 GiB GPU?"): trust the budget given.
        kind, name, free = device.split(":")[0], f"{device} (not present here)", free_bytes
        quant_ok, why = kind in BNB_DEVICE_KINDS, f"bitsandbytes does not support {kind}"
        notes.append(f"{device} is not present here; planned against the memory budget given")
    if free_bytes is not None:
        free = free_bytes
    if request.bits in (4, 8) and not quant_ok:
        notes.append(
            f"{request.bits}-bit quantization cannot run on {kind} ({why}); planning 16-bit LoRA instead"
        )
        request = request.changed(bits=16)
    if request.optimizer != "adamw" and not quant_ok:
        notes.append(f"bitsandbytes optimizers cannot run on {kind} ({why}); planning torch AdamW instead")
        request = request.changed(optimizer="adamw")
    if request.optimizer == "paged_adamw8bit" and kind == "cpu":
        notes.append("paged optimizers page GPU memory to CPU RAM; on CPU they behave like adamw8bit")
    estimate = estimate_memory(request, config=model_config)

    def fits(est: MemoryEstimate) -> bool:
        return free is None or est.total <= free * (1 - HEADROOM)

    if fits(estimate):
        return MemoryPlan(request, estimate, kind, name, free, True, request, estimate, [], notes)
    candidate, changes = request, []
    best: tuple[PlanRequest, MemoryEstimate] | None = None
    for step in _recommendation_steps(quant_ok):
        moved = step(candidate)
        if moved is None:
            continue
        candidate, change = moved
        changes.append(change)
        est = estimate_memory(candidate, config=model_config)
        if fits(est):
            best = (candidate, est)
            break
    if best is None:
        notes.append("no configuration tried fits; use a smaller model or a device with more memory")
        return MemoryPlan(request, estimate, kind, name, free, False, None, None, changes, notes)
    recommended, rec_estimate = _prune(request, best[0], best[1], fits, model_config)
    return MemoryPlan(
        request,
        estimate,
        kind,
        name,
        free,
        False,
        recommended,
        rec_estimate,
        describe_changes(request, recommended),
        notes,
    )


def _prune(
    original: PlanRequest, found: PlanRequest, found_estimate: MemoryEstimate, fits: Any, model_config: Any
) -> tuple[PlanRequest, MemoryEstimate]:
    """Undo every change the found configuration does not need, the most intrusive first."""
    best, best_est = found, found_estimate
    for fields in (("seq_len",), ("rank",), ("batch_size", "gradient_accumulation_steps"), ("bits",), ("optimizer",),
                   ("gradient_checkpointing",)):  # fmt: skip
        if all(getattr(best, f) == getattr(original, f) for f in fields):
            continue
        options = [{f: getattr(original, f) for f in fields}]
        if fields == ("bits",):
            options += [{"bits": b} for b in (16, 8) if best.bits < b < original.bits]
        if fields[0] == "batch_size":
            b = original.batch_size // 2
            while b > best.batch_size:
                options.append({"batch_size": b, "gradient_accumulation_steps": original.gradient_accumulation_steps
                                * (original.batch_size // b)})  # fmt: skip
                b //= 2
        for option in options:
            candidate = best.changed(**option)
            est = estimate_memory(candidate, config=model_config)
            if fits(est):
                best, best_est = candidate, est
                break
    return best, best_est


def describe_changes(before: PlanRequest, after: PlanRequest) -> list[str]:
    """What ``after`` changes relative to ``before``, in words."""
    out = []
    if after.gradient_checkpointing and not before.gradient_checkpointing:
        out.append("enable gradient checkpointing")
    if after.optimizer != before.optimizer:
        out.append(f"use the {after.optimizer} optimizer")
    if after.bits != before.bits:
        out.append(f"load the base in {after.bits}-bit ({'QLoRA' if after.bits < 16 else 'LoRA'})")
    if after.batch_size != before.batch_size:
        out.append(
            f"batch size {after.batch_size} with gradient accumulation {after.gradient_accumulation_steps} "
            "(same effective batch)"
        )
    if after.seq_len != before.seq_len:
        out.append(f"sequence length {after.seq_len} (longer examples are dropped or truncated)")
    if after.rank != before.rank:
        out.append(f"LoRA rank {after.rank}")
    return out


def _recommendation_steps(quant_ok: bool) -> list[Any]:
    def checkpointing(r: PlanRequest) -> tuple[PlanRequest, str] | None:
        if r.gradient_checkpointing:
            return None
        return r.changed(gradient_checkpointing=True), "enable gradient checkpointing"

    def optimizer(r: PlanRequest) -> tuple[PlanRequest, str] | None:
        if r.optimizer != "adamw" or not quant_ok:
            return None
        return r.changed(optimizer="adamw8bit"), "use the 8-bit AdamW optimizer (adamw8bit)"

    def fewer_bits(r: PlanRequest) -> tuple[PlanRequest, str] | None:
        lower = {32: 16, 16: 8, 8: 4}.get(r.bits)
        if lower is None or (lower in (4, 8) and not quant_ok):
            return None
        return r.changed(bits=lower), f"load the base in {lower}-bit ({'QLoRA' if lower < 16 else 'LoRA'})"

    def smaller_batch(r: PlanRequest) -> tuple[PlanRequest, str] | None:
        if r.batch_size == 1:
            return None
        b = max(1, r.batch_size // 2)
        acc = r.gradient_accumulation_steps * (r.batch_size // b)
        return (
            r.changed(batch_size=b, gradient_accumulation_steps=acc),
            f"batch size {b} with gradient accumulation {acc} (same effective batch)",
        )

    def shorter(r: PlanRequest) -> tuple[PlanRequest, str] | None:
        if r.seq_len <= 64:
            return None
        return r.changed(
            seq_len=r.seq_len // 2
        ), f"sequence length {r.seq_len // 2} (longer examples are dropped)"

    def lower_rank(r: PlanRequest) -> tuple[PlanRequest, str] | None:
        if r.rank <= 4:
            return None
        return r.changed(rank=r.rank // 2), f"LoRA rank {r.rank // 2}"

    steps: list[Any] = [checkpointing, optimizer, fewer_bits, fewer_bits, fewer_bits]
    steps += [smaller_batch] * 8 + [shorter] * 4 + [lower_rank] * 3
    return steps
