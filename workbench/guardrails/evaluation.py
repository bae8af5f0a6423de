"""Measure detectors on labelled data: per-kind precision and recall for PII, TPR/FPR for injection.

The labelled PII format is JSON Lines, one ``{"text", "entities": [{"kind", "value"}]}`` per line (``value``
is the exact substring a detector should report). A prediction counts as a true positive when it has the gold
kind and overlaps the gold span; every other prediction is a false positive, every unmatched gold value a
false negative.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.guardrails.injection import check_injection
from workbench.guardrails.pii import DEFAULT_KINDS, PiiFinding, scan_pii


@dataclass
class KindScore:
    """Counts and rates for one PII kind."""

    kind: str
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 1.0 when nothing was predicted."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN); 1.0 when there was nothing to find."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def support(self) -> int:
        """Gold entities of this kind."""
        return self.tp + self.fn


@dataclass
class PiiEvaluation:
    """Per-kind scores on a labelled set, plus throughput, the unchanged rate and the misses.

    Attributes:
        negatives: Records with no PII at all.
        negatives_unchanged: Those of them in which nothing was found (so redaction leaves them as they were).
    """

    kinds: dict[str, KindScore]
    records: int
    checks_per_s: float
    errors: list[dict[str, Any]] = field(default_factory=list)
    negatives: int = 0
    negatives_unchanged: int = 0

    @property
    def unchanged_rate(self) -> float:
        """Share of PII-free texts left unchanged (1.0 when there are none)."""
        return self.negatives_unchanged / self.negatives if self.negatives else 1.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "records": self.records,
            "checks_per_s": round(self.checks_per_s, 1),
            "unchanged_rate": round(self.unchanged_rate, 4),
            "negatives": self.negatives,
            "kinds": {
                k: {"precision": round(s.precision, 4), "recall": round(s.recall, 4), "support": s.support,
                    "tp": s.tp, "fp": s.fp, "fn": s.fn}
                for k, s in self.kinds.items()
            },
        }


def load_labelled(path: str | Path) -> list[dict[str, Any]]:
    """Read a labelled JSONL file."""
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def evaluate_pii(
    records: Sequence[dict[str, Any]] | str | Path,
    *,
    scan: Callable[[str], Iterable[PiiFinding]] = scan_pii,
    kinds: Sequence[str] = DEFAULT_KINDS,
    repeat: int = 1,
) -> PiiEvaluation:
    """Score a PII detector on labelled records.

    Args:
        records: Labelled records, or the path of a JSONL file of them.
        scan: The detector (default :func:`scan_pii`).
        kinds: Kinds to score.
        repeat: Scan the whole set this many times for a steadier throughput figure.
    """
    rows = load_labelled(records) if isinstance(records, (str, Path)) else list(records)
    scores = {k: KindScore(k) for k in kinds}
    errors: list[dict[str, Any]] = []
    start = time.perf_counter()
    predictions = [list(scan(r["text"])) for r in rows]
    for _ in range(repeat - 1):
        for r in rows:
            scan(r["text"])
    elapsed = time.perf_counter() - start
    negatives = unchanged = 0
    for row, predicted in zip(rows, predictions, strict=False):
        text = row["text"]
        if not row.get("entities"):
            negatives += 1
            unchanged += not predicted
        gold = []
        for ent in row.get("entities", []):
            begin = text.find(ent["value"])
            gold.append((ent["kind"], begin, begin + len(ent["value"])))
        matched_gold: set[int] = set()
        for f in predicted:
            if f.kind not in scores:
                continue
            hit = next(
                (i for i, (k, b, e) in enumerate(gold) if k == f.kind and i not in matched_gold and f.start < e and b < f.end),
                None,
            )
            if hit is None:
                scores[f.kind].fp += 1
                errors.append({"id": row.get("id"), "type": "fp", "kind": f.kind, "text": text, "found": f.text})
            else:
                matched_gold.add(hit)
                scores[f.kind].tp += 1
        for i, (k, b, e) in enumerate(gold):
            if i not in matched_gold and k in scores:
                scores[k].fn += 1
                errors.append({"id": row.get("id"), "type": "fn", "kind": k, "text": text, "missed": text[b:e]})
    checks = len(rows) * repeat
    rate = checks / elapsed if elapsed > 0 else float("inf")
    return PiiEvaluation(scores, len(rows), rate, errors, negatives=negatives, negatives_unchanged=unchanged)


@dataclass
class InjectionEvaluation:
    """True- and false-positive rates of the injection heuristics at one threshold."""

    threshold: float
    tpr: float
    fpr: float
    positives: int
    negatives: int
    errors: list[dict[str, Any]] = field(default_factory=list)


def evaluate_injection(records: Sequence[dict[str, Any]] | str | Path, *, threshold: float = 0.5) -> InjectionEvaluation:
    """Score :func:`check_injection` on records ``{"text", "injection": bool, "source": "user"|"retrieved"}``."""
    rows = load_labelled(records) if isinstance(records, (str, Path)) else list(records)
    tp = fp = pos = neg = 0
    errors: list[dict[str, Any]] = []
    for r in rows:
        result = check_injection(r["text"], source=r.get("source", "user"), threshold=threshold)
        if r["injection"]:
            pos += 1
            tp += result.flagged
        else:
            neg += 1
            fp += result.flagged
        if result.flagged != bool(r["injection"]):
            errors.append({"text": r["text"], "expected": r["injection"], "score": result.score, "reasons": result.reasons})
    return InjectionEvaluation(threshold, tp / pos if pos else 1.0, fp / neg if neg else 0.0, pos, neg, errors)
