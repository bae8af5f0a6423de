"""Guardrail benchmark: PII precision/recall per kind, checks per second, injection operating point.

Run: ``python bench/guardrails.py [--repeat N] [--json]``. Exits 1 if any kind falls below the floor
(``--floor``, default 0.9) or the injection TPR/FPR miss theirs, so ``make bench`` catches regressions.

Data: ``tests/data/pii_labelled.jsonl`` (synthetic, labelled, with tricky negatives; regenerate with
``tests/data/pii_make_labelled.py``) and ``tests/data/prompt_injection_labelled.jsonl``. Both sets were
written by the same people who wrote the detectors, so they measure regressions and coverage of the formats
listed there, not performance on unseen data (see research note C6: treat guardrails as filters with a
measured operating point, never as a security boundary).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PII_SET = ROOT / "tests" / "data" / "pii_labelled.jsonl"
INJECTION_SET = ROOT / "tests" / "data" / "prompt_injection_labelled.jsonl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="passes over the set for the throughput figure")
    parser.add_argument("--floor", type=float, default=0.9, help="minimum precision and recall per kind")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)

    os.environ.setdefault("WORKBENCH_DATA_DIR", tempfile.mkdtemp(prefix="wb-bench-guard-"))
    from workbench.guardrails import Guard
    from workbench.guardrails.evaluation import evaluate_injection, evaluate_pii, load_labelled

    pii = evaluate_pii(PII_SET, repeat=args.repeat)
    injection = evaluate_injection(INJECTION_SET)

    # The full prompt check (deny terms + injection + PII + redaction), without audit or telemetry.
    rows = load_labelled(PII_SET)
    guard = Guard(record_telemetry=False)
    start = time.perf_counter()
    for _ in range(max(1, args.repeat // 4)):
        for r in rows:
            guard.check_prompt(r["text"], audit=False)
    prompt_checks_per_s = len(rows) * max(1, args.repeat // 4) / (time.perf_counter() - start)
    # With the audit log (one hash-chained append per decision); the first call pays one-time imports.
    guard.check_prompt("warm-up", learner="bench")
    start = time.perf_counter()
    for r in rows:
        guard.check_prompt(r["text"], learner="bench")
    audited_per_s = len(rows) / (time.perf_counter() - start)

    ok = all(s.precision >= args.floor and s.recall >= args.floor for s in pii.kinds.values())
    ok = ok and injection.tpr >= 0.85 and injection.fpr <= 0.1
    report = {
        "pii": pii.to_dict(),
        "injection": {"threshold": injection.threshold, "tpr": round(injection.tpr, 4), "fpr": round(injection.fpr, 4),
                      "positives": injection.positives, "negatives": injection.negatives},
        "prompt_checks_per_s": round(prompt_checks_per_s, 1),
        "audited_prompt_checks_per_s": round(audited_per_s, 1),
        "floor": args.floor,
        "ok": ok,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"PII detection on {pii.records} labelled strings ({PII_SET.name})")
        print(f"{'kind':<14}{'precision':>10}{'recall':>9}{'support':>9}{'fp':>5}{'fn':>5}")
        for kind, s in pii.kinds.items():
            print(f"{kind:<14}{s.precision:>10.3f}{s.recall:>9.3f}{s.support:>9}{s.fp:>5}{s.fn:>5}")
        print(f"scan_pii: {pii.checks_per_s:,.0f} checks/s")
        print(f"Guard.check_prompt (PII + injection + deny terms): {prompt_checks_per_s:,.0f} checks/s")
        print(f"  ... with the hash-chained audit append: {audited_per_s:,.0f} checks/s")
        print(
            f"Injection heuristics ({INJECTION_SET.name}, threshold {injection.threshold}): "
            f"TPR {injection.tpr:.3f} on {injection.positives}, FPR {injection.fpr:.3f} on {injection.negatives}"
        )
        for e in pii.errors[:10]:
            print(f"  {e['type']} {e['kind']}: {e['text'][:90]!r}")
        print("OK" if ok else f"BELOW FLOOR ({args.floor})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
