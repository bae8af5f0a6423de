"""Fine-tuning benchmark: Workbench LoRA/QLoRA against a plain transformers ``Trainer`` + peft script.

Usage::

    python bench/tuning.py [--steps 30] [--threads 1] [--quick] [--only smollm2-135m] [--device cuda] [--json]

What is measured, one run each, every measurement in a fresh Python process:

1. **Side by side** on the built-in model (and, without ``--quick``, the 110M Llama below, fed the same data
   through the built-in tokenizer, and the default model SmolLM2-135M-Instruct with its own tokenizer; ``--only``
   picks rows) and the shipped house-format set, for LoRA (fp32 base), QLoRA 4-bit (NF4 +
   double quantization, float32 compute) and QLoRA 8-bit (LLM.int8): Workbench's ``train()`` against the
   textbook peer script (``Trainer`` + ``get_peft_model``, ``prepare_model_for_kbit_training`` for QLoRA) with
   identical settings (rank 16 on all linear layers, alpha 32, batch 8, constant lr 1e-2, AdamW, clipping 1.0,
   seed 0, the same tokenised examples with answer-only labels, the same thread count). Reported: steps/s from
   the median step time over steps 2..N (the first step pays one-time costs; the median resists bursts from
   other processes on a shared machine; the mean is in the JSON) and the process's peak RSS above its
   baseline after the common imports (torch, transformers, peft, bitsandbytes; Linux ``VmHWM``, reset before
   loading). Workbench's figure includes what only it does: the telemetry store (SQLAlchemy + SQLite,
   ~15 MiB), the preflight plan, checkpoints and the run card. Ratios are Workbench / peer.
2. **Plan accuracy**: for each side-by-side configuration (batch 8 x 64 tokens), and for LoRA / QLoRA 4-bit /
   QLoRA 8-bit / QLoRA 4-bit with gradient checkpointing and 8-bit AdamW on a randomly initialised
   110M-parameter Llama (batch 2 x 128 tokens), the preflight estimate against the peak of live tensor bytes
   measured with the PyTorch profiler over two training steps (:func:`workbench.tuning.measure_step_peak`).
   The run fails (exit 1) when an estimate is more than 25 % off.
3. **Weight memory against the floor** on the same 110M Llama: bytes per quantized parameter of the 4-bit
   (with and without double quantization) and 8-bit linear layers, against 0.5 and 1 byte per parameter, and
   against the floor plus the quantization constants (QLoRA paper section 3: 4 + 0.127 bits with double
   quantization, 4 + 0.5 bits without; int8 adds one float32 scale per output row).

``--device cuda`` (or another torch device kind) runs both sides of the side-by-side rows and the weight-memory
check there; peak memory is then the device allocator's peak above the baseline
(``torch.<device>.max_memory_allocated``), not RSS. The plan-accuracy cases stay on the CPU (the profiler's
live-tensor peak is what they compare against).

``--quick`` skips the 110M model (built once, 420 MB, and cached under ``<models_dir>``, i.e.
``$WORKBENCH_CACHE_DIR/models``). Results go to ``bench/results/tuning.json``. Timings on a shared 2-core
machine swing several-fold between runs; compare ratios taken in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
HOUSE = ROOT / "datasets" / "finetune" / "house-format"
RESULTS = ROOT / "bench" / "results" / "tuning.json"
METHODS = {
    "lora": {"type": "lora"},
    "qlora-4bit": {"type": "qlora", "bits": 4},
    "qlora-8bit": {"type": "qlora", "bits": 8},
}
BIG = {"vocab_size": 32000, "hidden_size": 768, "intermediate_size": 2048, "num_hidden_layers": 12,
       "num_attention_heads": 12, "num_key_value_heads": 12, "max_position_embeddings": 512}  # fmt: skip
MIB = 2**20


# --- workers (run in fresh processes) --------------------------------------------------------------------------


def _accelerator(device: str) -> Any:
    """``torch.cuda`` (etc.) for an accelerator device kind, ``None`` for the CPU."""
    import torch

    return None if device == "cpu" else getattr(torch, device)


def _baseline(device: str = "cpu") -> int:
    """Import everything, warm torch up, release freed memory, reset the peak: the memory a run starts from.

    On the CPU that is the process's RSS; on an accelerator, the device allocator's bytes in use.
    """
    import bitsandbytes  # noqa: F401
    import peft  # noqa: F401
    import torch
    import transformers  # noqa: F401

    from workbench.tuning.memory import current_rss, release_freed_memory, reset_peak_rss

    acc = _accelerator(device)
    if acc is not None:
        acc.synchronize()
        acc.reset_peak_memory_stats()
        return int(acc.memory_allocated())
    x = torch.randn(64, 64, requires_grad=True)
    (x @ x).sum().backward()
    release_freed_memory()
    reset_peak_rss()
    return current_rss()


def _rates(starts: list[float], ends: list[float]) -> dict[str, float]:
    """Steps/s from the median step time over steps 2..N (robust to other processes' bursts), and the mean."""
    import statistics

    durations = [end - start for start, end in zip(starts[1:], ends[1:], strict=True)]
    return {
        "steps_per_s": 1.0 / statistics.median(durations),
        "steps_per_s_mean": len(durations) / sum(durations),
    }


def _peak_delta(base: int, device: str = "cpu") -> int:
    from workbench.tuning.memory import current_rss, peak_rss

    acc = _accelerator(device)
    if acc is not None:
        acc.synchronize()
        return int(acc.max_memory_allocated()) - base
    return (peak_rss() or current_rss()) - base


def worker_workbench(spec: dict[str, Any]) -> dict[str, Any]:
    """Train with ``workbench.tuning.train``; steps/s and peak memory."""
    device = spec.get("device", "cpu")
    base = _baseline(device)
    from workbench.tuning import TrainingCallback, load_config, train

    config = load_config(HOUSE / f"{spec['method']}.yaml").replace(
        **{
            "model": spec.get("model", "workbench-tiny"),
            "output_dir": spec["out"],
            "training.max_steps": spec["steps"],
            "training.learning_rate": 0.01,
            "training.eval_every": 0,
            "training.save_every": 0,
            "evaluation.enabled": False,
            "device": device,
        }
    )
    starts: list[float] = []
    ends: list[float] = []
    losses: list[float] = []

    class Timer(TrainingCallback):
        def on_step_begin(self, step: int) -> None:
            starts.append(time.perf_counter())

        def on_step_end(self, metrics: Any) -> None:
            ends.append(time.perf_counter())
            losses.append(metrics.loss)

    result = train(config, callbacks=[Timer()])
    return {
        **_rates(starts, ends),
        "peak_rss_delta": _peak_delta(base, device),
        "first_loss": losses[0],
        "last_loss": losses[-1],
        "status": result.status,
    }


def worker_trainer(spec: dict[str, Any]) -> dict[str, Any]:
    """The peer: a plain transformers Trainer + peft script with the same settings and data."""
    # The editable install puts the repository root on sys.path, where the data folder datasets/ looks like
    # a namespace package called "datasets"; Trainer would take it for Hugging Face datasets and crash.
    sys.modules.setdefault("datasets", None)  # type: ignore[arg-type]
    device = spec.get("device", "cpu")
    base = _baseline(device)
    import warnings

    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        BitsAndBytesConfig,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    from workbench.models import build_tiny_model
    from workbench.tuning.data import collate, load_examples, tokenize_examples

    warnings.simplefilter("ignore")
    path = spec.get("model") or str(build_tiny_model())
    tokenizer = AutoTokenizer.from_pretrained(path)
    items, _ = tokenize_examples(load_examples(HOUSE / "train.jsonl"), tokenizer, max_length=512)
    method = METHODS[spec["method"]]
    if method["type"] == "qlora":
        q = (
            BitsAndBytesConfig(
                load_in_4bit=True,
                bnb_4bit_quant_type="nf4",
                bnb_4bit_use_double_quant=True,
                bnb_4bit_compute_dtype=torch.float32,
            )
            if method["bits"] == 4
            else BitsAndBytesConfig(load_in_8bit=True)
        )
        model = AutoModelForCausalLM.from_pretrained(
            path, quantization_config=q, device_map=device, dtype=torch.float32
        )
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    else:
        model = AutoModelForCausalLM.from_pretrained(path, device_map=device)
    torch.manual_seed(0)
    model = get_peft_model(
        model,
        LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"),
    )
    starts: list[float] = []
    ends: list[float] = []

    class Timer(TrainerCallback):
        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            starts.append(time.perf_counter())

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            ends.append(time.perf_counter())

    args = TrainingArguments(
        output_dir=spec["out"],
        max_steps=spec["steps"],
        per_device_train_batch_size=8,
        learning_rate=0.01,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        max_grad_norm=1.0,
        optim="adamw_torch",
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=device == "cpu",
        seed=0,
        dataloader_num_workers=0,
        disable_tqdm=True,
        remove_unused_columns=False,
    )
    pad = tokenizer.pad_token_id
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=items,  # type: ignore[arg-type]
        data_collator=lambda batch: collate(batch, pad),
        callbacks=[Timer()],
    )
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {
        **_rates(starts, ends),
        "peak_rss_delta": _peak_delta(base, device),
        "first_loss": losses[0],
        "last_loss": losses[-1],
        "status": "completed",
    }


def worker_tensorpeak(spec: dict[str, Any]) -> dict[str, Any]:
    """Estimate vs measured peak of live tensors for one configuration."""
    import torch

    from workbench.tuning import (
        LoRAConfig,
        PlanRequest,
        QLoRAConfig,
        TrainingConfig,
        estimate_memory,
        measure_step_peak,
    )
    from workbench.tuning.methods import method_for

    method = METHODS[spec["method"]]
    config = (QLoRAConfig if method["type"] == "qlora" else LoRAConfig).model_validate(method)
    checkpointing = bool(spec.get("gradient_checkpointing"))
    optimizer_name = spec.get("optimizer", "adamw")
    training = TrainingConfig.model_validate({"gradient_checkpointing": checkpointing})
    model = method_for(config).build(Path(spec["model"]), "cpu", training).model
    params = [p for p in model.parameters() if p.requires_grad]
    if optimizer_name == "adamw8bit":
        import bitsandbytes as bnb

        optimizer: Any = bnb.optim.AdamW8bit(params, lr=1e-4)
    else:
        optimizer = torch.optim.AdamW(params, lr=1e-4)
    batch, seq = spec["batch"], spec["seq"]
    started = time.perf_counter()
    measured = measure_step_peak(model, batch, seq, optimizer=optimizer)
    request = PlanRequest.model_validate(
        {
            "model": spec["model"],
            "bits": config.bits,
            "rank": 16,
            "seq_len": seq,
            "batch_size": batch,
            "gradient_checkpointing": checkpointing,
            "optimizer": optimizer_name,
        }
    )
    estimate = estimate_memory(request)
    return {
        "measured_bytes": measured["peak_bytes"],
        "estimate_bytes": estimate.total,
        "ratio": estimate.total / measured["peak_bytes"],
        "breakdown": estimate.to_dict()["bytes"],
        "profile_s": round(time.perf_counter() - started, 1),
    }


def worker_floor(spec: dict[str, Any]) -> dict[str, Any]:
    """Bytes per quantized parameter of 4-bit (with/without double quant) and 8-bit loads."""
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    from workbench.tuning._runtime import quiet_bitsandbytes
    from workbench.tuning.memory import quantized_weight_bytes

    quiet_bitsandbytes()
    device = spec.get("device", "cpu")
    loads = {
        "nf4+dq": BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.float32,
        ),
        "nf4": BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=False
        ),
        "int8": BitsAndBytesConfig(load_in_8bit=True),
    }
    out: dict[str, Any] = {}
    fp32 = AutoModelForCausalLM.from_pretrained(spec["model"])
    out["parameters"] = sum(p.numel() for p in fp32.parameters())
    out["fp32_footprint_bytes"] = fp32.get_memory_footprint()
    del fp32
    for name, q in loads.items():
        model = AutoModelForCausalLM.from_pretrained(spec["model"], quantization_config=q, device_map=device)
        counts = quantized_weight_bytes(model)
        n = counts["quantized_params"]
        floor = 0.5 if name.startswith("nf4") else 1.0
        rows = sum(
            m.out_features
            for m in model.modules()
            if type(getattr(m, "weight", None)).__name__ == "Int8Params"
        )
        constants = {
            "nf4+dq": (8 / 64 + 32 / (64 * 256)) / 8 * n,  # QLoRA section 3: 0.127 bits per parameter
            "nf4": 32 / 64 / 8 * n,  # one float32 absmax per block of 64
            "int8": 4 * rows,  # one float32 scale per output row
        }[name]
        measured = (counts["weight_bytes"] + counts["constant_bytes"]) / n
        out[name] = {
            **counts,
            "bytes_per_param": measured,
            "floor": floor,
            "ratio_to_floor": measured / floor,
            "floor_plus_constants": floor + constants / n,
            "ratio_to_floor_plus_constants": measured / (floor + constants / n),
            "model_footprint_bytes": model.get_memory_footprint(),
        }
        del model
    return out


WORKERS = {
    "workbench": worker_workbench,
    "trainer": worker_trainer,
    "tensorpeak": worker_tensorpeak,
    "floor": worker_floor,
}


def _run_worker(mode: str, spec: dict[str, Any], threads: int, data_dir: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "WORKBENCH_DATA_DIR": data_dir,
        "OMP_NUM_THREADS": str(threads),
        "TOKENIZERS_PARALLELISM": "false",
    }
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", mode, "--spec", json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(ROOT),
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"worker {mode} {spec} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def _big_model(cache: Path) -> Path:
    """A randomly initialised 110M-parameter Llama, built from a config (no download), cached."""
    folder = cache / "bench-llama-110m-random"
    if (folder / "config.json").is_file():
        return folder
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(**BIG, tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    )
    tmp = Path(tempfile.mkdtemp(prefix=".bench-llama-", dir=cache))
    model.save_pretrained(str(tmp), safe_serialization=True)
    from transformers import AutoTokenizer

    from workbench.models import build_tiny_model

    # The built-in tokenizer (1,536 ids) drives it: the side-by-side runs feed it the same house-format data.
    AutoTokenizer.from_pretrained(str(build_tiny_model())).save_pretrained(str(tmp))
    os.replace(tmp, folder)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="training steps per side-by-side run")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads for every run (same for both)"
    )
    parser.add_argument("--quick", action="store_true", help="skip the 110M-parameter model")
    parser.add_argument(
        "--big-steps", type=int, default=8, help="training steps per side-by-side run on the 110M model"
    )
    parser.add_argument(
        "--only", help="side-by-side rows for these models only (workbench-tiny,llama-110m,smollm2-135m)"
    )
    parser.add_argument(
        "--device", default="cpu", help="torch device kind for the side-by-side rows and weight memory (cuda, ...)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        import torch

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        print(json.dumps(WORKERS[args.worker](json.loads(args.spec)), default=float))
        return 0

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from workbench.models import build_tiny_model
    from workbench.settings import get_settings

    tiny = str(build_tiny_model())
    work = Path(tempfile.mkdtemp(prefix="wb-bench-tuning-"))
    data_dir = str(work / "wb-data")
    results: dict[str, Any] = {
        "steps": args.steps,
        "big_steps": args.big_steps,
        "threads": args.threads,
        "device": args.device,
        "side_by_side": {},
        "plan": {},
    }
    started = time.perf_counter()
    big = None
    if not args.quick and (not args.only or "llama-110m" in args.only.split(",")):
        cache = Path(get_settings().models_dir)
        cache.mkdir(parents=True, exist_ok=True)
        big = str(_big_model(cache))

    runs = [("workbench-tiny", None, args.steps)] + ([("llama-110m", big, args.big_steps)] if big else [])
    if not args.quick and (not args.only or "smollm2-135m" in args.only.split(",")):  # the default model
        from workbench.models import prepare_builtin

        runs.append(("smollm2-135m", str(prepare_builtin("smollm2-135m-instruct")), args.big_steps))
    if args.only:
        runs = [run for run in runs if run[0] in args.only.split(",")]
    for label, model, steps in runs:
        for method in METHODS:
            row: dict[str, Any] = {}
            for impl in ("workbench", "trainer"):
                spec = {"method": method, "steps": steps, "out": str(work / f"{impl}-{label}-{method}"),
                        "device": args.device}  # fmt: skip
                if model:
                    spec["model"] = model
                row[impl] = _run_worker(impl, spec, args.threads, data_dir)
            row["steps_per_s_ratio"] = row["workbench"]["steps_per_s"] / row["trainer"]["steps_per_s"]
            row["peak_rss_ratio"] = row["workbench"]["peak_rss_delta"] / row["trainer"]["peak_rss_delta"]
            results["side_by_side"][f"{label}/{method}"] = row

    plan_cases = (
        []
        if args.only
        else [(f"tiny/{m}", {"model": tiny, "method": m, "batch": 8, "seq": 64}) for m in METHODS]
    )
    if big:
        for m in METHODS:
            plan_cases.append((f"llama-110m/{m}", {"model": big, "method": m, "batch": 2, "seq": 128}))
        plan_cases.append(
            (
                "llama-110m/qlora-4bit+checkpointing+adamw8bit",
                {"model": big, "method": "qlora-4bit", "batch": 2, "seq": 128, "gradient_checkpointing": True,
                 "optimizer": "adamw8bit"},
            )
        )  # fmt: skip
        results["floor"] = _run_worker("floor", {"model": big, "device": args.device}, args.threads, data_dir)
    for name, spec in plan_cases:
        results["plan"][name] = _run_worker("tensorpeak", spec, args.threads, data_dir)
    results["seconds"] = round(time.perf_counter() - started, 1)
    shutil.rmtree(work, ignore_errors=True)

    plan_ok = all(0.75 <= r["ratio"] <= 1.25 for r in results["plan"].values())
    floor_ok = all(
        results.get("floor", {}).get(k, {}).get("ratio_to_floor_plus_constants", 1.0) <= 1.05
        for k in ("nf4+dq", "nf4", "int8")
    )
    results["ok"] = plan_ok and floor_ok
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=float) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(results, indent=2, default=float))
    else:
        _print(results)
    return 0 if results["ok"] else 1


def _print(results: dict[str, Any]) -> None:
    device = results.get("device", "cpu")
    print(
        f"side by side: {results['steps']} steps on workbench-tiny, {results['big_steps']} on the 110M Llama, "
        f"{results['threads']} thread(s), device {device}"
    )
    peak = "peak RSS" if device == "cpu" else f"peak {device}"
    print(f"{'model/method':<24} {'impl':<10} {'steps/s':>8} {peak:>10} {'loss first->last':>18}")
    for method, row in results["side_by_side"].items():
        for impl in ("workbench", "trainer"):
            r = row[impl]
            print(
                f"{method:<24} {impl:<10} {r['steps_per_s']:>8.2f} {r['peak_rss_delta'] / MIB:>7.1f} MiB "
                f"{r['first_loss']:>8.3f} -> {r['last_loss']:.3f}"
            )
        print(
            f"{'':<24} {'ratio':<10} {row['steps_per_s_ratio']:>7.2f}x {row['peak_rss_ratio']:>9.2f}x  (workbench / peer)"
        )
    print("\nplan estimate vs measured peak of live tensors (profiler)")
    for name, r in results["plan"].items():
        print(
            f"  {name:<46} estimate {r['estimate_bytes'] / MIB:>8.1f} MiB  measured "
            f"{r['measured_bytes'] / MIB:>8.1f} MiB  ratio {r['ratio']:.3f}"
        )
    floor = results.get("floor")
    if floor:
        print(f"\nweight memory of quantized linear layers, {floor['parameters']:,}-parameter Llama")
        for key in ("nf4+dq", "nf4", "int8"):
            r = floor[key]
            print(
                f"  {key:<7} {r['bytes_per_param']:.4f} B/param: {r['ratio_to_floor']:.3f}x the {r['floor']} B floor, "
                f"{r['ratio_to_floor_plus_constants']:.3f}x floor + constants ({r['floor_plus_constants']:.4f}); "
                f"whole model {r['model_footprint_bytes'] / MIB:.1f} MiB vs fp32 {floor['fp32_footprint_bytes'] / MIB:.1f} MiB"
            )
    print(
        f"\n{'ok' if results['ok'] else 'FAILED'} in {results['seconds']} s; results in {RESULTS.relative_to(ROOT)}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
