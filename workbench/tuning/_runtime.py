"""The tuning module's one door to the model runtime (``workbench.models``): model folders, devices, quantization.

Keeping these calls in one file means the trainer, the plan and the exporters agree on what a model name means,
which device is used and whether bitsandbytes can run there.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from workbench.errors import ModelNotFoundError, OfflineError
from workbench.models.quiet import quiet_libraries

__all__ = ["quiet_libraries"]  # the trainer's door to routing library noise to the log


def quiet_bitsandbytes() -> None:
    """Silence bitsandbytes' harmless "kernels-community" and "MatMul8bitLt cast" messages."""
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)


def resolve_model_dir(name: str) -> Path:
    """The local folder of a model: a built-in model (``smollm2-135m-instruct``, ``workbench-tiny``), a folder,
    or a hub id already in the cache; its weights must be safetensors.

    Raises:
        ModelNotFoundError: Nothing local matches ``name`` (or a built-in model's wheel is missing).
        OfflineError: ``name`` looks like a hub id that is not cached (nothing is downloaded).
        ModelLoadError: The folder's weights are pickles (refused before anything loads them).
    """
    from workbench.models import prepare_builtin, refuse_pickle_weights

    built = prepare_builtin(name)
    if built is not None:
        return Path(built)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(
                f"'{path}' is a folder but holds no config.json",
                file=path,
                hint="point at a Hugging Face model folder (config.json + weights)",
            )
        refuse_pickle_weights(path)
        return path.resolve()
    if name.count("/") == 1 and not name.startswith((".", "/")):
        try:
            from huggingface_hub import snapshot_download

            snapshot = Path(snapshot_download(name, local_files_only=True))
        except Exception:
            raise OfflineError(
                f"model '{name}' is not in the local Hugging Face cache and nothing is downloaded here",
                field="model",
                hint=f"download it where you have network access (huggingface-cli download {name}) or use "
                "workbench-tiny or a local folder",
            ) from None
        refuse_pickle_weights(snapshot)
        return snapshot
    raise ModelNotFoundError(
        f"unknown model '{name}'",
        field="model",
        hint="use workbench-tiny, a local Hugging Face folder, or a cached hub id (org/name)",
    )


def _device_obj(kind: str | None) -> Any:
    from workbench.models import detect_device

    return detect_device(kind)


def device_summary(kind: str | None = None) -> tuple[str, str, int | None]:
    """(kind, name, free bytes) of the training device (``kind`` forces one; ``None``: the best found)."""
    info = _device_obj(kind)
    free = info.free_memory
    if free is None and info.kind == "cpu":
        import psutil

        free = int(psutil.virtual_memory().available)
    return info.kind, info.name, free


def torch_device(kind: str | None = None) -> str:
    """The torch device string of a device kind (``cuda:0`` for ROCm too, ``cpu``...)."""
    return str(_device_obj(kind).torch_device)


def quantization_support(kind: str | None) -> tuple[bool, str]:
    """Whether bitsandbytes 4/8-bit runs on the device (the runtime's quantization plan), and why not."""
    from workbench.models import plan_quantization

    with quiet_libraries(transformers=False):  # importing bitsandbytes logs kernel-loading lines
        plan = plan_quantization(4, kind)
    return bool(plan.quantized), plan.fallback_reason or ""


def quantization_kwargs(config: Any, device: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``from_pretrained`` kwargs that load a base in ``config.bits`` bits on ``device``, and a JSON summary.

    Starts from the runtime's quantization plan (device placement, backend) and applies the QLoRA config's
    choices (quant type, double quantization, compute dtype) on top.
    """
    import torch
    from transformers import BitsAndBytesConfig

    from workbench.models import plan_quantization

    plan = plan_quantization(config.bits, device)
    kwargs = plan.to_load_kwargs()
    compute = getattr(torch, config.compute_dtype)
    if config.bits == 4:
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=config.quant_type,
            bnb_4bit_use_double_quant=config.double_quant,
            bnb_4bit_compute_dtype=compute,
        )
    else:
        kwargs["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)
    # Unquantized layers load in the compute dtype; prepare_model_for_kbit_training upcasts them to float32.
    kwargs["dtype"] = compute
    summary = {
        "backend": "bitsandbytes",
        "bits": config.bits,
        "method": plan.method if config.bits == 8 else f"bnb-{config.quant_type}",
        "quant_type": config.quant_type if config.bits == 4 else "int8",
        "double_quant": config.double_quant if config.bits == 4 else False,
        "compute_dtype": config.compute_dtype,
        "device": plan.device.torch_device,
        "runtime_plan": plan.describe(),
    }
    return kwargs, summary
