"""Checkpoints and adapters on disk: safetensors and JSON only, written atomically, never unpickled.

A checkpoint is a folder ``<output>/checkpoints/step-0000020/`` holding:

- ``adapter_model.safetensors`` + ``adapter_config.json``: the adapter (peft's own format);
- ``optimizer.safetensors`` + ``optimizer.json``: optimizer state tensors, and its scalars and param groups;
- ``rng.safetensors``: torch random states (dropout), so a resumed run continues the same stream;
- ``tune_config.json``: the run's config;
- ``trainer_state.json``: step, data position, loss history, early-stopping state. Written last: a folder
  without it is incomplete and ignored.

The folder is written under a temporary name and renamed into place, so a crash mid-save leaves the previous
checkpoint intact. Nothing here calls ``torch.load``: pickle files can run code when loaded (see
:func:`check_adapter_dir`).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from workbench.errors import ModelLoadError

CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"


def checkpoint_name(step: int) -> str:
    """The folder name of the checkpoint after ``step`` optimizer steps."""
    return f"step-{step:07d}"


def list_checkpoints(output_dir: Path) -> list[Path]:
    """Complete checkpoints in ``output_dir``, oldest first."""
    root = Path(output_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [
        p for p in root.iterdir() if p.is_dir() and p.name.startswith("step-") and (p / STATE_FILE).is_file()
    ]
    return sorted(found, key=lambda p: p.name)


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The newest complete checkpoint, or ``None``."""
    found = list_checkpoints(output_dir)
    return found[-1] if found else None


def save_adapter(model: Any, out_dir: Path) -> list[str]:
    """Save the peft adapter as safetensors (+ config) into ``out_dir``; returns the file names written."""
    import warnings

    out_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save_pretrained(str(out_dir), safe_serialization=True)
    return sorted(p.name for p in out_dir.iterdir() if p.is_file())


def _split_state(state_dict: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    import torch

    tensors: dict[str, Any] = {}
    meta: dict[str, Any] = {"param_groups": state_dict.get("param_groups", []), "state": {}}
    for index, entry in state_dict.get("state", {}).items():
        scalars: dict[str, Any] = {}
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value.detach().cpu().clone().contiguous()
            else:
                scalars[key] = value
        meta["state"][str(index)] = scalars
    return tensors, meta


def save_optimizer(optimizer: Any, out_dir: Path) -> None:
    """Write the optimizer's state as ``optimizer.safetensors`` + ``optimizer.json``."""
    from safetensors.torch import save_file

    tensors, meta = _split_state(optimizer.state_dict())
    save_file(tensors, str(out_dir / "optimizer.safetensors"))
    (out_dir / "optimizer.json").write_text(json.dumps(meta, default=_json_default), encoding="utf-8")


def load_optimizer(optimizer: Any, ckpt_dir: Path, device: str = "cpu") -> None:
    """Restore optimizer state written by :func:`save_optimizer`."""
    from safetensors.torch import load_file

    meta = json.loads((ckpt_dir / "optimizer.json").read_text(encoding="utf-8"))
    tensors = load_file(str(ckpt_dir / "optimizer.safetensors"), device=device)
    state: dict[int, dict[str, Any]] = {int(k): dict(v) for k, v in meta["state"].items()}
    for key, tensor in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = tensor
    groups = meta["param_groups"]
    for group in groups:  # JSON turned tuples into lists; torch optimizers expect tuples for betas
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def _json_default(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def save_rng(out_dir: Path) -> None:
    """Save torch's random states (CPU, and the accelerator's when there is one)."""
    import torch
    from safetensors.torch import save_file

    states = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            states[f"cuda.{i}"] = s
    save_file(states, str(out_dir / "rng.safetensors"))


def load_rng(ckpt_dir: Path) -> None:
    """Restore what :func:`save_rng` saved (missing file: no-op)."""
    import torch
    from safetensors.torch import load_file

    path = ckpt_dir / "rng.safetensors"
    if not path.is_file():
        return
    states = load_file(str(path))
    torch.set_rng_state(states["cpu"])
    cuda = [states[k] for k in sorted(states) if k.startswith("cuda.")]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


def save_checkpoint(
    output_dir: Path,
    step: int,
    *,
    model: Any,
    optimizer: Any,
    trainer_state: dict[str, Any],
    config_json: dict[str, Any],
    keep: int,
    protect: Path | None = None,
) -> Path:
    """Write a complete checkpoint atomically and prune old ones (keeping ``keep`` and ``protect``)."""
    root = Path(output_dir) / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    final = root / checkpoint_name(step)
    tmp = root / f".{final.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        save_adapter(model, tmp)
        save_optimizer(optimizer, tmp)
        save_rng(tmp)
        (tmp / "tune_config.json").write_text(
            json.dumps(config_json, indent=2, default=str), encoding="utf-8"
        )
        (tmp / STATE_FILE).write_text(
            json.dumps(trainer_state, indent=2, default=_json_default), encoding="utf-8"
        )
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    for old in list_checkpoints(output_dir)[:-keep]:
        if protect is None or old.resolve() != Path(protect).resolve():
            shutil.rmtree(old, ignore_errors=True)
    return final


def read_trainer_state(ckpt_dir: Path) -> dict[str, Any]:
    """The ``trainer_state.json`` of a checkpoint."""
    return json.loads((Path(ckpt_dir) / STATE_FILE).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def check_adapter_dir(path: str | Path) -> Path:
    """Check that ``path`` holds a safetensors adapter and no pickle files, before anything is loaded.

    Raises:
        NotFoundError: The folder does not exist.
        ModelLoadError: It holds a pickle weight file (``adapter_model.bin``, ``*.pt``...), or no
            ``adapter_model.safetensors`` / ``adapter_config.json``.
    """
    from workbench.errors import NotFoundError
    from workbench.models import refuse_pickle_weights

    folder = Path(path).expanduser()
    if folder.is_dir() and (folder / "adapter").is_dir() and not (folder / ADAPTER_CONFIG).exists():
        folder = folder / "adapter"  # a run's output folder
    if not folder.is_dir():
        raise NotFoundError(f"adapter folder '{folder}' does not exist", file=folder, hint="check the path")
    # The shared check, strict: Workbench writes adapters itself, so any pickle file here is refused.
    refuse_pickle_weights(
        folder,
        strict=True,
        hint="only safetensors adapters are loaded; convert it where you trust the source "
        "(load it there and save_pretrained(..., safe_serialization=True)) and delete the pickle file",
    )
    if not (folder / ADAPTER_WEIGHTS).is_file():
        raise ModelLoadError(
            f"no {ADAPTER_WEIGHTS} in '{folder}'",
            file=folder,
            hint="point at a folder written by 'workbench tune run' or peft's save_pretrained",
        )
    if not (folder / ADAPTER_CONFIG).is_file():
        raise ModelLoadError(
            f"no {ADAPTER_CONFIG} in '{folder}'", file=folder, hint="the adapter folder is incomplete"
        )
    try:
        json.loads((folder / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ModelLoadError(
            f"{ADAPTER_CONFIG} is not valid JSON: {exc}",
            file=folder / ADAPTER_CONFIG,
            hint="re-export the adapter",
        ) from None
    return folder


def load_adapter_weights(model: Any, ckpt_dir: Path) -> None:
    """Load safetensors adapter weights into a peft model (after :func:`check_adapter_dir`)."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    folder = check_adapter_dir(ckpt_dir)
    device = (
        next(p.device for p in model.parameters() if p.requires_grad)
        if any(p.requires_grad for p in model.parameters())
        else "cpu"
    )
    state = load_file(str(folder / ADAPTER_WEIGHTS), device=str(device))
    result = set_peft_model_state_dict(model, state)
    unexpected = getattr(result, "unexpected_keys", None)
    if unexpected:
        raise ModelLoadError(
            f"the adapter in '{folder}' does not match this model ({len(unexpected)} unexpected keys, e.g. "
            f"{unexpected[0]})",
            file=folder,
            hint="load it with the base model and targets it was trained with",
        )
