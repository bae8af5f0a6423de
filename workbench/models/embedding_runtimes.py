"""The runtimes behind the embedding variants: PyTorch (sentence-transformers), ONNX Runtime and OpenVINO.

Each encoder turns a list of texts into float32 vectors (not yet normalised). All of them batch texts sorted by
length, so a batch pads to about its own length instead of the longest text's, and use every core the process
may run on (:func:`cpu_count`): PyTorch's own thread pool, ONNX Runtime's intra-op threads, OpenVINO's
throughput streams fed by an asynchronous queue. One process is enough: the runtimes' thread pools already fill
the cores, and worker processes would each hold a copy of the model.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np

from workbench.errors import ModelLoadError
from workbench.models.devices import DeviceInfo
from workbench.models.embedding_export import ExportedModel, Form, exported_model
from workbench.models.embedding_variants import EmbeddingVariant


class Encoder(Protocol):
    """What :class:`~workbench.models.embeddings.Embedder` needs from a runtime."""

    dim: int
    device: str
    model: Any

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray: ...


def cpu_count() -> int:
    """The cores this process may run on (its CPU affinity where the platform tells, else all of them)."""
    getter = getattr(os, "sched_getaffinity", None)
    return len(getter(0)) if getter is not None else max(1, os.cpu_count() or 1)


def length_sorted(texts: list[str], batch_size: int) -> Iterator[np.ndarray]:
    """Index arrays of batches of ``texts``, longest first, so each batch pads to about its own length."""
    order = np.argsort([-len(t) for t in texts], kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def open_encoder(variant: EmbeddingVariant, *, target: str, local: bool, device: DeviceInfo) -> Encoder:
    """Load the model ``target`` with ``variant``'s runtime on ``device`` (where that runtime can use it).

    Raises:
        MissingExtraError: The variant's runtime is not installed.
        ModelLoadError: The model cannot be loaded or exported.
    """
    from workbench._optional import require

    require(variant.module, package=variant.module)
    if variant.runtime == "torch":
        return TorchEncoder.load(target, local=local, device=device, bf16=variant.precision == "bf16")
    form: Form = "onnx-int8" if variant.precision == "int8" else "onnx-fp32"
    if variant.runtime == "openvino":
        form = "openvino-int8" if variant.precision == "int8" else "openvino"
    export = exported_model(target, local=local, form=form)
    if variant.runtime == "openvino":  # int8: the products in int8, the rest in bfloat16 where the CPU has it
        return OpenVinoEncoder(export, bf16=variant.precision in ("bf16", "int8"))
    return OnnxRuntimeEncoder(export, device)


class TorchEncoder:
    """sentence-transformers on PyTorch (``SentenceTransformer.encode`` sorts each call's texts by length)."""

    batch_size = 32

    def __init__(self, model: Any, device: str) -> None:
        self.model = model
        self.device = device
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(getter())

    @classmethod
    def load(cls, target: str, *, local: bool, device: DeviceInfo, bf16: bool) -> TorchEncoder:
        """Load ``target`` on ``device`` in float32 (or bfloat16)."""
        import torch

        from workbench.models._hf import quiet_hf
        from workbench.models.quantization import quiet_bitsandbytes

        quiet_bitsandbytes(import_now=True)  # sentence-transformers imports it
        model_kwargs: dict[str, Any] = {"use_safetensors": True, **({"dtype": torch.bfloat16} if bf16 else {})}
        try:
            with quiet_hf():
                from sentence_transformers import SentenceTransformer

                model = SentenceTransformer(
                    target, device=device.torch_device, local_files_only=local, model_kwargs=model_kwargs
                )
        except Exception as exc:
            raise ModelLoadError(
                f"sentence-transformers could not load the embedding model: {type(exc).__name__}: {exc}",
                file=target if local else None,
                field=None if local else "embedder",
                hint="check that it is a sentence-transformers model (modules.json) or a plain encoder folder",
            ) from exc
        return cls(model, device.torch_device)

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """Float32 vectors of ``texts``."""
        import torch

        with torch.inference_mode():
            vectors = self.model.encode(
                texts, batch_size=batch_size or self.batch_size, convert_to_tensor=True, show_progress_bar=False
            )
        return vectors.float().cpu().numpy()


class _ExportedEncoder:
    """Shared by the runtimes that read an export: its tokenizer (``tokenizers``) and the feed it makes."""

    batch_size = 32

    def __init__(self, export: ExportedModel) -> None:
        from tokenizers import Tokenizer

        self.export = export
        self.dim = export.dim
        # Saved with sentence-transformers' truncation and padding (embedding_export), so ids match exactly.
        self.tokenizer = Tokenizer.from_file(str(export.folder / "tokenizer.json"))

    def feed(self, texts: list[str]) -> dict[str, np.ndarray]:
        """The graph's inputs for ``texts`` (int64, padded to the longest)."""
        encodings = self.tokenizer.encode_batch(texts)
        columns = {
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
        }
        return {name: np.asarray(columns[name], dtype=np.int64) for name in self.export.inputs}


class OnnxRuntimeEncoder(_ExportedEncoder):
    """ONNX Runtime: the CUDA execution provider on an NVIDIA device when installed, else the CPU."""

    def __init__(self, export: ExportedModel, device: DeviceInfo) -> None:
        import onnxruntime as ort

        super().__init__(export)
        options = ort.SessionOptions()
        options.intra_op_num_threads = cpu_count()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        providers: list[Any] = ["CPUExecutionProvider"]
        self.device = "cpu"
        if device.kind == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, ("CUDAExecutionProvider", {"device_id": device.index or 0}))
            self.device = device.torch_device
        self.model = ort.InferenceSession(str(export.model_path), options, providers=providers)

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """Float32 vectors of ``texts``."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for rows in length_sorted(texts, batch_size or self.batch_size):
            out[rows] = self.model.run(None, self.feed([texts[i] for i in rows]))[0]
        return out


class OpenVinoEncoder(_ExportedEncoder):
    """OpenVINO on the CPU in throughput mode: one stream per group of cores, batches queued asynchronously."""

    batch_size = 16

    def __init__(self, export: ExportedModel, *, bf16: bool) -> None:
        from workbench._optional import require

        ov = require("openvino")  # with OpenVINO's telemetry blocked

        super().__init__(export)
        core = ov.Core()
        # bfloat16 only where the CPU computes it natively (AMX, AVX512-BF16); elsewhere it would be emulated.
        native_bf16 = "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        self.precision = "bf16" if bf16 and native_bf16 else "f32"
        config = {
            "PERFORMANCE_HINT": "THROUGHPUT",
            "INFERENCE_NUM_THREADS": cpu_count(),
            "INFERENCE_PRECISION_HINT": self.precision,
        }
        self.model = core.compile_model(str(export.model_path), "CPU", config)
        self.device = "cpu"

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """Float32 vectors of ``texts``."""
        import openvino as ov

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        queue = ov.AsyncInferQueue(self.model)

        def done(request: Any, rows: np.ndarray) -> None:
            out[rows] = request.get_output_tensor(0).data

        queue.set_callback(done)
        for rows in length_sorted(texts, batch_size or self.batch_size):
            queue.start_async(self.feed([texts[i] for i in rows]), rows)
        queue.wait_all()
        return out
