"""Embedders and rerankers load safetensors only: a crafted pickle is refused before anything unpickles it.

The payload writes a marker file when unpickled; ``torch.load`` is also replaced by a trap, so the tests fail
if any loader reaches it, whatever torch's own safe-load default would have done.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pickle_trap import evil_pickle, trap_torch_load

from workbench.cli import main

BERT_CONFIG = {"model_type": "bert", "architectures": ["BertModel"], "vocab_size": 100, "hidden_size": 8,
               "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16}  # fmt: skip


@pytest.fixture
def marker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    trap_torch_load(monkeypatch)
    return tmp_path / "PWNED"


def _evil_folder(folder: Path, marker: Path, weights: str = "pytorch_model.bin") -> Path:
    """A model folder whose only weights are a pickle carrying the payload."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(BERT_CONFIG))
    (folder / weights).parent.mkdir(parents=True, exist_ok=True)
    (folder / weights).write_bytes(evil_pickle("embeddings.weight", marker))
    return folder


def _error(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    return dict(json.loads(capsys.readouterr().out))


def test_rag_index_refuses_a_pickle_embedder(
    corpus: Path, tmp_path: Path, marker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _evil_folder(tmp_path / "evil-embedder", marker)
    code = main(["rag", "index", str(corpus), "--out", str(tmp_path / "idx"), "--embedder", str(folder), "--json"])
    err = _error(capsys)
    assert code == 2 and err["error"] == "ModelLoadError"
    assert "pytorch_model.bin" in err["message"] and "arbitrary code" in err["message"]
    assert err["file"] == str(folder / "pytorch_model.bin")
    assert "safetensors" in err["hint"]
    assert not (tmp_path / "idx").exists()
    assert not marker.exists(), "the pickle payload ran"


def test_a_pickle_module_of_a_sentence_transformers_folder_is_refused(tmp_path: Path, marker: Path) -> None:
    """Top-level safetensors do not excuse a ``2_Dense`` module that sentence-transformers would torch.load."""
    from workbench.errors import ModelLoadError
    from workbench.models import load_embedder

    folder = _evil_folder(tmp_path / "st-model", marker, weights="2_Dense/pytorch_model.bin")
    (folder / "model.safetensors").write_bytes(b"")
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}]  # fmt: skip
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ModelLoadError, match=r"refusing to load 'pytorch_model\.bin'") as info:
        load_embedder(str(folder))
    assert info.value.file == str(folder / "2_Dense" / "pytorch_model.bin")
    assert not marker.exists(), "the pickle payload ran"


def test_rag_query_refuses_a_pickle_reranker(
    built_index: Path, embedder: Any, tmp_path: Path, marker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _evil_folder(tmp_path / "evil-reranker", marker)
    code = main(["rag", "query", str(built_index), "gzip", "--rerank", str(folder), "--json"])
    err = _error(capsys)
    assert code == 2 and err["error"] == "ModelLoadError"
    assert "pytorch_model.bin" in err["message"] and "arbitrary code" in err["message"]
    assert err["file"] == str(folder / "pytorch_model.bin")
    assert "safetensors" in err["hint"]
    assert not marker.exists(), "the pickle payload ran"
