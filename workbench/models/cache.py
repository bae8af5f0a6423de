"""Built models in the model cache: each written once, atomically, safe across processes.

A built folder is complete when its manifest (a JSON file the builder writes last) is present. Builders of the
same target in several processes serialise on ``<target>.lock``; those that waited find the finished build and
return it. The folder is written under a temporary name and renamed into place, so a reader never sees a
half-written model. ``workbench-tiny`` (trained here) and ``smollm2-135m-instruct`` (converted from a wheel)
both build through :func:`atomic_build`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def is_built(path: Path, manifest: str) -> bool:
    """Whether ``path`` holds a complete build (its ``manifest`` file is written last)."""
    return (path / manifest).is_file()


def atomic_build(target: Path, builder: Callable[[Path], Any], *, manifest: str, force: bool = False) -> Path:
    """Run ``builder(tmp_dir)`` and move the result to ``target`` atomically, once across processes.

    Args:
        target: The final folder.
        builder: Writes the model into the folder it is given, ``manifest`` last.
        manifest: The file name that marks a complete build.
        force: Rebuild even when a complete build exists (the old folder is replaced atomically).

    Returns:
        ``target``.
    """
    from filelock import FileLock

    if is_built(target, manifest) and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if is_built(target, manifest) and not force:
            return target  # another process built it while we waited
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            builder(tmp)
            if not is_built(tmp, manifest):
                raise RuntimeError(f"builder did not write {manifest} into {tmp}")
            if target.exists():
                # os.replace cannot overwrite a non-empty folder: move the old one aside, then swap.
                old = target.with_name(f".{target.name}-old-{os.getpid()}")
                os.replace(target, old)
                os.replace(tmp, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return target


def write_manifest(folder: Path, name: str, model: Any, manifest: dict[str, Any]) -> dict[str, Any]:
    """Write a built model's manifest ``folder/name``: ``manifest`` plus the model's size and the runtime versions.

    Args:
        folder: The built model folder.
        name: The manifest's file name.
        model: The torch model that was saved (its parameters are counted).
        manifest: What the builder records (name, source, timings, licence...).

    Returns:
        The manifest as written.
    """
    import torch
    import transformers

    manifest = {
        **manifest,
        "parameters": sum(p.numel() for p in model.parameters()),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    (folder / name).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest
