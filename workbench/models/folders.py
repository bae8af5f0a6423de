"""Checks on model folders before anything is loaded from them: safetensors only, complete, with a tokenizer.

Loading a pickle (``.bin``, ``.pt``...) can run arbitrary code, so Workbench loads weights from safetensors
only. :func:`refuse_pickle_weights` is the one check every loader of weights uses (models, adapters, tuning bases,
embedders, rerankers); :func:`validate_model_folder` adds the causal-LM folder checks on top.
"""

from __future__ import annotations

import json
from pathlib import Path

from workbench.errors import ModelLoadError

#: Weight files that are Python pickles (refused).
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
#: Tokenizer files, any one of which makes a folder loadable.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "spiece.model")


def pickle_files(folder: Path) -> list[Path]:
    """The pickle weight files directly in ``folder`` (sorted)."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES and p.is_file())


def _module_folders(folder: Path) -> list[Path]:
    """``folder`` and the module sub-folders a sentence-transformers ``modules.json`` names (``2_Dense``...).

    sentence-transformers loads each module's own weights from its sub-folder (a ``Dense`` layer from
    ``2_Dense/pytorch_model.bin`` when it has no safetensors), so those folders are checked too.
    """
    folders = [folder]
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return folders
    for module in modules if isinstance(modules, list) else []:
        sub = module.get("path") if isinstance(module, dict) else None
        if isinstance(sub, str) and sub and (folder / sub).is_dir():
            folders.append(folder / sub)
    return folders


def refuse_pickle_weights(
    folder: str | Path,
    *,
    strict: bool = False,
    hint: str = "convert once, in a trusted environment: AutoModelForCausalLM.from_pretrained(folder)"
    ".save_pretrained(folder, safe_serialization=True)",
) -> None:
    """Refuse a folder whose weights are pickles, before any loader could unpickle them.

    The one check every loader of weights calls: models, adapters, tuning bases, embedders and rerankers. By
    default a folder passes when it holds ``*.safetensors`` (the loaders ask for safetensors explicitly, so a
    pickle next to them is never read); ``strict`` refuses any pickle file at all (adapter folders, which
    Workbench writes itself). The module sub-folders of a sentence-transformers model are checked the same way.

    Raises:
        ModelLoadError: Pickle weights found; the message names the files, ``file`` is the first of them.
    """
    for checked in _module_folders(Path(folder)):
        if not checked.is_dir():
            continue
        pickles = pickle_files(checked)
        if not pickles or (not strict and any(checked.glob("*.safetensors"))):
            continue
        names = ", ".join(p.name for p in pickles)
        why = (
            f"pickle weight files ({names}) can run arbitrary code when loaded"
            if strict
            else f"the weights are only in pickle files ({names}), and unpickling a file can run arbitrary code"
        )
        raise ModelLoadError(
            f"refusing to load '{pickles[0].name}': {why}; Workbench loads safetensors only",
            file=pickles[0],
            hint=hint,
        )


def validate_model_folder(path: Path) -> None:
    """Check a Hugging Face model folder before loading it, naming the file at fault.

    Raises:
        ModelLoadError: No or unreadable ``config.json``; no weights; pickle-only weights; a safetensors file
            or shard index that is corrupt or incomplete; no tokenizer files.
    """
    hint_folder = (
        "point to a folder written by save_pretrained(), with config.json, *.safetensors and tokenizer files"
    )
    config = path / "config.json"
    if not config.is_file():
        raise ModelLoadError(
            "this folder is not a Hugging Face model: it has no config.json", file=path, hint=hint_folder
        )
    try:
        json.loads(config.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelLoadError(
            f"config.json is not valid JSON: {exc.msg}",
            file=config,
            line=exc.lineno,
            hint="repair or re-export the file",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(
            f"config.json cannot be read: {exc}", file=config, hint="re-export the model"
        ) from None

    safetensors = sorted(path.glob("*.safetensors"))
    index = path / "model.safetensors.index.json"
    if not safetensors and not index.is_file():
        refuse_pickle_weights(path)
        raise ModelLoadError("the folder has no weights (*.safetensors)", file=path, hint=hint_folder)

    if index.is_file():
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (ValueError, KeyError, TypeError, OSError) as exc:
            raise ModelLoadError(
                f"the shard index is unreadable: {exc}", file=index, hint="re-export the model"
            ) from None
        missing = sorted(s for s in shards if not (path / s).is_file())
        if missing:
            raise ModelLoadError(
                f"the shard index lists missing files: {', '.join(missing)}",
                file=path / missing[0],
                hint="the download or copy is incomplete; copy the missing shards",
            )
        safetensors = [path / s for s in sorted(shards)]

    from safetensors import safe_open

    for file in safetensors:
        try:
            with safe_open(str(file), framework="pt") as handle:
                handle.keys()
        except Exception as exc:
            raise ModelLoadError(
                f"the weights file is corrupt or truncated ({type(exc).__name__}: {exc})",
                file=file,
                hint="the file is damaged; download or export it again",
            ) from None

    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        raise ModelLoadError(
            "the folder has no tokenizer (tokenizer.json, tokenizer.model or vocab files)",
            file=path,
            hint="save the tokenizer next to the model: tokenizer.save_pretrained(folder)",
        )
