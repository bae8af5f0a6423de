"""``workbench rag``: index, query, eval, add, remove, info; --json output; errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from workbench.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cli_index(corpus: Path, tmp_path: Path, embedder: Any, capsys: pytest.CaptureFixture[str]) -> Path:
    (corpus / "broken.txt").write_bytes(b"\xff\xfeb\x00a\x00d\x00")
    code, out, _ = run(capsys, "rag", "index", str(corpus), "--out", str(tmp_path / "idx"),
                       "--chunk-size", "200", "--chunk-overlap", "20", "--json")  # fmt: skip
    assert code == 0
    report = json.loads(out)
    assert report["documents"] == 5 and report["chunks"] >= 5
    assert report["skipped"] == [
        {
            "source": "broken.txt",
            "reason": "binary content in a '.txt' file",
            "hint": "only text, Markdown, HTML and PDF files are read",
        }
    ]
    assert report["chunking"] == {"splitter": "markdown", "chunk_size": 200, "chunk_overlap": 20}
    return tmp_path / "idx"


def test_index_then_query_as_json_and_text(cli_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "rag", "query", str(cli_index), "How do I parse an ISO date?", "-k", "2", "--json"
    )
    assert code == 0
    hits = json.loads(out)
    assert len(hits) == 2 and hits[0]["source"] == "web/dates.html"
    assert {"source", "text", "score", "chunk_id", "rank"} <= set(hits[0]) and "fromisoformat" in hits[0][
        "text"
    ]
    code, out, _ = run(capsys, "rag", "query", str(cli_index), "gzip files", "--mode", "bm25", "-k", "1")
    assert code == 0 and "notes/compression.txt" in out and out.startswith(" 1.")


def test_eval_prints_a_table_and_json(
    cli_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"question": "serialise to JSON", "relevant": ["guides/json.md"]}) + "\n"
        + json.dumps({"question": "highest resolution clock", "relevant": ["web/dates.html"]}) + "\n"
    )  # fmt: skip
    code, out, _ = run(capsys, "rag", "eval", str(cli_index), "--questions", str(questions))
    assert code == 0 and "recall@k" in out and "hybrid-weighted 0.5/0.5 k=5" in out
    code, out, _ = run(capsys, "rag", "eval", str(cli_index), "--questions", str(questions), "--json",
                       "--config", "mode=dense,k=1", "--config", "mode=hybrid,fusion=rrf,weights=0.3:0.7,k=1")  # fmt: skip
    payload = json.loads(out)
    assert code == 0 and payload["questions"] == 2
    assert [r["name"] for r in payload["results"]] == ["dense k=1", "hybrid-rrf 0.3/0.7 k=1"]
    assert all({"recall@1", "mrr@10", "ndcg@10"} <= set(r) for r in payload["results"])


def test_eval_refuses_unknown_source_ids(
    cli_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"question": "x", "relevant": ["guides/yaml.md"]}) + "\n")
    code, _, err = run(capsys, "rag", "eval", str(cli_index), "--questions", str(questions))
    assert code == 2 and "not in the index: 'guides/yaml.md' (line 1)" in err and "Traceback" not in err
    code, out, _ = run(capsys, "rag", "eval", str(cli_index), "--questions", str(questions), "--json")
    error = json.loads(out)
    assert (
        code == 2
        and error["error"] == "ValidationError"
        and error["field"] == "relevant"
        and error["line"] == 1
    )


def test_add_remove_and_info(cli_index: Path, corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (corpus / "guides" / "regex.md").write_text("# Regex\n\nre.findall finds every match.\n")
    code, out, _ = run(capsys, "rag", "add", str(cli_index), str(corpus / "guides" / "regex.md"), "--json")
    assert code == 0 and json.loads(out)["added"] == ["guides/regex.md"]
    code, out, _ = run(capsys, "rag", "remove", str(cli_index), "guides/csv.md")
    assert code == 0 and "removed 1 documents" in out
    code, out, _ = run(capsys, "rag", "info", str(cli_index), "--json")
    info = json.loads(out)
    assert "guides/regex.md" in info["sources"] and "guides/csv.md" not in info["sources"]
    assert info["embedder"]["name"] == "all-MiniLM-L6-v2" and info["counts"]["documents"] == 5
    code, out, _ = run(capsys, "rag", "info", str(cli_index))
    assert code == 0 and "chunking    markdown, size 200, overlap 20" in out
    code, _, err = run(capsys, "rag", "remove", str(cli_index), "guides/nope.md")
    assert code == 2 and "not in the index: guides/nope.md" in err


def test_bad_inputs_exit_2_with_a_hint(
    tmp_path: Path, cli_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(capsys, "rag", "index", str(empty), "--out", str(tmp_path / "out"))
    assert code == 2 and "no readable documents" in err and "hint:" in err
    assert not (tmp_path / "out").exists()
    (cli_index / "dense.faiss").write_bytes(b"garbage")
    code, _, err = run(capsys, "rag", "query", str(cli_index), "anything")
    assert code == 2 and "does not match its checksum" in err and "workbench rag index" in err
    code, _, err = run(capsys, "rag", "query", str(tmp_path / "nowhere"), "anything")
    assert code == 2 and "no index at" in err
    code, _, err = run(capsys, "rag", "index", str(empty), "--out", str(tmp_path / "o"), "--chunk-size", "20")
    assert code == 2 and "chunk_size must be an integer of at least 50" in err


@pytest.mark.slow
def test_ask_answers_with_the_tiny_model(
    cli_index: Path, tiny_model: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "rag", "ask", str(cli_index), "How do I read a CSV file?", "-k", "2",
                       "--max-new-tokens", "6", "--json")  # fmt: skip
    assert code == 0
    result = json.loads(out)
    assert {"answer", "citations", "sources", "prompt", "model"} <= set(result)
    assert (
        result["sources"]
        and result["sources"][0]["n"] == 1
        and "Question: How do I read a CSV file?" in result["prompt"]
    )
    code, out, _ = run(
        capsys, "rag", "ask", str(cli_index), "gzip?", "--max-new-tokens", "4", "--show-prompt"
    )
    assert code == 0 and "[1] " in out
