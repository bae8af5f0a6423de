"""The model runtime: devices, quantization plans, model loading, generation and embeddings.

``import workbench.models`` is cheap: names are imported from their submodules on first use, and torch,
transformers and the ``openai`` client load only when a model does.

Quick tour::

    from workbench.models import load_model, plan_quantization, load_embedder

    llm = load_model()                       # the default, SmolLM2-135M-Instruct (offline, from its wheel)
    llm.generate("How do I reset my password?").text
    for chunk in llm.stream([{"role": "user", "content": "My VPN is broken."}]):
        print(chunk, end="")
    load_model("workbench-tiny")             # the 2-layer model trained here in seconds (fast tests)
    load_model(bits=4)                       # bitsandbytes NF4 (falls back honestly where it cannot run)
    load_model("./my-model")                 # a local Hugging Face folder (safetensors only)
    load_model("org/name")                   # a hub id (cache, or download when online)
    load_model("openai:llama3.2", base_url="http://localhost:11434/v1")   # Ollama, vLLM, llama.cpp...
    load_embedder().embed_documents(["a", "b"])                          # all-MiniLM-L6-v2, offline
    load_embedder(variant="torch-fp32")      # the reference runtime (default "auto": the fastest here)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from workbench.settings import SMOLLM2_MODEL, TINY_MODEL

#: public name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    "DeviceInfo": "devices",
    "detect_devices": "devices",
    "detect_device": "devices",
    "QuantizationPlan": "quantization",
    "QuantProbe": "quantization",
    "plan_quantization": "quantization",
    "probe_quantization": "quantization",
    "build_tiny_model": "tiny",
    "build_smollm2_model": "smollm2",
    "load_model": "loading",
    "default_model_name": "loading",
    "ChatBackend": "backends",
    "MODEL_SOURCES": "loading",
    "GenerationParams": "generation",
    "Generation": "generation",
    "GenerationStream": "generation",
    "Message": "generation",
    "load_embedder": "embeddings",
    "Embedder": "embeddings",
    "EmbeddingVariant": "embedding_variants",
    "EMBEDDING_VARIANTS": "embedding_variants",
}

__all__ = [
    "EMBEDDING_VARIANTS",
    "MODEL_SOURCES",
    "SMOLLM2_MODEL",
    "TINY_MODEL",
    "ChatBackend",
    "DeviceInfo",
    "Embedder",
    "EmbeddingVariant",
    "Generation",
    "GenerationParams",
    "GenerationStream",
    "Message",
    "QuantProbe",
    "QuantizationPlan",
    "build_smollm2_model",
    "build_tiny_model",
    "default_model_name",
    "detect_device",
    "detect_devices",
    "load_embedder",
    "load_model",
    "plan_quantization",
    "probe_quantization",
]

if TYPE_CHECKING:
    from workbench.models.backends import ChatBackend
    from workbench.models.devices import DeviceInfo, detect_device, detect_devices
    from workbench.models.embedding_variants import EMBEDDING_VARIANTS, EmbeddingVariant
    from workbench.models.embeddings import Embedder, load_embedder
    from workbench.models.generation import Generation, GenerationParams, GenerationStream, Message
    from workbench.models.loading import MODEL_SOURCES, default_model_name, load_model
    from workbench.models.quantization import (
        QuantizationPlan,
        QuantProbe,
        plan_quantization,
        probe_quantization,
    )
    from workbench.models.smollm2 import build_smollm2_model
    from workbench.models.tiny import build_tiny_model


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench.models' has no attribute '{name}'")
    value = getattr(importlib.import_module(f"workbench.models.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
