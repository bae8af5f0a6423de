"""Rubric scoring benchmark: deterministic items/s, judge calls/s, constrained vs prompt-and-parse judges.

Run: ``python bench/rubrics.py [--items N] [--judge-items M] [--k K] [--threads T] [--json]``.

What is measured, in one run, on one machine:

- ``deterministic``: items/s scoring a rubric of eight deterministic criteria (regex, contains, excludes,
  JSON Schema, JSON field match, length, citations, PII-free via guardrails) and, separately, the two
  library-backed reference scorers (ROUGE-L from ``rouge-score``, token F1), telemetry off.
- ``judge``: the LLM judge on the built-in ``workbench-tiny`` model, same prompts, same items, same seed, same
  ``k`` samples and the same token budget (the longest valid verdict + 1), two ways:

  * ``constrained``: Workbench's :class:`~workbench.rubrics.constrained.VerdictLogitsProcessor` (decoding
    cannot leave the verdict schema);
  * ``prompt_and_parse`` (the peer approach of promptfoo/DeepEval-style judges on a local model): the same
    prompt, free decoding, then the first JSON object is parsed and validated against the same schema
    (without its length cap, to be fair to free text).

  Reported side by side: valid-output rate, wall time, judge calls (samples) per second.

The tiny model runs on ``--threads`` torch threads (default 1: its matrices are tiny, and on a loaded 2-core
machine two OpenMP threads spin-waiting were measured 10-20x slower). Exits 1 if the constrained judge
returns any invalid verdict, so ``make bench`` catches a regression.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DETERMINISTIC_RUBRIC = """\
id: bench-deterministic
version: 1
title: Every deterministic scorer
total_weight: 8
criteria:
  - {id: ticket, description: d, weight: 1, skill: copilot_building,
     levels: [{score: 0, descriptor: n}, {score: 1, descriptor: y}],
     scorer: {type: regex, pattern: 'TICKET-\\d+'}}
  - {id: terms, description: d, weight: 1, skill: prompting,
     levels: [{score: 0, descriptor: n}, {score: 1, descriptor: h}, {score: 2, descriptor: y}],
     scorer: {type: contains, values: [printer, settings, floor]}}
  - {id: deny, description: d, weight: 1, skill: guardrails_governance,
     levels: [{score: 0, descriptor: n}, {score: 1, descriptor: y}],
     scorer: {type: excludes, values: [guarantee, stupid], whole_word: true}}
  - {id: schema, description: d, weight: 1, skill: structured_output,
     levels: [{score: 0, descriptor: n}, {score: 1, descriptor: y}],
     scorer: {type: json_schema, field: json, schema: {type: object, required: [intent, urgency],
              properties: {intent: {type: string}, urgency: {enum: [high, normal]}}}}}
  - {id: match, description: d, weight: 1, skill: structured_output,
     levels: [{score: 0, descriptor: n}, {score: 1, descriptor: y}],
     scorer: {type: json_match, field: json, reference_field: expected}}
  - {id: length, description: d, weight: 1, skill: prompting,
     levels: [{score: 0, descriptor: n}, {score: 1, descriptor: y}],
     scorer: {type: length, min: 5, max: 60}}
  - {id: cites, description: d, weight: 1, skill: retrieval_evaluation,
     levels: [{score: 0, descriptor: n}, {score: 1, descriptor: y}],
     scorer: {type: citations}}
  - {id: pii, description: d, weight: 1, skill: guardrails_governance,
     levels: [{score: 0, descriptor: n}, {score: 1, descriptor: y}],
     scorer: {type: pii_free}}
"""

REFERENCE_RUBRIC = """\
id: bench-reference
version: 1
title: Library-backed reference scorers
criteria:
  - {id: rouge, description: d, weight: 0.5, skill: evaluation_design,
     levels: [{score: 0, descriptor: n}, {score: 1, descriptor: h}, {score: 2, descriptor: y}],
     scorer: {type: rouge_l}}
  - {id: f1, description: d, weight: 0.5, skill: evaluation_design,
     levels: [{score: 0, descriptor: n}, {score: 1, descriptor: h}, {score: 2, descriptor: y}],
     scorer: {type: token_f1}}
"""

REPLIES = [
    "Open Settings, choose Printers and add the printer by its floor name [it/printers.md].",
    "TICKET-{n}: we reset your password; mail ana.lima@example.com if it fails [it/passwords.md].",
    "I guarantee the VPN works now, restart the client [made-up.md].",
    "Go away.",
    "Thanks for waiting! Your laptop is ready at the service desk on floor two [it/desk.md, it/hours.md].",
]


def _items(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    items = []
    for i in range(n):
        reply = rnd.choice(REPLIES).format(n=i)
        urgent = rnd.random() < 0.4
        expected = {"intent": "printer", "urgency": "high" if urgent else "normal"}
        got = dict(expected) if rnd.random() < 0.7 else {"intent": "vpn"}
        items.append({
            "id": f"b{i}", "output": reply, "json": json.dumps(got), "expected": expected,
            "sources": ["it/printers.md", "it/passwords.md", "it/desk.md", "it/hours.md"],
            "reference": "Add the printer in Settings under Printers, using its floor name.",
        })
    return items


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def bench_deterministic(n: int) -> dict[str, Any]:
    import yaml

    from workbench.rubrics import score_items
    from workbench.rubrics.schema import rubric_from_data

    det = rubric_from_data(yaml.safe_load(DETERMINISTIC_RUBRIC))
    ref = rubric_from_data(yaml.safe_load(REFERENCE_RUBRIC))
    items = _items(n)
    out: dict[str, Any] = {"items": n}
    for name, rubric in (("deterministic_8_criteria", det), ("reference_rouge_l_token_f1", ref)):
        score_items(rubric, items[:10], record=False, review_queue=False)  # warm-up: imports, compiled regexes
        start = time.perf_counter()
        score_items(rubric, items, record=False, review_queue=False)
        seconds = time.perf_counter() - start
        out[name] = {"seconds": round(seconds, 3), "items_per_s": round(_rate(n, seconds), 1),
                     "criterion_scores_per_s": round(_rate(n * len(rubric.criteria), seconds), 1)}
    return out


def bench_judge(n: int, k: int) -> dict[str, Any]:
    from workbench.models import load_model
    from workbench.rubrics import load_rubric
    from workbench.rubrics.judge import judge_messages, run_judge

    backend = load_model("workbench-tiny")
    rubric = load_rubric("tone-policy")
    criterion = rubric.criterion("polite-tone")
    items = _items(n, seed=1)
    convs = [judge_messages(criterion, item, criterion.scorer) for item in items]  # type: ignore[arg-type]
    run_judge(backend, convs[:2], criterion.level_scores, k=1)  # warm-up: token tables, first forward pass
    run_judge(backend, convs[:2], criterion.level_scores, k=1, constrained=False)
    out: dict[str, Any] = {"model": backend.name, "items": n, "k": k, "calls": n * k,
                           "max_rationale": 48, "temperature": 0.7}
    for name, constrained in (("constrained", True), ("prompt_and_parse", False)):
        start = time.perf_counter()
        samples = run_judge(backend, convs, criterion.level_scores, k=k, temperature=0.7, seed=0,
                            max_rationale=48, constrained=constrained)
        seconds = time.perf_counter() - start
        flat = [s for group in samples for s in group]
        valid = sum(s.valid for s in flat)
        errors: dict[str, int] = {}
        for s in flat:
            if not s.valid:
                key = (s.error or "").split(":")[0]
                errors[key] = errors.get(key, 0) + 1
        out[name] = {
            "valid": valid, "calls": len(flat), "valid_rate": round(valid / len(flat), 4),
            "seconds": round(seconds, 3), "calls_per_s": round(_rate(len(flat), seconds), 1),
            "invalid_by_reason": errors,
            "example": flat[0].text[:120],
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--items", type=int, default=500, help="items for the deterministic throughput")
    parser.add_argument("--judge-items", type=int, default=50, help="items for the judge comparison")
    parser.add_argument("--k", type=int, default=4, help="judge samples per item")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the tiny model")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)

    os.environ.setdefault("WORKBENCH_DATA_DIR", tempfile.mkdtemp(prefix="wb-bench-rubrics-"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    report = {
        "torch_threads": args.threads,
        "deterministic": bench_deterministic(args.items),
        "judge": bench_judge(args.judge_items, args.k),
    }
    judge = report["judge"]
    ok = judge["constrained"]["valid_rate"] == 1.0
    report["ok"] = ok
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        det = report["deterministic"]
        print(f"Deterministic scoring, {det['items']} items (telemetry off):")
        for name in ("deterministic_8_criteria", "reference_rouge_l_token_f1"):
            row = det[name]
            print(f"  {name:<28} {row['items_per_s']:>9,.1f} items/s  {row['criterion_scores_per_s']:>10,.1f} "
                  f"criterion scores/s  ({row['seconds']} s)")
        print(f"\nJudge on {judge['model']}: {judge['items']} items x k={judge['k']} = {judge['calls']} calls, "
              f"temperature {judge['temperature']}, {args.threads} torch thread(s)")
        print(f"  {'':<18}{'valid':>12}{'rate':>8}{'time s':>9}{'calls/s':>9}")
        for name in ("constrained", "prompt_and_parse"):
            row = judge[name]
            print(f"  {name:<18}{row['valid']:>6}/{row['calls']:<5}{row['valid_rate']:>8.1%}{row['seconds']:>9.2f}"
                  f"{row['calls_per_s']:>9.1f}")
            if row["invalid_by_reason"]:
                print(f"  {'':<18}invalid: {row['invalid_by_reason']}")
        print("OK" if ok else "CONSTRAINED JUDGE RETURNED INVALID OUTPUT")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
