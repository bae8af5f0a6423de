"""The model runtime: devices, quantization plans, model loading, generation and embeddings.

``import workbench.models`` is cheap: names are imported from their submodules on first use, and torch,
transformers and the ``openai`` client load only when a model does.

Quick tour::

    from workbench.models import load_model, plan_quantization, load_embedder

    llm = load_model()                       # the built-in "workbench-tiny", built locally on first use
    llm.generate("How do I reset my password?").text
    for chunk in llm.stream([{"role": "user", "content": "My VPN is broken."}]):
        print(chunk, end="")
    load_model("workbench-tiny", bits=4)     # bitsandbytes NF4 (falls back honestly where it cannot run)
    load_model("./my-model")                 # a local Hugging Face folder (safetensors only)
    load_model("org/name")                   # a hub id (cache, or download when online)
    load_model("openai:llama3.2", base_url="http://localhost:11434/v1")   # Ollama, vLLM, llama.cpp...
    load_embedder().embed_documents(["a", "b"])                          # all-MiniLM-L6-v2, offline
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench._lazy import lazy_exports
from workbench.settings import TINY_MODEL

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
    "load_model": "backends",
    "ChatBackend": "backends",
    "MODEL_SOURCES": "backends",
    "GenerationParams": "generation",
    "Generation": "generation",
    "GenerationStream": "generation",
    "Message": "generation",
    "load_embedder": "embeddings",
    "Embedder": "embeddings",
}

__all__ = [
    "MODEL_SOURCES",
    "TINY_MODEL",
    "ChatBackend",
    "DeviceInfo",
    "Embedder",
    "Generation",
    "GenerationParams",
    "GenerationStream",
    "Message",
    "QuantProbe",
    "QuantizationPlan",
    "build_tiny_model",
    "detect_device",
    "detect_devices",
    "load_embedder",
    "load_model",
    "plan_quantization",
    "probe_quantization",
]

if TYPE_CHECKING:
    from workbench.models.backends import MODEL_SOURCES, ChatBackend, load_model
    from workbench.models.devices import DeviceInfo, detect_device, detect_devices
    from workbench.models.embeddings import Embedder, load_embedder
    from workbench.models.generation import Generation, GenerationParams, GenerationStream, Message
    from workbench.models.quantization import (
        QuantizationPlan,
        QuantProbe,
        plan_quantization,
        probe_quantization,
    )
    from workbench.models.tiny import build_tiny_model

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
