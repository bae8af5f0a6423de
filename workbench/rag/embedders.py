"""Embedders for the index: the protocol, a per-process cache, the fingerprint check, and batched chunk embedding.

An index stores which embedder built it (name, dimension, and a *fingerprint*: the first values of a fixed probe
sentence's vector). :func:`resolve_embedder` refuses to query or update an index with an embedder whose vectors
would not be comparable (:class:`EmbedderMismatchError`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from workbench.errors import ConfigError
from workbench.rag.ingest import Chunk

FINGERPRINT_TEXT = "Workbench embedder fingerprint: the quick brown fox reads the Python documentation."
#: Chunks embedded per call while building or updating an index.
EMBED_BATCH = 128


class EmbedderMismatchError(ConfigError):
    """The index was built with another embedder than the one given for querying or updating."""


@runtime_checkable
class Embedder(Protocol):
    """What the index needs from an embedder (``workbench.models.load_embedder`` returns one)."""

    name: str
    dim: int

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


_EMBEDDERS: dict[str, Embedder] = {}


def get_embedder(name: str | None = None) -> Embedder:
    """``workbench.models.load_embedder(name)``, cached per process (loading MiniLM takes seconds)."""
    from workbench.models import load_embedder
    from workbench.settings import get_settings

    key = name or get_settings().default_embedder
    if key not in _EMBEDDERS:
        _EMBEDDERS[key] = load_embedder(name)
    return _EMBEDDERS[key]


def cache_embedder(embedder: Embedder, *names: str) -> None:
    """Let :func:`get_embedder` return ``embedder`` for each of ``names`` (default: its own name).

    Code that resolves the embedder by name (the CLI, :meth:`RagIndex.load <workbench.rag.index.RagIndex.load>`)
    then reuses an embedder already loaded, e.g. by a test session.
    """
    for name in names or (embedder.name,):
        _EMBEDDERS[name] = embedder


def as_embedder(embedder: Embedder | str | None) -> Embedder:
    """``embedder`` itself, or the cached embedder of that name (``None``: the default one)."""
    return embedder if isinstance(embedder, Embedder) else get_embedder(embedder)


def fingerprint(embedder: Embedder) -> list[float]:
    """The first values of the probe sentence's vector, rounded: equal for embedders with the same weights."""
    vector = np.asarray(embedder.embed_query(FINGERPRINT_TEXT), dtype=np.float32).ravel()
    return [round(float(v), 4) for v in vector[:8]]


def resolve_embedder(embedder: Embedder | str | None, spec: dict[str, Any], folder: Path) -> Embedder:
    """The embedder to use with an index, refused unless it produces the same vectors as the one it was built with.

    Same vectors means: same dimension, and the same fingerprint (the first values of a fixed probe sentence's
    vector, stored in the manifest). An alias of the same model (``minilm`` for ``all-MiniLM-L6-v2``) passes;
    another model, or the same name with other weights, is refused. Without a stored fingerprint the names
    must match.

    Args:
        embedder: The embedder asked for (``None``: the one named in ``spec``).
        spec: The manifest's ``embedder`` entry (``name``, ``dim``, ``fingerprint``).
        folder: The index folder (named in the error).
    """
    built_with = str(spec.get("name"))
    emb = get_embedder(embedder or built_with) if embedder is None or isinstance(embedder, str) else embedder
    if int(emb.dim) != int(spec.get("dim", -1)):
        raise _mismatch(folder, f"{built_with} (dim {spec.get('dim')})", f"{emb.name} (dim {emb.dim})")
    stored = spec.get("fingerprint")
    if stored:
        if not np.allclose(np.asarray(stored), np.asarray(fingerprint(emb)), atol=2e-3):
            given = emb.name if emb.name != built_with else f"{emb.name} with different weights"
            raise _mismatch(folder, built_with, given)
    elif emb.name != built_with:
        raise _mismatch(folder, built_with, emb.name)
    return emb


def _mismatch(folder: Path, built_with: str, given: str) -> EmbedderMismatchError:
    return EmbedderMismatchError(
        f"the index was built with the embedder '{built_with}', not '{given}': their vectors are not comparable",
        file=folder / "manifest.json",
        field="embedder",
        hint=f"query with the embedder '{built_with.split(' ')[0]}', or rebuild the index with the new one",
    )


def embed_chunks(
    embedder: Embedder, chunks: Sequence[Chunk], progress: Callable[[int, int], None] | None = None
) -> np.ndarray:
    """L2-normalised float32 vectors of the chunks' indexed text, embedded in batches of :data:`EMBED_BATCH`.

    Args:
        progress: Called with ``(done, total)`` after each batch.
    """
    if not chunks:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    parts = []
    for start in range(0, len(chunks), EMBED_BATCH):
        batch = [c.indexed_text for c in chunks[start : start + EMBED_BATCH]]
        parts.append(np.asarray(embedder.embed_documents(batch), dtype=np.float32))
        if progress is not None:
            progress(min(start + EMBED_BATCH, len(chunks)), len(chunks))
    vectors = np.vstack(parts)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)
