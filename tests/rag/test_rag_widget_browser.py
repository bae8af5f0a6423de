"""The RAG widget in a real JupyterLab (Debian chromium via Python Playwright).

A person builds the index of a slice of the shipped corpus (``datasets/corpus/docs/compression``: source ids stay
``compression/<page>``, so the shipped questions apply), picks the retriever mode, ``k`` and fusion, asks a
question, and reads the retrieved chunks with their scores and highlighted terms, the cited answer and the final
prompt; then runs the evaluation and reads its table. The kernel-side state must agree with what the page shows.

Everything is real (widget, anywidget front end, ingest, MiniLM embeddings, BM25, fusion, the LangChain RAG chain,
citation parsing, evaluation) except the answering model: the tiny built-in model cannot read sources, so the
chain talks to ``QuotingBackend``, a small backend owned by this test that quotes source [1] and cites it.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wb_lab import Lab, lab_page, make_lab, new_notebook, run_in_last_cell, running, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "compression"
QUESTION = "How do I read a gzip compressed file?"

QUOTING_BACKEND = '''"""A ChatBackend that can read: it quotes the heading of source [1] and cites it."""
import re
from types import SimpleNamespace


class QuotingBackend:
    name = "quoting"
    context_length = 4096

    def count_tokens(self, messages):
        return sum(len(m["content"].split()) for m in messages)

    def render_chat(self, messages):
        return "\\n".join(m["content"] for m in messages)

    def generate(self, messages, params=None, **overrides):
        first = re.search(r"\\[1\\] \\((.+?)\\)\\n#*\\s*(.+)", messages[-1]["content"])
        text = f"{first.group(2).strip()} (see {first.group(1)}) [1]" if first else "I do not know."
        return SimpleNamespace(text=text, model=self.name, input_tokens=self.count_tokens(messages),
                               output_tokens=len(text.split()), latency_s=0.0, finish_reason="stop")
'''


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A plain lab (widgets render through anywidget's lab extension) with the corpus slice in its root."""
    lab = make_lab(tmp_path_factory.mktemp("rag-lab"), workbench=False)
    shipped = ROOT / "datasets" / "corpus"
    docs = lab.root / "corpus" / "docs"
    shutil.copytree(shipped / "docs" / TOPIC, docs / TOPIC)
    lines = [line for line in (shipped / "questions.jsonl").read_text().splitlines() if line.strip()]
    mine = [line for line in lines if all(s.startswith(f"{TOPIC}/") for s in json.loads(line)["relevant"])]
    assert len(mine) >= 5
    (lab.root / "corpus" / "questions.jsonl").write_text("\n".join(mine) + "\n")
    (lab.root / "quoting_backend.py").write_text(QUOTING_BACKEND)
    with running(lab):
        yield lab


@pytest.fixture
def page(lab: Lab, chromium_browser: Any) -> Iterator[Any]:
    with lab_page(chromium_browser, lab, height=1100) as page:
        yield page


def test_rag_widget_retrieves_answers_with_citations_and_evaluates(page: Any, lab: Lab) -> None:
    from playwright.sync_api import expect

    from workbench.rag import tokenize

    nb = new_notebook(page)
    run_in_last_cell(
        page,
        "from quoting_backend import QuotingBackend\n"
        "from workbench.widgets import RagWidget\n"
        f"corpus = {{'label': 'stdlib docs: {TOPIC} (shipped slice)', 'path': {str(lab.root / 'corpus' / 'docs')!r},\n"
        f"          'questions': {str(lab.root / 'corpus' / 'questions.jsonl')!r}}}\n"
        f"w = RagWidget(corpus['path'], corpora=[corpus], cache_dir={str(lab.root / 'index-cache')!r},\n"
        "              backend=QuotingBackend(), model='quoting')\n"
        "w",
    )
    rag = nb.locator(".wb-rag")
    expect(rag).to_be_visible(timeout=180000)
    status = rag.locator(".wb-status")
    expect(rag.locator("select.wb-corpus")).to_have_value(str(lab.root / "corpus" / "docs"))
    expect(rag.locator("input.wb-questions-file")).to_have_value(str(lab.root / "corpus" / "questions.jsonl"))

    # Build the index: documents and chunks are counted.
    rag.locator("button.wb-build").click()
    expect(status).to_have_attribute("data-status", "done", timeout=240000)
    expect(rag.locator(".wb-error")).to_be_empty()
    expect(rag.locator(".wb-index-info")).to_contain_text("6 documents")
    expect(rag.locator(".wb-index-info")).to_contain_text("(markdown 1000/100)")

    # Keyword search, k = 3: fusion and weights do not apply, dense scores are absent.
    rag.locator("input.wb-k").fill("3")
    rag.locator("input.wb-k").press("Tab")
    rag.locator("select.wb-mode").select_option("bm25")
    expect(rag.locator("select.wb-fusion")).to_be_disabled()
    expect(rag.locator("input.wb-dense_weight")).to_be_disabled()
    question = rag.locator("input.wb-question")
    question.fill(QUESTION)
    question.press("Enter")  # Enter retrieves
    hits = rag.locator("li.wb-hit")
    expect(hits).to_have_count(3, timeout=120000)
    expect(status).to_have_attribute("data-status", "done", timeout=120000)
    expect(hits.first.locator(".wb-hit-source")).to_have_text(f"{TOPIC}/gzip.md")
    expect(hits.first.locator(".wb-hit-score")).to_contain_text("dense –")
    assert re.search(r"score \d+\.\d{4} · dense – · BM25 \d+\.\d{2}", hits.first.locator(".wb-hit-score").inner_text())
    marks = {m.lower() for m in hits.first.locator(".wb-hit-text mark").all_inner_texts()}
    assert "gzip" in marks and marks <= set(tokenize(QUESTION)), marks  # the query's own terms, highlighted

    # Hybrid with reciprocal rank fusion: both retrievers score every hit.
    rag.locator("select.wb-mode").select_option("hybrid")
    expect(rag.locator("select.wb-fusion")).to_be_enabled()
    rag.locator("select.wb-fusion").select_option("rrf")
    rag.locator("button.wb-search").click()
    expect(status).to_have_attribute("data-status", "done", timeout=120000)
    expect(hits).to_have_count(3)
    expect(hits.first.locator(".wb-hit-score")).not_to_contain_text("dense –", timeout=60000)

    # Ask: the answer cites source [1], the sources are numbered, and the final prompt is the one sent.
    rag.locator("button.wb-ask").click()
    expect(status).to_have_attribute("data-status", "done", timeout=120000)
    answer = rag.locator(".wb-answer-text")
    expect(answer).to_contain_text("[1]", timeout=60000)
    sources = rag.locator(".wb-answer-sources li")
    expect(sources).to_have_count(3)
    expect(sources.first).to_contain_text("[1] ")
    expect(sources.first).to_contain_text("(cited)")
    expect(sources.first).to_have_class("wb-cited")
    # Only the numbered source the answer cites is marked, though the other chunks come from the same page.
    expect(rag.locator(".wb-answer-sources li.wb-cited")).to_have_count(1)
    cited = sources.first.inner_text().split("] ", 1)[1].removesuffix(" (cited)")
    expect(hits.first).to_have_class("wb-hit wb-cited")  # source [1] is the top retrieved chunk
    expect(rag.locator("li.wb-hit.wb-cited")).to_have_count(1)
    rag.locator(".wb-prompt-box summary").click()
    prompt = rag.locator("pre.wb-prompt")
    expect(prompt).to_be_visible()
    expect(prompt).to_contain_text(f"[1] ({cited})")
    expect(prompt).to_contain_text(f"Question: {QUESTION}")

    # Evaluation on the slice's labelled questions: one row per configuration, the best one marked.
    rag.locator("button.wb-evaluate").click()
    expect(status).to_have_attribute("data-status", "done", timeout=240000)
    table = rag.locator("table.wb-eval")
    expect(table.locator("thead th")).to_have_count(6)
    expect(table.locator("thead")).to_contain_text("recall@k")
    expect(table.locator("thead")).to_contain_text("nDCG@10")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(5)  # dense, BM25, hybrid RRF, hybrid weighted, and the current settings
    expect(rows.last.locator("td").first).to_have_text("current")
    assert table.locator("tbody tr.wb-best").count() >= 1
    for text in rows.locator("td:nth-child(2)").all_inner_texts():
        assert 0.0 <= float(text) <= 1.0, text

    # The kernel agrees with the page.
    run_in_last_cell(page, "print('PYSTATE', w.k, w.mode, w.fusion, len(w.hits), w.citations,"
                           " [s['cited'] for s in w.sources], len(w.eval_rows))")
    expect(nb.locator(".jp-OutputArea-output", has_text="PYSTATE")).to_have_text(
        f"PYSTATE 3 hybrid rrf 3 ['{cited}'] [True, False, False] 5", timeout=60000)
    answer.scroll_into_view_if_needed()
    screenshot(page, "rag-widget.png")
