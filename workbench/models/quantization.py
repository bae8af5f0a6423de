"""Quantization plans: what a requested bit width becomes on a device, honestly.

:func:`plan_quantization` turns "load this in 4 bits" into a frozen :class:`QuantizationPlan`: the method that
will really run (bitsandbytes NF4 or LLM.int8, or plain bf16/fp16/fp32), its compute dtype, and, when the
request cannot be met here, the fallback taken and why. ``strict=True`` refuses to fall back.

Where bitsandbytes 4/8-bit runs (bitsandbytes >= 0.49): CUDA, ROCm, Intel XPU and the CPU. It does not run on
Apple MPS or Ascend NPU, nor anywhere without the ``bitsandbytes`` package; there a 4/8-bit request falls back
to 16-bit weights.

:func:`probe_quantization` checks this by experiment: it loads the built-in model in 4 and 8 bits and compares
one forward pass with fp32 (``workbench doctor`` reports it).
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

from workbench.errors import QuantizationError
from workbench.models.devices import DeviceInfo, detect_device

#: Bit widths a plan accepts.
SUPPORTED_BITS = (4, 8, 16, 32)
#: Device kinds where bitsandbytes 4/8-bit kernels exist.
BNB_KINDS = frozenset({"cuda", "rocm", "xpu", "cpu"})
_BNB_UNSUPPORTED = {
    "mps": "bitsandbytes has no 4/8-bit kernels for Apple MPS",
    "npu": "bitsandbytes has no 4/8-bit kernels for Ascend NPU",
}


def quiet_bitsandbytes(*, import_now: bool = False) -> None:
    """Silence bitsandbytes' harmless messages; call before anything imports it.

    Its logger announces an optional kernel it cannot fetch offline and warns about casts on every 8-bit
    forward pass. With ``import_now``, it is also imported here (when installed), hiding the torch deprecation
    warning its import triggers, so later imports by transformers or sentence-transformers are silent.
    """
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    if import_now and "bitsandbytes" not in sys.modules and bitsandbytes_available():
        # A broken install is reported when a quantized load is attempted, not here.
        with warnings.catch_warnings(), contextlib.suppress(Exception):
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            import bitsandbytes  # noqa: F401


def exact_4bit_kernels(model: Any) -> int:
    """Keep a model's 4-bit layers on bitsandbytes' exact, differentiable kernels (no CPU inference repacking).

    On a CPU with AVX512-BF16, bitsandbytes (0.49 and later, through 0.50.2 at least) repacks a ``Linear4bit``
    weight into an inference-only layout the first time the layer runs in eval mode without gradients (a
    held-out evaluation, say), and keeps it so. From then on ``matmul_4bit`` routes every call, training
    included, to ``gemv_4bit``, which has no autograd kernel: torch warns "an autograd kernel was not registered"
    and no gradient flows back through the frozen 4-bit layers, so QLoRA learns only through the residual
    stream (on the built-in model: loss 4.7 -> 2.9 in 40 steps where 8-bit and 16-bit LoRA reach below 2.3).
    Machines without AVX512-BF16 never repack, which is why the same versions train well elsewhere.

    This turns the repacking off on every 4-bit layer and restores the standard layout of layers already
    repacked. The tuner calls it on every 4-bit base it trains, and :func:`workbench.tuning.export.load_adapter`
    on every 4-bit base it reloads, so a saved adapter reproduces the logits it was trained with (the repacked
    kernel computes in bf16). Plain 4-bit generation keeps the fast repacked path.

    Args:
        model: A (peft-wrapped or plain) model; layers that are not bitsandbytes 4-bit are left alone.

    Returns:
        How many 4-bit layers were found.
    """
    found = 0
    for module in model.modules():
        if not hasattr(module, "support_avx512bf16_for_cpu"):
            continue
        found += 1
        module.support_avx512bf16_for_cpu = False
        weight: Any = getattr(module, "weight", None)
        state = getattr(weight, "quant_state", None)
        if weight is not None and state is not None and getattr(state, "packing_format_for_cpu", False):
            from bitsandbytes.functional import _convert_weight_packed_for_cpu_inverse

            weight.data, weight.quant_state = _convert_weight_packed_for_cpu_inverse(weight.data, state)
            module.quant_state = weight.quant_state
    return found


def bitsandbytes_available() -> bool:
    """Whether the ``bitsandbytes`` package is installed (without importing it)."""
    from workbench._optional import is_available

    return is_available("bitsandbytes")


@dataclass(frozen=True)
class QuantizationPlan:
    """How a model's weights will be stored and computed on one device.

    Attributes:
        requested_bits: What the caller asked for.
        bits: What will run (differs from ``requested_bits`` only after a fallback).
        method: ``bnb-nf4``, ``bnb-int8``, ``bf16``, ``fp16`` or ``fp32``.
        compute_dtype: The dtype matrix products run in (``bfloat16``, ``float16`` or ``float32``).
        double_quant: Whether NF4 quantization constants are quantized again (saves ~0.4 bit/param).
        device: Where the model goes.
        fallback_reason: Why ``bits`` differs from ``requested_bits``; ``None`` when it does not.
    """

    requested_bits: int
    bits: int
    method: str
    compute_dtype: str
    double_quant: bool
    device: DeviceInfo = field(compare=True)
    fallback_reason: str | None = None

    @property
    def quantized(self) -> bool:
        """Whether bitsandbytes quantizes the weights (4 or 8 bits)."""
        return self.method.startswith("bnb-")

    @property
    def fell_back(self) -> bool:
        """Whether the plan differs from the request."""
        return self.fallback_reason is not None

    def to_load_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``AutoModelForCausalLM.from_pretrained`` that carry out this plan."""
        import torch

        dtype = getattr(torch, self.compute_dtype)
        kwargs: dict[str, Any] = {"dtype": dtype, "device_map": {"": self.device.torch_device}}
        if self.quantized:
            quiet_bitsandbytes(import_now=True)
            from transformers import BitsAndBytesConfig

            if self.method == "bnb-nf4":
                kwargs["quantization_config"] = BitsAndBytesConfig(
                    load_in_4bit=True,
                    bnb_4bit_quant_type="nf4",
                    bnb_4bit_use_double_quant=self.double_quant,
                    bnb_4bit_compute_dtype=dtype,
                )
            else:
                kwargs["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)
        return kwargs

    def describe(self) -> str:
        """One line for people, e.g. ``4-bit NF4 (bitsandbytes, double quant, compute float32) on cpu``."""
        if self.method == "bnb-nf4":
            what = f"4-bit NF4 (bitsandbytes, {'double quant, ' if self.double_quant else ''}compute {self.compute_dtype})"
        elif self.method == "bnb-int8":
            what = f"8-bit LLM.int8 (bitsandbytes, compute {self.compute_dtype})"
        else:
            what = f"{self.bits}-bit {self.method} weights"
        text = f"{what} on {self.device.torch_device}"
        if self.fallback_reason:
            text += f" (requested {self.requested_bits}-bit: {self.fallback_reason})"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["device"] = self.device.to_dict()
        data["description"] = self.describe()
        return data


def _parse_bits(bits: int | str | None) -> int | None:
    if bits is None:
        return None
    text = str(bits).strip().lower().removesuffix("-bit").removesuffix("bit")
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value not in SUPPORTED_BITS or isinstance(bits, bool):
        raise QuantizationError(
            f"cannot load a model in {bits!r} bits",
            field="bits",
            hint=f"use one of {', '.join(map(str, SUPPORTED_BITS))} (4 and 8 quantize with bitsandbytes)",
        )
    return value


def _half_method(device: DeviceInfo) -> tuple[str, str]:
    return ("bf16", "bfloat16") if device.bf16 else ("fp16", "float16")


def _bnb_blocker(device: DeviceInfo) -> str | None:
    """Why bitsandbytes cannot quantize on ``device``, or ``None`` when it can."""
    if device.kind not in BNB_KINDS:
        return _BNB_UNSUPPORTED.get(device.kind, f"bitsandbytes does not support {device.kind} devices")
    if not bitsandbytes_available():
        return "the bitsandbytes package is not installed (pip install bitsandbytes)"
    return None


def plan_quantization(
    bits: int | str | None = None,
    device: str | DeviceInfo | None = None,
    *,
    strict: bool = False,
) -> QuantizationPlan:
    """Plan how to load a model in ``bits`` on ``device``.

    Args:
        bits: 4 (NF4), 8 (LLM.int8), 16 (bf16, or fp16 where bf16 is unsupported) or 32 (fp32). ``None``
            means the device's natural precision: 32 on the CPU, 16 on accelerators.
        device: A :class:`DeviceInfo`, a device string (``"cuda:0"``, ``"cpu"``...) or ``None`` for the best.
        strict: Raise instead of falling back when ``bits`` cannot run here.

    Raises:
        QuantizationError: ``bits`` is not one of 4, 8, 16, 32; or ``strict`` and ``bits`` cannot run here
            (the message names what does).
    """
    info = detect_device(device)
    requested = _parse_bits(bits)
    if requested is None:
        requested = 16 if info.is_accelerator else 32
    if requested == 32:
        return QuantizationPlan(requested, 32, "fp32", "float32", False, info)
    if requested == 16:
        method, dtype = _half_method(info)
        return QuantizationPlan(requested, 16, method, dtype, False, info)

    blocker = _bnb_blocker(info)
    if blocker is None:
        # On the CPU, compute in float32: bf16 matmuls are slow without AVX512-BF16 and lose accuracy.
        compute = "float32" if info.kind == "cpu" else _half_method(info)[1]
        if requested == 4:
            return QuantizationPlan(4, 4, "bnb-nf4", compute, True, info)
        return QuantizationPlan(8, 8, "bnb-int8", compute, False, info)

    method, dtype = _half_method(info)
    if strict:
        raise QuantizationError(
            f"{requested}-bit quantization cannot run on {info.torch_device} ({info.name}): {blocker}",
            field="bits",
            hint=f"what works here: bits=16 ({method}) or bits=32 (fp32); "
            f"or pass strict=False to fall back to 16-bit automatically",
        )
    return QuantizationPlan(requested, 16, method, dtype, False, info, fallback_reason=blocker)


@dataclass(frozen=True)
class QuantProbe:
    """The result of trying one bit width for real on the built-in model.

    Attributes:
        bits: 4 or 8.
        works: Whether the quantized forward pass ran and its logits stayed close to fp32.
        detail: What happened, in one line (the method used, or why it failed or fell back).
        method: The plan's method (``bnb-nf4``...), ``None`` when no plan could be made.
        max_abs_logit_diff: Largest absolute difference from the fp32 logits on a fixed prompt.
        footprint_bytes: ``model.get_memory_footprint()`` of the quantized model.
        fp32_footprint_bytes: The same for the fp32 model, for comparison.
    """

    bits: int
    works: bool
    detail: str
    method: str | None = None
    max_abs_logit_diff: float | None = None
    footprint_bytes: int | None = None
    fp32_footprint_bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


_PROBE_PROMPT = "<|user|>\nHow do I reset my password?<|end|>\n<|assistant|>\n"


def probe_quantization(device: str | DeviceInfo | None = None) -> dict[int, QuantProbe]:
    """Try 4-bit and 8-bit for real: load the built-in model quantized and run one forward pass.

    A bit width works when the plan needs no fallback, the model loads, and its logits are finite and close
    to the fp32 model's (within a quarter of the fp32 logit range). Never raises for a failing bit width; the
    failure is in the probe's ``detail``.

    Returns:
        ``{4: QuantProbe, 8: QuantProbe}``.
    """
    info = detect_device(device)
    results: dict[int, QuantProbe] = {}
    plans: dict[int, QuantizationPlan] = {}
    for bits in (4, 8):
        try:
            plans[bits] = plan_quantization(bits, info, strict=True)
        except QuantizationError as exc:
            results[bits] = QuantProbe(bits, False, exc.message)
    if not plans:
        return results  # nothing can run here: no need to load anything

    quiet_bitsandbytes(import_now=True)
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from workbench.models._hf import quiet_hf
        from workbench.models.tiny import build_tiny_model

        path = build_tiny_model()
        tokenizer = AutoTokenizer.from_pretrained(path)
        inputs = tokenizer(_PROBE_PROMPT, return_tensors="pt")
        with quiet_hf():
            ref_model = AutoModelForCausalLM.from_pretrained(
                path, **plan_quantization(32, info).to_load_kwargs()
            )
        with torch.no_grad():
            reference = ref_model(**inputs.to(info.torch_device)).logits.float().cpu()
        ref_footprint = int(ref_model.get_memory_footprint())
        del ref_model
    except Exception as exc:
        detail = f"could not run the fp32 reference: {type(exc).__name__}: {exc}"
        results.update({b: QuantProbe(b, False, detail) for b in plans})
        return {b: results[b] for b in (4, 8)}

    for bits, plan in plans.items():
        try:
            with quiet_hf():
                model = AutoModelForCausalLM.from_pretrained(path, **plan.to_load_kwargs())
            with torch.no_grad():
                logits = model(**inputs.to(info.torch_device)).logits.float().cpu()
            footprint = int(model.get_memory_footprint())
            del model
        except Exception as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            results[bits] = QuantProbe(
                bits, False, f"{plan.describe()} failed: {type(exc).__name__}: {first_line}", plan.method
            )
            continue
        diff = float((logits - reference).abs().max())
        spread = float(reference.max() - reference.min())
        finite = bool(torch.isfinite(logits).all()) and math.isfinite(diff)
        works = finite and diff <= 0.25 * max(spread, 1.0)
        verdict = "works" if works else "ran but its logits are far from fp32"
        results[bits] = QuantProbe(
            bits=bits,
            works=works,
            detail=f"{plan.describe()}: {verdict} (max |logit diff| {diff:.3f} vs fp32)",
            method=plan.method,
            max_abs_logit_diff=diff if math.isfinite(diff) else None,
            footprint_bytes=footprint,
            fp32_footprint_bytes=ref_footprint,
        )
    return {b: results[b] for b in (4, 8)}
