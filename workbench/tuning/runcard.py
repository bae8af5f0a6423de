"""The run card: what a fine-tuning run did, written as JSON and Markdown beside the adapter.

``run_card.json`` is the record (versioned by :data:`RUN_CARD_VERSION`); ``run_card.md`` is the same content
for people. A failed run still gets a card (status ``failed``, the error, the last checkpoint kept).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RUN_CARD_VERSION = 1
RUN_CARD_JSON = "run_card.json"
RUN_CARD_MD = "run_card.md"

RunStatus = Literal["running", "completed", "stopped", "early_stopped", "failed", "interrupted"]


class RunCard(BaseModel):
    """Everything needed to judge, reproduce and reuse a run.

    Attributes:
        card_version: :data:`RUN_CARD_VERSION`.
        run_id: Telemetry run id (also on every ``training_step`` event).
        name: The config's name.
        status: ``completed``, ``stopped`` (stop button / ``StopSignal``), ``early_stopped``, ``failed`` or
            ``interrupted`` (Ctrl-C).
        error: ``{type, message, step, hint}`` when failed.
        config: The full tune config.
        model: Base model name, folder, parameter count, context length.
        method: Method, bits, rank, targets; fallbacks are in ``notes``.
        dataset: Files, sha256, example counts, dropped examples, longest example.
        device: Device kind and name.
        quantization: What the base was loaded as (backend, bits, quant type, compute dtype).
        plan: The preflight estimate (bytes by component) for this run's shape.
        memory: Measured peak (method ``rss`` on CPU, ``allocator`` on accelerators) and baseline.
        timing: Start, end, duration, steps, tokens, steps/s, tokens/s.
        loss_curve: ``[{step, loss}]`` training loss per step.
        eval_curve: ``[{step, loss}]`` held-out loss at each evaluation.
        evaluation: ``{before, after, delta}``: perplexity and generation (and rubric) scores.
        adapter: Adapter folder, files, sha256 of the weights, trainable parameters.
        checkpoints: Last checkpoint and those kept.
        versions: Library versions.
        notes: Fallbacks, warnings, caveats.
    """

    model_config = ConfigDict(extra="allow")

    card_version: int = RUN_CARD_VERSION
    run_id: str
    name: str
    status: RunStatus = "running"
    error: dict[str, Any] | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    model: dict[str, Any] = Field(default_factory=dict)
    method: dict[str, Any] = Field(default_factory=dict)
    dataset: dict[str, Any] = Field(default_factory=dict)
    device: dict[str, Any] = Field(default_factory=dict)
    quantization: dict[str, Any] = Field(default_factory=dict)
    plan: dict[str, Any] = Field(default_factory=dict)
    memory: dict[str, Any] = Field(default_factory=dict)
    timing: dict[str, Any] = Field(default_factory=dict)
    loss_curve: list[dict[str, float]] = Field(default_factory=list)
    eval_curve: list[dict[str, float]] = Field(default_factory=list)
    evaluation: dict[str, Any] = Field(default_factory=dict)
    adapter: dict[str, Any] = Field(default_factory=dict)
    checkpoints: dict[str, Any] = Field(default_factory=dict)
    versions: dict[str, Any] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)

    def write(self, folder: str | Path) -> tuple[Path, Path]:
        """Write ``run_card.json`` and ``run_card.md`` into ``folder`` (atomically each)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        json_path, md_path = folder / RUN_CARD_JSON, folder / RUN_CARD_MD
        _atomic_write(json_path, json.dumps(self.model_dump(mode="json"), indent=2, default=str) + "\n")
        _atomic_write(md_path, self.to_markdown())
        return json_path, md_path

    @classmethod
    def read(cls, folder: str | Path) -> RunCard:
        """Read the card of a run folder (or an adapter folder inside one)."""
        folder = Path(folder)
        for candidate in (folder / RUN_CARD_JSON, folder.parent / RUN_CARD_JSON):
            if candidate.is_file():
                return cls.model_validate_json(candidate.read_text(encoding="utf-8"))
        from workbench.errors import NotFoundError

        raise NotFoundError(
            f"no {RUN_CARD_JSON} in '{folder}'", file=folder, hint="point at a tune run folder"
        )

    def to_markdown(self) -> str:
        """The card for people."""
        lines = [f"# Run card: {self.name}", ""]
        lines += [f"- **Status:** {self.status}", f"- **Run id:** `{self.run_id}`"]
        if self.error:
            lines.append(f"- **Error:** {self.error.get('type')}: {self.error.get('message')}")
            if self.error.get("hint"):
                lines.append(f"- **Fix:** {self.error['hint']}")
        m = self.method
        lines += [
            f"- **Model:** {self.model.get('name')} ({_fmt_int(self.model.get('parameters'))} parameters)",
            f"- **Method:** {m.get('type')} - {m.get('bits')}-bit base, rank {m.get('rank')}, "
            f"alpha {m.get('alpha')}, targets {m.get('target_modules')}",
            f"- **Device:** {self.device.get('kind')} ({self.device.get('name')})",
            f"- **Quantization:** {_kv(self.quantization)}",
            f"- **Dataset:** {self.dataset.get('train')} - {self.dataset.get('train_examples')} train / "
            f"{self.dataset.get('eval_examples')} held-out examples, sha256 `{str(self.dataset.get('sha256'))[:16]}`",
        ]
        t = self.timing
        lines += [
            f"- **Time:** {t.get('duration_s')} s wall; {t.get('steps')} steps in {t.get('train_time_s')} s of "
            f"training ({t.get('steps_per_s')} steps/s, {t.get('tokens_per_s')} tokens/s)",
        ]
        lines += [
            f"- **Memory, {row.quantity}:** estimate {_mib(row.estimate_bytes)}, measured {_mib(row.measured_bytes)}"
            f" ({row.note})"
            for row in memory_comparison(self)
        ]
        if self.adapter:
            lines.append(f"- **Adapter:** `{self.adapter.get('dir')}` (safetensors)")
        if self.checkpoints.get("last"):
            lines.append(f"- **Last checkpoint:** `{self.checkpoints['last']}`")
        if self.loss_curve:
            first, last = self.loss_curve[0]["loss"], self.loss_curve[-1]["loss"]
            lines += ["", "## Loss", "", f"{_spark([p['loss'] for p in self.loss_curve])}", ""]
            lines.append(f"Training loss {first:.4f} -> {last:.4f} over {len(self.loss_curve)} steps.")
        ev = self.evaluation
        if ev.get("before") or ev.get("after"):
            lines += ["", "## Evaluation (held-out)", "", "| metric | before | after |", "|---|---|---|"]
            before, after = ev.get("before") or {}, ev.get("after") or {}
            rows = [("perplexity", before.get("perplexity"), after.get("perplexity"))]
            keys = sorted(set(before.get("scores", {})) | set(after.get("scores", {})))
            rows += [(k, before.get("scores", {}).get(k), after.get("scores", {}).get(k)) for k in keys]
            lines += [f"| {name} | {_num(b)} | {_num(a)} |" for name, b, a in rows]
            samples = after.get("samples") or []
            if samples:
                lines += ["", "Sample answers after tuning:", ""]
                lines += [f"- *{s['prompt']}* -> `{s['output']}`" for s in samples]
        if self.plan.get("bytes"):
            lines += ["", "## Preflight memory estimate", "", "| component | MiB |", "|---|---|"]
            lines += [f"| {k} | {_mib(v, unit=False)} |" for k, v in self.plan["bytes"].items()]
        if self.notes:
            lines += ["", "## Notes", ""] + [f"- {n}" for n in self.notes]
        lines += ["", "## Versions", "", _kv(self.versions), ""]
        return "\n".join(lines)


@dataclass(frozen=True)
class MemoryRow:
    """One quantity of a run's memory: the preflight estimate beside the measurement of the same thing.

    Attributes:
        quantity: What is compared, in words.
        estimate_bytes: The plan's estimate (``None``: the plan does not estimate it).
        measured_bytes: What the run measured (``None``: not measured here).
        note: How it was measured, and why the two may differ.
    """

    quantity: str
    estimate_bytes: int | None
    measured_bytes: int | None
    note: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the widget's summary)."""
        return asdict(self)


def memory_comparison(card: RunCard) -> list[MemoryRow]:
    """The preflight estimate against the measured memory of a run, like for like (see :mod:`.memory`).

    The plan estimates the live tensors of a training step. Its weights + adapters are measured exactly (the
    loaded model's tensors); its peak is what an accelerator's allocator reports. A CPU has no such counter:
    there the run's peak is the process's resident memory, so the comparable figure is what the run *added*
    to it, and the process's whole peak (Python, PyTorch, earlier cells) is shown apart.
    """
    plan, mem = card.plan.get("bytes") or {}, card.memory or {}
    rows = []
    if "weights" in plan or "model_bytes" in mem:
        model_est = plan.get("weights", 0) + plan.get("adapters", 0) if "weights" in plan else None
        rows.append(MemoryRow("model tensors (frozen weights + adapters)", model_est, mem.get("model_bytes"),
                              "measured: every tensor of the loaded model, counted after loading"))  # fmt: skip
    total = plan.get("total")
    if mem.get("method") == "rss":
        rows.append(MemoryRow(
            "training peak: what the run added", total, mem.get("peak_delta_bytes"),
            "measured: peak resident memory minus the memory before loading; on a CPU it also holds what "
            "loading the weights (quantizing them, for QLoRA) and generating the held-out answers leave in the "
            "allocator's cache, so it runs above the estimate of live tensors",
        ))
        rows.append(MemoryRow("process peak (resident memory)", None, mem.get("peak_bytes"),
                              "Python, PyTorch, the tokenizer and earlier cells included: not estimated"))  # fmt: skip
    elif mem:
        rows.append(MemoryRow("training peak (live tensors)", total, mem.get("peak_bytes"),
                              "measured: the device allocator's peak, the quantity the plan estimates"))  # fmt: skip
    return rows


def _atomic_write(path: Path, text: str) -> None:
    import os

    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _fmt_int(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _mib(value: Any, *, unit: bool = True) -> str:
    if not isinstance(value, (int, float)):
        return "n/a"
    return f"{value / 2**20:.1f}" + (" MiB" if unit else "")


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else "n/a"


def _kv(data: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in data.items()) or "none"


def _spark(values: list[float]) -> str:
    bars = "▁▂▃▄▅▆▇█"
    if not values:
        return ""
    step = max(1, len(values) // 60)
    sample = values[::step]
    lo, hi = min(sample), max(sample)
    span = (hi - lo) or 1.0
    return "".join(bars[min(7, int((v - lo) / span * 7))] for v in sample)
