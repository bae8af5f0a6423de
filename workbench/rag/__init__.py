"""Retrieval-augmented generation: ingest, chunk, embed, index, hybrid-retrieve, evaluate, and LangChain glue.

This is the only Workbench package that imports LangChain. Names are loaded lazily, so ``import workbench.rag``
costs nothing until one is used::

    from workbench.rag import RagIndex, ChunkingConfig, load_questions, compare, format_table

    index = RagIndex.build("datasets/corpus/docs", out="corpus-index",
                           chunking=ChunkingConfig(splitter="markdown", chunk_size=1000, chunk_overlap=100))
    hits = index.search("How do I read a CSV file?", k=5, mode="hybrid")     # list[Hit]
    table = compare(index, load_questions("datasets/corpus/questions.jsonl", known_sources=index.sources))
    print(format_table(table))

Pieces: :mod:`~workbench.rag.ingest` (readers, skip report, chunking), :mod:`~workbench.rag.index` (FAISS +
bm25s, fusion, persistence, incremental updates), :mod:`~workbench.rag.evaluation` (recall@k, MRR, nDCG@10),
:mod:`~workbench.rag.chain` (LangChain retriever, chat model and RAG chain), :mod:`~workbench.rag.rerank`
(optional cross-encoder).
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
    "Hit": "workbench.rag.index",
    "UpdateReport": "workbench.rag.index",
    "Embedder": "workbench.rag.index",
    "IndexCorruptError": "workbench.rag.index",
    "EmbedderMismatchError": "workbench.rag.index",
    "IndexConflictError": "workbench.rag.index",
    "IndexLockTimeout": "workbench.rag.index",
    "index_lock": "workbench.rag.index",
    "MODES": "workbench.rag.index",
    "get_embedder": "workbench.rag.index",
    "read_manifest": "workbench.rag.index",
    "cached_index": "workbench.rag.index",
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
