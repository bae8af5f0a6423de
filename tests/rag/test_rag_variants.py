"""Embedding variants: the same model through PyTorch, ONNX Runtime and OpenVINO; each index records its variant
and refuses queries embedded by another one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from workbench.cli import main
from workbench.errors import ValidationError
from workbench.models import EMBEDDING_VARIANTS, load_embedder
from workbench.models.embedding_variants import CPU_DEFAULT, resolve_variant
from workbench.rag import EmbedderMismatchError, RagIndex, read_info
from workbench.rag.embedders import fingerprint

ROOT = Path(__file__).resolve().parents[2]

TEXTS = [
    "reset my password",
    "How do I parse an ISO 8601 date string?",
    "gzip compresses files; zlib compresses bytes in memory. " * 12,  # long: padded batches must not leak
    "x",
]


def test_auto_picks_the_fast_cpu_variant_and_torch_on_accelerators() -> None:
    assert resolve_variant("auto", accelerator=False).name == CPU_DEFAULT == "openvino-int8"
    assert resolve_variant("auto", accelerator=True).name == "torch-fp32"
    assert resolve_variant("ONNX-int8", accelerator=True).name == "onnx-int8"  # a named one is kept
    with pytest.raises(ValidationError) as err:
        resolve_variant("onnx-fp8", accelerator=False)
    assert err.value.field == "variant" and "openvino-int8" in (err.value.hint or "")


@pytest.mark.slow
def test_every_variant_embeds_like_the_float32_reference(embedder: Any) -> None:
    reference = load_embedder(variant="torch-fp32").embed_documents(TEXTS)
    assert embedder.variant == CPU_DEFAULT  # the session's default embedder
    for name, variant in EMBEDDING_VARIANTS.items():
        emb = load_embedder(variant=name)
        assert emb.variant == name and emb.dim == 384 and emb.device == "cpu"
        vectors = emb.embed_documents(TEXTS)
        assert vectors.dtype == np.float32 and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        cosines = (vectors * reference).sum(axis=1)
        floor = {"fp32": 0.99999, "bf16": 0.999, "int8": 0.98}[variant.precision]
        assert cosines.min() > floor, (name, cosines)
        # a text embedded alone matches the same text inside a padded, length-sorted batch (int8 less exactly:
        # onnx-int8's dynamic quantization scales activations per batch)
        alone = emb.embed_query(TEXTS[1])
        assert float(alone @ vectors[1]) > {"fp32": 0.9999, "bf16": 0.999, "int8": 0.98}[variant.precision], name


def test_the_index_records_its_variant(built_index: Path, embedder: Any, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = json.loads((built_index / "manifest.json").read_text())
    assert manifest["embedder"]["variant"] == embedder.variant == CPU_DEFAULT
    assert read_info(built_index)["embedder"]["variant"] == CPU_DEFAULT
    assert main(["rag", "info", str(built_index)]) == 0
    assert f"(dim 384, variant {CPU_DEFAULT})" in capsys.readouterr().out
    assert RagIndex.load(built_index).embedder.variant == CPU_DEFAULT  # queries use the index's own variant


def test_querying_with_another_variant_is_refused(
    built_index: Path, embedder: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(EmbedderMismatchError) as err:
        RagIndex.load(built_index, variant="onnx-int8")
    message = str(err.value)
    assert f"built with the embedder 'all-MiniLM-L6-v2' in the variant '{CPU_DEFAULT}', not 'onnx-int8'" in message
    assert "not comparable" in message and err.value.field == "embedder.variant"
    assert f"the index's own, {CPU_DEFAULT}" in (err.value.hint or "") and "--variant onnx-int8" in (
        err.value.hint or ""
    )
    assert RagIndex.load(built_index, variant="auto").embedder is embedder  # auto means the index's own

    code = main(["rag", "query", str(built_index), "gzip", "--variant", "torch-fp32"])
    err_text = capsys.readouterr().err
    assert code == 2 and "not 'torch-fp32'" in err_text and "Traceback" not in err_text
    code = main(["rag", "query", str(built_index), "gzip", "--variant", "torch-fp32", "--json"])
    error = json.loads(capsys.readouterr().out)
    assert code == 2 and error["error"] == "EmbedderMismatchError"


@pytest.mark.slow
def test_an_embedder_object_of_another_variant_is_refused(built_index: Path) -> None:
    other = load_embedder(variant="torch-fp32")  # same model and weights, another runtime
    with pytest.raises(EmbedderMismatchError, match="in the variant 'openvino-int8', not 'torch-fp32'"):
        RagIndex.load(built_index, embedder=other)


@pytest.mark.slow
def test_an_index_from_before_variants_is_read_as_torch_fp32(built_index: Path, tmp_path: Path) -> None:
    legacy = tmp_path / "legacy"
    shutil.copytree(built_index, legacy)
    manifest = json.loads((legacy / "manifest.json").read_text())
    del manifest["embedder"]["variant"]  # as written before variants were recorded, by torch-fp32
    manifest["embedder"]["fingerprint"] = fingerprint(load_embedder(variant="torch-fp32"))
    (legacy / "manifest.json").write_text(json.dumps(manifest))
    assert read_info(legacy)["embedder"]["variant"] == "torch-fp32"
    index = RagIndex.load(legacy)
    assert index.embedder.variant == "torch-fp32"
    assert index.search("How do I parse an ISO date?", 1, record=False)[0].source == "web/dates.html"
    with pytest.raises(EmbedderMismatchError, match="in the variant 'torch-fp32', not 'openvino-int8'"):
        RagIndex.load(legacy, variant="openvino-int8")


def test_rag_index_takes_a_variant(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["rag", "index", str(corpus), "--out", str(tmp_path / "idx"), "--variant", "onnx-fp8"])
    assert code == 2 and "invalid value for '--variant'" in capsys.readouterr().err.lower()
    code = main(["rag", "index", "--help"])
    assert code == 0 and CPU_DEFAULT in capsys.readouterr().out


@pytest.mark.slow
def test_the_int8_export_is_quantized_quietly_from_the_shipped_calibration_texts(
    embedder: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    import sys

    import openvino as ov

    from workbench.models.embedding_export import EXPORT_MANIFEST
    from workbench.models.embedding_quantize import calibration_texts, quantize_openvino

    texts = calibration_texts()
    assert len(texts) >= 256 and all(200 <= len(t) <= 1000 for t in texts)
    corpus = {p.read_text(errors="ignore")[:200] for p in (ROOT / "datasets" / "corpus" / "docs").rglob("*.md")}
    assert not any(t[:200] in corpus for t in texts)  # calibrated on other text than the benchmark's corpus
    fp32 = embedder.encoder.export.folder.parent / "onnx-fp32"
    inputs = tuple(json.loads((fp32 / EXPORT_MANIFEST).read_text())["inputs"])
    capfd.readouterr()
    quantize_openvino(fp32 / "model.onnx", fp32 / "tokenizer.json", inputs, tmp_path / "model.xml")
    out, err = capfd.readouterr()
    assert out == "" and "Statistics collection" not in err  # NNCF's progress bars go to the log
    kinds = {op.get_type_name() for op in ov.Core().read_model(str(tmp_path / "model.xml")).get_ops()}
    assert "FakeQuantize" in kinds or "FakeConvert" in kinds  # int8 quantize/dequantize pairs were inserted
    assert sys.modules.get("openvino_telemetry") is None  # NNCF and OpenVINO ran with their telemetry blocked
