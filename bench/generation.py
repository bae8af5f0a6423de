"""Generation speed of the default model, SmolLM2-135M-Instruct, at 32/8/4 bits, against bare transformers and
against llama.cpp on the same GGUF.

Usage::

    python bench/generation.py [--rounds R] [--max-new-tokens N] [--bits 32,8,4] [--threads T] [--json]

What is measured, in one process, greedy decoding, the same prompts for every path:

- ``workbench`` at each bit width: ``ChatBackend.stream`` (chat template, stop handling, token counts, time to
  first token) of ``load_model("smollm2-135m-instruct", bits=b)``;
- ``bare_hf`` at each bit width (the peer): ``tokenizer.apply_chat_template`` -> ``model.generate`` ->
  ``decode`` straight on the same Hugging Face objects; the ratio workbench / bare_hf is the runtime's overhead;
- ``batched`` (fp32): the same prompts through ``generate_batch`` in one left-padded batch: the throughput a
  server gets from batching;
- ``llama_cpp`` (when the ``llama-cpp-python`` package is importable; it is a source package that compiles
  llama.cpp, so it is not part of ``make test``): the very GGUF file the default model comes from, through
  ``Llama.create_chat_completion``, as the CPU reference. Its ratio to Workbench fp32 is printed.

Each path runs ``--rounds`` interleaved rounds after a warm-up; the figure is the median round. Tokens/s counts
generated tokens only; TTFT is the median time to the first streamed chunk. On a shared 2-core machine,
compare ratios printed from the same run, not absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MODEL = "smollm2-135m-instruct"
PROMPTS = [
    "How do I reset my password in the company portal?",
    "Summarise in one sentence: the VPN will be down on Saturday from 8 to 10.",
    "Write a polite reply saying refunds take five business days.",
    "List three things to check when a laptop does not charge.",
    "What is the capital of France? Answer with one word.",
    "Explain what a token is to a new support analyst.",
]


def _bare_generate(backend: Any, prompt: str, max_new: int) -> tuple[int, float]:
    """The peer: apply the chat template and call model.generate directly; returns (new tokens, seconds)."""
    import torch

    tok, model = backend.tokenizer, backend.model
    started = time.perf_counter()
    ids = tok.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=max_new, do_sample=False, pad_token_id=tok.pad_token_id)
    new = out[0, ids["input_ids"].shape[1] :]
    tok.decode(new, skip_special_tokens=True)
    return int(new.shape[0]), time.perf_counter() - started


def _workbench_generate(backend: Any, prompt: str, max_new: int) -> tuple[int, float, float]:
    """Workbench's streaming path; returns (new tokens, seconds, time to first chunk)."""
    started = time.perf_counter()
    stream = backend.stream(prompt, max_new_tokens=max_new)
    first = None
    for _ in stream:
        if first is None:
            first = time.perf_counter() - started
    result = stream.result
    return result.output_tokens, time.perf_counter() - started, first or 0.0


def _round(fn: Any, backend: Any, max_new: int) -> dict[str, float]:
    tokens = seconds = 0.0
    firsts = []
    for prompt in PROMPTS:
        out = fn(backend, prompt, max_new)
        tokens += out[0]
        seconds += out[1]
        if len(out) > 2:
            firsts.append(out[2])
    row = {"tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds if seconds else 0.0}
    if firsts:
        row["ttft_s"] = statistics.median(firsts)
    return row


def _median(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(statistics.median(r[k] for r in rows), 4) for k in rows[0]}


def bench_bits(bits: int, rounds: int, max_new: int) -> dict[str, Any]:
    """Workbench vs bare transformers at one bit width (interleaved rounds)."""
    from workbench.models import load_model

    backend = load_model(MODEL, bits=bits)
    _round(_workbench_generate, backend, 4)  # warm-up (allocations, bitsandbytes CPU packing)
    wb, bare = [], []
    for i in range(rounds):
        order = [("wb", _workbench_generate), ("bare", _bare_generate)]
        for name, fn in order if i % 2 == 0 else reversed(order):
            (wb if name == "wb" else bare).append(_round(fn, backend, max_new))
    w, b = _median(wb), _median(bare)
    return {
        "bits": bits,
        "method": backend.info()["method"],
        "footprint_mib": round((backend.memory_footprint() or 0) / 2**20, 1),
        "workbench": w,
        "bare_hf": b,
        "overhead_ratio": round(w["seconds"] / b["seconds"], 3) if b["seconds"] else None,
    }


def bench_batched(rounds: int, max_new: int) -> dict[str, Any]:
    """All prompts in one left-padded batch (fp32) vs one by one."""
    from workbench.models import load_model

    backend = load_model(MODEL)
    times, tokens = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        gens = backend.generate_batch(PROMPTS, max_new_tokens=max_new)
        times.append(time.perf_counter() - started)
        tokens = sum(g.output_tokens for g in gens)
    seconds = statistics.median(times)
    return {"prompts": len(PROMPTS), "tokens": tokens, "seconds": round(seconds, 3),
            "tokens_per_s": round(tokens / seconds, 2)}  # fmt: skip


def bench_llama_cpp(rounds: int, max_new: int, threads: int) -> dict[str, Any] | None:
    """The same GGUF under llama.cpp (None when llama-cpp-python is not installed)."""
    try:
        from llama_cpp import Llama
    except ImportError:
        return None
    from workbench.models.smollm2 import find_gguf

    gguf = find_gguf()
    if gguf is None:
        return None
    llm = Llama(model_path=str(gguf), n_ctx=2048, n_threads=threads, verbose=False, seed=0)
    rows = []
    for _ in range(rounds + 1):
        tokens, started = 0, time.perf_counter()
        for prompt in PROMPTS:
            out = llm.create_chat_completion(
                [{"role": "user", "content": prompt}], max_tokens=max_new, temperature=0.0
            )
            tokens += out["usage"]["completion_tokens"]
        seconds = time.perf_counter() - started
        rows.append({"tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds})
    return {"quantization": "Q4_1 (the wheel's GGUF)", **_median(rows[1:])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--bits", default="32,8,4")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.setdefault(var, "1")
    import torch

    torch.set_num_threads(args.threads)
    report: dict[str, Any] = {"model": MODEL, "threads": args.threads, "load_average": os.getloadavg(),
                              "max_new_tokens": args.max_new_tokens, "prompts": len(PROMPTS)}  # fmt: skip
    report["bits"] = [bench_bits(int(b), args.rounds, args.max_new_tokens) for b in args.bits.split(",")]
    report["batched_fp32"] = bench_batched(args.rounds, args.max_new_tokens)
    report["llama_cpp"] = bench_llama_cpp(args.rounds, args.max_new_tokens, args.threads)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    _print(report)
    return 0


def _print(report: dict[str, Any]) -> None:
    print(f"{report['model']}, {report['prompts']} prompts x {report['max_new_tokens']} new tokens, "
          f"{report['threads']} threads, load {report['load_average'][0]:.1f}")  # fmt: skip
    print(f"{'bits':>4} {'method':<9} {'MiB':>6} {'wb tok/s':>9} {'bare tok/s':>10} {'TTFT s':>7} {'overhead':>9}")
    for row in report["bits"]:
        w, b = row["workbench"], row["bare_hf"]
        print(f"{row['bits']:>4} {row['method']:<9} {row['footprint_mib']:>6} {w['tokens_per_s']:>9.2f} "
              f"{b['tokens_per_s']:>10.2f} {w.get('ttft_s', 0):>7.3f} {row['overhead_ratio']:>8.3f}x")  # fmt: skip
    batched, fp32 = report["batched_fp32"], report["bits"][0]["workbench"]
    print(f"batched fp32: {batched['tokens_per_s']:.2f} tok/s for {batched['prompts']} prompts in one batch "
          f"({batched['tokens_per_s'] / fp32['tokens_per_s']:.1f}x one-by-one)")  # fmt: skip
    ll = report["llama_cpp"]
    if ll is None:
        print("llama.cpp: llama-cpp-python is not installed (a source build; see bench/README.md)")
    else:
        print(f"llama.cpp ({ll['quantization']}): {ll['tokens_per_s']:.2f} tok/s; "
              f"Workbench fp32 / llama.cpp = {fp32['tokens_per_s'] / ll['tokens_per_s']:.2f}x")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
