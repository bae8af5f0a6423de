"""LangChain integration: the retriever, the chat model over a ChatBackend, and the RAG chain with citations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever

from workbench.errors import ContextLengthError
from workbench.rag import RagIndex, WorkbenchChatModel, build_rag_chain, parse_citations
from workbench.rag.chain import build_messages, fit_to_context


@dataclass
class FakeGeneration:
    text: str
    model: str = "scripted"
    input_tokens: int = 10
    output_tokens: int = 3
    latency_s: float = 0.01
    finish_reason: str = "stop"


class ScriptedBackend:
    """A ChatBackend edge fake: answers with a fixed text and counts tokens as words."""

    name = "scripted"

    def __init__(self, answer: str, context_length: int = 4096) -> None:
        self.answer = answer
        self.context_length = context_length
        self.seen: list[Any] = []

    def count_tokens(self, messages: Any) -> int:
        text = messages if isinstance(messages, str) else " ".join(m["content"] for m in messages)
        return len(text.split())

    def generate(self, messages: Any, params: Any = None, **overrides: Any) -> FakeGeneration:
        self.seen.append((messages, overrides))
        return FakeGeneration(self.answer)

    def stream(self, messages: Any, params: Any = None, **overrides: Any) -> Any:
        words = self.answer.split(" ")
        yield from [w + " " for w in words[:-1]] + words[-1:]

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        return "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in messages)


def test_parse_citations() -> None:
    assert parse_citations("See [2] and [1, 3]; also [2] again and [9].", 3) == [2, 1, 3]
    assert parse_citations("no citations", 3) == []


def test_retriever_is_a_langchain_retriever_with_scores_in_metadata(built_index: Path, embedder: Any) -> None:
    index = RagIndex.load(built_index, embedder=embedder)
    retriever = index.as_retriever(k=2, mode="hybrid", record=False)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("ISO 8601 date strings")
    assert len(docs) == 2 and isinstance(docs[0], Document)
    meta = docs[0].metadata
    assert meta["source"] == "web/dates.html" and meta["rank"] == 1
    assert {"chunk_id", "score", "dense_score", "bm25_score", "headers", "start"} <= set(meta)
    assert [len(d) for d in retriever.batch(["gzip", "csv dialects"])] == [2, 2]


def test_chain_cites_the_numbered_sources(built_index: Path, embedder: Any) -> None:
    index = RagIndex.load(built_index, embedder=embedder)
    backend = ScriptedBackend("Use json.dumps [1]; decoding is in [2].")
    chain = build_rag_chain(index, backend, k=3, max_new_tokens=20)
    result = chain.invoke({"question": "How do I turn an object into JSON text?"})
    assert result["answer"] == "Use json.dumps [1]; decoding is in [2]."
    assert result["sources"][0]["source"] == "guides/json.md" and result["sources"][0]["n"] == 1
    assert result["citations"] == list(
        dict.fromkeys([result["sources"][0]["source"], result["sources"][1]["source"]])
    )
    assert result["cited_numbers"] == [1, 2]
    assert result["prompt"].startswith("<|system|>\nAnswer the question using only the numbered sources")
    assert (
        "[1] (guides/json.md)" in result["prompt"]
        and "Question: How do I turn an object into JSON text?" in result["prompt"]
    )
    messages, overrides = backend.seen[0]
    assert messages[0]["role"] == "system" and messages[1]["role"] == "user"
    assert overrides["max_new_tokens"] == 20 and overrides["temperature"] == 0.0
    with pytest.raises(ValueError, match="needs a question"):
        chain.invoke("  ")

    from workbench.telemetry import get_recorder, open_store

    get_recorder().flush()
    with open_store() as store:
        kinds = [e.kind for e in store.query()]
        (generation,) = store.query(kind="generation")
    assert kinds.count("retrieval") == 1
    attrs = generation.attributes
    assert attrs["gen_ai.request.model"] == "scripted" and attrs["gen_ai.usage.output_tokens"] == 3
    assert attrs["gen_ai.request.max_tokens"] == 20 and attrs["source"] == "rag" and attrs["cost"] == 0.0


def test_prompt_is_fitted_to_the_context_window() -> None:
    docs = [Document(page_content=("word " * 200).strip(), metadata={"source": f"d{i}.md"}) for i in range(3)]
    backend = ScriptedBackend("ok", context_length=150)
    messages, used = fit_to_context("a short question", docs, backend, max_new_tokens=20)
    assert len(used) == 1 and used[0].page_content.endswith(" ...")
    assert backend.count_tokens(messages) <= 130
    assert backend.count_tokens(build_messages("a short question", docs)) > 130
    tight = ScriptedBackend("ok", context_length=30)
    with pytest.raises(ContextLengthError, match="exceed the context window of 30 tokens"):
        fit_to_context("a short question", docs, tight, max_new_tokens=20)


def test_chat_model_drops_into_plain_langchain_code() -> None:
    backend = ScriptedBackend("Paris is the capital.")
    model = WorkbenchChatModel(backend=backend, max_new_tokens=8)
    chain = (
        ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{q}")])
        | model
        | StrOutputParser()
    )
    assert chain.invoke({"q": "Capital of France?"}) == "Paris is the capital."
    messages, overrides = backend.seen[0]
    assert messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert overrides["max_new_tokens"] == 8
    reply = model.invoke("hi")
    assert reply.usage_metadata["total_tokens"] == 13 and reply.response_metadata["model_name"] == "scripted"
    assert "".join(str(c.content) for c in model.stream("hi")) == "Paris is the capital."


@pytest.mark.slow
def test_chain_runs_end_to_end_with_the_tiny_model(built_index: Path, embedder: Any, tiny_model: Any) -> None:
    index = RagIndex.load(built_index, embedder=embedder)
    chain = build_rag_chain(index, tiny_model, k=3, max_new_tokens=8)
    result = chain.invoke("How do I read a CSV file?")
    assert isinstance(result["answer"], str) and result["sources"]
    assert tiny_model.count_tokens(result["messages"]) + 8 <= tiny_model.context_length
    assert set(result["citations"]) <= {s["source"] for s in result["sources"]}
    assert result["usage"]["output_tokens"] <= 8
