"""Helpers shared by the fine-tuning tests (imported as ``tuning_helpers``; pytest puts this folder on the path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HOUSE = ROOT / "datasets" / "finetune" / "house-format"


def small_config(name: str, out: Path, **changes: Any) -> Any:
    """A shipped config shrunk for tests: few steps, small evaluation, written under ``out``."""
    from workbench.tuning import load_config

    config = load_config(HOUSE / f"{name}.yaml")
    base: dict[str, Any] = {
        "output_dir": str(out),
        "training.max_steps": 6,
        "training.eval_every": 0,
        "training.save_every": 0,
        "training.num_threads": 1,
        "evaluation.enabled": False,
    }
    base.update(changes)
    return config.replace(**base)


def write_jsonl(path: Path, lines: list[str]) -> Path:
    """Write raw lines (not validated) to a JSONL file."""
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
