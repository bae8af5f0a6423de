"""Exported forms of a sentence-transformers model for ONNX Runtime and OpenVINO, built once in the model cache.

Nothing is downloaded: the ONNX graph is traced here from the model's own files (``torch.onnx.export``, the
whole sentence-transformers pipeline, pooling included, so the graph returns sentence embeddings), then checked
against PyTorch on sentences of different lengths. The int8 form is ONNX Runtime's dynamic quantization of the
matrix products (``onnxruntime.quantization.quantize_dynamic``); the OpenVINO form is that runtime's own
reading of the float32 graph, saved as IR with float32 weights; the OpenVINO int8 form is that graph statically
quantized by NNCF on the shipped calibration texts (:mod:`workbench.models.embedding_quantize`). Each form is a folder under
``<models_dir>/embeddings/<model folder>-<key>/`` built with :func:`~workbench.models.cache.atomic_build` (written
once across processes, renamed into place), holding the model, ``tokenizer.json`` and
``workbench-export.json`` (written last). The key changes when the model's files change.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from workbench.errors import ModelLoadError
from workbench.models.cache import atomic_build

Form = Literal["onnx-fp32", "onnx-int8", "openvino", "openvino-int8"]
EXPORT_MANIFEST = "workbench-export.json"
#: Bumped when the export recipe changes, so old exports are rebuilt rather than reused.
EXPORT_VERSION = 1
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_PROBES = [
    "Workbench exports this model.",
    "A second, noticeably longer sentence makes the batch pad the first one, which the graph must ignore.",
]


@dataclass(frozen=True)
class ExportedModel:
    """A built export folder.

    Attributes:
        folder: Where it is.
        model_file: The model's file in ``folder`` (``model.onnx`` or ``model.xml``).
        inputs: The graph's input names, in order.
        max_length: Tokens per text (longer texts are truncated, as sentence-transformers does).
        dim: Embedding dimension.
    """

    folder: Path
    model_file: str
    inputs: tuple[str, ...]
    max_length: int
    dim: int

    @property
    def model_path(self) -> Path:
        """The model file."""
        return self.folder / self.model_file

    @classmethod
    def read(cls, folder: Path) -> ExportedModel:
        """Read the manifest of a built export folder."""
        data = json.loads((folder / EXPORT_MANIFEST).read_text(encoding="utf-8"))
        return cls(folder, data["model_file"], tuple(data["inputs"]), int(data["max_length"]), int(data["dim"]))


def exported_model(target: str, *, local: bool, form: Form) -> ExportedModel:
    """The ``form`` export of the model ``target``, built in the model cache on first use.

    Aliases of one model (``minilm``, the wheel's folder) share one export: the cache folder is named after the
    model's files, not after the name it was asked for.

    Args:
        target: Its folder, or a hub id cached locally.
        local: Whether ``target`` is a local folder (``local_files_only`` for sentence-transformers).
        form: ``onnx-fp32``, ``onnx-int8``, ``openvino`` or ``openvino-int8``.

    Raises:
        ModelLoadError: The model cannot be exported (its tokenizer has no fast version, or the graph does not
            reproduce the model).
    """
    from workbench.settings import get_settings

    base = get_settings().models_dir / "embeddings" / f"{_slug(target, local)}-{_source_key(target, local)}"
    fp32 = atomic_build(base / "onnx-fp32", lambda tmp: _export_onnx(target, local, tmp), manifest=EXPORT_MANIFEST)
    folder = fp32
    if form == "onnx-int8":
        folder = atomic_build(base / "onnx-int8", lambda tmp: _quantize_int8(fp32, tmp), manifest=EXPORT_MANIFEST)
    elif form == "openvino":
        folder = atomic_build(base / "openvino", lambda tmp: _to_openvino(fp32, tmp), manifest=EXPORT_MANIFEST)
    elif form == "openvino-int8":
        folder = atomic_build(
            base / "openvino-int8", lambda tmp: _to_openvino_int8(fp32, tmp), manifest=EXPORT_MANIFEST
        )
    return ExportedModel.read(folder)


def _slug(target: str, local: bool) -> str:
    """A readable folder name: the last two parts of a folder's path, or the hub id."""
    name = "-".join(Path(target).parts[-2:]) if local else target
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-").lower() or "model"


def _source_key(target: str, local: bool) -> str:
    """A short hash of the model's files (relative path, size, modification time) and the export recipe."""
    digest = hashlib.sha256(f"{EXPORT_VERSION}|{target}".encode())
    root = Path(target)
    if local and root.is_dir():
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            stat = path.stat()
            digest.update(f"|{path.relative_to(root).as_posix()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:12]


def _write_manifest(folder: Path, export: dict[str, Any]) -> None:
    (folder / EXPORT_MANIFEST).write_text(json.dumps(export, indent=2) + "\n", encoding="utf-8")


def _load_for_export(target: str, local: bool) -> Any:
    """The model on the CPU in float32 with eager attention (the form ``torch.onnx.export`` traces cleanly)."""
    from workbench.models._hf import quiet_hf

    with quiet_hf():
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(
            target, device="cpu", local_files_only=local, model_kwargs={"attn_implementation": "eager"}
        )


def _export_onnx(target: str, local: bool, folder: Path) -> None:
    import numpy as np
    import torch

    model = _load_for_export(target, local).eval()
    tokenizer = getattr(model.tokenizer, "backend_tokenizer", None)
    if tokenizer is None:
        raise ModelLoadError(
            "this embedding model's tokenizer has no fast (tokenizers) version, so it cannot be exported",
            file=target if local else None,
            hint="use the variant torch-fp32 or torch-bf16 for this model",
        )
    preprocess = getattr(model, "preprocess", None) or model.tokenize
    features = preprocess(_PROBES)
    inputs = tuple(k for k in _INPUTS if k in features)
    wrapper = _pipeline_module(model, inputs).eval()  # a new module starts in training mode (dropout on)
    with warnings.catch_warnings(), torch.no_grad():
        expected = wrapper(*(features[k] for k in inputs)).float().numpy()
        warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python branches; checked below
        torch.onnx.export(
            wrapper, tuple(features[k] for k in inputs), str(folder / "model.onnx"),
            input_names=list(inputs), output_names=["sentence_embedding"],
            dynamic_axes={**{k: {0: "batch", 1: "tokens"} for k in inputs}, "sentence_embedding": {0: "batch"}},
            opset_version=17, dynamo=False,
        )  # fmt: skip
    max_length = int(model.max_seq_length or min(int(model.tokenizer.model_max_length), 512))
    # Saved with sentence-transformers' truncation and padding, so the runtimes tokenize exactly as it does.
    tokenizer.enable_truncation(max_length)
    pad_id = model.tokenizer.pad_token_id
    tokenizer.enable_padding(pad_id=int(pad_id or 0), pad_token=str(model.tokenizer.pad_token or "[PAD]"))
    tokenizer.save(str(folder / "tokenizer.json"))
    _check_export(folder / "model.onnx", {k: features[k].numpy() for k in inputs}, expected, target)
    _write_manifest(
        folder,
        {
            "version": EXPORT_VERSION,
            "source": target,
            "form": "onnx-fp32",
            "model_file": "model.onnx",
            "inputs": list(inputs),
            "max_length": max_length,
            "dim": int(np.asarray(expected).shape[1]),
            "torch": torch.__version__,
        },
    )


def _pipeline_module(model: Any, inputs: tuple[str, ...]) -> Any:
    """The sentence-transformers pipeline as a module of positional tensors (what ONNX export needs)."""
    import torch

    class SentenceEmbedding(torch.nn.Module):
        """Positional tensors in, sentence embeddings out."""

        def __init__(self, model: Any, inputs: tuple[str, ...]) -> None:
            super().__init__()
            self.model = model
            self.inputs = inputs

        def forward(self, *tensors: Any) -> Any:
            return self.model(dict(zip(self.inputs, tensors, strict=True)))["sentence_embedding"]

    return SentenceEmbedding(model, inputs)


def _check_export(path: Path, feed: dict[str, Any], expected: Any, target: str) -> None:
    """Refuse an export whose graph does not reproduce the model on the padded probe batch."""
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {k: v.astype(np.int64) for k, v in feed.items()})[0]
    if not np.allclose(got, expected, atol=1e-4):
        raise ModelLoadError(
            f"the ONNX export does not reproduce the model (largest difference {np.abs(got - expected).max():.2e})",
            file=target,
            hint="use the variant torch-fp32 or torch-bf16 for this model",
        )


def _quantize_int8(fp32: Path, folder: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    advice = _DropMessage("pre-processing before quantization")  # advice for static quantization; not ours
    root.addFilter(advice)
    try:
        quantize_dynamic(
            str(fp32 / "model.onnx"), str(folder / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True,
            op_types_to_quantize=["MatMul"],
            # The traced graph lacks some intermediate types that the quantizer looks up; they are all float.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )  # fmt: skip
    finally:
        root.removeFilter(advice)
    _copy_alongside(fp32, folder, form="onnx-int8", model_file="model.onnx")


class _DropMessage(logging.Filter):
    """Drops log records whose message contains ``text``."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


def _to_openvino(fp32: Path, folder: Path) -> None:
    from workbench._optional import require

    ov = require("openvino")  # with OpenVINO's telemetry blocked

    model = ov.Core().read_model(str(fp32 / "model.onnx"))
    ov.save_model(model, str(folder / "model.xml"), compress_to_fp16=False)  # keep float32 weights
    _copy_alongside(fp32, folder, form="openvino", model_file="model.xml")


def _to_openvino_int8(fp32: Path, folder: Path) -> None:
    from workbench.models.embedding_quantize import quantize_openvino

    inputs = tuple(json.loads((fp32 / EXPORT_MANIFEST).read_text(encoding="utf-8"))["inputs"])
    quantize_openvino(fp32 / "model.onnx", fp32 / "tokenizer.json", inputs, folder / "model.xml")
    _copy_alongside(fp32, folder, form="openvino-int8", model_file="model.xml")


def _copy_alongside(fp32: Path, folder: Path, *, form: str, model_file: str) -> None:
    """Copy the tokenizer and write the manifest of a form derived from the float32 export."""
    shutil.copy2(fp32 / "tokenizer.json", folder / "tokenizer.json")
    export = json.loads((fp32 / EXPORT_MANIFEST).read_text(encoding="utf-8"))
    _write_manifest(folder, {**export, "form": form, "model_file": model_file})
