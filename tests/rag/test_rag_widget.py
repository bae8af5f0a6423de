"""The RAG widget: traits match the ES module, headless build/search/ask/evaluate, actions and errors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from workbench.widgets.rag import FIELDS, RagWidget

JS = Path(__file__).resolve().parents[2] / "workbench" / "widgets" / "static" / "rag.js"


class Backend:
    """A ChatBackend edge fake that cites source [1]."""

    name = "scripted"
    context_length = 4096

    def count_tokens(self, messages: Any) -> int:
        return sum(len(m["content"].split()) for m in messages)

    def generate(self, messages: Any, params: Any = None, **overrides: Any) -> Any:
        from types import SimpleNamespace

        return SimpleNamespace(text="See [1].", model="scripted", input_tokens=5, output_tokens=2, latency_s=0.0,
                               finish_reason="stop")  # fmt: skip

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        return "\n".join(m["content"] for m in messages)


def test_synced_traits_match_the_es_module_field_list() -> None:
    synced = {name for name in RagWidget.class_trait_names(sync=True) if not name.startswith("_")}
    ours = synced - {"comm", "keys", "layout", "log", "tabbable", "tooltip"}
    assert ours == set(FIELDS)
    block = re.search(r"export const FIELDS = \[(.*?)\];", JS.read_text(), re.S)
    assert block is not None and re.findall(r'"(\w+)"', block.group(1)) == list(FIELDS)


@pytest.fixture
def widget(corpus: Path, tmp_path: Path, embedder: Any) -> RagWidget:
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"question": "serialise to JSON", "relevant": ["guides/json.md"]}) + "\n"
        + json.dumps({"question": "gzip compressed files", "relevant": ["notes/compression.txt"]}) + "\n"
    )  # fmt: skip
    return RagWidget(corpus, backend=Backend(), embedder=embedder, cache_dir=tmp_path / "cache", chunk_size=200,
                     chunk_overlap=20, k=3, questions_file=str(questions), model="scripted")  # fmt: skip


def test_defaults_offer_the_shipped_corpus(embedder: Any) -> None:
    w = RagWidget(embedder=embedder)
    assert w.corpora[0]["label"].startswith("Python stdlib docs")
    assert w.corpus.endswith("corpus/docs") and w.questions_file.endswith("corpus/questions.jsonl")
    assert w.mode == "hybrid" and w.fusion == "weighted" and w.splitter == "markdown"
    with pytest.raises(TypeError, match="unexpected argument 'colour'"):
        RagWidget(colour="red")


def test_headless_build_search_ask_and_evaluate(widget: RagWidget) -> None:
    widget.build()
    assert widget.status == "done" and widget.index_info["documents"] == 5
    assert widget.index_info["chunking"]["chunk_size"] == 200

    hits = widget.search("How do I parse an ISO 8601 date?")
    assert widget.hits == hits and hits[0]["source"] == "web/dates.html"
    first = hits[0]
    spans = first["highlights"]
    assert spans and {first["text"][s:e].lower() for s, e in spans} >= {"iso", "8601"}
    assert first["dense_score"] is not None and first["headers"]

    result = widget.ask()
    assert widget.status == "done" and widget.answer == "See [1]."
    assert (
        widget.citations == [result["sources"][0]["source"]] and "Question: How do I parse" in widget.prompt
    )
    assert widget.sources[0]["n"] == 1 and "text" not in widget.sources[0]
    # Only the numbered source the answer cites is marked, even when other chunks come from the same page.
    assert [s["cited"] for s in widget.sources] == [s["n"] == 1 for s in widget.sources]
    assert len(widget.sources) > 1

    widget.mode = "bm25"
    assert widget.search("gzip")[0]["source"] == "notes/compression.txt"

    rows = widget.evaluate()
    assert [r["name"] for r in rows][-1] == "current" and len(rows) == 5
    assert widget.eval_rows == rows and all(0 <= r["ndcg@10"] <= 1 for r in rows)


def test_rechunking_rebuilds_and_actions_run_in_a_thread(widget: RagWidget) -> None:
    widget.build()
    before = widget.index_info["chunks"]
    widget.chunk_size = 60
    widget.chunk_overlap = 0
    widget.question = "csv dialects"
    widget._on_action(widget, {"action": "search"}, [])
    widget.wait(120)
    assert widget.status == "done" and widget.index_info["chunks"] > before
    assert widget.hits and widget.hits[0]["source"] == "guides/csv.md"
    widget._on_action(widget, {"action": "explode"}, [])
    assert widget.error == "unknown action 'explode'"


def test_errors_land_in_the_error_trait(widget: RagWidget, tmp_path: Path) -> None:
    widget.question = ""
    widget._on_action(widget, {"action": "search"}, [])
    widget.wait(120)
    assert widget.status == "error" and "type a question first" in widget.error
    widget.corpus = str(tmp_path / "nowhere")
    with pytest.raises(Exception, match="no such folder"):
        widget.build()
    assert widget.status == "error" and "no such folder" in widget.error


class BrokenBackend(Backend):
    """A backend whose server went away: an unexpected error, not a WorkbenchError."""

    def generate(self, messages: Any, params: Any = None, **overrides: Any) -> Any:
        raise RuntimeError("the model server went away")


def test_an_unexpected_error_reaches_the_learner_and_is_kept(corpus: Path, tmp_path: Path, embedder: Any) -> None:
    widget = RagWidget(corpus, backend=BrokenBackend(), embedder=embedder, cache_dir=tmp_path / "cache",
                       chunk_size=200, chunk_overlap=20, model="scripted", question="csv dialects")  # fmt: skip
    widget._on_action(widget, {"action": "ask"}, [])
    assert widget.wait(120) is None
    assert widget.status == "error" and widget.error == "RuntimeError: the model server went away"
    with pytest.raises(RuntimeError, match="went away"):  # not swallowed: the caller can still get it
        widget.wait(1, raise_errors=True)


def test_a_built_index_is_used_as_given(corpus: Path, tmp_path: Path, embedder: Any) -> None:
    """A lesson hands the widget the index it built: same chunking, no second build, answers from it."""
    from workbench.rag import ChunkingConfig, cached_index

    index = cached_index(corpus, chunking=ChunkingConfig(splitter="recursive", chunk_size=300, chunk_overlap=30),
                         embedder=embedder, cache_dir=tmp_path / "cache")  # fmt: skip
    w = RagWidget(corpus, index=index, backend=Backend(), model="scripted", k=2)
    assert (w.splitter, w.chunk_size, w.chunk_overlap) == ("recursive", 300, 30)
    assert w.index_info == index.info()
    result = w.ask("How do I serialise to JSON?")
    assert w.index is index and result["answer"] == "See [1]." and len(w.sources) == 2
