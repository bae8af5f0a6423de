"""Chunk-level retrieval: dense vectors in FAISS, BM25 through bm25s, hybrid fusion, optional reranking.

:class:`ChunkIndex` holds the chunks, their vectors (``faiss.IndexIDMap2`` over an exact inner-product index;
vectors are L2-normalised, so the score is the cosine similarity; ids are the chunk ids, so removals need no
renumbering) and a bm25s index over the same chunks. :class:`~workbench.rag.index.RagIndex` wraps it with the
documents, the embedder and persistence. The retrieval settings (:data:`MODES`, :data:`DEFAULT_K`) live here so
that the CLI and the widgets take them from one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, runtime_checkable

import numpy as np

from workbench.errors import ConfigError
from workbench.rag.fusion import FUSIONS, check_weights, fuse_batch
from workbench.rag.ingest import Chunk
from workbench.rag.text import tokenize

if TYPE_CHECKING:
    from typing import Unpack  # Python 3.11+; annotations are never evaluated at run time here

MODES: tuple[str, ...] = ("dense", "bm25", "hybrid")
#: Chunks returned (and put in a RAG prompt) unless asked otherwise; LangChain's retrievers default to 4 too.
DEFAULT_K = 4
#: Candidates taken from each retriever before fusion (at least ``k``).
DEFAULT_FETCH_K = 50
BM25_PARAMS: dict[str, Any] = {"method": "lucene", "k1": 1.2, "b": 0.75}

#: ``(positions, scores, valid)`` arrays of shape ``(queries, depth)``: one retriever's ranked candidates.
Listing = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass
class Hit:
    """One retrieved chunk.

    Attributes:
        chunk: The chunk.
        score: The score it was ranked by (cosine, BM25, fused, or the reranker's).
        rank: 1-based position.
        dense_score: Cosine similarity, when the dense retriever returned it.
        bm25_score: BM25 score, when BM25 returned it.
        rerank_score: Cross-encoder score, when reranked.
    """

    chunk: Chunk
    score: float
    rank: int
    dense_score: float | None = None
    bm25_score: float | None = None
    rerank_score: float | None = None

    @property
    def source(self) -> str:
        """The source id of the chunk's document."""
        return self.chunk.source

    @property
    def text(self) -> str:
        """The chunk's text."""
        return self.chunk.text

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``workbench rag query --json`` prints a list of these)."""
        return {
            "rank": self.rank,
            "source": self.chunk.source,
            "chunk_id": self.chunk.id,
            "score": round(self.score, 6),
            "dense_score": None if self.dense_score is None else round(self.dense_score, 6),
            "bm25_score": None if self.bm25_score is None else round(self.bm25_score, 6),
            "rerank_score": None if self.rerank_score is None else round(self.rerank_score, 6),
            "text": self.chunk.text,
            "metadata": self.chunk.metadata,
        }


class SearchOptions(TypedDict, total=False):
    """How to retrieve: the keyword arguments of ``RagIndex.search`` and ``RagIndex.search_batch``.

    Attributes:
        mode: ``dense``, ``bm25`` or ``hybrid`` (default).
        fusion: ``weighted`` (default: min-max normalised scores, summed with ``weights``) or ``rrf`` (hybrid
            only). Weighted 0.5/0.5 scored best on the shipped corpus (see datasets/corpus/README.md).
        weights: ``(dense, bm25)`` weights of the fusion (default ``(0.5, 0.5)``).
        fetch_k: Candidates per retriever before fusion/reranking (default ``max(k, 50)``).
        reranker: A :class:`~workbench.rag.rerank.CrossEncoderReranker` (or anything with
            ``score(query, texts)``) to reorder the fused candidates.
    """

    mode: str
    fusion: str
    weights: Sequence[float]
    fetch_k: int | None
    reranker: Any


@dataclass(frozen=True)
class SearchRequest:
    """A checked retrieval request: ``k`` plus the :class:`SearchOptions` (bad values raise ``ConfigError``)."""

    k: int = DEFAULT_K
    mode: str = "hybrid"
    fusion: str = "weighted"
    weights: Sequence[float] = (0.5, 0.5)
    fetch_k: int | None = None
    reranker: Any = None
    #: The checked ``(dense, bm25)`` weights.
    pair: tuple[float, float] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pair", check_retrieval(self.mode, self.fusion, self.k, self.weights))

    def depth(self, size: int) -> int:
        """Candidates to take from each retriever over ``size`` chunks."""
        return min(size, max(self.k, self.fetch_k or DEFAULT_FETCH_K))


def check_retrieval(
    mode: str,
    fusion: str,
    k: object,
    weights: Sequence[float],
    *,
    mode_name: str = "retrieval mode",
    k_hint: str = "e.g. -k 5",
) -> tuple[float, float]:
    """Check a mode, fusion, ``k`` and ``(dense, bm25)`` weights; the checked weights.

    Args:
        mode_name: What the error calls the mode.
        k_hint: How the error suggests a ``k`` (the CLI's ``-k 5``, an evaluation spec's ``k=5``).

    Raises:
        ConfigError: Naming the bad field and the accepted values.
    """
    if mode not in MODES:
        raise ConfigError(
            f"unknown {mode_name} '{mode}'", field="mode", hint=f"use one of: {', '.join(MODES)}"
        )
    if fusion not in FUSIONS:
        raise ConfigError(
            f"unknown fusion '{fusion}'", field="fusion", hint=f"use one of: {', '.join(FUSIONS)}"
        )
    if not isinstance(k, int) or k < 1:
        raise ConfigError(f"k must be a positive integer, not {k!r}", field="k", hint=k_hint)
    return check_weights(weights)


@runtime_checkable
class Searchable(Protocol):
    """Anything that answers ``search(query, k, ...)`` with :class:`Hit` lists (``RagIndex`` does)."""

    def search(
        self, query: str, k: int = DEFAULT_K, *, record: bool = True, **options: Unpack[SearchOptions]
    ) -> list[Hit]: ...


class ChunkIndex:
    """Chunks with their dense (FAISS) and BM25 indexes: what ranks chunks, without documents or persistence.

    Args:
        dim: The embedding dimension.
        chunks: The chunks, in index order.
        vectors: Their L2-normalised vectors (row ``i`` for ``chunks[i]``); or pass ``dense``.
        dense: A FAISS ``IndexIDMap2`` already holding the chunks' vectors under their ids (a loaded index).
        bm25: A bm25s index over the same chunks, in the same order (rebuilt when ``None``).
        next_chunk_id: The id the next added chunk gets (default: one past the largest id).
    """

    def __init__(
        self,
        dim: int,
        chunks: Sequence[Chunk],
        vectors: np.ndarray | None = None,
        *,
        dense: Any = None,
        bm25: Any = None,
        next_chunk_id: int | None = None,
    ) -> None:
        import faiss

        self._by_id: dict[int, Chunk] = {c.id: c for c in chunks}
        self.order: list[int] = [c.id for c in chunks]
        self.next_chunk_id = next_chunk_id if next_chunk_id is not None else max(self.order, default=-1) + 1
        faiss.omp_set_num_threads(1)  # single queries: OpenMP spin-up costs more than it saves on few cores
        if dense is None:
            if vectors is None and chunks:
                raise ValueError("ChunkIndex needs the chunks' vectors or a FAISS index holding them")
            dense = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
            if chunks:
                dense.add_with_ids(
                    np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(self.order, dtype=np.int64)
                )
        self.dense: Any = dense
        self._lookup: np.ndarray | None = None
        self.bm25: Any = bm25
        if bm25 is None:
            self.rebuild_bm25()

    def __len__(self) -> int:
        return len(self.order)

    def __contains__(self, chunk_id: object) -> bool:
        return chunk_id in self._by_id

    @property
    def chunks(self) -> list[Chunk]:
        """All chunks, in index order."""
        return [self._by_id[i] for i in self.order]

    # ------------------------------------------------------------------------------------------ updating

    def rebuild_bm25(self) -> None:
        """Index every chunk in BM25 again (cheap; done once after each batch of changes)."""
        import bm25s

        self._lookup = None  # positions changed
        self.bm25 = bm25s.BM25(**BM25_PARAMS)
        if self.order:
            corpus = [tokenize(self._by_id[i].indexed_text) for i in self.order]
            self.bm25.index(corpus, show_progress=False)

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Append chunks with their vectors (call :meth:`rebuild_bm25` after the last change)."""
        if chunks:
            self.dense.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32),
                np.asarray([c.id for c in chunks], dtype=np.int64),
            )
            self.next_chunk_id = chunks[-1].id + 1
        for chunk in chunks:
            self._by_id[chunk.id] = chunk
            self.order.append(chunk.id)
        self._lookup = None

    def drop(self, chunk_ids: Sequence[int]) -> int:
        """Remove the chunks with these ids (unknown ones are ignored); the number removed."""
        ids = [i for i in chunk_ids if i in self._by_id]
        if ids:
            self.dense.remove_ids(np.asarray(ids, dtype=np.int64))
            gone = set(ids)
            self.order = [i for i in self.order if i not in gone]
            for i in ids:
                del self._by_id[i]
            self._lookup = None
        return len(ids)

    # ------------------------------------------------------------------------------------------- ranking

    def search(
        self, queries: Sequence[str], request: SearchRequest, vectors: np.ndarray | None
    ) -> list[list[Hit]]:
        """The hits of each query: one FAISS and one BM25 call for all of them.

        Args:
            queries: The questions (at least one; the index is not empty).
            request: What to retrieve.
            vectors: The queries' embeddings, for the ``dense`` and ``hybrid`` modes.
        """
        n = len(self.order)
        depth = request.depth(n)
        lists: list[Listing] = []
        if request.mode in ("dense", "hybrid"):
            assert vectors is not None, "dense retrieval needs the query vectors"
            scores, ids = self.dense.search(np.ascontiguousarray(vectors, dtype=np.float32), depth)
            lists.append((self._positions_of(ids), scores, ids >= 0))
        if request.mode in ("bm25", "hybrid"):
            lists.append(self._bm25_search(queries, depth))
        if request.mode == "hybrid":
            keep = max(depth, request.k) if request.reranker is not None else request.k
            top, top_scores = fuse_batch(n, lists, request.pair, request.fusion, keep)
        else:
            top, top_scores = lists[0][0], lists[0][1].astype(np.float64)
        dense_of = _score_maps(lists[0]) if request.mode != "bm25" else None
        bm25_of = _score_maps(lists[-1]) if request.mode != "dense" else None
        results = []
        for q, query in enumerate(queries):
            ranked = [(p, s) for p, s in zip(top[q].tolist(), top_scores[q].tolist(), strict=True) if p >= 0]
            scores_of = _Scores(
                dense_of[q] if dense_of is not None else {}, bm25_of[q] if bm25_of is not None else {}
            )
            if request.reranker is not None:
                results.append(self._reranked(query, ranked, scores_of, request, depth))
            else:
                results.append(
                    [self._hit(p, s, rank, scores_of) for rank, (p, s) in enumerate(ranked[: request.k], 1)]
                )
        return results

    def _hit(
        self, position: int, score: float, rank: int, scores: _Scores, rerank: float | None = None
    ) -> Hit:
        chunk = self._by_id[self.order[position]]
        return Hit(chunk, score, rank, scores.dense.get(position), scores.bm25.get(position), rerank)

    def _reranked(
        self, query: str, ranked: list[tuple[int, float]], scores: _Scores, request: SearchRequest, depth: int
    ) -> list[Hit]:
        """The fused candidates reordered by the reranker's scores."""
        candidates = [p for p, _ in ranked[: max(depth, request.k)]]
        texts = [self._by_id[self.order[p]].text for p in candidates]
        rr = [float(s) for s in request.reranker.score(query, texts)]
        order = sorted(range(len(candidates)), key=lambda j: -rr[j])[: request.k]
        return [self._hit(candidates[j], rr[j], rank, scores, rr[j]) for rank, j in enumerate(order, start=1)]

    def _positions_of(self, ids: np.ndarray) -> np.ndarray:
        """FAISS labels (chunk ids) -> positions in index order; -1 (no result) stays -1."""
        if self._lookup is None:
            lookup = np.full(max(self.next_chunk_id, 1), -1, dtype=np.int64)
            lookup[np.asarray(self.order, dtype=np.int64)] = np.arange(len(self.order))
            self._lookup = lookup
        return np.where(ids >= 0, self._lookup[np.clip(ids, 0, None)], -1)

    def _bm25_search(self, queries: Sequence[str], depth: int) -> Listing:
        """BM25 ``(positions, scores, valid)`` of shape ``(queries, depth)``; a zero score is not a hit."""
        tokens = [tokenize(q) for q in queries]
        positions = np.full((len(queries), depth), -1, dtype=np.int64)
        scores = np.zeros((len(queries), depth), dtype=np.float32)
        todo = [j for j, t in enumerate(tokens) if t]
        if todo:
            found, found_scores = self.bm25.retrieve(
                [tokens[j] for j in todo], k=depth, show_progress=False, n_threads=0
            )
            positions[todo] = found
            scores[todo] = found_scores
        valid = scores > 0
        positions[~valid] = -1
        return positions, scores, valid


@dataclass(frozen=True)
class _Scores:
    """One query's dense and BM25 scores by position (for the :class:`Hit` fields)."""

    dense: dict[int, float]
    bm25: dict[int, float]


def _score_maps(listing: Listing) -> list[dict[int, float]]:
    positions, scores, valid = listing
    return [
        {p: s for p, s, v in zip(pr, sr, vr, strict=True) if v}
        for pr, sr, vr in zip(positions.tolist(), scores.tolist(), valid.tolist(), strict=True)
    ]
