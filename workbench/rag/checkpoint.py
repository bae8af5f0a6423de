"""Embedding checkpoints: the vectors of a long indexing run, kept as it goes so an interrupted run resumes.

While :meth:`RagIndex.build <workbench.rag.index.RagIndex.build>` (or ``add``) embeds chunks for an index folder
``DIR``, each finished group of vectors is written to ``.DIR.embedding/`` next to it (beside the write lock
``.DIR.lock``): one ``part-*.npz`` per group, holding the sha256 of each chunk's indexed text and its vector,
written to a temporary name and renamed, so a killed run leaves whole parts only. The next run over the same
folder reuses every vector whose text it finds there and embeds the rest; a successful save removes the
checkpoint. ``identity.json`` names the embedder, variant, dimension and fingerprint: a checkpoint written by
another embedder is discarded rather than mixed in.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1


def checkpoint_folder(index_folder: str | Path) -> Path:
    """Where the checkpoint of the index folder ``index_folder`` lives: ``.<name>.embedding`` beside it."""
    folder = Path(index_folder).expanduser().resolve()
    return folder.parent / f".{folder.name}.embedding"


def text_key(text: str) -> str:
    """The checkpoint's key for a chunk: the sha256 of its indexed text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCheckpoint:
    """The vectors embedded so far for one index folder, by text key.

    Args:
        folder: The checkpoint folder (:func:`checkpoint_folder`).
        identity: What embedded them: ``embedder``, ``variant``, ``dim``, ``fingerprint``.
    """

    def __init__(self, folder: Path, identity: dict[str, Any]) -> None:
        self.folder = folder
        self.identity = {"format": CHECKPOINT_FORMAT, **identity}

    @classmethod
    def for_index(cls, index_folder: str | Path, identity: dict[str, Any]) -> EmbeddingCheckpoint:
        """The checkpoint of ``index_folder`` for the embedder described by ``identity``."""
        return cls(checkpoint_folder(index_folder), identity)

    def load(self) -> dict[str, np.ndarray]:
        """The kept vectors by text key (empty when there is no checkpoint or another embedder wrote it)."""
        if not (self.folder / "identity.json").is_file():
            return {}
        if not self._same_identity():
            log.info("discarding the embedding checkpoint %s: another embedder wrote it", self.folder)
            self.clear()
            return {}
        kept: dict[str, np.ndarray] = {}
        for part in sorted(self.folder.glob("part-*.npz")):
            try:
                with np.load(part, allow_pickle=False) as data:
                    keys, vectors = data["keys"], data["vectors"]
            except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:  # skip it: re-embedding is safe
                log.warning("ignoring an unreadable checkpoint part %s: %s", part, exc)
                continue
            if vectors.ndim == 2 and vectors.shape[1] == self.identity.get("dim") and len(keys) == len(vectors):
                kept.update(zip((str(k) for k in keys), vectors.astype(np.float32), strict=True))
        return kept

    def save(self, keys: list[str], vectors: np.ndarray) -> None:
        """Add a group of vectors (one part file, written atomically)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        identity = self.folder / "identity.json"
        if not identity.is_file():
            _write_atomic(identity, json.dumps(self.identity, indent=2).encode("utf-8"))
        part = self.folder / f"part-{uuid.uuid4().hex}.npz"
        tmp = part.with_name(f".{part.stem}.tmp.npz")
        with tmp.open("wb") as handle:
            np.savez(handle, keys=np.asarray(keys, dtype="U64"), vectors=np.asarray(vectors, dtype=np.float32))
        os.replace(tmp, part)

    def clear(self) -> None:
        """Remove the checkpoint."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def _same_identity(self) -> bool:
        try:
            stored = json.loads((self.folder / "identity.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        mine = self.identity
        if not isinstance(stored, dict) or any(
            stored.get(k) != mine.get(k) for k in ("format", "embedder", "variant", "dim")
        ):
            return False
        old, new = stored.get("fingerprint"), mine.get("fingerprint")
        return (old is None and new is None) or (
            old is not None and new is not None and np.allclose(old, new, atol=2e-3)
        )


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
