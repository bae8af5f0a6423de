"""Judge calibration benchmark: the rubric scorers against human levels on the shipped labelled sets.

Run: ``python bench/judge.py [--model M] [--k K] [--limit N] [--threads T] [--markdown] [--json] [--out FILE]``.

For each labelled set in ``datasets/judge/`` (``rag-faithfulness``: 120 RAG answers; ``tone-policy``: 71
support replies; written and labelled by hand, see that folder's README), one run of
:func:`workbench.rubrics.measure_agreement` on one machine, printing per criterion and rater the exact agreement
and Cohen's kappa (linear and quadratic weights) with the human levels:

- ``deterministic`` / ``reference``: the rubric's own checks (citations, PII, term lists, token F1...);
- ``judge``: the schema-constrained judge (default model: ``WORKBENCH_JUDGE_MODEL``, else the default model,
  SmolLM2-135M-Instruct), ``k`` samples per item as the rubric configures (3), on every item;
- ``judge-confident``: the verdicts it keeps (agreement across samples >= the criterion's ``min_confidence``),
  with the share sent to the review queue, and ``judge-to-review``: the verdicts it routes;
- ``baseline:answer-overlap``: token F1 against the reference read as a faithfulness score, the cheap
  deterministic stand-in the judge has to beat.

Every routed verdict must reach the review queue (a private one, under a temporary data dir): the script exits
1 when a routed verdict was not queued. Wall time and CPU time of scoring (model load apart) are printed per
set; on a shared machine the CPU time is the steadier figure (with ``--threads 1`` it is what one free core
takes).
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

#: (rubric id, labelled file, baselines) measured, in order.
SETS: list[tuple[str, str, dict[str, str]]] = [
    ("rag-faithfulness", "datasets/judge/rag-faithfulness.jsonl", {"faithful": "answer-overlap"}),
    ("tone-policy", "datasets/judge/tone-policy.jsonl", {}),
]


def _load_average() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def run_set(rubric_id: str, path: str, baselines: dict[str, str], backend: Any, k: int | None, limit: int | None,
            queue: Any) -> tuple[dict[str, Any], list[str]]:
    """Measure one labelled set: the report's data (with the queue check) and its text."""
    from workbench.rubrics import labelled_set, load_items, measure_agreement

    items, lines = load_items(ROOT / path)
    if limit is not None:
        items, lines = items[:limit], lines[:limit]
    labelled = labelled_set(rubric_id, items, source=path, lines=lines)
    before = len(queue.pending(rubric=rubric_id))
    cpu = time.process_time()
    report = measure_agreement(rubric_id, labelled, backend=backend, k=k, review_queue=queue, baselines=baselines)
    cpu = time.process_time() - cpu
    received = len(queue.pending(rubric=rubric_id)) - before
    routed = sum(c.to_review for c in report.criteria)
    data = report.to_dict()
    data["queue_check"] = {"routed": routed, "received": received, "ok": routed == received}
    # CPU seconds of this process: on a shared machine the wall time says more about the neighbours.
    data["cpu_seconds"] = round(cpu, 2)
    return data, report.lines()


def markdown(results: list[dict[str, Any]]) -> list[str]:
    """The agreement rows as a Markdown table (for bench/README.md)."""
    out = ["| rubric | criterion | rater | n | exact | kappa linear | kappa quadratic |",
           "|---|---|---|---|---|---|---|"]

    def fmt(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f}"

    for data in results:
        for row in data["rows"]:
            out.append(f"| {data['rubric']} | {row['criterion']} | {row['rater']} | {row['n']} | {fmt(row['exact'])} "
                       f"| {fmt(row['kappa_linear'])} | {fmt(row['kappa_quadratic'])} |")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", help="judge model (default: WORKBENCH_JUDGE_MODEL, else the default model)")
    parser.add_argument("--k", type=int, help="judge samples per item (default: the rubric's, 3)")
    parser.add_argument("--limit", type=int, help="only the first N items of each set (a quick look)")
    parser.add_argument("--set", dest="sets", action="append", choices=[r for r, _, _ in SETS],
                        help="only this labelled set (repeatable; default: all)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--markdown", action="store_true", help="also print the rows as a Markdown table")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)

    os.environ.setdefault("WORKBENCH_DATA_DIR", tempfile.mkdtemp(prefix="wb-bench-judge-"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from workbench.models import load_model
    from workbench.rubrics import ReviewQueue, judge_model_name

    if args.threads:
        torch.set_num_threads(args.threads)
    name = args.model or judge_model_name()
    start = time.perf_counter()
    backend = load_model(name)
    load_seconds = time.perf_counter() - start
    if not args.json:
        print(f"Judge {getattr(backend, 'name', name)} (loaded in {load_seconds:.2f} s), {torch.get_num_threads()} "
              f"torch thread(s), load average {_load_average()}", flush=True)
    results = []
    with ReviewQueue(Path(os.environ["WORKBENCH_DATA_DIR"]) / "bench-reviews.db") as queue:
        for rubric_id, path, baselines in SETS:
            if args.sets and rubric_id not in args.sets:
                continue
            data, text = run_set(rubric_id, path, baselines, backend, args.k, args.limit, queue)
            results.append(data)
            if not args.json:  # each set as soon as it is measured: a full run takes a while on a CPU
                check = data["queue_check"]
                items = max(1, data["items"])
                print("\n" + "\n".join(text))
                print(f"  review queue received {check['received']} of {check['routed']} routed verdicts; "
                      f"{data['seconds'] / items:.2f} s wall and {data['cpu_seconds'] / items:.2f} s CPU per item; "
                      f"load average {_load_average()}", flush=True)
    report = {
        "model": getattr(backend, "name", name), "load_seconds": round(load_seconds, 2),
        "torch_threads": torch.get_num_threads(), "load_average": _load_average(), "sets": results,
        "ok": all(r["queue_check"]["ok"] for r in results),
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        if args.markdown:
            print()
            print("\n".join(markdown(results)))
        print("OK" if report["ok"] else "A ROUTED VERDICT DID NOT REACH THE REVIEW QUEUE")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
