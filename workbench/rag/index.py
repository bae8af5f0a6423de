"""The retrieval index: documents chunked, embedded and indexed for dense, BM25 and hybrid search.

:class:`RagIndex` keeps the per-document table (checksums, chunk ids), the chunking and the embedder around a
:class:`~workbench.rag.search.ChunkIndex` (FAISS + bm25s, fusion, optional reranking). Adding documents embeds
only the new or changed ones; removing deletes their vectors by id. Neither re-embeds the rest.

Saving and loading go through :mod:`workbench.rag.storage` (the folder format, atomic writes, the write lock,
revisions, crash recovery); embedders through :mod:`workbench.rag.embedders`. :func:`cached_index` and the
CLI's ``rag add``/``rag remove`` hold the write lock from load to save, so they wait for each other instead of
conflicting.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ConfigError, NotFoundError, ValidationError
from workbench.rag.checkpoint import EmbeddingCheckpoint, checkpoint_folder
from workbench.rag.embedders import (
    Embedder,
    EmbedderMismatchError,
    as_embedder,
    describe,
    embed_chunks,
    fingerprint,
    resolve_embedder,
    variant_of,
)
from workbench.rag.ingest import (
    DEFAULT_MAX_FILE_BYTES,
    Chunk,
    ChunkingConfig,
    SkippedDocument,
    SourceDocument,
    chunk_documents,
    load_documents,
)
from workbench.rag.search import BM25_PARAMS, DEFAULT_K, ChunkIndex, Hit, SearchOptions, SearchRequest
from workbench.rag.storage import (
    FORMAT,
    FORMAT_VERSION,
    IndexCorruptError,
    check_writable_target,
    index_lock,
    library_versions,
    now,
    read_index,
    summarize,
    write_index,
)
from workbench.rag.text import TOKENIZER_VERSION
from workbench.rag.updates import UpdateReport

if TYPE_CHECKING:
    from typing import Unpack  # Python 3.11+; annotations are never evaluated at run time here

log = logging.getLogger(__name__)


class RagIndex:
    """A hybrid (dense + BM25) index over chunks of a document folder.

    Build one with :meth:`build` (from a folder) or :meth:`from_documents`; open a saved one with :meth:`load`.
    Query with :meth:`search` (one question, recorded as a ``retrieval`` telemetry event) or
    :meth:`search_batch` (many, batched embedding; not recorded per query).

    Args:
        embedder: The embedder the vectors come from (and queries are embedded with).
        chunking: How the documents were cut.
        source_root: The folder source ids are relative to (``None``: unknown).
        chunks: The chunks, in index order.
        vectors: Their L2-normalised vectors, one row per chunk; or pass ``dense``.
        documents: Per source id: ``sha256``, ``size``, ``format``, ``title``, ``chunk_ids``.
        skipped: Files the last read skipped, with the reason.
        next_chunk_id: The id the next added chunk gets (default: one past the largest).
        created: When the index was first built (default: now).
        path: The folder it was loaded from or saved to.
        fingerprint: The embedder's fingerprint (:func:`~workbench.rag.embedders.fingerprint`).
        dense: A FAISS index already holding the chunks' vectors (a loaded index), instead of ``vectors``.
        bm25: A bm25s index over the chunks (default: built here).
        revision: The manifest revision the index was loaded at (checked on save).
    """

    def __init__(
        self,
        *,
        embedder: Embedder,
        chunking: ChunkingConfig,
        source_root: Path | None,
        chunks: list[Chunk],
        vectors: np.ndarray | None = None,
        documents: dict[str, dict[str, Any]],
        skipped: Sequence[SkippedDocument] = (),
        next_chunk_id: int | None = None,
        created: str | None = None,
        path: Path | None = None,
        fingerprint: list[float] | None = None,
        dense: Any = None,
        bm25: Any = None,
        revision: str | None = None,
    ) -> None:
        self.embedder = embedder
        self.chunking = chunking
        self.source_root = source_root
        self.path = path
        self.created = created or now()
        self.skipped = list(skipped)
        self.documents = documents
        self._fingerprint = fingerprint
        self._revision = revision  # the manifest revision this object was loaded from / last saved
        self._store = ChunkIndex(
            embedder.dim, chunks, vectors, dense=dense, bm25=bm25, next_chunk_id=next_chunk_id
        )

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
        variant: str | None = None,
    ) -> RagIndex:
        """Ingest ``src``, chunk, embed and index it; save to ``out`` when given.

        With ``out``, the vectors are checkpointed next to it as they are embedded
        (:mod:`~workbench.rag.checkpoint`): an interrupted build (Ctrl-C, a crash) run again embeds only the
        chunks it had not finished.

        Args:
            progress: Called with ``(done, total)`` chunks while embedding (``done`` starts at the chunks a
                checkpoint kept).
            variant: How a named (or default) embedder runs (``workbench.models.EMBEDDING_VARIANTS``;
                default ``settings.embedding_variant``, ``auto``).

        Raises:
            NotFoundError: ``src`` does not exist.
            ValidationError: ``src`` holds no readable document (the message lists what was skipped and why).
        """
        src = Path(src).expanduser()
        if out is not None:
            check_writable_target(Path(out))
        report = load_documents(src, max_file_bytes=max_file_bytes)
        if not report.documents:
            detail = "; ".join(f"{s.source}: {s.reason}" for s in report.skipped[:10])
            raise ValidationError(
                f"no readable documents in '{src}'"
                + (f" ({len(report.skipped)} skipped: {detail})" if detail else ""),
                file=src,
                hint="put Markdown, text, HTML or PDF files in the folder",
            )
        emb = as_embedder(embedder, variant)
        index = cls.from_documents(
            report.documents,
            chunking=chunking,
            embedder=emb,
            source_root=report.root,
            skipped=report.skipped,
            progress=progress,
            checkpoint=_checkpoint(Path(out), emb) if out is not None else None,
        )
        if out is not None:
            index.save(out)  # also removes the checkpoint
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
        checkpoint: EmbeddingCheckpoint | None = None,
        variant: str | None = None,
    ) -> RagIndex:
        """An in-memory index over already-read documents (``checkpoint``: see :func:`embed_chunks`)."""
        chunking = chunking or ChunkingConfig()
        emb = as_embedder(embedder, variant)
        chunks = chunk_documents(documents, chunking)
        vectors = embed_chunks(emb, chunks, progress, checkpoint)
        return cls(
            embedder=emb,
            chunking=chunking,
            source_root=source_root,
            chunks=chunks,
            vectors=vectors,
            documents=_documents_table(documents, chunks),
            skipped=skipped,
            fingerprint=fingerprint(emb),
        )

    # ------------------------------------------------------------------------------------------- querying

    @property
    def chunks(self) -> list[Chunk]:
        """All chunks, in index order."""
        return self._store.chunks

    @property
    def sources(self) -> list[str]:
        """Source ids of the indexed documents, sorted."""
        return sorted(self.documents)

    @property
    def next_chunk_id(self) -> int:
        """The id the next added chunk gets."""
        return self._store.next_chunk_id

    def __len__(self) -> int:
        return len(self._store)

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
        self, query: str, k: int = DEFAULT_K, *, record: bool = True, **options: Unpack[SearchOptions]
    ) -> list[Hit]:
        """The ``k`` best chunks for ``query``.

        Args:
            query: The question.
            k: How many chunks to return.
            record: Emit a ``retrieval`` telemetry event.
            **options: ``mode``, ``fusion``, ``weights``, ``fetch_k``, ``reranker``
                (see :class:`~workbench.rag.search.SearchOptions`).
        """
        started = time.perf_counter()
        request = SearchRequest(k, **options)
        hits = self._search([query], request, None)[0]
        if record:
            self._record(query, hits, request, duration=time.perf_counter() - started)
        return hits

    def search_batch(
        self,
        queries: Sequence[str],
        k: int = DEFAULT_K,
        *,
        query_vectors: np.ndarray | None = None,
        **options: Unpack[SearchOptions],
    ) -> list[list[Hit]]:
        """:meth:`search` for many queries: one embedding batch, one FAISS and one BM25 call.

        Args:
            query_vectors: Precomputed query embeddings (benchmarks use this to time retrieval alone).
        """
        return self._search(list(queries), SearchRequest(k, **options), query_vectors)

    def _search(
        self, queries: list[str], request: SearchRequest, query_vectors: np.ndarray | None
    ) -> list[list[Hit]]:
        if not len(self._store) or not queries:
            return [[] for _ in queries]
        vectors = query_vectors
        if request.mode != "bm25" and vectors is None:
            vectors = self.embed_queries(queries)
        return self._store.search(queries, request, vectors)

    def _record(self, query: str, hits: list[Hit], request: SearchRequest, *, duration: float) -> None:
        from workbench.telemetry import EventKind, record

        hybrid = request.mode == "hybrid"
        reranker = request.reranker
        record(
            EventKind.RETRIEVAL,
            duration_s=duration,
            status="ok",
            attributes={
                "index": self.name,
                "embedder": self.embedder.name,
                "mode": request.mode,
                "fusion": request.fusion if hybrid else None,
                "weights": [float(w) for w in request.weights] if hybrid else None,
                "k": request.k,
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
        progress: Callable[[int, int], None] | None = None,
    ) -> UpdateReport:
        """Add or refresh documents (files or folders) without re-embedding the others.

        Source ids are paths relative to ``root`` (default: the folder the index was built from). Documents
        whose bytes did not change are left alone; changed ones are replaced. A saved index checkpoints the
        new vectors as :meth:`build` does, so an interrupted ``add`` resumes.
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
        return self.add_documents(documents, skipped=skipped, save=save, progress=progress)

    def add_documents(
        self,
        documents: Sequence[SourceDocument],
        *,
        skipped: Sequence[SkippedDocument] = (),
        save: bool = True,
        progress: Callable[[int, int], None] | None = None,
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
            checkpoint = _checkpoint(self.path, self.embedder, self._fingerprint) if self.path else None
            self._store.add(chunks, embed_chunks(self.embedder, chunks, progress, checkpoint))
            self.documents.update(_documents_table(fresh, chunks))
            report.chunks_added = len(chunks)
        if fresh or report.replaced:
            self._store.rebuild_bm25()
            self._save_if_saved(save)
        return report

    def sync(
        self,
        *,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        save: bool = True,
        progress: Callable[[int, int], None] | None = None,
    ) -> UpdateReport:
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
        update = self.add_documents(report.documents, skipped=report.skipped, save=False, progress=progress)
        update.removed, update.chunks_removed = (
            removed.removed,
            update.chunks_removed + removed.chunks_removed,
        )
        self.skipped = list(report.skipped)
        if gone or update.added or update.replaced:
            self._save_if_saved(save)
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
            self._store.rebuild_bm25()
            self._save_if_saved(save)
        return report

    def _drop(self, source: str) -> int:
        return self._store.drop(self.documents[source].get("chunk_ids", []))

    def _save_if_saved(self, save: bool) -> None:
        """Write a change back when asked to and the index has a folder."""
        if save and self.path is not None:
            self.save()

    # ------------------------------------------------------------------------------------------ persisting

    def manifest(self) -> dict[str, Any]:
        """The manifest as it would be saved (without file checksums)."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created": self.created,
            "updated": now(),
            "source_root": str(self.source_root) if self.source_root else None,
            "embedder": describe(self.embedder, self._fingerprint),
            "chunking": self.chunking.to_dict(),
            "bm25": {**BM25_PARAMS, "tokenizer": TOKENIZER_VERSION},
            "dense": {"index": "IndexIDMap2(IndexFlatIP)", "metric": "cosine"},
            "versions": library_versions(),
            "counts": {"documents": len(self.documents), "chunks": len(self)},
            "next_chunk_id": self.next_chunk_id,
            "revision": self._revision,
            "documents": self.documents,
            "skipped": [s.to_dict() for s in self.skipped],
        }

    def info(self) -> dict[str, Any]:
        """The summary ``workbench rag index``/``rag info`` and the RAG widget show.

        The manifest minus the per-document table, plus ``path``, ``sources`` and the ``documents`` and
        ``chunks`` counts (:func:`~workbench.rag.storage.summarize`; ``workbench rag info`` reads the same
        summary from a saved manifest with :func:`~workbench.rag.storage.read_info`).
        """
        return summarize(self.manifest(), self.path)

    def save(self, path: str | Path | None = None, *, lock_timeout: float | None = None) -> Path:
        """Write the index to ``path`` (default: where it was loaded from), atomically and under the write lock.

        Raises:
            IndexConflictError: This index was loaded from ``path`` and another process has saved it since;
                reload it (:meth:`load`) and apply the change again.
            IndexLockTimeout: Another writer held the lock longer than ``lock_timeout`` seconds.
        """
        target = Path(path).expanduser() if path is not None else self.path
        if target is None:
            raise ConfigError("this index has no folder yet", field="path", hint="pass save(path)")
        self._revision = write_index(
            target, self.manifest(), self._store, loaded_from=self.path, loaded_revision=self._revision,
            lock_timeout=lock_timeout,
        )  # fmt: skip
        self.path = target.resolve()
        EmbeddingCheckpoint(checkpoint_folder(self.path), {}).clear()  # its vectors are in the index now
        return self.path

    @classmethod
    def load(
        cls, path: str | Path, *, embedder: Embedder | str | None = None, variant: str | None = None
    ) -> RagIndex:
        """Open a saved index.

        Args:
            path: The index folder.
            embedder: The embedder to query with; default the one named in the manifest. A different one is
                refused (:class:`EmbedderMismatchError`): vectors from two models are not comparable.
            variant: The variant to query with; default (``None`` or ``auto``) the one in the manifest. Another
                variant of the same model is refused too.

        Raises:
            NotFoundError: No such folder.
            IndexCorruptError: Not an index, or damaged (names the file and how to rebuild).
            EmbedderMismatchError: ``embedder`` differs from the one the index was built with.
        """
        saved = read_index(path)
        manifest = saved.manifest
        spec = manifest["embedder"]
        source_root = manifest.get("source_root")
        next_chunk_id = manifest.get("next_chunk_id")
        return cls(
            embedder=resolve_embedder(embedder, spec, saved.folder, variant),
            chunking=ChunkingConfig.from_dict(manifest["chunking"]),
            source_root=Path(source_root) if source_root else None,
            chunks=saved.chunks,
            documents=manifest.get("documents", {}),
            skipped=[SkippedDocument(**s) for s in manifest.get("skipped", [])],
            next_chunk_id=int(next_chunk_id) if next_chunk_id is not None else None,
            created=manifest.get("created"),
            path=saved.folder,
            fingerprint=spec.get("fingerprint"),
            dense=saved.dense,
            bm25=saved.bm25,
            revision=manifest.get("revision"),
        )


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
    emb = as_embedder(embedder)
    root = Path(src).expanduser().resolve()
    if not root.is_dir():
        raise NotFoundError(f"no such folder: '{root}'", file=root, hint="pick a folder of documents")
    base = Path(cache_dir) if cache_dir is not None else Path(str(get_settings().cache_dir)) / "rag-indexes"
    identity = [str(root), chunking.to_dict(), emb.name, variant_of(emb)]
    key = hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:12]
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


def _checkpoint(folder: Path, embedder: Embedder, fingerprint_: list[float] | None = None) -> EmbeddingCheckpoint:
    """The embedding checkpoint of the index folder ``folder`` for ``embedder``."""
    spec = describe(embedder, fingerprint_ if fingerprint_ is not None else fingerprint(embedder))
    return EmbeddingCheckpoint.for_index(folder, {"embedder": spec.pop("name"), **spec})


def _documents_table(
    documents: Iterable[SourceDocument], chunks: Iterable[Chunk]
) -> dict[str, dict[str, Any]]:
    """The manifest's per-document entries (checksum, size, format, title, chunk ids) for ``documents``."""
    ids: dict[str, list[int]] = {}
    for chunk in chunks:
        ids.setdefault(chunk.source, []).append(chunk.id)
    return {
        doc.source: {
            "sha256": doc.sha256,
            "size": doc.size,
            "format": doc.format,
            "title": doc.title,
            "chunk_ids": ids.get(doc.source, []),
        }
        for doc in documents
    }
