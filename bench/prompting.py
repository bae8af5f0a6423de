"""Guarded, recorded generation against a bare ``model.generate`` on the same prompts: the overhead ratio.

Usage::

    python bench/prompting.py [--model M] [--rounds R] [--max-new-tokens N] [--json] [--check]

What is measured, in one process, on the real default model ``smollm2-135m-instruct`` (``--model
workbench-tiny`` for a quick run; fp32, CPU, greedy decoding):

- ``bare_hf``: the peer: ``tokenizer(prompt)`` -> ``model.generate(..., do_sample=False)`` -> ``decode``,
  straight on the Hugging Face objects behind the backend.
- ``backend``: ``ChatBackend.generate`` (the model runtime's own wrapper), for attribution.
- ``guarded``: ``workbench.prompting.guarded_generate``: empty/context checks, the guard's preflight (model
  allow/deny, deny terms, injection heuristics, PII scan and redaction, the learner's rate limit and token
  budget in SQLite, hash-chained audit appends), generation, output checks, and a ``generation`` telemetry
  event through the buffered Recorder into a real SQLite store; the final flush is included in the time.
  The PII scan includes person names (the NER model and rules of :mod:`workbench.guardrails.names`) on the
  prompt and on the output.

The prompts hold no PII, so the bare and the guarded paths send the model the same text and the same tokens
(a redacted prompt would be a different prompt); the name detector still runs on every prompt and output, and
its per-text cache is cleared before each guarded call, so every round pays the full scan (greedy decoding
repeats the same outputs, which would otherwise be cache hits).

Paths run interleaved (the order alternates every round) over the same prompts, after a warm-up round; the
figure per path is the median of the per-round totals. Ratio = guarded / bare_hf; target <= 1.05. Each
guarded run is checked to produce the same number of tokens as the bare run. ``--check`` exits 1 above the
target. Timings on a shared 2-core machine vary; compare ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PROMPTS = [
    "Summarise the incident report for the leadership update.",
    "Draft a polite reply explaining that refunds take five business days.",
    "Classify this ticket: the dashboard loads slowly on Monday mornings.",
    "Rewrite this paragraph in a friendlier tone for new customers.",
    "Extract the product name and the issue from the message as JSON.",
    "Explain retrieval augmented generation to a support analyst.",
    "List three risks of fine-tuning on customer chat logs.",
    "Write five quiz questions about the onboarding handbook.",
    "The customer says the mobile app crashes when uploading photos.",
    "Translate the meeting is postponed into French.",
    "Turn these notes into a checklist for the release.",
    "Answer using only the provided sources and cite them.",
    "The analyst reads the report at night.",
    "The cat sat on the mat and looked at the door.",
    "What does a temperature of zero change in sampling?",
    "Compare LoRA and full fine-tuning for a small model.",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct", help="model to load (default: the real default)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--check", action="store_true", help="exit 1 when the ratio is above the target")
    parser.add_argument("--target", type=float, default=1.05)
    args = parser.parse_args(argv)

    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.setdefault(var, "1")
    from workbench.settings import get_settings, reset_settings

    # A fresh data dir (store, audit log, usage db) but the usual model cache, so the tiny model is not rebuilt.
    os.environ.setdefault("WORKBENCH_CACHE_DIR", str(get_settings().cache_dir))
    os.environ["WORKBENCH_DATA_DIR"] = tempfile.mkdtemp(prefix="wb-bench-prompting-")
    reset_settings()
    import torch

    from workbench.guardrails import Guard
    from workbench.guardrails.names import clear_cache as clear_name_cache
    from workbench.models import load_model
    from workbench.prompting import guarded_generate
    from workbench.telemetry import get_recorder, open_store

    torch.set_num_threads(1)  # one thread per path: steadier on a shared 2-core machine
    backend = load_model(args.model)
    model, tok = backend.model, backend.tokenizer
    n = args.max_new_tokens
    # The built-in default policy, with a rate limit above what the benchmark sends in a minute.
    guard = Guard({"limits": {"requests_per_minute": 100_000}})
    recorder = get_recorder()

    gen_eos = getattr(model.generation_config, "eos_token_id", None)
    eos_ids = [i for v in (gen_eos, tok.eos_token_id) for i in (v if isinstance(v, list) else [v]) if isinstance(i, int)]

    def bare(prompt: str) -> int:
        # What a user of plain transformers writes for a chat model: chat template, greedy generate, decode.
        text = tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True)
        inputs = tok(text, return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            out = model.generate(
                input_ids=inputs,
                attention_mask=torch.ones_like(inputs),
                max_new_tokens=n,
                do_sample=False,
                eos_token_id=eos_ids or None,
                pad_token_id=tok.pad_token_id,
            )
        new = out[0, inputs.shape[1] :]
        tok.decode(new, skip_special_tokens=True)
        return int(new.shape[0])

    def wrapped(prompt: str) -> int:
        return int(backend.generate(prompt, max_new_tokens=n, temperature=0.0).output_tokens)

    def guarded(prompt: str) -> int:
        clear_name_cache()
        return guarded_generate(backend, prompt, params={"max_new_tokens": n, "temperature": 0.0}, guard=guard).output_tokens

    paths = {"bare_hf": bare, "backend": wrapped, "guarded": guarded}
    totals: dict[str, list[float]] = {k: [] for k in paths}
    tokens: dict[str, list[int]] = {k: [] for k in paths}
    for round_no in range(args.rounds + 1):  # round 0 warms up
        order = list(paths) if round_no % 2 == 0 else list(reversed(paths))
        elapsed = dict.fromkeys(paths, 0.0)
        for prompt in PROMPTS:
            for name in order:
                t0 = time.perf_counter()
                produced = paths[name](prompt)
                elapsed[name] += time.perf_counter() - t0
                if round_no == 1:
                    tokens[name].append(produced)
        t0 = time.perf_counter()
        recorder.flush()  # the guarded path's durable telemetry write belongs to its cost
        elapsed["guarded"] += time.perf_counter() - t0
        if round_no:
            for name in paths:
                totals[name].append(elapsed[name])

    # Attribution: the guard + telemetry work alone, around a backend that returns a finished Generation at
    # once (same prompts, same outputs), so the model's time and its noise drop out.
    canned = {p: backend.generate(p, max_new_tokens=n, temperature=0.0) for p in PROMPTS}

    class CannedBackend:
        name, context_length, bits = backend.name, backend.context_length, backend.bits

        def generate(self, prompt: Any, params: Any = None) -> Any:
            return canned[prompt]

    instant = CannedBackend()
    reps = 20
    t0 = time.perf_counter()
    for _ in range(reps):
        for prompt in PROMPTS:
            clear_name_cache()
            guarded_generate(instant, prompt, params={"max_new_tokens": n}, guard=guard)  # type: ignore[arg-type]
    recorder.flush()
    isolated_ms = (time.perf_counter() - t0) / (reps * len(PROMPTS)) * 1000

    with open_store() as store:
        events = store.count(kind="generation")
    medians = {k: statistics.median(v) for k, v in totals.items()}
    ratio = medians["guarded"] / medians["bare_hf"]
    calls = len(PROMPTS)
    report: dict[str, Any] = {
        "prompts": calls,
        "rounds": args.rounds,
        "max_new_tokens": n,
        "median_round_s": {k: round(v, 4) for k, v in medians.items()},
        "per_call_ms": {k: round(v / calls * 1000, 3) for k, v in medians.items()},
        "overhead_per_call_ms": round((medians["guarded"] - medians["bare_hf"]) / calls * 1000, 3),
        "ratio_guarded_vs_bare": round(ratio, 4),
        "ratio_backend_vs_bare": round(medians["backend"] / medians["bare_hf"], 4),
        "ratio_guarded_vs_backend": round(medians["guarded"] / medians["backend"], 4),
        "guard_and_record_ms_isolated": round(isolated_ms, 3),
        "ratio_estimated_from_isolated": round(1 + isolated_ms / (medians["bare_hf"] / calls * 1000), 4),
        "same_token_counts": tokens["bare_hf"] == tokens["guarded"],
        "generation_events_recorded": events,
        "model": backend.name,
        "target": args.target,
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, torch {torch.__version__}",
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{calls} prompts x {args.rounds} rounds, {n} new tokens, greedy, {backend.name} on CPU")
        for k in paths:
            print(f"  {k:<8} {report['per_call_ms'][k]:8.2f} ms/call   (median round {medians[k]:.3f} s)")
        print(f"  overhead of the guarded, recorded path: {report['overhead_per_call_ms']:.2f} ms/call")
        print(f"ratio guarded / bare model.generate: {ratio:.3f}  (target <= {args.target})")
        print(f"  backend / bare: {report['ratio_backend_vs_bare']:.3f}; guarded / backend: {report['ratio_guarded_vs_backend']:.3f}")
        print(
            f"  guard + telemetry alone (canned backend): {isolated_ms:.2f} ms/call -> "
            f"{report['ratio_estimated_from_isolated']:.3f} of a bare call"
        )
        print(f"  same token counts: {report['same_token_counts']}; generation events in the store: {events}")
    return 1 if args.check and ratio > args.target else 0


if __name__ == "__main__":
    sys.exit(main())
