"""The index: search modes, fusion, persistence with a manifest, refusals, atomic writes, incremental updates."""

from __future__ import annotations

import itertools
import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rag_helpers import SMALL, CountingEmbedder, write_corpus

from workbench.errors import ConfigError, NotFoundError
from workbench.rag import (
    EmbedderMismatchError,
    IndexCorruptError,
    RagIndex,
    cached_index,
    reciprocal_rank_fusion,
    weighted_fusion,
)
from workbench.rag.fusion import fuse_batch


def test_modes_find_the_obvious_document(built_index: Path, embedder: Any) -> None:
    index = RagIndex.load(built_index, embedder=embedder)
    assert index.sources == [
        "guides/csv.md",
        "guides/json.md",
        "notes/compression.txt",
        "pdf/hashing.pdf",
        "web/dates.html",
    ]
    for mode in ("dense", "bm25", "hybrid"):
        hits = index.search(
            "Which function serialises an object to a JSON string?", 3, mode=mode, record=False
        )
        assert hits[0].source == "guides/json.md", mode
        assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
        assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
    hybrid = index.search("sha256 digest of bytes", 2, record=False)[0]
    assert (
        hybrid.source == "pdf/hashing.pdf"
        and hybrid.dense_score is not None
        and hybrid.bm25_score is not None
    )
    assert hybrid.chunk.metadata["page"] == 1
    as_json = hybrid.to_dict()
    assert {"source", "text", "score", "chunk_id", "rank", "metadata"} <= set(as_json)
    json.dumps(as_json)


def test_weights_at_the_extremes_reduce_to_one_retriever(built_index: Path, embedder: Any) -> None:
    index = RagIndex.load(built_index, embedder=embedder)
    question = "How do I read rows of a comma separated file?"
    dense = [h.chunk.id for h in index.search(question, 4, mode="dense", record=False)]
    bm25 = [h.chunk.id for h in index.search(question, 4, mode="bm25", record=False)]
    for fusion in ("weighted", "rrf"):
        assert [
            h.chunk.id for h in index.search(question, 4, fusion=fusion, weights=(1, 0), record=False)
        ] == dense
        assert [
            h.chunk.id for h in index.search(question, 4, fusion=fusion, weights=(0, 1), record=False)
        ] == bm25


def test_search_batch_matches_single_searches(built_index: Path, embedder: Any) -> None:
    index = RagIndex.load(built_index, embedder=embedder)
    questions = ["gzip files", "ISO 8601 dates", "the the the"]  # the last has only stopwords: no BM25 hits
    batch = index.search_batch(questions, 3, fusion="rrf")
    for question, hits in zip(questions, batch, strict=True):
        single = index.search(question, 3, fusion="rrf", record=False)
        assert [(h.chunk.id, round(h.score, 6)) for h in hits] == [
            (h.chunk.id, round(h.score, 6)) for h in single
        ]
    assert index.search("the the the", 3, mode="bm25", record=False) == []


def test_vectorised_fusion_agrees_with_the_reference() -> None:
    rng = random.Random(0)
    n, depth = 40, 12
    for method, reference in (("rrf", reciprocal_rank_fusion), ("weighted", weighted_fusion)):
        for _ in range(20):
            lists, arrays = [], []
            for _retriever in range(2):
                count = rng.randint(0, depth)
                positions = rng.sample(range(n), count)
                scores = sorted((rng.random() * 10 for _ in range(count)), reverse=True)
                lists.append(list(zip(positions, scores, strict=True)))
                pos = np.full((1, depth), -1)
                sc = np.zeros((1, depth))
                pos[0, :count], sc[0, :count] = positions, scores
                arrays.append((pos, sc, pos >= 0))
            weights = (rng.choice([0.0, 0.3, 1.0]), rng.choice([0.2, 0.7]))
            expected = dict(reference(lists, weights))
            top, top_scores = fuse_batch(n, arrays, weights, method, 5)
            got = [(int(p), float(s)) for p, s in zip(top[0], top_scores[0], strict=True) if p >= 0]
            best = sorted(expected.values(), reverse=True)[:5]
            assert [round(s, 9) for _, s in got] == [round(s, 9) for s in best]  # same scores, best first
            assert all(round(expected[p], 9) == round(s, 9) for p, s in got)  # and each the right chunk's


def test_bad_search_arguments_are_config_errors(built_index: Path, embedder: Any) -> None:
    index = RagIndex.load(built_index, embedder=embedder)
    with pytest.raises(ConfigError, match="unknown retrieval mode 'semantic'"):
        index.search("x", mode="semantic")
    with pytest.raises(ConfigError, match="k must be a positive integer"):
        index.search("x", k=0)
    with pytest.raises(ConfigError, match="weights must be non-negative and not both zero"):
        index.search("x", weights=(0, 0))
    with pytest.raises(ConfigError, match="unknown fusion 'max'"):
        index.search("x", fusion="max")


def test_manifest_records_embedder_chunking_versions_and_checksums(built_index: Path) -> None:
    manifest = json.loads((built_index / "manifest.json").read_text())
    assert manifest["format"] == "workbench-rag-index" and manifest["format_version"] == 1
    assert manifest["embedder"]["name"] == "all-MiniLM-L6-v2" and manifest["embedder"]["dim"] == 384
    assert len(manifest["embedder"]["fingerprint"]) == 8
    assert manifest["chunking"] == {"splitter": "markdown", "chunk_size": 200, "chunk_overlap": 20}
    assert {"python", "faiss-cpu", "bm25s", "langchain-text-splitters", "pypdf"} <= set(manifest["versions"])
    assert {"chunks.jsonl", "dense.faiss"} <= set(manifest["files"])
    assert manifest["counts"]["documents"] == 5
    assert all(len(doc["sha256"]) == 64 and doc["chunk_ids"] for doc in manifest["documents"].values())
    assert len(manifest["revision"]) == 32  # a new one per save: stale writers are refused
    leftovers = [p.name for p in built_index.parent.iterdir() if p.name.startswith(".index.")]
    assert leftovers in ([], [".index.lock"])  # the writers' lock file may stay; no temp folders


class OtherEmbedder:
    """A different model: same dimension, different vectors."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        rng = np.random.default_rng(len(texts))
        out = rng.normal(size=(len(texts), self.dim)).astype(np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def test_querying_with_another_embedder_is_refused(built_index: Path, embedder: Any) -> None:
    class Small(OtherEmbedder):
        name, dim = "tiny-embedder", 8

    with pytest.raises(
        EmbedderMismatchError, match="built with the embedder 'all-MiniLM-L6-v2 \\(dim 384\\)'"
    ) as err:
        RagIndex.load(built_index, embedder=Small())
    assert err.value.field == "embedder" and "rebuild" in (err.value.hint or "")
    with pytest.raises(EmbedderMismatchError, match="with different weights"):
        RagIndex.load(built_index, embedder=OtherEmbedder())
    assert RagIndex.load(built_index, embedder=embedder).embedder is embedder


def test_corrupted_index_folders_give_clear_errors(index_copy: Path, embedder: Any, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no index at"):
        RagIndex.load(tmp_path / "missing", embedder=embedder)
    (tmp_path / "plain").mkdir()
    with pytest.raises(IndexCorruptError, match=r"is not a Workbench index \(no manifest\.json\)"):
        RagIndex.load(tmp_path / "plain", embedder=embedder)

    damaged = tmp_path / "damaged"
    shutil.copytree(index_copy, damaged)
    data = (damaged / "dense.faiss").read_bytes()
    (damaged / "dense.faiss").write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexCorruptError, match=r"'dense\.faiss' does not match its checksum") as err:
        RagIndex.load(damaged, embedder=embedder)
    assert "workbench rag index" in (err.value.hint or "")

    (index_copy / "chunks.jsonl").unlink()
    with pytest.raises(IndexCorruptError, match=r"index file 'chunks\.jsonl' is missing"):
        RagIndex.load(index_copy, embedder=embedder)
    (index_copy / "manifest.json").write_text('{"format": "workbench-rag-index",\n  "format_version": ')
    with pytest.raises(IndexCorruptError, match="manifest is not valid JSON") as err:
        RagIndex.load(index_copy, embedder=embedder)
    assert err.value.line == 2


def test_a_failed_save_leaves_the_old_index_untouched(
    index_copy: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {p.name: p.read_bytes() for p in index_copy.iterdir() if p.is_file()}
    index = RagIndex.load(index_copy, embedder=embedder)
    import faiss

    def explode(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(faiss, "write_index", explode)
    with pytest.raises(OSError, match="disk full"):
        index.save()
    assert {p.name: p.read_bytes() for p in index_copy.iterdir() if p.is_file()} == before
    assert not [p for p in index_copy.parent.glob(".index.*") if p.is_dir()]  # no temporary folder
    RagIndex.load(index_copy, embedder=embedder)


def test_an_interrupted_swap_is_recovered(index_copy: Path, embedder: Any) -> None:
    old = index_copy.parent / ".index.old-1234abcd"
    index_copy.rename(old)  # the crash fell between the two renames of a save
    assert len(RagIndex.load(index_copy, embedder=embedder)) > 0
    assert index_copy.is_dir() and not old.exists()


def test_refuses_to_overwrite_a_folder_that_is_not_an_index(
    corpus: Path, embedder: Any, tmp_path: Path
) -> None:
    target = tmp_path / "precious"
    target.mkdir()
    (target / "thesis.md").write_text("do not delete")
    with pytest.raises(ConfigError, match="refusing to replace"):
        RagIndex.build(corpus, out=target, chunking=SMALL, embedder=embedder)
    assert (target / "thesis.md").read_text() == "do not delete"


def test_add_and_remove_documents_without_re_embedding_the_rest(tmp_path: Path, embedder: Any) -> None:
    src = write_corpus(tmp_path / "docs")
    counting = CountingEmbedder(embedder)
    index = RagIndex.build(src, out=tmp_path / "idx", chunking=SMALL, embedder=counting)
    first = counting.embedded
    assert first == len(index) > 0

    (src / "guides" / "regex.md").write_text(
        "# Regular expressions\n\nre.findall returns all non-overlapping matches.\n"
    )
    report = index.add([src / "guides" / "regex.md"])
    assert report.added == ["guides/regex.md"] and report.chunks_added == counting.embedded - first == 1
    assert index.search("non-overlapping regex matches", 1, record=False)[0].source == "guides/regex.md"

    report = index.add([src])  # the whole folder again: nothing changed, nothing embedded
    assert report.added == [] and len(report.unchanged) == 6 and counting.embedded - first == 1

    (src / "guides" / "regex.md").write_text(
        "# Regular expressions\n\nre.sub replaces the matches of a pattern.\n"
    )
    report = index.add([src / "guides" / "regex.md"])
    assert report.replaced == ["guides/regex.md"] and report.chunks_removed == 1 and report.chunks_added == 1

    with pytest.raises(NotFoundError, match=r"not in the index: nope\.md"):
        index.remove(["guides/regex.md", "nope.md"])
    assert "guides/regex.md" in index.sources  # all or nothing
    report = index.remove(["guides/regex.md"])
    assert report.removed == ["guides/regex.md"]
    assert all(h.source != "guides/regex.md" for h in index.search("regex pattern matches", 5, record=False))

    reloaded = RagIndex.load(tmp_path / "idx", embedder=embedder)  # every change was saved
    assert reloaded.sources == index.sources and len(reloaded) == len(index)
    assert counting.embedded == first + 2


def test_sync_and_cached_index_follow_the_folder(tmp_path: Path, embedder: Any) -> None:
    src = write_corpus(tmp_path / "docs")
    counting = CountingEmbedder(embedder)
    index = cached_index(src, chunking=SMALL, embedder=counting, cache_dir=tmp_path / "cache")
    built = counting.embedded
    (src / "notes" / "compression.txt").unlink()
    (src / "notes" / "new.md").write_text("# New\n\nA brand new note about tarfile archives.\n")
    again = cached_index(src, chunking=SMALL, embedder=counting, cache_dir=tmp_path / "cache")
    assert again.path == index.path
    assert "notes/compression.txt" not in again.sources and "notes/new.md" in again.sources
    assert counting.embedded == built + 1


def test_retrieval_is_recorded_as_telemetry(built_index: Path, embedder: Any) -> None:
    from workbench.telemetry import get_recorder, open_store

    index = RagIndex.load(built_index, embedder=embedder)
    hits = index.search("gzip", 2, mode="bm25")
    get_recorder().flush()
    with open_store() as store:
        events = store.query(kind="retrieval")
    assert len(events) == 1
    attrs = events[0].attributes
    assert (
        attrs["mode"] == "bm25"
        and attrs["k"] == 2
        and attrs["hits"] == len(hits)
        and attrs["index"] == "index"
    )
    assert attrs["sources"][0] == "notes/compression.txt" and "query" not in attrs
    assert events[0].duration_s is not None
