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

_EXPORTS: dict[str, str] = {
    # ingest
    "ChunkingConfig": "workbench.rag.ingest",
    "Chunk": "workbench.rag.ingest",
    "SourceDocument": "workbench.rag.ingest",
    "SkippedDocument": "workbench.rag.ingest",
    "IngestReport": "workbench.rag.ingest",
    "load_documents": "workbench.rag.ingest",
    "chunk_documents": "workbench.rag.ingest",
    "SPLITTERS": "workbench.rag.ingest",
    # index
    "RagIndex": "workbench.rag.index",
    "UpdateReport": "workbench.rag.updates",
    "cached_index": "workbench.rag.index",
    # search
    "Hit": "workbench.rag.search",
    "MODES": "workbench.rag.search",
    "DEFAULT_K": "workbench.rag.search",
    "SearchOptions": "workbench.rag.search",
    # persistence
    "IndexCorruptError": "workbench.rag.storage",
    "IndexConflictError": "workbench.rag.storage",
    "IndexLockTimeout": "workbench.rag.storage",
    "index_lock": "workbench.rag.storage",
    "read_manifest": "workbench.rag.storage",
    "read_info": "workbench.rag.storage",
    # embedders
    "Embedder": "workbench.rag.embedders",
    "EmbedderMismatchError": "workbench.rag.embedders",
    "get_embedder": "workbench.rag.embedders",
    "cache_embedder": "workbench.rag.embedders",
    "EmbeddingCheckpoint": "workbench.rag.checkpoint",
    "checkpoint_folder": "workbench.rag.checkpoint",
    # fusion
    "FUSIONS": "workbench.rag.fusion",
    "reciprocal_rank_fusion": "workbench.rag.fusion",
    "weighted_fusion": "workbench.rag.fusion",
    # text
    "tokenize": "workbench.rag.text",
    "highlight": "workbench.rag.text",
    "highlight_spans": "workbench.rag.text",
    # evaluation
    "Question": "workbench.rag.evaluation",
    "EvalConfig": "workbench.rag.evaluation",
    "EvalResult": "workbench.rag.evaluation",
    "load_questions": "workbench.rag.evaluation",
    "evaluate": "workbench.rag.evaluation",
    "compare": "workbench.rag.evaluation",
    "default_configs": "workbench.rag.evaluation",
    "DEFAULT_EVAL_K": "workbench.rag.evaluation",
    "format_table": "workbench.rag.evaluation",
    "recall_at_k": "workbench.rag.evaluation",
    "reciprocal_rank": "workbench.rag.evaluation",
    "ndcg_at_k": "workbench.rag.evaluation",
    # reranking
    "CrossEncoderReranker": "workbench.rag.rerank",
    "load_reranker": "workbench.rag.rerank",
    # LangChain
    "WorkbenchRetriever": "workbench.rag.chain",
    "WorkbenchChatModel": "workbench.rag.chain",
    "build_rag_chain": "workbench.rag.chain",
    "parse_citations": "workbench.rag.chain",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
