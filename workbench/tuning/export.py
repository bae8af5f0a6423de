"""Using a tuned adapter: load it as a chat model, evaluate it against its base, merge it into the base.

Every loader calls :func:`~workbench.tuning.checkpoint.check_adapter_dir` first, which refuses folders holding
pickle weight files (``adapter_model.bin``, ``*.pt``...) before anything could unpickle them.

``load_model("<adapter folder>")`` works too: :class:`AdapterSource` is a model source of the runtime's
:data:`~workbench.models.MODEL_SOURCES`, registered through the same door as plugins (the ``adapter`` entry point
of the ``workbench.backends`` group in ``pyproject.toml``), so ``load_model("adapter:runs/tune/x")`` and
``load_model("runs/tune/x/adapter")`` return a :class:`~workbench.models.ChatBackend` without importing
``workbench.tuning`` first.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from workbench.tuning.checkpoint import ADAPTER_CONFIG, check_adapter_dir
from workbench.tuning.config import CONFIG_FILE, TuneConfig


def _run_config(adapter_dir: Path) -> TuneConfig | None:
    for candidate in (adapter_dir / CONFIG_FILE, adapter_dir.parent / CONFIG_FILE):
        if candidate.is_file():
            data = json.loads(candidate.read_text(encoding="utf-8"))
            return TuneConfig.from_dict(data, file=candidate)
    return None


def _base_name(adapter_dir: Path, base: str | None) -> str:
    if base:
        return base
    config = _run_config(adapter_dir)
    if config is not None:
        return config.model
    data = json.loads((adapter_dir / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    name = data.get("base_model_name_or_path")
    if not name:
        from workbench.errors import ModelLoadError

        raise ModelLoadError(
            "the adapter does not say which base model it belongs to",
            file=adapter_dir / ADAPTER_CONFIG,
            hint="pass base= (or --base) naming the model it was trained on",
        )
    return str(name)


def _default_bits(adapter_dir: Path) -> int | None:
    config = _run_config(adapter_dir)
    if config is not None and config.method.type == "qlora":
        return int(config.method.bits)
    return None


def load_adapter(
    path: str | Path,
    *,
    base: str | None = None,
    bits: int | None = None,
    device: str | None = None,
) -> tuple[Any, Any, dict[str, Any]]:
    """Load a tuned adapter onto its base model for inference.

    Args:
        path: The adapter folder (or the run folder holding ``adapter/``).
        base: Base model name or folder (default: the run's config, else ``adapter_config.json``).
        bits: Bits of the base (default: as trained: 4/8 for QLoRA, the base's own dtype for LoRA).
        device: Device kind (default: the best found).

    Returns:
        (peft model in eval mode, tokenizer, info dict with base, bits, device, quantization plan).

    Raises:
        ModelLoadError: Pickle files present, files missing, or the adapter does not fit the base.
    """
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workbench.models import plan_quantization
    from workbench.models.quantization import exact_4bit_kernels
    from workbench.tuning._runtime import quiet_bitsandbytes, resolve_model_dir

    folder = check_adapter_dir(path)
    base_name = _base_name(folder, base)
    model_dir = resolve_model_dir(base_name)
    plan = plan_quantization(bits if bits is not None else _default_bits(folder), device)
    quiet_bitsandbytes()
    kwargs = plan.to_load_kwargs()
    if plan.bits == 32 or plan.quantized:
        kwargs["dtype"] = _float32()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        model = AutoModelForCausalLM.from_pretrained(str(model_dir), use_safetensors=True, **kwargs)
        tuned = PeftModel.from_pretrained(model, str(folder), is_trainable=False)
    exact_4bit_kernels(tuned)  # the logits the adapter was trained and probed with
    tuned.eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    info = {
        "adapter": str(folder),
        "base": base_name,
        "base_path": str(model_dir),
        "bits": plan.bits,
        "quantization": plan.to_dict(),
    }
    return tuned, tokenizer, info


def _float32() -> Any:
    import torch

    return torch.float32


def load_tuned(
    path: str | Path, *, base: str | None = None, bits: int | None = None, device: str | None = None
) -> Any:
    """A tuned adapter as a :class:`~workbench.models.ChatBackend` (generate, stream, count tokens...).

    See :func:`load_adapter` for the arguments. The backend's ``name`` is ``<base>+<adapter folder name>``.
    """
    from workbench.models import plan_quantization
    from workbench.models.transformers_backend import TransformersBackend

    model, tokenizer, info = load_adapter(path, base=base, bits=bits, device=device)
    tokenizer.padding_side = "left"
    folder = Path(info["adapter"])
    run_name = folder.parent.name if folder.name == "adapter" else folder.name
    plan = plan_quantization(info["bits"], device)
    return TransformersBackend(
        model,
        tokenizer,
        name=f"{info['base']}+{run_name}",
        model_id=f"{info['base']}+{run_name}",
        source="adapter",
        path=str(folder),
        plan=plan,
    )


class AdapterSource:
    """Model source for ``load_model``: a folder holding a tuned adapter (``adapter:<folder>`` or the bare path)."""

    name = "adapter"
    syntax = "a tuned adapter folder (adapter_config.json + adapter_model.safetensors)"
    priority = 5  # before the plain-folder source, which would reject a folder without config.json

    def matches(self, spec: str) -> bool:
        path = Path(spec).expanduser()
        return path.is_dir() and (
            (path / ADAPTER_CONFIG).is_file() or (path / "adapter" / ADAPTER_CONFIG).is_file()
        )

    def load(self, spec: str, *, bits: int | str | None = None, device: Any = None, **kwargs: Any) -> Any:
        base = kwargs.pop("base", None)
        if kwargs:
            from workbench.errors import ConfigError

            raise ConfigError(
                f"the adapter model source does not take the option(s) {', '.join(sorted(kwargs))}",
                field=sorted(kwargs)[0],
                hint="options it takes: base",
            )
        return load_tuned(spec, base=base, bits=int(bits) if bits is not None else None, device=device)


def merge_adapter(
    path: str | Path, out_dir: str | Path, *, base: str | None = None, dtype: str = "float32"
) -> dict[str, Any]:
    """Merge an adapter into a full-precision copy of its base and save the merged model (safetensors).

    A QLoRA adapter is merged into the *unquantized* base: the result is a plain model that loads anywhere
    with ``load_model(out_dir)``.

    Returns:
        ``{"out_dir", "base", "dtype", "max_logit_diff"}``: the largest difference between the merged model's
        logits and the adapter-on-base logits on a probe prompt (float noise, ~1e-6 in float32).
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workbench.tuning._runtime import resolve_model_dir

    folder = check_adapter_dir(path)
    base_name = _base_name(folder, base)
    model_dir = resolve_model_dir(base_name)
    out = Path(out_dir).expanduser()
    torch_dtype = getattr(torch, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch_dtype, use_safetensors=True)
        tuned = PeftModel.from_pretrained(model, str(folder), is_trainable=False).eval()
        probe = tokenizer("How do I reset my password?", return_tensors="pt")
        with torch.no_grad():
            before = tuned(**probe).logits.float()
        merged = tuned.merge_and_unload().eval()
        with torch.no_grad():
            after = merged(**probe).logits.float()
        out.mkdir(parents=True, exist_ok=True)
        merged.save_pretrained(str(out), safe_serialization=True)
        tokenizer.save_pretrained(str(out))
    info = {
        "out_dir": str(out),
        "adapter": str(folder),
        "base": base_name,
        "dtype": dtype,
        "max_logit_diff": float((before - after).abs().max()),
    }
    (out / "workbench_merge.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return info


def evaluate_adapter(
    path: str | Path,
    *,
    data: str | Path | None = None,
    base: str | None = None,
    bits: int | None = None,
    max_examples: int = 24,
    max_new_tokens: int = 48,
    scorer: str = "house_format",
) -> dict[str, Any]:
    """Evaluate an adapter and its base on held-out examples (the run's eval file by default).

    Returns:
        ``{"base": EvalResult dict, "tuned": EvalResult dict, "delta": {...}, "data": path}``.
    """
    from workbench.tuning.data import load_examples, tokenize_examples
    from workbench.tuning.evaluate import evaluate_model

    folder = check_adapter_dir(path)
    config = _run_config(folder)
    if data is None:
        if config is None or (config.data.eval is None and config.data.train is None):
            from workbench.errors import ConfigError

            raise ConfigError("no held-out data to evaluate on", field="data", hint="pass --data FILE.jsonl")
        data = config.data.eval or config.data.train
    model, tokenizer, info = load_adapter(folder, base=base, bits=bits)
    examples = load_examples(data)
    context = int(getattr(model.config, "max_position_embeddings", 2048) or 2048)
    items, _ = tokenize_examples(examples, tokenizer, max_length=context, overlength="drop")
    kwargs: dict[str, Any] = {
        "scorer": scorer,
        "max_examples": max_examples,
        "max_new_tokens": max_new_tokens,
    }
    tuned = evaluate_model(model, tokenizer, items, **kwargs).to_dict()
    with model.disable_adapter():
        base_result = evaluate_model(model, tokenizer, items, **kwargs).to_dict()
    delta = {}
    if base_result["perplexity"] is not None and tuned["perplexity"] is not None:
        delta["perplexity"] = round(tuned["perplexity"] - base_result["perplexity"], 5)
    for key, value in tuned["scores"].items():
        if key in base_result["scores"]:
            delta[key] = round(value - base_result["scores"][key], 5)
    return {
        "data": str(data),
        "adapter": info["adapter"],
        "base": base_result,
        "tuned": tuned,
        "delta": delta,
    }
