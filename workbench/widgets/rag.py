"""The RAG wiring widget (anywidget): a thin view over :mod:`workbench.rag`.

Pick a corpus and chunking, build (or reuse) its index, choose the retriever mode, ``k`` and fusion weights,
ask a question, and see the retrieved chunks with their scores and highlighted query terms, the final prompt
and the cited answer; run the evaluation table. State lives in synced traits; the front end sends only actions
(``{"action": "build" | "search" | "ask" | "evaluate"}``), which run in a worker thread
(:class:`~workbench.widgets.action.ActionWidget`: errors show in the ``error`` trait; ``wait()`` waits). The
same work runs synchronously and headless through :meth:`RagWidget.build`, :meth:`RagWidget.search`,
:meth:`RagWidget.ask` and :meth:`RagWidget.evaluate` (papermill, nbclient, tests)::

    w = RagWidget()                         # the shipped corpus, markdown chunks of 1000/100
    w.build(); w.search("How do I read a CSV file?")
    w.hits[0]["source"], w.hits[0]["highlights"]
    w.ask()                                 # prompt with numbered sources -> answer citing source ids
    w.evaluate()                            # w.eval_rows: recall@k, MRR@10, nDCG@10 per configuration
"""

from __future__ import annotations

import pathlib
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import traitlets

from workbench.rag import (
    DEFAULT_K,
    ChunkingConfig,
    EvalConfig,
    RagIndex,
    build_rag_chain,
    cached_index,
    compare,
    default_configs,
    highlight_spans,
    load_questions,
)
from workbench.widgets._static import STATIC, widget_esm
from workbench.widgets.action import ActionWidget, Handler

#: Synced trait names; ``static/rag.js`` declares the same list (a test keeps them in step).
FIELDS: tuple[str, ...] = (
    "corpora",
    "corpus",
    "splitter",
    "chunk_size",
    "chunk_overlap",
    "mode",
    "fusion",
    "k",
    "dense_weight",
    "bm25_weight",
    "question",
    "model",
    "max_new_tokens",
    "questions_file",
    "status",
    "error",
    "index_info",
    "hits",
    "prompt",
    "answer",
    "citations",
    "sources",
    "eval_rows",
)


def shipped_corpus() -> dict[str, str]:
    """The corpus in ``datasets/corpus`` (folder and question file)."""
    from workbench.settings import get_settings

    base = get_settings().datasets_dir / "corpus"
    return {
        "label": "Python stdlib docs (shipped)",
        "path": str(base / "docs"),
        "questions": str(base / "questions.jsonl"),
    }


class RagWidget(ActionWidget):
    """Wire a retriever and see what it does.

    Args:
        corpus: Folder of documents (default: the shipped corpus).
        corpora: Other folders offered in the picker (paths, or dicts with ``label``/``path``/``questions``).
        index: An index already built from ``corpus`` (a notebook's ``cached_index(...)``): the widget starts
            with it and its chunking instead of loading it again.
        backend: A ``ChatBackend`` for :meth:`ask` (default: ``load_model(model)`` on first use).
        embedder: An embedder to use instead of ``settings.default_embedder``.
        cache_dir: Where built indexes are kept (default ``<cache_dir>/rag-indexes``).
        **kwargs: Any other trait (splitter, chunk_size, chunk_overlap, mode, fusion, k, dense_weight,
            bm25_weight, question, model, max_new_tokens, questions_file).
    """

    _esm = widget_esm("rag.js")
    _css = STATIC / "rag.css"

    corpora = traitlets.List(traitlets.Dict()).tag(sync=True)
    corpus = traitlets.Unicode("").tag(sync=True)
    splitter = traitlets.Unicode("markdown").tag(sync=True)
    chunk_size = traitlets.Int(1000).tag(sync=True)
    chunk_overlap = traitlets.Int(100).tag(sync=True)
    mode = traitlets.Unicode("hybrid").tag(sync=True)
    fusion = traitlets.Unicode("weighted").tag(sync=True)
    k = traitlets.Int(DEFAULT_K).tag(sync=True)
    dense_weight = traitlets.Float(0.5).tag(sync=True)
    bm25_weight = traitlets.Float(0.5).tag(sync=True)
    question = traitlets.Unicode("").tag(sync=True)
    model = traitlets.Unicode("").tag(sync=True)
    max_new_tokens = traitlets.Int(96).tag(sync=True)
    questions_file = traitlets.Unicode("").tag(sync=True)
    index_info = traitlets.Dict().tag(sync=True)
    hits = traitlets.List(traitlets.Dict()).tag(sync=True)
    prompt = traitlets.Unicode("").tag(sync=True)
    answer = traitlets.Unicode("").tag(sync=True)
    citations = traitlets.List(traitlets.Unicode()).tag(sync=True)
    sources = traitlets.List(traitlets.Dict()).tag(sync=True)
    eval_rows = traitlets.List(traitlets.Dict()).tag(sync=True)

    background_actions: ClassVar[frozenset[str]] = frozenset({"build", "search", "ask", "evaluate"})

    def __init__(
        self,
        corpus: str | pathlib.Path | None = None,
        *,
        corpora: Sequence[str | pathlib.Path | dict[str, str]] = (),
        index: RagIndex | None = None,
        backend: Any = None,
        embedder: Any = None,
        cache_dir: str | pathlib.Path | None = None,
        **kwargs: Any,
    ) -> None:
        from workbench.settings import get_settings

        shipped = shipped_corpus()
        offered = [shipped] + [
            c if isinstance(c, dict) else {"label": pathlib.Path(c).name, "path": str(c)} for c in corpora
        ]
        chosen = str(corpus) if corpus is not None else shipped["path"]
        if not any(c["path"] == chosen for c in offered):
            offered.append({"label": pathlib.Path(chosen).name, "path": chosen})
        super().__init__(corpora=offered, corpus=chosen, model=get_settings().default_model)
        for key, value in kwargs.items():
            if key not in FIELDS:
                raise TypeError(f"RagWidget got an unexpected argument '{key}'")
            setattr(self, key, value)
        if not self.questions_file:
            self.questions_file = next((c.get("questions", "") for c in offered if c["path"] == chosen), "")
        self._backend = backend
        self._embedder = embedder
        self._cache_dir = cache_dir
        self._index: RagIndex | None = None
        self._built_for: tuple[str, ChunkingConfig] | None = None
        if index is not None:
            chunking = index.chunking
            self.splitter, self.chunk_size, self.chunk_overlap = (
                chunking.splitter, chunking.chunk_size, chunking.chunk_overlap)  # fmt: skip
            self._index, self._built_for = index, (self.corpus, self.chunking)
            self.index_info = index.info()
        self._busy = threading.Lock()
        self.observe(self._on_corpus, names=["corpus"])

    # -------------------------------------------------------------------------------------------- plumbing

    @property
    def index(self) -> RagIndex | None:
        """The index built by :meth:`build` (``None`` before)."""
        return self._index

    @property
    def chunking(self) -> ChunkingConfig:
        """The chunking the traits describe."""
        return ChunkingConfig(
            splitter=self.splitter, chunk_size=self.chunk_size, chunk_overlap=self.chunk_overlap
        )  # type: ignore[arg-type]

    def _on_corpus(self, change: dict[str, Any]) -> None:
        match = next((c for c in self.corpora if c.get("path") == change["new"]), None)
        self.questions_file = (match or {}).get("questions", "")

    def actions(self) -> Mapping[str, Handler]:
        """The front end's actions, each run in a worker thread (see :class:`ActionWidget`)."""
        return {
            "build": lambda _content: self.build(),
            # the message carries the question in the box (a trait update may not have arrived yet)
            "search": lambda content: self.search(content.get("question")),
            "ask": lambda content: self.ask(content.get("question")),
            "evaluate": lambda _content: self.evaluate(),
        }

    def _step(self, status: str, work: Callable[[], Any]) -> Any:
        from workbench.models.quiet import quiet_libraries

        with self._busy, quiet_libraries():  # library warnings go to the log, not under the widget
            result = self.perform(work, status=status)
            self.status = "done"
            return result

    # ----------------------------------------------------------------------------------------------- actions

    def build(self) -> RagIndex:
        """Build (or reuse and sync) the index of :attr:`corpus` with the current chunking."""

        def work() -> RagIndex:
            key = (self.corpus, self.chunking)
            if self._index is None or self._built_for != key:
                self._index = cached_index(
                    self.corpus, chunking=self.chunking, embedder=self._embedder, cache_dir=self._cache_dir
                )
                self._built_for = key
            index = self._index
            self.index_info = index.info()
            return index

        return self._step("building", work)  # type: ignore[no-any-return]

    def _ready(self) -> RagIndex:
        if self._index is None or self._built_for != (self.corpus, self.chunking):
            self.build()
        assert self._index is not None
        return self._index

    def search(self, question: str | None = None) -> list[dict[str, Any]]:
        """Retrieve for ``question`` (default :attr:`question`); fills :attr:`hits`."""
        if question is not None:
            self.question = question
        index = self._ready()

        def work() -> list[dict[str, Any]]:
            self._require_question()
            hits = index.search(
                self.question, self.k, mode=self.mode, fusion=self.fusion, weights=self._weights()
            )
            rows = []
            for hit in hits:
                row = hit.to_dict()
                row["highlights"] = [list(span) for span in highlight_spans(hit.text, self.question)]
                row["headers"] = hit.chunk.metadata.get("headers", [])
                rows.append(row)
            self.hits = rows
            return rows

        return self._step("searching", work)  # type: ignore[no-any-return]

    def ask(self, question: str | None = None) -> dict[str, Any]:
        """Retrieve, build the prompt with numbered sources, generate, and cite; fills prompt/answer/citations."""
        if question is not None:
            self.question = question
        self.search()
        index = self._ready()

        def work() -> dict[str, Any]:
            self.prompt, self.answer, self.citations, self.sources = "", "", [], []
            chain = build_rag_chain(index, self._get_backend(), k=self.k, mode=self.mode, fusion=self.fusion,
                                    weights=self._weights(), max_new_tokens=self.max_new_tokens)  # fmt: skip
            result: dict[str, Any] = chain.invoke(self.question)
            self.prompt = result["prompt"]
            self.answer = result["answer"]
            self.citations = list(result["citations"])
            # Citations are page ids; `cited` says which numbered source (chunk) the answer itself cites.
            numbers = set(result.get("cited_numbers", []))
            self.sources = [
                {**{k: v for k, v in s.items() if k != "text"}, "cited": s["n"] in numbers} for s in result["sources"]
            ]
            return result

        return self._step("generating", work)  # type: ignore[no-any-return]

    def evaluate(self, configs: Sequence[EvalConfig | str] | None = None) -> list[dict[str, Any]]:
        """Run the evaluation on :attr:`questions_file`; fills :attr:`eval_rows`.

        Args:
            configs: Configurations (or ``EvalConfig.parse`` strings); default dense, BM25, hybrid RRF and
                hybrid weighted at :attr:`k`, plus the widget's current weights.
        """
        index = self._ready()

        def work() -> list[dict[str, Any]]:
            if not self.questions_file:
                from workbench.errors import ConfigError

                raise ConfigError("no question file for this corpus", field="questions_file",
                                  hint='set questions_file to a JSONL of {"question", "relevant": [...]}')  # fmt: skip
            questions = load_questions(self.questions_file, known_sources=index.sources)
            if configs is None:
                chosen = default_configs(self.k)
                current = EvalConfig(
                    mode="hybrid", k=self.k, fusion=self.fusion, weights=self._weights(), name="current"
                )
                chosen.append(current)
            else:
                chosen = [
                    c if isinstance(c, EvalConfig) else EvalConfig.parse(c, base=index.chunking)
                    for c in configs
                ]
            results = compare(index, questions, chosen)
            self.eval_rows = [r.to_dict() for r in results]
            return self.eval_rows

        return self._step("evaluating", work)  # type: ignore[no-any-return]

    # ----------------------------------------------------------------------------------------------- helpers

    def _weights(self) -> tuple[float, float]:
        return (float(self.dense_weight), float(self.bm25_weight))

    def _require_question(self) -> None:
        if not self.question.strip():
            from workbench.errors import ConfigError

            raise ConfigError(
                "type a question first", field="question", hint="e.g. How do I read a CSV file?"
            )

    def _get_backend(self) -> Any:
        if self._backend is None or (self.model and getattr(self._backend, "name", None) != self.model):
            from workbench.models import load_model

            self._backend = load_model(self.model or None)
        return self._backend
