"""Embedding variants: the same sentence-transformers model run by different runtimes and precisions.

A variant never changes the model's weights, only how they are computed:

========================  ================================================================================
``torch-fp32``            sentence-transformers on PyTorch, float32 (the reference; what indexes were built
                          with before variants existed). Uses the GPU when there is one.
``torch-bf16``            the same in bfloat16 (fast on GPUs and on CPUs with AMX or AVX512-BF16).
``onnx-fp32``             ONNX Runtime, float32, on a graph exported locally from the model's own files.
``onnx-int8``             ONNX Runtime with dynamic int8 quantization of the matrix products.
``openvino-fp32``         OpenVINO on the CPU, float32, reading the same exported graph.
``openvino-bf16``         OpenVINO on the CPU with bfloat16 inference precision where the CPU has it (AMX,
                          AVX512-BF16); CPUs without it compute in float32.
``openvino-int8``         OpenVINO on the CPU with the matrix products statically quantized to int8 by NNCF
                          (calibrated on texts shipped with Workbench), the rest as ``openvino-bf16``; fastest
                          on CPUs with AVX512-VNNI or AMX.
========================  ================================================================================

``auto`` (the default, ``settings.embedding_variant``) picks :data:`CPU_DEFAULT` on a CPU and ``torch-fp32``
on an accelerator (the runtimes that read the exported graph here have no CUDA build installed). The choice of
:data:`CPU_DEFAULT` comes from ``bench/ingest.py``: the fastest variant whose recall@5 and nDCG@10 stay within
0.005 of ``torch-fp32`` on the shipped corpus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from workbench._optional import is_available
from workbench.errors import ValidationError

Runtime = Literal["torch", "onnxruntime", "openvino"]
Precision = Literal["fp32", "bf16", "int8"]


@dataclass(frozen=True)
class EmbeddingVariant:
    """One way to run an embedding model.

    Attributes:
        name: The variant's name, recorded in index manifests (``openvino-int8``).
        runtime: ``torch``, ``onnxruntime`` or ``openvino``.
        precision: ``fp32``, ``bf16`` or ``int8``.
        summary: One line for help texts.
    """

    name: str
    runtime: Runtime
    precision: Precision
    summary: str

    @property
    def module(self) -> str:
        """The Python module the runtime needs."""
        return {"torch": "torch", "onnxruntime": "onnxruntime", "openvino": "openvino"}[self.runtime]

    @property
    def available(self) -> bool:
        """Whether its runtime is installed (and NNCF, which builds the OpenVINO int8 form)."""
        needs_nncf = self.runtime == "openvino" and self.precision == "int8"
        return is_available(self.module) and (not needs_nncf or is_available("nncf"))


EMBEDDING_VARIANTS: dict[str, EmbeddingVariant] = {
    v.name: v
    for v in (
        EmbeddingVariant("torch-fp32", "torch", "fp32", "sentence-transformers on PyTorch, float32 (reference)"),
        EmbeddingVariant("torch-bf16", "torch", "bf16", "sentence-transformers on PyTorch, bfloat16"),
        EmbeddingVariant("onnx-fp32", "onnxruntime", "fp32", "ONNX Runtime, float32"),
        EmbeddingVariant("onnx-int8", "onnxruntime", "int8", "ONNX Runtime, dynamic int8 quantization"),
        EmbeddingVariant("openvino-fp32", "openvino", "fp32", "OpenVINO on the CPU, float32"),
        EmbeddingVariant(
            "openvino-bf16", "openvino", "bf16", "OpenVINO on the CPU, bfloat16 where the CPU has it"
        ),
        EmbeddingVariant(
            "openvino-int8", "openvino", "int8", "OpenVINO on the CPU, int8 matrix products (NNCF static quantization)"
        ),
    )
}
#: The variant ``auto`` means on a CPU (the fastest one within the quality bar in ``bench/ingest.py``).
CPU_DEFAULT = "openvino-int8"
#: The variant ``auto`` means on an accelerator: PyTorch on that device.
ACCELERATOR_DEFAULT = "torch-fp32"
#: Names accepted wherever a variant is chosen.
VARIANT_CHOICES = ("auto", *EMBEDDING_VARIANTS)
# When the preferred runtime is missing, ``auto`` falls back in this order.
_CPU_FALLBACKS = (CPU_DEFAULT, "openvino-bf16", "onnx-fp32", "torch-fp32")


def get_variant(name: str) -> EmbeddingVariant:
    """The variant called ``name`` (not ``auto``; see :func:`resolve_variant`).

    Raises:
        ValidationError: No variant has that name.
    """
    variant = EMBEDDING_VARIANTS.get(name.strip().lower())
    if variant is None:
        raise ValidationError(
            f"no embedding variant is called '{name}'",
            field="variant",
            hint="choose one of: " + ", ".join(VARIANT_CHOICES),
        )
    return variant


def resolve_variant(name: str | None, *, accelerator: bool) -> EmbeddingVariant:
    """The concrete variant for ``name``: ``None`` means ``settings.embedding_variant``; ``auto`` picks one.

    Args:
        name: A variant name, ``auto`` or ``None``.
        accelerator: Whether the embedder will run on an accelerator (``DeviceInfo.is_accelerator``).

    Raises:
        ValidationError: An unknown name.
    """
    if name is None:
        from workbench.settings import get_settings

        name = get_settings().embedding_variant
    if name.strip().lower() != "auto":
        return get_variant(name)
    if accelerator:
        return EMBEDDING_VARIANTS[ACCELERATOR_DEFAULT]
    usable = (EMBEDDING_VARIANTS[n] for n in _CPU_FALLBACKS if EMBEDDING_VARIANTS[n].available)
    return next(usable, EMBEDDING_VARIANTS["torch-fp32"])
