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

# ruff: noqa: F401 - the imports below are re-exports; __all__ comes from lazy_exports, which ruff cannot read
from typing import TYPE_CHECKING

from workbench._lazy import lazy_exports
from workbench.settings import SMOLLM2_MODEL, TINY_MODEL

#: submodule -> the public names it defines
_EXPORTS: dict[str, tuple[str, ...]] = {
    "devices": ("DeviceInfo", "detect_devices", "detect_device"),
    "quantization": ("QuantizationPlan", "QuantProbe", "plan_quantization", "probe_quantization"),
    "tiny": ("build_tiny_model",),
    "smollm2": ("build_smollm2_model",),
    "loading": ("load_model", "default_model_name", "prepare_builtin", "MODEL_SOURCES"),
    "backends": ("ChatBackend",),
    "generation": ("GenerationParams", "Generation", "GenerationStream", "Message"),
    "embeddings": ("load_embedder", "Embedder"),
    "folders": ("refuse_pickle_weights",),
    "_hf": ("hub_snapshot",),
    "embedding_variants": ("EmbeddingVariant", "EMBEDDING_VARIANTS"),
}


if TYPE_CHECKING:
    from workbench.models._hf import hub_snapshot
    from workbench.models.backends import ChatBackend
    from workbench.models.devices import DeviceInfo, detect_device, detect_devices
    from workbench.models.embedding_variants import EMBEDDING_VARIANTS, EmbeddingVariant
    from workbench.models.embeddings import Embedder, load_embedder
    from workbench.models.folders import refuse_pickle_weights
    from workbench.models.generation import Generation, GenerationParams, GenerationStream, Message
    from workbench.models.loading import MODEL_SOURCES, default_model_name, load_model, prepare_builtin
    from workbench.models.quantization import (
        QuantizationPlan,
        QuantProbe,
        plan_quantization,
        probe_quantization,
    )
    from workbench.models.smollm2 import build_smollm2_model
    from workbench.models.tiny import build_tiny_model

__all__, __getattr__, __dir__ = lazy_exports(
    __name__, _EXPORTS, globals(), eager=("SMOLLM2_MODEL", "TINY_MODEL")
)
