"""The retrieval index: dense vectors in FAISS, BM25 through bm25s, hybrid fusion, optional reranking.

An index lives in one folder::

    manifest.json   format version, embedder (name, dim, fingerprint), chunking, BM25 settings, library
                    versions, documents (sha256, chunk ids), skipped files, and a sha256 of every file below
    chunks.jsonl    one chunk per line: id, source, text, metadata
    dense.faiss     faiss.IndexIDMap2 over an exact inner-product index (vectors are L2-normalised, so the
                    score is the cosine similarity); ids are the chunk ids, so removals need no renumbering
    bm25/           a bm25s index over the same chunks (rebuilt in full on every change: it is cheap)

Writes are atomic: the whole folder is written to a hidden temporary sibling and renamed into place, so a
reader sees the old index or the new one, never half of one. (Replacing an existing folder takes two renames;
if a crash falls between them, :meth:`RagIndex.load` restores the previous index.)

Adding documents embeds only the new or changed ones; removing deletes their vectors by id. Neither
re-embeds the rest.

Several processes may share an index folder (two kernels of the same lesson, a CLI ``rag add`` while a
notebook queries). Writers take an exclusive lock (:func:`index_lock`, a ``filelock`` lock file next to the
folder, released by the OS if the process dies), and every save stamps a new ``revision`` in the manifest. A
save whose index was loaded at an older revision than the one on disk is refused with
:class:`IndexConflictError` instead of silently dropping the other writer's change ("last writer wins").
:func:`cached_index` and the CLI's ``rag add``/``rag remove`` hold the lock from load to save, so they wait
for each other instead of conflicting.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from workbench.errors import ConfigError, NotFoundError, ValidationError
from workbench.rag.fusion import FUSIONS, check_weights, fuse_batch
from workbench.rag.ingest import (
    DEFAULT_MAX_FILE_BYTES,
    Chunk,
    ChunkingConfig,
    SkippedDocument,
    SourceDocument,
    chunk_documents,
    load_documents,
)
from workbench.rag.text import TOKENIZER_VERSION, tokenize

log = logging.getLogger(__name__)

FORMAT = "workbench-rag-index"
FORMAT_VERSION = 1
MODES: tuple[str, ...] = ("dense", "bm25", "hybrid")
#: Candidates taken from each retriever before fusion (at least ``k``).
DEFAULT_FETCH_K = 50
BM25_PARAMS: dict[str, Any] = {"method": "lucene", "k1": 1.2, "b": 0.75}
_FINGERPRINT_TEXT = "Workbench embedder fingerprint: the quick brown fox reads the Python documentation."
_EMBED_BATCH = 128


class IndexCorruptError(ValidationError):
    """An index folder is incomplete, damaged or does not match its manifest."""


class IndexConflictError(ConfigError):
    """Another process saved the index after this one loaded it; saving now would drop its change."""


class IndexLockTimeout(ConfigError):
    """Another process held the index's write lock for longer than the timeout."""


class EmbedderMismatchError(ConfigError):
    """The index was built with another embedder than the one given for querying or updating."""


@runtime_checkable
class Embedder(Protocol):
    """What the index needs from an embedder (``workbench.models.load_embedder`` returns one)."""

    name: str
    dim: int

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


_EMBEDDERS: dict[str, Embedder] = {}


def get_embedder(name: str | None = None) -> Embedder:
    """``workbench.models.load_embedder(name)``, cached per process (loading MiniLM takes seconds)."""
    from workbench.models import load_embedder
    from workbench.settings import get_settings

    key = name or get_settings().default_embedder
    if key not in _EMBEDDERS:
        _EMBEDDERS[key] = load_embedder(name)
    return _EMBEDDERS[key]


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


@dataclass
class UpdateReport:
    """What :meth:`RagIndex.add` / :meth:`RagIndex.remove` changed."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[SkippedDocument] = field(default_factory=list)
    chunks_added: int = 0
    chunks_removed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "added": self.added,
            "replaced": self.replaced,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "skipped": [s.to_dict() for s in self.skipped],
            "chunks_added": self.chunks_added,
            "chunks_removed": self.chunks_removed,
        }

    def summary(self) -> str:
        """Human-readable lines for the CLI."""
        lines = [
            f"added {len(self.added)}, replaced {len(self.replaced)}, unchanged {len(self.unchanged)}, "
            f"removed {len(self.removed)} documents ({self.chunks_added} chunks embedded, "
            f"{self.chunks_removed} removed)"
        ]
        lines += [f"  skipped {s.source}: {s.reason}" for s in self.skipped]
        return "\n".join(lines)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for dist in ("workbench", "faiss-cpu", "bm25s", "langchain-text-splitters", "pypdf", "numpy"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "unknown"
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fingerprint(embedder: Embedder) -> list[float]:
    vector = np.asarray(embedder.embed_query(_FINGERPRINT_TEXT), dtype=np.float32).ravel()
    return [round(float(v), 4) for v in vector[:8]]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class RagIndex:
    """A hybrid (dense + BM25) index over chunks of a document folder.

    Build one with :meth:`build` (from a folder) or :meth:`from_documents`; open a saved one with :meth:`load`.
    Query with :meth:`search` (one question, recorded as a ``retrieval`` telemetry event) or
    :meth:`search_batch` (many, batched embedding; not recorded per query).
    """

    def __init__(
        self,
        *,
        embedder: Embedder,
        chunking: ChunkingConfig,
        source_root: Path | None,
        chunks: list[Chunk],
        vectors: np.ndarray,
        documents: dict[str, dict[str, Any]],
        skipped: Sequence[SkippedDocument] = (),
        next_chunk_id: int | None = None,
        created: str | None = None,
        path: Path | None = None,
        fingerprint: list[float] | None = None,
    ) -> None:
        import faiss

        self.embedder = embedder
        self.chunking = chunking
        self.source_root = source_root
        self.path = path
        self.created = created or _now()
        self.skipped = list(skipped)
        self.documents = documents
        self._fingerprint = fingerprint
        self._revision: str | None = None  # the manifest revision this object was loaded from / last saved
        self._chunks: dict[int, Chunk] = {c.id: c for c in chunks}
        self._order: list[int] = [c.id for c in chunks]
        self.next_chunk_id = next_chunk_id if next_chunk_id is not None else max(self._order, default=-1) + 1
        faiss.omp_set_num_threads(1)  # single queries: OpenMP spin-up costs more than it saves on few cores
        self._dense: Any = faiss.IndexIDMap2(faiss.IndexFlatIP(embedder.dim))
        if len(chunks):
            self._dense.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(self._order, dtype=np.int64)
            )
        self._bm25: Any = None
        self._lookup: np.ndarray | None = None
        self._rebuild_bm25()

    # ------------------------------------------------------------------------------------------- building

    @classmethod
    def build(
        cls,
        src: str | Path,
        *,
        out: str | Path | None = None,
        chunking: ChunkingConfig | None = None,
        embedder: Embedder | str | None = None,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        progress: Callable[[int, int], None] | None = None,
    ) -> RagIndex:
        """Ingest ``src``, chunk, embed and index it; save to ``out`` when given.

        Raises:
            NotFoundError: ``src`` does not exist.
            ValidationError: ``src`` holds no readable document (the message lists what was skipped and why).
        """
        src = Path(src).expanduser()
        if out is not None:
            _check_writable_target(Path(out))
        report = load_documents(src, max_file_bytes=max_file_bytes)
        if not report.documents:
            detail = "; ".join(f"{s.source}: {s.reason}" for s in report.skipped[:10])
            raise ValidationError(
                f"no readable documents in '{src}'"
                + (f" ({len(report.skipped)} skipped: {detail})" if detail else ""),
                file=src,
                hint="put Markdown, text, HTML or PDF files in the folder",
            )
        index = cls.from_documents(
            report.documents,
            chunking=chunking,
            embedder=embedder,
            source_root=report.root,
            skipped=report.skipped,
            progress=progress,
        )
        if out is not None:
            index.save(out)
        return index

    @classmethod
    def from_documents(
        cls,
        documents: Sequence[SourceDocument],
        *,
        chunking: ChunkingConfig | None = None,
        embedder: Embedder | str | None = None,
        source_root: Path | None = None,
        skipped: Sequence[SkippedDocument] = (),
        progress: Callable[[int, int], None] | None = None,
    ) -> RagIndex:
        """An in-memory index over already-read documents."""
        chunking = chunking or ChunkingConfig()
        emb = embedder if isinstance(embedder, Embedder) else get_embedder(embedder)
        chunks = chunk_documents(documents, chunking)
        vectors = _embed_chunks(emb, chunks, progress)
        by_source = _ids_by_source(chunks)
        docs_meta = {d.source: _doc_meta(d, by_source.get(d.source, [])) for d in documents}
        return cls(
            embedder=emb,
            chunking=chunking,
            source_root=source_root,
            chunks=chunks,
            vectors=vectors,
            documents=docs_meta,
            skipped=skipped,
            fingerprint=_fingerprint(emb),
        )

    def _rebuild_bm25(self) -> None:
        import bm25s

        self._lookup = None  # positions changed
        self._bm25 = bm25s.BM25(**BM25_PARAMS)
        if self._order:
            corpus = [tokenize(self._chunks[i].indexed_text) for i in self._order]
            self._bm25.index(corpus, show_progress=False)

    # ------------------------------------------------------------------------------------------- querying

    @property
    def chunks(self) -> list[Chunk]:
        """All chunks, in index order."""
        return [self._chunks[i] for i in self._order]

    @property
    def sources(self) -> list[str]:
        """Source ids of the indexed documents, sorted."""
        return sorted(self.documents)

    def __len__(self) -> int:
        return len(self._order)

    @property
    def name(self) -> str:
        """The folder name, or ``(memory)``."""
        return self.path.name if self.path else "(memory)"

    def embed_queries(self, queries: Sequence[str]) -> np.ndarray:
        """Query vectors, one batched call (shape ``(n, dim)``, float32)."""
        if len(queries) == 1:
            return np.asarray(self.embedder.embed_query(queries[0]), dtype=np.float32).reshape(1, -1)
        return np.asarray(self.embedder.embed_documents(list(queries)), dtype=np.float32)

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        mode: str = "hybrid",
        fusion: str = "weighted",
        weights: Sequence[float] = (0.5, 0.5),
        fetch_k: int | None = None,
        reranker: Any = None,
        record: bool = True,
    ) -> list[Hit]:
        """The ``k`` best chunks for ``query``.

        Args:
            query: The question.
            k: How many chunks to return.
            mode: ``dense``, ``bm25`` or ``hybrid``.
            fusion: ``weighted`` (default: min-max normalised scores, summed with ``weights``) or ``rrf``
                (hybrid only). Weighted 0.5/0.5 scored best on the shipped corpus (see datasets/corpus/README.md).
            weights: ``(dense, bm25)`` weights of the fusion.
            fetch_k: Candidates per retriever before fusion/reranking (default ``max(k, 50)``).
            reranker: A :class:`~workbench.rag.rerank.CrossEncoderReranker` (or anything with
                ``score(query, texts)``) to reorder the fused candidates.
            record: Emit a ``retrieval`` telemetry event.
        """
        started = time.perf_counter()
        hits = self.search_batch(
            [query], k, mode=mode, fusion=fusion, weights=weights, fetch_k=fetch_k, reranker=reranker
        )[0]
        if record:
            self._record(query, hits, k=k, mode=mode, fusion=fusion, weights=weights, reranker=reranker,
                         duration=time.perf_counter() - started)  # fmt: skip
        return hits

    def search_batch(
        self,
        queries: Sequence[str],
        k: int = 5,
        *,
        mode: str = "hybrid",
        fusion: str = "weighted",
        weights: Sequence[float] = (0.5, 0.5),
        fetch_k: int | None = None,
        reranker: Any = None,
        query_vectors: np.ndarray | None = None,
    ) -> list[list[Hit]]:
        """:meth:`search` for many queries: one embedding batch, one FAISS and one BM25 call.

        Args:
            query_vectors: Precomputed query embeddings (benchmarks use this to time retrieval alone).
        """
        if mode not in MODES:
            raise ConfigError(
                f"unknown retrieval mode '{mode}'", field="mode", hint=f"use one of: {', '.join(MODES)}"
            )
        if fusion not in FUSIONS:
            raise ConfigError(
                f"unknown fusion '{fusion}'", field="fusion", hint=f"use one of: {', '.join(FUSIONS)}"
            )
        if not isinstance(k, int) or k < 1:
            raise ConfigError(f"k must be a positive integer, not {k!r}", field="k", hint="e.g. -k 5")
        w_dense, w_bm25 = check_weights(weights)
        queries = list(queries)
        n = len(self._order)
        if n == 0 or not queries:
            return [[] for _ in queries]
        depth = min(n, max(k, fetch_k or DEFAULT_FETCH_K))
        lists: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        if mode in ("dense", "hybrid"):
            vectors = self.embed_queries(queries) if query_vectors is None else query_vectors
            scores, ids = self._dense.search(np.ascontiguousarray(vectors, dtype=np.float32), depth)
            lists.append((self._positions_of(ids), scores, ids >= 0))
        if mode in ("bm25", "hybrid"):
            lists.append(self._bm25_search(queries, depth))
        if mode == "hybrid":
            keep = max(depth, k) if reranker is not None else k
            top, top_scores = fuse_batch(n, lists, (w_dense, w_bm25), fusion, keep)
        else:
            top, top_scores = lists[0][0], lists[0][1].astype(np.float64)
        dense_of = self._score_maps(lists[0]) if mode != "bm25" else None
        bm25_of = self._score_maps(lists[-1]) if mode != "dense" else None
        results = []
        for q, query in enumerate(queries):
            ranked = [(p, s) for p, s in zip(top[q].tolist(), top_scores[q].tolist(), strict=True) if p >= 0]
            d_scores = dense_of[q] if dense_of is not None else {}
            b_scores = bm25_of[q] if bm25_of is not None else {}
            if reranker is not None:
                candidates = [p for p, _ in ranked[: max(depth, k)]]
                texts = [self._chunks[self._order[p]].text for p in candidates]
                rr = [float(s) for s in reranker.score(query, texts)]
                order = sorted(range(len(candidates)), key=lambda j: -rr[j])[:k]
                hits = [
                    Hit(
                        self._chunks[self._order[candidates[j]]],
                        rr[j],
                        rank,
                        d_scores.get(candidates[j]),
                        b_scores.get(candidates[j]),
                        rr[j],
                    )
                    for rank, j in enumerate(order, start=1)
                ]
            else:
                hits = [
                    Hit(self._chunks[self._order[p]], s, rank, d_scores.get(p), b_scores.get(p))
                    for rank, (p, s) in enumerate(ranked[:k], start=1)
                ]
            results.append(hits)
        return results

    def _positions_of(self, ids: np.ndarray) -> np.ndarray:
        """FAISS labels (chunk ids) -> positions in index order; -1 (no result) stays -1."""
        if self._lookup is None:
            lookup = np.full(max(self.next_chunk_id, 1), -1, dtype=np.int64)
            lookup[np.asarray(self._order, dtype=np.int64)] = np.arange(len(self._order))
            self._lookup = lookup
        return np.where(ids >= 0, self._lookup[np.clip(ids, 0, None)], -1)

    @staticmethod
    def _score_maps(listing: tuple[np.ndarray, np.ndarray, np.ndarray]) -> list[dict[int, float]]:
        positions, scores, valid = listing
        return [
            {p: s for p, s, v in zip(pr, sr, vr, strict=True) if v}
            for pr, sr, vr in zip(positions.tolist(), scores.tolist(), valid.tolist(), strict=True)
        ]

    def _bm25_search(self, queries: Sequence[str], depth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """BM25 ``(positions, scores, valid)`` of shape ``(queries, depth)``; a zero score is not a hit."""
        tokens = [tokenize(q) for q in queries]
        positions = np.full((len(queries), depth), -1, dtype=np.int64)
        scores = np.zeros((len(queries), depth), dtype=np.float32)
        todo = [j for j, t in enumerate(tokens) if t]
        if todo:
            found, found_scores = self._bm25.retrieve(
                [tokens[j] for j in todo], k=depth, show_progress=False, n_threads=0
            )
            positions[todo] = found
            scores[todo] = found_scores
        valid = scores > 0
        positions[~valid] = -1
        return positions, scores, valid

    def _record(self, query: str, hits: list[Hit], *, k: int, mode: str, fusion: str, weights: Sequence[float],
                reranker: Any, duration: float) -> None:  # fmt: skip
        from workbench.telemetry import EventKind, record

        record(
            EventKind.RETRIEVAL,
            duration_s=duration,
            status="ok",
            attributes={
                "index": self.name,
                "embedder": self.embedder.name,
                "mode": mode,
                "fusion": fusion if mode == "hybrid" else None,
                "weights": [float(w) for w in weights] if mode == "hybrid" else None,
                "k": k,
                "reranker": getattr(reranker, "name", None) if reranker is not None else None,
                "hits": len(hits),
                "sources": [h.source for h in hits],
                "top_score": hits[0].score if hits else None,
                "query_chars": len(query),
                "latency_s": duration,
            },
        )

    def as_retriever(self, **kwargs: Any) -> Any:
        """A LangChain ``BaseRetriever`` over this index (:class:`~workbench.rag.chain.WorkbenchRetriever`).

        Keyword arguments: ``k``, ``mode``, ``fusion``, ``weights``, ``reranker``, ``record``.
        """
        from workbench.rag.chain import WorkbenchRetriever

        return WorkbenchRetriever(index=self, **kwargs)

    # --------------------------------------------------------------------------------------------- update

    def add(
        self,
        paths: Iterable[str | Path],
        *,
        root: str | Path | None = None,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        save: bool = True,
    ) -> UpdateReport:
        """Add or refresh documents (files or folders) without re-embedding the others.

        Source ids are paths relative to ``root`` (default: the folder the index was built from). Documents
        whose bytes did not change are left alone; changed ones are replaced.
        """
        base = Path(root).expanduser() if root is not None else self.source_root
        if base is None:
            raise ConfigError(
                "this index does not know its source folder",
                field="root",
                hint="pass root=<folder the source ids are relative to> (CLI: --root)",
            )
        documents: list[SourceDocument] = []
        skipped: list[SkippedDocument] = []
        for path in paths:
            report = load_documents(path, root=base, max_file_bytes=max_file_bytes)
            documents += report.documents
            skipped += report.skipped
        return self.add_documents(documents, skipped=skipped, save=save)

    def add_documents(
        self,
        documents: Sequence[SourceDocument],
        *,
        skipped: Sequence[SkippedDocument] = (),
        save: bool = True,
    ) -> UpdateReport:
        """Add read documents; see :meth:`add`."""
        report = UpdateReport(skipped=list(skipped))
        fresh: list[SourceDocument] = []
        for doc in documents:
            known = self.documents.get(doc.source)
            if known is not None and known.get("sha256") == doc.sha256:
                report.unchanged.append(doc.source)
                continue
            if known is not None:
                report.chunks_removed += self._drop(doc.source)
                report.replaced.append(doc.source)
            else:
                report.added.append(doc.source)
            fresh.append(doc)
        if fresh:
            chunks = chunk_documents(fresh, self.chunking, first_id=self.next_chunk_id)
            vectors = _embed_chunks(self.embedder, chunks, None)
            if chunks:
                self._dense.add_with_ids(
                    np.ascontiguousarray(vectors, dtype=np.float32),
                    np.asarray([c.id for c in chunks], dtype=np.int64),
                )
                self.next_chunk_id = chunks[-1].id + 1
            for chunk in chunks:
                self._chunks[chunk.id] = chunk
                self._order.append(chunk.id)
            by_source = _ids_by_source(chunks)
            for doc in fresh:
                self.documents[doc.source] = _doc_meta(doc, by_source.get(doc.source, []))
            report.chunks_added = len(chunks)
        if fresh or report.replaced:
            self._rebuild_bm25()
            if save and self.path is not None:
                self.save()
        return report

    def sync(self, *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES, save: bool = True) -> UpdateReport:
        """Bring the index in line with its source folder: add new and changed documents, drop deleted ones."""
        if self.source_root is None or not Path(self.source_root).is_dir():
            raise ConfigError(
                f"the index's source folder '{self.source_root}' is not available",
                field="source_root",
                hint="rebuild the index from the folder where the documents are now",
            )
        report = load_documents(self.source_root, max_file_bytes=max_file_bytes)
        present = {d.source for d in report.documents}
        gone = [s for s in self.documents if s not in present]
        removed = self.remove(gone, save=False) if gone else UpdateReport()
        update = self.add_documents(report.documents, skipped=report.skipped, save=False)
        update.removed, update.chunks_removed = (
            removed.removed,
            update.chunks_removed + removed.chunks_removed,
        )
        self.skipped = list(report.skipped)
        if (gone or update.added or update.replaced) and save and self.path is not None:
            self.save()
        return update

    def remove(self, sources: Iterable[str], *, save: bool = True) -> UpdateReport:
        """Remove documents by source id (all or nothing: unknown ids raise before anything changes)."""
        sources = list(dict.fromkeys(sources))
        unknown = [s for s in sources if s not in self.documents]
        if unknown:
            raise NotFoundError(
                f"not in the index: {', '.join(unknown)}",
                field="sources",
                hint="source ids are paths relative to the indexed folder; `workbench rag info DIR` lists them",
            )
        report = UpdateReport()
        for source in sources:
            report.chunks_removed += self._drop(source)
            del self.documents[source]
            report.removed.append(source)
        if sources:
            self._rebuild_bm25()
            if save and self.path is not None:
                self.save()
        return report

    def _drop(self, source: str) -> int:
        ids = [i for i in self.documents[source].get("chunk_ids", []) if i in self._chunks]
        if ids:
            self._dense.remove_ids(np.asarray(ids, dtype=np.int64))
            gone = set(ids)
            self._order = [i for i in self._order if i not in gone]
            for i in ids:
                del self._chunks[i]
        return len(ids)

    # ------------------------------------------------------------------------------------------ persisting

    def manifest(self) -> dict[str, Any]:
        """The manifest as it would be saved (without file checksums)."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created": self.created,
            "updated": _now(),
            "source_root": str(self.source_root) if self.source_root else None,
            "embedder": {
                "name": self.embedder.name,
                "dim": int(self.embedder.dim),
                "fingerprint": self._fingerprint,
            },
            "chunking": self.chunking.to_dict(),
            "bm25": {**BM25_PARAMS, "tokenizer": TOKENIZER_VERSION},
            "dense": {"index": "IndexIDMap2(IndexFlatIP)", "metric": "cosine"},
            "versions": _versions(),
            "counts": {"documents": len(self.documents), "chunks": len(self._order)},
            "next_chunk_id": self.next_chunk_id,
            "revision": self._revision,
            "documents": self.documents,
            "skipped": [s.to_dict() for s in self.skipped],
        }

    def info(self) -> dict[str, Any]:
        """A summary for ``workbench rag info``: manifest minus the per-document table, plus the path."""
        data = self.manifest()
        data.pop("documents")
        data["path"] = str(self.path) if self.path else None
        data["sources"] = self.sources
        return data

    def save(self, path: str | Path | None = None, *, lock_timeout: float | None = None) -> Path:
        """Write the index to ``path`` (default: where it was loaded from), atomically and under the write lock.

        Raises:
            IndexConflictError: This index was loaded from ``path`` and another process has saved it since;
                reload it (:meth:`load`) and apply the change again.
            IndexLockTimeout: Another writer held the lock longer than ``lock_timeout`` seconds.
        """
        import faiss

        target = Path(path).expanduser() if path is not None else self.path
        if target is None:
            raise ConfigError("this index has no folder yet", field="path", hint="pass save(path)")
        _check_writable_target(target)
        with index_lock(target, timeout=lock_timeout):
            on_disk = _revision_on_disk(target)
            if (
                self.path is not None
                and target.resolve() == self.path
                and on_disk is not None
                and on_disk != self._revision
            ):
                raise IndexConflictError(
                    f"another process saved the index '{target}' after this one loaded it "
                    f"(revision {on_disk}, loaded {self._revision}); saving would drop its change",
                    file=target / "manifest.json",
                    field="revision",
                    hint="load the index again (RagIndex.load) and repeat the change, or save to another folder",
                )
            revision = uuid.uuid4().hex
            manifest = self.manifest()
            manifest["revision"] = revision

            def write(folder: Path) -> None:
                with (folder / "chunks.jsonl").open("w", encoding="utf-8") as handle:
                    for chunk_id in self._order:
                        handle.write(json.dumps(self._chunks[chunk_id].to_dict(), ensure_ascii=False) + "\n")
                faiss.write_index(self._dense, str(folder / "dense.faiss"))
                if self._order:
                    self._bm25.save(str(folder / "bm25"), show_progress=False)
                files = sorted(p for p in folder.rglob("*") if p.is_file())
                manifest["files"] = {p.relative_to(folder).as_posix(): _sha256(p) for p in files}
                (folder / "manifest.json").write_text(
                    json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
                )

            _write_atomic(target, write)
            self._revision = revision
        self.path = target.resolve()
        return self.path

    @classmethod
    def load(cls, path: str | Path, *, embedder: Embedder | str | None = None) -> RagIndex:
        """Open a saved index.

        Args:
            path: The index folder.
            embedder: The embedder to query with; default the one named in the manifest. A different one is
                refused (:class:`EmbedderMismatchError`): vectors from two models are not comparable.

        Raises:
            NotFoundError: No such folder.
            IndexCorruptError: Not an index, or damaged (names the file and how to rebuild).
            EmbedderMismatchError: ``embedder`` differs from the one the index was built with.
        """
        import faiss

        folder = Path(path).expanduser()
        _recover(folder)
        if not folder.is_dir():
            raise NotFoundError(
                f"no index at '{folder}'",
                file=folder,
                hint="build one with: workbench rag index SRC --out DIR",
            )
        manifest = read_manifest(folder)
        rebuild = f"rebuild it: workbench rag index SRC --out {folder}"
        for name, digest in manifest.get("files", {}).items():
            file = folder / name
            if not file.is_file():
                raise IndexCorruptError(f"index file '{name}' is missing", file=file, hint=rebuild)
            if _sha256(file) != digest:
                raise IndexCorruptError(
                    f"index file '{name}' does not match its checksum", file=file, hint=rebuild
                )
        chunks = []
        chunks_path = folder / "chunks.jsonl"
        try:
            with chunks_path.open(encoding="utf-8") as handle:
                for number, line in enumerate(handle, start=1):
                    try:
                        chunks.append(Chunk.from_dict(json.loads(line)))
                    except (ValueError, KeyError, TypeError) as exc:
                        raise IndexCorruptError(f"bad chunk record: {exc}", file=chunks_path, line=number,
                                                hint=rebuild) from None  # fmt: skip
        except OSError as exc:
            raise IndexCorruptError(f"cannot read chunks: {exc}", file=chunks_path, hint=rebuild) from None
        try:
            dense = faiss.read_index(str(folder / "dense.faiss"))
        except RuntimeError as exc:
            raise IndexCorruptError(
                f"cannot read the FAISS index: {str(exc).splitlines()[-1][:200]}", file=folder / "dense.faiss",
                hint=rebuild,
            ) from None  # fmt: skip
        if dense.ntotal != len(chunks):
            raise IndexCorruptError(
                f"FAISS holds {dense.ntotal} vectors but chunks.jsonl has {len(chunks)} chunks",
                file=folder / "dense.faiss",
                hint=rebuild,
            )
        spec = manifest["embedder"]
        emb = _resolve_embedder(embedder, spec, folder)
        index = cls.__new__(cls)
        index.embedder = emb
        index.chunking = ChunkingConfig.from_dict(manifest["chunking"])
        index.source_root = Path(manifest["source_root"]) if manifest.get("source_root") else None
        index.path = folder.resolve()
        index.created = manifest.get("created") or _now()
        index.skipped = [SkippedDocument(**s) for s in manifest.get("skipped", [])]
        index.documents = manifest.get("documents", {})
        index._fingerprint = spec.get("fingerprint")
        index._revision = manifest.get("revision")
        index._chunks = {c.id: c for c in chunks}
        index._order = [c.id for c in chunks]
        index.next_chunk_id = int(manifest.get("next_chunk_id", max(index._order, default=-1) + 1))
        faiss.omp_set_num_threads(1)
        index._dense = dense
        index._bm25 = None
        index._lookup = None
        index._load_bm25(folder / "bm25", manifest)
        return index

    def _load_bm25(self, folder: Path, manifest: dict[str, Any]) -> None:
        import bm25s

        same = manifest.get("bm25", {}).get("tokenizer") == TOKENIZER_VERSION
        if same and folder.is_dir() and self._order:
            try:
                loaded = bm25s.BM25.load(str(folder), show_progress=False)
                if int(loaded.scores.get("num_docs", -1)) == len(self._order):
                    self._bm25 = loaded
                    return
            except Exception as exc:  # another bm25s version may store differently: rebuilding is cheap
                log.info("rebuilding BM25 for %s: %s", folder, exc)
        self._rebuild_bm25()


# ---------------------------------------------------------------------------------------------- helpers


def cached_index(
    src: str | Path,
    *,
    chunking: ChunkingConfig | None = None,
    embedder: Embedder | str | None = None,
    cache_dir: str | Path | None = None,
) -> RagIndex:
    """The index of ``src`` with ``chunking``, kept under the cache folder and synced instead of rebuilt.

    The first call builds and saves it (``<cache_dir>/rag-indexes/<folder>-<key>``); later calls load it and
    embed only documents that were added or changed since (:meth:`RagIndex.sync`).
    """
    from workbench.settings import get_settings

    chunking = chunking or ChunkingConfig()
    emb = embedder if isinstance(embedder, Embedder) else get_embedder(embedder)
    root = Path(src).expanduser().resolve()
    if not root.is_dir():
        raise NotFoundError(f"no such folder: '{root}'", file=root, hint="pick a folder of documents")
    base = Path(cache_dir) if cache_dir is not None else Path(str(get_settings().cache_dir)) / "rag-indexes"
    key = hashlib.sha256(json.dumps([str(root), chunking.to_dict(), emb.name]).encode()).hexdigest()[:12]
    folder = base / f"{root.name}-{key}"
    with index_lock(folder):  # two kernels opening the same lesson's index wait for each other
        if (folder / "manifest.json").is_file():
            try:
                index = RagIndex.load(folder, embedder=emb)
            except (IndexCorruptError, EmbedderMismatchError) as exc:
                log.warning("rebuilding the cached index %s: %s", folder, exc)
            else:
                index.sync()
                return index
        return RagIndex.build(root, out=folder, chunking=chunking, embedder=emb)


#: Seconds a writer waits for another one before :class:`IndexLockTimeout` (builds of big folders take minutes).
DEFAULT_LOCK_TIMEOUT = 600.0
_locks: dict[str, Any] = {}


@contextlib.contextmanager
def index_lock(folder: str | Path, *, timeout: float | None = None) -> Iterator[None]:
    """Hold the exclusive write lock of the index ``folder`` (re-entrant in one process; waits for others).

    The lock is ``.<name>.lock`` next to the folder, taken with ``filelock`` (the well-kept cross-platform lock
    that Hugging Face and pip use): on POSIX an ``flock`` that the OS releases when the process dies, so a killed
    writer never leaves a stale lock. Readers do not take it: writes are atomic renames.

    Raises:
        IndexLockTimeout: Another process held it for more than ``timeout`` seconds (default 600).
    """
    from filelock import FileLock, Timeout

    target = Path(folder).expanduser().resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    key = str(target)
    lock = _locks.get(key)
    if lock is None:
        lock = _locks.setdefault(key, FileLock(str(target.parent / f".{target.name}.lock")))
    wait = DEFAULT_LOCK_TIMEOUT if timeout is None else timeout
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        raise IndexLockTimeout(
            f"another process has been writing the index '{target}' for more than {wait:g} s",
            file=Path(lock.lock_file),
            hint="wait for it to finish (a build of a large folder takes minutes), or pass a longer timeout",
        ) from None
    try:
        yield
    finally:
        lock.release()


def _revision_on_disk(folder: Path) -> str | None:
    """The ``revision`` of the index saved in ``folder`` (``None``: no index, or one saved before revisions)."""
    try:
        value = read_manifest(folder).get("revision")
    except IndexCorruptError:  # no index there, or a damaged one: nothing another writer could lose
        return None
    return value if isinstance(value, str) else None


def read_manifest(folder: Path) -> dict[str, Any]:
    """Read and check ``folder/manifest.json``."""
    path = folder / "manifest.json"
    rebuild = f"rebuild it: workbench rag index SRC --out {folder}"
    if not path.is_file():
        raise IndexCorruptError(
            f"'{folder}' is not a Workbench index (no manifest.json)", file=folder, hint=rebuild
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise IndexCorruptError(
            f"manifest is not valid JSON: {exc.msg}", file=path, line=exc.lineno, hint=rebuild
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(f"cannot read the manifest: {exc}", file=path, hint=rebuild) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexCorruptError(
            "manifest is not a Workbench index manifest", file=path, field="format", hint=rebuild
        )
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise IndexCorruptError(
            f"index format version {version!r} is not supported (this Workbench reads up to {FORMAT_VERSION})",
            file=path,
            field="format_version",
            hint="upgrade Workbench, or " + rebuild,
        )
    for key in ("embedder", "chunking"):
        if not isinstance(manifest.get(key), dict):
            raise IndexCorruptError(f"manifest lacks '{key}'", file=path, field=key, hint=rebuild)
    return manifest


def _resolve_embedder(embedder: Embedder | str | None, spec: dict[str, Any], folder: Path) -> Embedder:
    """The embedder to use with an index, refused unless it produces the same vectors as the one it was built with.

    Same vectors means: same dimension, and the same fingerprint (the first values of a fixed probe sentence's
    vector, stored in the manifest). An alias of the same model (``minilm`` for ``all-MiniLM-L6-v2``) passes;
    another model, or the same name with other weights, is refused. Without a stored fingerprint the names
    must match.
    """
    built_with = str(spec.get("name"))
    emb = get_embedder(embedder or built_with) if embedder is None or isinstance(embedder, str) else embedder
    if int(emb.dim) != int(spec.get("dim", -1)):
        raise _mismatch(folder, f"{built_with} (dim {spec.get('dim')})", f"{emb.name} (dim {emb.dim})")
    stored = spec.get("fingerprint")
    if stored:
        if not np.allclose(np.asarray(stored), np.asarray(_fingerprint(emb)), atol=2e-3):
            given = emb.name if emb.name != built_with else f"{emb.name} with different weights"
            raise _mismatch(folder, built_with, given)
    elif emb.name != built_with:
        raise _mismatch(folder, built_with, emb.name)
    return emb


def _mismatch(folder: Path, built_with: str, given: str) -> EmbedderMismatchError:
    return EmbedderMismatchError(
        f"the index was built with the embedder '{built_with}', not '{given}': their vectors are not comparable",
        file=folder / "manifest.json",
        field="embedder",
        hint=f"query with the embedder '{built_with.split(' ')[0]}', or rebuild the index with the new one",
    )


def _ids_by_source(chunks: Iterable[Chunk]) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = {}
    for chunk in chunks:
        grouped.setdefault(chunk.source, []).append(chunk.id)
    return grouped


def _doc_meta(doc: SourceDocument, chunk_ids: list[int]) -> dict[str, Any]:
    return {
        "sha256": doc.sha256,
        "size": doc.size,
        "format": doc.format,
        "title": doc.title,
        "chunk_ids": chunk_ids,
    }


def _embed_chunks(
    embedder: Embedder, chunks: Sequence[Chunk], progress: Callable[[int, int], None] | None
) -> np.ndarray:
    if not chunks:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    parts = []
    for start in range(0, len(chunks), _EMBED_BATCH):
        batch = [c.indexed_text for c in chunks[start : start + _EMBED_BATCH]]
        parts.append(np.asarray(embedder.embed_documents(batch), dtype=np.float32))
        if progress is not None:
            progress(min(start + _EMBED_BATCH, len(chunks)), len(chunks))
    vectors = np.vstack(parts)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def _check_writable_target(target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise ConfigError(f"'{target}' exists and is not a folder", file=target, hint="choose another --out")
    if target.is_dir() and any(target.iterdir()) and not (target / "manifest.json").is_file():
        raise ConfigError(
            f"refusing to replace '{target}': it is not empty and not a Workbench index",
            file=target,
            hint="choose an empty or new folder for --out",
        )


def _write_atomic(target: Path, write: Callable[[Path], None]) -> None:
    """Run ``write(tmp)`` on a hidden sibling folder, fsync it, then rename it to ``target``."""
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        write(tmp)
        for file in tmp.rglob("*"):
            if file.is_file():
                with file.open("rb") as handle:
                    os.fsync(handle.fileno())
        if target.exists():
            old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
        with contextlib.suppress(OSError):  # make the renames durable where the platform allows
            fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _recover(target: Path) -> None:
    """Restore the previous index if a crash fell between the two renames of :func:`_write_atomic`."""
    if target.exists() or not target.parent.is_dir():
        return
    olds = sorted(target.parent.glob(f".{target.name}.old-*"))
    if len(olds) == 1 and (olds[0] / "manifest.json").is_file():
        log.warning("restoring %s from an interrupted update (%s)", target, olds[0].name)
        olds[0].rename(target)
