"""The shipped corpus and its evaluation questions are consistent (no embedding: these tests are cheap)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.rag import load_documents, load_questions

CORPUS = Path(__file__).resolve().parents[2] / "datasets" / "corpus"


@pytest.fixture(scope="module")
def documents() -> dict[str, str]:
    report = load_documents(CORPUS / "docs")
    assert report.skipped == []
    return {d.source: d.text for d in report.documents}


def test_corpus_size_formats_and_readme(documents: dict[str, str]) -> None:
    size = sum(p.stat().st_size for p in (CORPUS / "docs").rglob("*") if p.is_file())
    assert 300_000 < size < 2_000_000
    assert {Path(s).suffix for s in documents} == {".md", ".html", ".txt", ".pdf"}
    readme = (CORPUS / "README.md").read_text()
    assert "Python Software Foundation License" in readme and "make_corpus.py" in readme


def test_at_least_100_questions_with_known_relevant_ids_and_answers_in_them(
    documents: dict[str, str],
) -> None:
    questions = load_questions(CORPUS / "questions.jsonl", known_sources=documents)
    assert len(questions) >= 100
    assert len({q.question for q in questions}) == len(questions)
    assert len({q.id for q in questions}) == len(questions)
    flat = {source: " ".join(text.split()).lower() for source, text in documents.items()}
    for q in questions:
        assert q.answer, q.id
        # The answer names an API; its last dotted name must appear in one of the relevant documents.
        name = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", q.answer.split("(")[0].split(" ")[0])[-1].lower()
        assert any(name in flat[source] for source in q.relevant), (q.id, name)


def test_question_lines_are_plain_json_objects() -> None:
    for line in (CORPUS / "questions.jsonl").read_text().splitlines():
        row = json.loads(line)
        assert set(row) <= {"id", "question", "relevant", "answer"}


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_the_generator_is_deterministic_and_matches_the_shipped_pages(tmp_path: Path) -> None:
    # A fresh interpreter each time: libraries imported by other tests (transformers adds methods to
    # logging.Logger, for one) would change what the docstring walker sees.
    for out in ("a", "b"):
        subprocess.run([sys.executable, str(CORPUS / "make_corpus.py"), "--out", str(tmp_path / out)], check=True,
                       capture_output=True)  # fmt: skip
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    built_with = re.search(r"CPython (\d+\.\d+\.\d+)", (CORPUS / "README.md").read_text())
    assert built_with is not None
    if sys.version.split()[0] != built_with.group(1):
        pytest.skip(
            f"pages were generated with Python {built_with.group(1)}; docstrings differ between versions"
        )
    assert _tree(tmp_path / "a") == _tree(CORPUS / "docs")
