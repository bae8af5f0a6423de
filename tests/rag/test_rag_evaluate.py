"""Evaluation: metrics by hand, question-file validation, configuration parsing and comparison tables."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from workbench.errors import ConfigError, NotFoundError, ValidationError
from workbench.rag import (
    ChunkingConfig,
    EvalConfig,
    RagIndex,
    compare,
    default_configs,
    evaluate,
    format_table,
    load_questions,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
)

QUESTIONS = [
    {
        "question": "How do I serialise an object to a JSON string?",
        "relevant": ["guides/json.md"],
        "answer": "json.dumps",
    },
    {"question": "Which clock has the highest resolution?", "relevant": ["web/dates.html"]},
    {"question": "How do I compute a SHA-256 digest?", "relevant": ["pdf/hashing.pdf"], "id": "sha"},
    {"question": "Which modules compress data?", "relevant": ["notes/compression.txt", "guides/json.md"]},
]


def write_questions(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_metrics_by_hand() -> None:
    ranked = ["a", "b", "c", "d"]
    assert recall_at_k(ranked, ["b", "z"], 2) == 0.5
    assert recall_at_k(ranked, ["d"], 3) == 0.0
    assert reciprocal_rank(ranked, ["c", "d"]) == pytest.approx(1 / 3)
    assert reciprocal_rank(ranked, ["z"]) == 0.0
    assert ndcg_at_k(ranked, ["a"]) == 1.0
    expected = (1 / math.log2(3)) / (1 + 1 / math.log2(3))  # relevant at rank 2 only, two relevant overall
    assert ndcg_at_k(ranked, ["b", "z"]) == pytest.approx(expected)
    assert ndcg_at_k(ranked, ["d"], k=3) == 0.0


def test_question_file_errors_name_the_line_and_field(tmp_path: Path) -> None:
    known = ["guides/json.md", "web/dates.html"]
    with pytest.raises(NotFoundError, match="no question file"):
        load_questions(tmp_path / "missing.jsonl")
    bad = write_questions(tmp_path / "bad.jsonl", [QUESTIONS[0], "{not json"])
    with pytest.raises(ValidationError, match="invalid JSON") as err:
        load_questions(bad)
    assert err.value.line == 2 and err.value.file == str(bad)
    missing = write_questions(tmp_path / "missing_field.jsonl", [{"question": "q"}])
    with pytest.raises(ValidationError, match="'relevant' must be a non-empty list of source ids") as err:
        load_questions(missing)
    assert err.value.field == "relevant" and err.value.line == 1
    unknown = write_questions(
        tmp_path / "unknown.jsonl",
        [QUESTIONS[0], {"question": "q", "relevant": ["guides/jsn.md", "web/dates.html"]}],
    )
    with pytest.raises(
        ValidationError, match=r"1 relevant source id\(s\) are not in the index: 'guides/jsn\.md' \(line 2\)"
    ) as err:
        load_questions(unknown, known_sources=known)
    assert err.value.line == 2 and "relative to the indexed folder" in (err.value.hint or "")
    empty = write_questions(tmp_path / "empty.jsonl", ["", "  "])
    with pytest.raises(ValidationError, match="has no questions"):
        load_questions(empty)


def test_questions_load_with_ids_and_answers(tmp_path: Path) -> None:
    questions = load_questions(write_questions(tmp_path / "q.jsonl", QUESTIONS))
    assert [q.id for q in questions] == ["line1", "line2", "sha", "line4"]
    assert questions[0].answer == "json.dumps" and questions[3].relevant == (
        "notes/compression.txt",
        "guides/json.md",
    )


def test_eval_config_parsing() -> None:
    base = ChunkingConfig(chunk_size=200, chunk_overlap=20)
    config = EvalConfig.parse("mode=hybrid, fusion=rrf, weights=0.7:0.3, k=3")
    assert (config.mode, config.fusion, config.weights, config.k, config.chunking) == (
        "hybrid",
        "rrf",
        (0.7, 0.3),
        3,
        None,
    )
    assert config.label == "hybrid-rrf 0.7/0.3 k=3"
    chunked = EvalConfig.parse("mode=bm25,chunk_size=120,splitter=recursive", base=base)
    assert chunked.chunking == ChunkingConfig(splitter="recursive", chunk_size=120, chunk_overlap=20)
    assert chunked.label == "bm25 k=5 [recursive/120/20]"
    for spec, message in [
        ("mode=fuzzy", "unknown mode 'fuzzy'"),
        ("k=three", "bad value in 'k=three'"),
        ("colour=red", "unknown key 'colour'"),
        ("weights=1", "weights must be two numbers"),
        ("chunk_size=10", "chunk_size must be an integer of at least 50"),
        ("mode", "'mode' is not key=value"),
    ]:
        with pytest.raises(ConfigError, match=message):
            EvalConfig.parse(spec, base=base)


def test_evaluate_and_compare_on_a_small_index(built_index: Path, embedder: Any, tmp_path: Path) -> None:
    index = RagIndex.load(built_index, embedder=embedder)
    questions = load_questions(write_questions(tmp_path / "q.jsonl", QUESTIONS), known_sources=index.sources)
    result = evaluate(index, questions, EvalConfig(k=5), record=False)
    assert result.questions == 4 and result.recall == 1.0  # five documents: everything is in the top 5
    assert 0.5 < result.ndcg <= 1.0 and 0.5 < result.mrr <= 1.0
    assert result.per_question[0]["retrieved"][0] == "guides/json.md"
    row = result.to_dict(details=True)
    assert row["recall@5"] == 1.0 and row["per_question"][2]["id"] == "sha"

    variant = EvalConfig(
        mode="dense", k=1, chunking=ChunkingConfig(splitter="recursive", chunk_size=60, chunk_overlap=0)
    )
    results = compare(index, questions, [*default_configs(1), variant], record=False)
    assert [r.config.mode for r in results] == ["dense", "bm25", "hybrid", "hybrid", "dense"]
    assert results[-1].chunks > len(index)  # the variant ran on a re-chunked index
    table = format_table(results)
    assert "configuration" in table and "nDCG@10" in table and "[recursive/60/0]" in table
    assert table.count("\n") == len(results) + 2


def test_evaluation_is_recorded(built_index: Path, embedder: Any, tmp_path: Path) -> None:
    from workbench.telemetry import get_recorder, open_store

    index = RagIndex.load(built_index, embedder=embedder)
    questions = load_questions(write_questions(tmp_path / "q.jsonl", QUESTIONS[:2]))
    evaluate(index, questions, EvalConfig(mode="bm25"))
    get_recorder().flush()
    with open_store() as store:
        (event,) = store.query(kind="retrieval")
    assert event.status == "evaluated" and event.attributes["evaluation"] is True
    assert event.attributes["questions"] == 2 and "ndcg_at_10" in event.attributes
