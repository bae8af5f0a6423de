"""Retrieval evaluation: recall@k, MRR and nDCG@10 against relevant source ids, for several configurations.

Questions are JSONL, one object a line: ``{"question": str, "relevant": [source ids], "answer": str?}``
(an ``id`` is optional; other keys are kept but ignored).

Relevance is judged per **document** (source id), the unit the question file names: the ranked chunks are
turned into a ranked list of unique sources, each at the rank of its best chunk, from the top
:data:`EVAL_DEPTH` chunks. Then, with ``R`` the relevant set and ``S_n`` the first ``n`` sources:

- recall@k = ``|R ∩ S_k| / |R|``;
- MRR@10 = ``1 / rank`` of the first relevant source within the first 10 (0 if none);
- nDCG@10 = DCG of binary gains over ``S_10`` / the ideal DCG (``min(|R|, 10)`` relevant sources first).

A configuration is a retrieval mode, ``k``, fusion and weights, and optionally a different chunking (which
re-chunks and re-embeds the index's source folder into a temporary in-memory index).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench._yaml import jsonl_objects
from workbench.errors import ConfigError, NotFoundError, ValidationError
from workbench.rag.index import RagIndex
from workbench.rag.ingest import SPLITTERS, ChunkingConfig, load_documents
from workbench.rag.search import Hit, check_retrieval

#: Chunks retrieved per question before they are reduced to unique sources.
EVAL_DEPTH = 50
#: The ``k`` of recall@k unless asked otherwise: datasets/corpus/README.md reports recall@5 on the shipped corpus.
DEFAULT_EVAL_K = 5
NDCG_AT = 10


@dataclass(frozen=True)
class Question:
    """One evaluation question."""

    question: str
    relevant: tuple[str, ...]
    answer: str | None = None
    id: str | None = None
    line: int | None = None


def load_questions(path: str | Path, *, known_sources: Iterable[str] | None = None) -> list[Question]:
    """Read and check a JSONL question file.

    Args:
        path: The file.
        known_sources: Source ids of the index; relevant ids outside it are an error (a typo would otherwise
            silently score 0).

    Raises:
        NotFoundError: No such file.
        ValidationError: Bad JSON, a missing or mistyped field, or unknown source ids (file, line and field named).
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise NotFoundError(
            f"no question file at '{file}'", file=file, hint="pass a JSONL file with --questions"
        )
    known = set(known_sources) if known_sources is not None else None
    questions: list[Question] = []
    unknown: list[tuple[int, str]] = []
    shape = 'each line: {"question": "...", "relevant": ["source/id.md"], "answer": "..."}'
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"question file is not UTF-8: {exc.reason}", file=file, hint="save it as UTF-8"
        ) from None
    for number, data in jsonl_objects(lines, file=file, hint=shape):
        text = data.get("question")
        if not isinstance(text, str) or not text.strip():
            raise ValidationError(
                "missing or empty 'question'", file=file, line=number, field="question", hint=shape
            )
        relevant = data.get("relevant")
        if (
            not isinstance(relevant, list)
            or not relevant
            or not all(isinstance(r, str) and r for r in relevant)
        ):
            raise ValidationError(
                "'relevant' must be a non-empty list of source ids",
                file=file,
                line=number,
                field="relevant",
                hint=shape,
            )
        answer = data.get("answer")
        if answer is not None and not isinstance(answer, str):
            raise ValidationError(
                "'answer' must be a string", file=file, line=number, field="answer", hint=shape
            )
        if known is not None:
            unknown += [(number, r) for r in relevant if r not in known]
        qid = data.get("id")
        questions.append(
            Question(
                text,
                tuple(dict.fromkeys(relevant)),
                answer,
                str(qid) if qid is not None else f"line{number}",
                number,
            )
        )
    if unknown:
        first_line, _first = unknown[0]
        listed = ", ".join(f"'{s}' (line {n})" for n, s in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        sample = ", ".join(sorted(known or [])[:3])
        raise ValidationError(
            f"{len(unknown)} relevant source id(s) are not in the index: {listed}",
            file=file,
            line=first_line,
            field="relevant",
            hint=f"source ids are paths relative to the indexed folder (e.g. {sample}); fix the ids or re-index",
        )
    if not questions:
        raise ValidationError("the question file has no questions", file=file, hint=shape)
    return questions


# --------------------------------------------------------------------------------------------------- metrics


def ranked_sources(hits: Sequence[Hit]) -> list[str]:
    """Unique source ids in rank order (each at the rank of its best chunk)."""
    return list(dict.fromkeys(h.source for h in hits))


def recall_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Share of relevant sources among the first ``k``."""
    rel = set(relevant)
    return len(rel.intersection(ranked[:k])) / len(rel) if rel else 0.0


def reciprocal_rank(ranked: Sequence[str], relevant: Iterable[str], k: int = NDCG_AT) -> float:
    """``1 / rank`` of the first relevant source within the first ``k``, else 0."""
    rel = set(relevant)
    for rank, source in enumerate(ranked[:k], start=1):
        if source in rel:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int = NDCG_AT) -> float:
    """Binary-gain nDCG over the first ``k`` sources."""
    rel = set(relevant)
    dcg = sum(1.0 / math.log2(rank + 1) for rank, s in enumerate(ranked[:k], start=1) if s in rel)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(rel), k) + 1))
    return dcg / ideal if ideal else 0.0


# --------------------------------------------------------------------------------------------- configurations


@dataclass(frozen=True)
class EvalConfig:
    """One retrieval configuration to evaluate.

    Args:
        mode: ``dense``, ``bm25`` or ``hybrid``.
        k: The ``k`` of recall@k (documents).
        fusion: ``rrf`` or ``weighted`` (hybrid only).
        weights: ``(dense, bm25)``.
        chunking: Another chunking than the index's (re-chunks and re-embeds the source folder), or ``None``.
        name: A label for the table; default built from the fields.
    """

    mode: str = "hybrid"
    k: int = DEFAULT_EVAL_K
    fusion: str = "weighted"
    weights: tuple[float, float] = (0.5, 0.5)
    chunking: ChunkingConfig | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        checked = check_retrieval(
            self.mode, self.fusion, self.k, self.weights, mode_name="mode", k_hint="e.g. k=5"
        )
        object.__setattr__(self, "weights", checked)

    @property
    def label(self) -> str:
        """``name`` or e.g. ``hybrid-rrf 0.5/0.5 k=5 [markdown/1000/100]``."""
        if self.name:
            return self.name
        text = self.mode
        if self.mode == "hybrid":
            text += f"-{self.fusion} {self.weights[0]:g}/{self.weights[1]:g}"
        text += f" k={self.k}"
        if self.chunking is not None:
            text += f" [{self.chunking.label}]"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "name": self.label,
            "mode": self.mode,
            "k": self.k,
            "fusion": self.fusion if self.mode == "hybrid" else None,
            "weights": list(self.weights) if self.mode == "hybrid" else None,
            "chunking": self.chunking.to_dict() if self.chunking else None,
        }

    @classmethod
    def parse(cls, spec: str, *, base: ChunkingConfig | None = None) -> EvalConfig:
        """Parse ``"mode=hybrid,k=5,fusion=weighted,weights=0.7:0.3,chunk_size=500,chunk_overlap=50,splitter=recursive"``.

        Chunking keys not given keep ``base``'s values (the index's chunking).
        """
        fields: dict[str, Any] = {}
        chunk: dict[str, Any] = {}
        keys = "mode, k, fusion, weights, chunk_size, chunk_overlap, splitter, name"
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, sep, value = part.partition("=")
            key, value = key.strip().replace("-", "_"), value.strip()
            if not sep or not value:
                raise ConfigError(f"'{part}' is not key=value", field="config", hint=f"keys: {keys}")
            try:
                if key in ("mode", "fusion", "name"):
                    fields[key] = value
                elif key == "k":
                    fields["k"] = int(value)
                elif key == "weights":
                    fields["weights"] = tuple(float(w) for w in value.replace("/", ":").split(":"))
                elif key in ("chunk_size", "chunk_overlap"):
                    chunk[key] = int(value)
                elif key == "splitter":
                    if value not in SPLITTERS:
                        raise ConfigError(f"unknown splitter '{value}'", field="splitter",
                                          hint=f"use one of: {', '.join(SPLITTERS)}")  # fmt: skip
                    chunk["splitter"] = value
                else:
                    raise ConfigError(
                        f"unknown key '{key}' in '{spec}'", field="config", hint=f"keys: {keys}"
                    )
            except ValueError:
                raise ConfigError(
                    f"bad value in '{part}'", field=key, hint="k and sizes are integers; weights a:b"
                ) from None
        if chunk:
            start = (base or ChunkingConfig()).to_dict()
            fields["chunking"] = ChunkingConfig.from_dict({**start, **chunk})
        return cls(**fields)


def default_configs(k: int = DEFAULT_EVAL_K) -> list[EvalConfig]:
    """Dense, BM25, hybrid RRF and hybrid weighted at ``k``."""
    return [
        EvalConfig(mode="dense", k=k),
        EvalConfig(mode="bm25", k=k),
        EvalConfig(mode="hybrid", k=k, fusion="rrf"),
        EvalConfig(mode="hybrid", k=k, fusion="weighted"),
    ]


@dataclass
class EvalResult:
    """Scores of one configuration (means over the questions)."""

    config: EvalConfig
    questions: int
    recall: float
    mrr: float
    ndcg: float
    queries_per_s: float
    chunks: int
    per_question: list[dict[str, Any]] = field(default_factory=list)
    #: Seconds spent embedding the questions, when :func:`compare` did it once for every configuration.
    query_embedding_s: float | None = None

    def to_dict(self, *, details: bool = False) -> dict[str, Any]:
        """JSON form (``details`` adds per-question rankings)."""
        data: dict[str, Any] = {
            **self.config.to_dict(),
            "questions": self.questions,
            f"recall@{self.config.k}": round(self.recall, 4),
            "recall": round(self.recall, 4),
            "mrr@10": round(self.mrr, 4),
            "ndcg@10": round(self.ndcg, 4),
            "queries_per_s": round(self.queries_per_s, 1),
            "query_embedding_s": None if self.query_embedding_s is None else round(self.query_embedding_s, 3),
            "chunks": self.chunks,
        }
        if details:
            data["per_question"] = self.per_question
        return data


def evaluate(
    index: RagIndex,
    questions: Sequence[Question],
    config: EvalConfig | None = None,
    *,
    record: bool = True,
    query_vectors: Any = None,
) -> EvalResult:
    """Score ``index`` on ``questions`` with ``config`` (its chunking is ignored here: see :func:`compare`).

    Args:
        query_vectors: The questions' embeddings, when already computed (:func:`compare` embeds them once per
            index and shares them between configurations). ``queries_per_s`` includes embedding only when
            they are not given.
    """
    config = config or EvalConfig()
    started = time.perf_counter()
    batches = index.search_batch(
        [q.question for q in questions],
        EVAL_DEPTH,
        mode=config.mode,
        fusion=config.fusion,
        weights=config.weights,
        fetch_k=EVAL_DEPTH,
        query_vectors=query_vectors if config.mode != "bm25" else None,
    )
    elapsed = time.perf_counter() - started
    per_question = []
    recall = mrr = ndcg = 0.0
    for question, hits in zip(questions, batches, strict=False):
        ranked = ranked_sources(hits)
        r, m, n = (
            recall_at_k(ranked, question.relevant, config.k),
            reciprocal_rank(ranked, question.relevant),
            ndcg_at_k(ranked, question.relevant),
        )
        recall, mrr, ndcg = recall + r, mrr + m, ndcg + n
        per_question.append(
            {
                "id": question.id,
                "question": question.question,
                "relevant": list(question.relevant),
                "retrieved": ranked[:NDCG_AT],
                "recall": r,
                "rr": m,
                "ndcg": n,
            }
        )
    count = max(len(questions), 1)
    result = EvalResult(
        config=config,
        questions=len(questions),
        recall=recall / count,
        mrr=mrr / count,
        ndcg=ndcg / count,
        queries_per_s=len(questions) / elapsed if elapsed > 0 else float("inf"),
        chunks=len(index),
        per_question=per_question,
    )
    if record:
        _record(index, result, elapsed)
    return result


def compare(
    index: RagIndex,
    questions: Sequence[Question],
    configs: Sequence[EvalConfig] | None = None,
    *,
    record: bool = True,
) -> list[EvalResult]:
    """Evaluate several configurations; those with another chunking run on a re-chunked in-memory index.

    The questions are embedded once per index and shared by the configurations, so ``queries_per_s`` is
    retrieval speed without query embedding (``query_embedding_s`` holds that time).

    Raises:
        ConfigError: A configuration needs re-chunking but the index's source folder is unknown or gone.
    """
    configs = list(configs or default_configs())
    variants: dict[ChunkingConfig, RagIndex] = {index.chunking: index}
    vectors: dict[int, Any] = {}  # query embeddings, once per (re-chunked) index: the same for every mode
    embedding_s = 0.0
    documents = None
    results = []
    for config in configs:
        chunking = config.chunking or index.chunking
        if chunking not in variants:
            if documents is None:
                root = index.source_root
                if root is None or not Path(root).is_dir():
                    raise ConfigError(
                        f"cannot re-chunk: the index's source folder '{root}' is not available",
                        field="chunking",
                        hint="evaluate chunking variants on the machine that built the index, or build one index "
                        "per chunking and evaluate each",
                    )
                documents = load_documents(root).documents
            variants[chunking] = RagIndex.from_documents(
                documents, chunking=chunking, embedder=index.embedder, source_root=index.source_root
            )
        variant = variants[chunking]
        if config.mode != "bm25" and id(variant) not in vectors:
            started = time.perf_counter()
            vectors[id(variant)] = variant.embed_queries([q.question for q in questions])
            embedding_s += time.perf_counter() - started
        result = evaluate(variant, questions, config, record=record, query_vectors=vectors.get(id(variant)))
        result.query_embedding_s = embedding_s
        results.append(result)
    return results


def format_table(results: Sequence[EvalResult]) -> str:
    """A plain-text table, one row per configuration."""
    header = ["configuration", "recall@k", "MRR@10", "nDCG@10", "q/s", "chunks"]
    rows = [
        [
            r.config.label,
            f"{r.recall:.3f}",
            f"{r.mrr:.3f}",
            f"{r.ndcg:.3f}",
            f"{r.queries_per_s:.1f}",
            str(r.chunks),
        ]
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row))
             for row in [header, *rows]]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    if results:
        note = f"({results[0].questions} questions; relevance per source id; recall@k uses each row's k"
        timed = [r.query_embedding_s for r in results if r.query_embedding_s is not None]
        if timed:
            note += f"; q/s is retrieval only: the questions were embedded once, in {max(timed):.1f}s"
        lines.append(note + ")")
    return "\n".join(lines)


def _record(index: RagIndex, result: EvalResult, elapsed: float) -> None:
    from workbench.telemetry import EventKind, record

    record(
        EventKind.RETRIEVAL,
        duration_s=elapsed,
        status="evaluated",
        attributes={
            "evaluation": True,
            "index": index.name,
            "embedder": index.embedder.name,
            "config": result.config.to_dict(),
            "questions": result.questions,
            "recall_at_k": result.recall,
            "k": result.config.k,
            "mrr_at_10": result.mrr,
            "ndcg_at_10": result.ndcg,
            "queries_per_s": result.queries_per_s,
        },
    )
