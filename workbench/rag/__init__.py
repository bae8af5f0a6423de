"""Retrieval-augmented generation: ingest, chunk, embed, index, hybrid-retrieve, evaluate, and LangChain glue.

This is the only Workbench package that imports LangChain. Names are loaded lazily, so ``import workbench.rag``
costs nothing until one is used::

    from workbench.rag import RagIndex, ChunkingConfig, load_questions, compare, format_table

    index = RagIndex.build("datasets/corpus/docs", out="corpus-index",
                           chunking=ChunkingConfig(splitter="markdown", chunk_size=1000, chunk_overlap=100))
    # variant="auto" (default): the fastest embedding runtime that keeps quality here; "torch-fp32": the reference
    hits = index.search("How do I read a CSV file?", k=5, mode="hybrid")     # list[Hit]
    table = compare(index, load_questions("datasets/corpus/questions.jsonl", known_sources=index.sources))
    print(format_table(table))

Pieces: :mod:`~workbench.rag.ingest` (readers, skip report, chunking), :mod:`~workbench.rag.index` (documents,
incremental updates), :mod:`~workbench.rag.search` (FAISS + bm25s, fusion, :data:`DEFAULT_K`),
:mod:`~workbench.rag.storage` (saving, loading, the write lock), :mod:`~workbench.rag.embedders` (the embedder
cache and check, variants, chunk embedding), :mod:`~workbench.rag.checkpoint` (resuming interrupted embedding),
:mod:`~workbench.rag.evaluation` (recall@k, MRR, nDCG@10), :mod:`~workbench.rag.chain` (LangChain retriever,
chat model and RAG chain), :mod:`~workbench.rag.rerank` (optional cross-encoder).
"""

from __future__ import annotations

from workbench._lazy import lazy_exports

_EXPORTS: dict[str, tuple[str, ...]] = {
    "ingest": (
        "ChunkingConfig", "Chunk", "SourceDocument", "SkippedDocument", "IngestReport", "load_documents",
        "chunk_documents", "SPLITTERS",
    ),
    "index": ("RagIndex", "cached_index"),
    "updates": ("UpdateReport",),
    "search": ("Hit", "MODES", "DEFAULT_K", "SearchOptions"),
    # persistence
    "storage": (
        "IndexCorruptError", "IndexConflictError", "IndexLockTimeout", "index_lock", "read_manifest",
        "read_info",
    ),
    "embedders": ("Embedder", "EmbedderMismatchError", "get_embedder", "cache_embedder"),
    "checkpoint": ("EmbeddingCheckpoint", "checkpoint_folder"),
    "fusion": ("FUSIONS", "reciprocal_rank_fusion", "weighted_fusion"),
    "text": ("tokenize", "highlight", "highlight_spans"),
    "evaluation": (
        "Question", "EvalConfig", "EvalResult", "load_questions", "evaluate", "compare", "default_configs",
        "DEFAULT_EVAL_K", "format_table", "recall_at_k", "reciprocal_rank", "ndcg_at_k",
    ),
    # reranking
    "rerank": ("CrossEncoderReranker", "load_reranker"),
    # LangChain
    "chain": ("WorkbenchRetriever", "WorkbenchChatModel", "build_rag_chain", "parse_citations"),
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
