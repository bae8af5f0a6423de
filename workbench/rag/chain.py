"""LangChain integration: a ``BaseRetriever`` over :class:`~workbench.rag.index.RagIndex`, a chat model over
any Workbench ``ChatBackend``, and a runnable RAG chain (retrieve -> prompt with numbered sources -> generate
-> answer with cited source ids).

Everything here is plain LangChain (``langchain_core``), so the pieces drop into other LangChain code::

    from workbench.rag import RagIndex, build_rag_chain
    from workbench.models import load_model

    index = RagIndex.load("my-index")
    chain = build_rag_chain(index, load_model())
    result = chain.invoke("How do I read a CSV file?")
    result["answer"], result["citations"]        # text, ["data/csv.html"]

    retriever = index.as_retriever(k=4)           # a langchain_core BaseRetriever
    docs = retriever.invoke("csv dialects")       # list[Document], metadata carries source and scores
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough
from pydantic import ConfigDict

from workbench.errors import ContextLengthError
from workbench.rag.search import DEFAULT_K, Searchable

SYSTEM_PROMPT = (
    "Answer the question using only the numbered sources. Cite every source you use by its number in square "
    "brackets, like [1]. If the sources do not contain the answer, say that you do not know."
)
_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_ROLES = {"system": "system", "human": "user", "user": "user", "ai": "assistant", "assistant": "assistant"}


class WorkbenchRetriever(BaseRetriever):
    """A LangChain retriever over a ``RagIndex`` (each call is a ``retrieval`` telemetry event).

    Documents carry the chunk's metadata plus ``source``, ``chunk_id``, ``rank``, ``score``, ``dense_score``
    and ``bm25_score``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Any
    k: int = DEFAULT_K
    mode: str = "hybrid"
    fusion: str = "weighted"
    weights: tuple[float, float] = (0.5, 0.5)
    reranker: Any = None
    record: bool = True

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        hits = self.index.search(
            query, self.k, mode=self.mode, fusion=self.fusion, weights=self.weights, reranker=self.reranker,
            record=self.record,
        )  # fmt: skip
        return [
            Document(
                page_content=hit.text,
                id=str(hit.chunk.id),
                metadata={
                    **hit.chunk.metadata,
                    "source": hit.source,
                    "chunk_id": hit.chunk.id,
                    "rank": hit.rank,
                    "score": hit.score,
                    "dense_score": hit.dense_score,
                    "bm25_score": hit.bm25_score,
                },
            )
            for hit in hits
        ]


class WorkbenchChatModel(BaseChatModel):
    """A LangChain chat model that generates through a Workbench ``ChatBackend`` (local or HTTP).

    Args:
        backend: A ``ChatBackend`` from ``workbench.models.load_model``.
        max_new_tokens: Longest answer.
        temperature: 0 is greedy.
        record: Record each call as a ``generation`` telemetry event (OpenTelemetry GenAI attribute names,
            ``"source": "rag"``).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    backend: Any
    max_new_tokens: int = 128
    temperature: float = 0.0
    record: bool = True

    @property
    def _llm_type(self) -> str:
        return "workbench"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": getattr(self.backend, "name", "?"), "max_new_tokens": self.max_new_tokens}

    def _overrides(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "temperature": self.temperature}
        if stop:
            out["stop"] = tuple(stop)
        out.update(
            {k: v for k, v in kwargs.items() if k in ("max_new_tokens", "temperature", "top_p", "seed")}
        )
        return out

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        overrides = self._overrides(stop, kwargs)
        generation = self.backend.generate(to_backend_messages(messages), **overrides)
        if self.record:
            _record_generation(generation, overrides)
        message = AIMessage(
            content=generation.text,
            usage_metadata={
                "input_tokens": int(generation.input_tokens or 0),
                "output_tokens": int(generation.output_tokens or 0),
                "total_tokens": int((generation.input_tokens or 0) + (generation.output_tokens or 0)),
            },
            response_metadata={
                "model_name": generation.model,
                "finish_reason": generation.finish_reason,
                "latency_s": generation.latency_s,
            },
        )
        return ChatResult(
            generations=[ChatGeneration(message=message)], llm_output={"model_name": generation.model}
        )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        stream = self.backend.stream(to_backend_messages(messages), **self._overrides(stop, kwargs))
        for text in stream:
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
            if run_manager is not None:
                run_manager.on_llm_new_token(text, chunk=chunk)
            yield chunk


def _record_generation(generation: Any, overrides: dict[str, Any]) -> None:
    from workbench.settings import get_settings
    from workbench.telemetry import EventKind, record

    to_attributes = getattr(generation, "to_attributes", None)
    attrs: dict[str, Any] = dict(to_attributes()) if callable(to_attributes) else {}
    model = str(getattr(generation, "model", "") or "")
    input_tokens = int(getattr(generation, "input_tokens", 0) or 0)
    output_tokens = int(getattr(generation, "output_tokens", 0) or 0)
    finish = getattr(generation, "finish_reason", None)
    attrs.setdefault("gen_ai.request.model", model)
    attrs.setdefault("gen_ai.usage.input_tokens", input_tokens)
    attrs.setdefault("gen_ai.usage.output_tokens", output_tokens)
    attrs.setdefault("gen_ai.response.finish_reasons", [finish] if finish else [])
    attrs.setdefault("latency_s", getattr(generation, "latency_s", None))
    attrs["gen_ai.request.max_tokens"] = overrides.get("max_new_tokens")
    attrs["gen_ai.request.temperature"] = overrides.get("temperature")
    attrs["cost"] = round(get_settings().price_for(model).cost(input_tokens, output_tokens), 8)
    attrs["source"] = "rag"
    record(
        EventKind.GENERATION, duration_s=getattr(generation, "latency_s", None), status="ok", attributes=attrs
    )


def to_backend_messages(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """LangChain messages -> Workbench ``{"role", "content"}`` dicts."""
    return [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]


def format_sources(documents: Sequence[Document]) -> str:
    """``[n] (source) text`` blocks, numbered from 1."""
    return "\n\n".join(
        f"[{n}] ({d.metadata.get('source', '?')})\n{d.page_content}" for n, d in enumerate(documents, 1)
    )


def build_messages(question: str, documents: Sequence[Document]) -> list[dict[str, str]]:
    """The RAG prompt: system instructions, then the numbered sources and the question."""
    user = f"Sources:\n\n{format_sources(documents)}\n\nQuestion: {question}\nAnswer (cite sources like [1]):"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def fit_to_context(
    question: str, documents: Sequence[Document], backend: Any, *, max_new_tokens: int
) -> tuple[list[dict[str, str]], list[Document]]:
    """Drop trailing sources, then shorten the last one, until the prompt fits the backend's context window.

    Raises:
        ContextLengthError: Even the question alone does not fit.
    """
    limit = getattr(backend, "context_length", None)
    docs = list(documents)
    messages = build_messages(question, docs)
    if not limit or not hasattr(backend, "count_tokens"):
        return messages, docs
    budget = int(limit) - max_new_tokens

    def fits(candidate: list[Document]) -> bool:
        return int(backend.count_tokens(build_messages(question, candidate))) <= budget

    while docs and not fits(docs):
        if len(docs) > 1:
            docs.pop()
            continue
        low, high = 0, len(docs[0].page_content)  # the longest prefix that fits
        while low < high:
            mid = (low + high + 1) // 2
            if fits(_shortened(docs[0], mid)):
                low = mid
            else:
                high = mid - 1
        docs = _shortened(docs[0], low) if low >= 40 else []
        break
    if not fits(docs):
        raise ContextLengthError(
            f"the question and instructions alone exceed the context window of {limit} tokens "
            f"(with {max_new_tokens} tokens kept for the answer)",
            field="question",
            hint="shorten the question, lower max_new_tokens, or use a model with a longer context",
        )
    return build_messages(question, docs), docs


def _shortened(doc: Document, size: int) -> list[Document]:
    return [Document(page_content=doc.page_content[:size] + " ...", metadata=doc.metadata)]


def parse_citations(answer: str, count: int) -> list[int]:
    """Source numbers cited as ``[n]`` or ``[n, m]`` in ``answer`` (1..count, first-seen order)."""
    found: list[int] = []
    for match in _CITATION.finditer(answer):
        for part in match.group(1).split(","):
            number = int(part)
            if 1 <= number <= count and number not in found:
                found.append(number)
    return found


def render_prompt(backend: Any, messages: list[dict[str, str]]) -> str:
    """The exact text the model sees when the backend can render chats, else a readable join."""
    render = getattr(backend, "render_chat", None)
    if render is not None:
        try:
            return str(render(messages))
        except Exception:  # a backend without a chat template: fall back to the readable form
            pass
    return "\n\n".join(f"<{m['role']}>\n{m['content']}" for m in messages)


def build_rag_chain(
    retriever: Searchable | BaseRetriever,
    backend: Any,
    *,
    k: int = DEFAULT_K,
    mode: str = "hybrid",
    fusion: str = "weighted",
    weights: tuple[float, float] = (0.5, 0.5),
    max_new_tokens: int = 128,
    temperature: float = 0.0,
) -> Runnable[Any, dict[str, Any]]:
    """A runnable: question (``str`` or ``{"question": str}``) -> answer with cited sources.

    Args:
        retriever: A :class:`~workbench.rag.index.RagIndex` (or any other
            :class:`~workbench.rag.search.Searchable`; wrapped in :class:`WorkbenchRetriever` with
            ``k``/``mode``/``fusion``/``weights``) or any LangChain retriever.
        backend: A Workbench ``ChatBackend`` (wrapped in :class:`WorkbenchChatModel`) or a LangChain chat
            model (token budgeting is then skipped).
        max_new_tokens: Longest answer; the prompt is fitted into the rest of the context window.

    Returns:
        A runnable whose output is a dict: ``question``, ``answer``, ``citations`` (cited source ids),
        ``sources`` (the numbered sources: ``n``, ``source``, ``chunk_id``, ``score``, ``text``), ``prompt``
        (the rendered final prompt), ``model``, ``usage``.
    """
    if not isinstance(retriever, BaseRetriever) and isinstance(retriever, Searchable):
        retriever = WorkbenchRetriever(index=retriever, k=k, mode=mode, fusion=fusion, weights=weights)
    if isinstance(backend, BaseChatModel):
        chat: BaseChatModel = backend
        raw_backend = getattr(backend, "backend", None)
    else:
        chat = WorkbenchChatModel(backend=backend, max_new_tokens=max_new_tokens, temperature=temperature)
        raw_backend = backend

    def as_input(value: Any) -> dict[str, Any]:
        question = (
            value if isinstance(value, str) else value.get("question") if isinstance(value, dict) else None
        )
        if not isinstance(question, str) or not question.strip():
            raise ValueError("the RAG chain needs a question: a non-empty string or {'question': str}")
        return {"question": question}

    def prompt(state: dict[str, Any]) -> dict[str, Any]:
        if raw_backend is not None:
            messages, used = fit_to_context(state["question"], state["documents"], raw_backend,
                                            max_new_tokens=max_new_tokens)  # fmt: skip
        else:
            used = list(state["documents"])
            messages = build_messages(state["question"], used)
        return {"messages": messages, "used": used}

    def to_lc(state: dict[str, Any]) -> list[tuple[str, str]]:
        return [
            ("human" if m["role"] == "user" else m["role"], m["content"]) for m in state["prompt"]["messages"]
        ]

    def finish(state: dict[str, Any]) -> dict[str, Any]:
        used: list[Document] = state["prompt"]["used"]
        reply = state["reply"]
        text = str(reply.content).strip()
        numbers = parse_citations(text, len(used))
        cited = list(dict.fromkeys(str(used[n - 1].metadata.get("source")) for n in numbers))
        messages = state["prompt"]["messages"]
        return {
            "question": state["question"],
            "answer": text,
            "citations": cited,
            "cited_numbers": numbers,
            "sources": [
                {
                    "n": n,
                    "source": d.metadata.get("source"),
                    "chunk_id": d.metadata.get("chunk_id"),
                    "score": d.metadata.get("score"),
                    "text": d.page_content,
                }
                for n, d in enumerate(used, start=1)
            ],
            "retrieved": len(state["documents"]),
            "prompt": render_prompt(raw_backend, messages) if raw_backend is not None else str(messages),
            "messages": messages,
            "model": (getattr(reply, "response_metadata", {}) or {}).get("model_name"),
            "usage": getattr(reply, "usage_metadata", None),
        }

    chain = (
        RunnableLambda(as_input)
        | RunnablePassthrough.assign(documents=(lambda s: s["question"]) | retriever)
        | RunnablePassthrough.assign(prompt=RunnableLambda(prompt))
        | RunnablePassthrough.assign(reply=RunnableLambda(to_lc) | chat)
        | RunnableLambda(finish)
    )
    return chain.with_config(run_name="workbench_rag")
