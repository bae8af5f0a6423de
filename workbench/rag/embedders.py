"""Embedders for the index: the protocol, a per-process cache, the fingerprint check, and chunk embedding.

An index stores which embedder built it (name, dimension, *variant*, and a *fingerprint*: the first values of a
fixed probe sentence's vector). :func:`resolve_embedder` refuses to query or update an index with an embedder
whose vectors would not be comparable (:class:`EmbedderMismatchError`), another variant of the same model
included. :func:`embed_chunks` embeds long jobs longest-first in groups, reporting progress and keeping each
finished group in an :class:`~workbench.rag.checkpoint.EmbeddingCheckpoint` when given one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from workbench.errors import ConfigError
from workbench.rag.checkpoint import EmbeddingCheckpoint, text_key
from workbench.rag.ingest import Chunk

FINGERPRINT_TEXT = "Workbench embedder fingerprint: the quick brown fox reads the Python documentation."
#: Chunks embedded per group while building or updating an index (a progress step and a checkpoint part).
EMBED_BATCH = 128
#: The variant recorded for an index built before variants were recorded (they were all built this way).
LEGACY_VARIANT = "torch-fp32"


class EmbedderMismatchError(ConfigError):
    """The index was built with another embedder than the one given for querying or updating."""


@runtime_checkable
class Embedder(Protocol):
    """What the index needs from an embedder (``workbench.models.load_embedder`` returns one)."""

    name: str
    dim: int

    # Optional: ``variant`` (a str) names how it runs (``workbench.models.EMBEDDING_VARIANTS``); read with
    # :func:`variant_of`, so embedders without one still satisfy the protocol.

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


_EMBEDDERS: dict[tuple[str, str | None], Embedder] = {}


def variant_of(embedder: Embedder) -> str | None:
    """The embedder's variant name, or ``None`` for an embedder that does not say."""
    value = getattr(embedder, "variant", None)
    return value if isinstance(value, str) else None


def concrete_variant(variant: str | None) -> str:
    """The variant ``variant`` means here (``None``/``auto``: the default for this machine's device)."""
    from workbench.models.devices import detect_device
    from workbench.models.embedding_variants import get_variant, resolve_variant

    if variant is not None and variant.strip().lower() != "auto":
        return get_variant(variant).name  # no device probe for a named variant
    return resolve_variant(variant, accelerator=detect_device().is_accelerator).name


def get_embedder(name: str | None = None, variant: str | None = None) -> Embedder:
    """``workbench.models.load_embedder(name, variant=...)``, cached per process (loading takes seconds).

    Args:
        name: The model (default: ``settings.default_embedder``).
        variant: How it runs (default: ``settings.embedding_variant``, ``auto``).
    """
    from workbench.models import load_embedder
    from workbench.settings import get_settings

    key = (name or get_settings().default_embedder, concrete_variant(variant))
    if key not in _EMBEDDERS:
        _EMBEDDERS[key] = load_embedder(key[0], variant=key[1])
    return _EMBEDDERS[key]


def cache_embedder(embedder: Embedder, *names: str) -> None:
    """Let :func:`get_embedder` return ``embedder`` for each of ``names`` (default: its own name) and its variant.

    Code that resolves the embedder by name (the CLI, :meth:`RagIndex.load <workbench.rag.index.RagIndex.load>`)
    then reuses an embedder already loaded, e.g. by a test session.
    """
    for name in names or (embedder.name,):
        _EMBEDDERS[(name, variant_of(embedder))] = embedder


def as_embedder(embedder: Embedder | str | None, variant: str | None = None) -> Embedder:
    """``embedder`` itself, or the cached embedder of that name and variant (``None``: the defaults)."""
    return embedder if isinstance(embedder, Embedder) else get_embedder(embedder, variant)


def describe(embedder: Embedder, fingerprint_: list[float] | None) -> dict[str, Any]:
    """The manifest's ``embedder`` entry: ``name``, ``dim``, ``variant``, ``fingerprint``."""
    return {
        "name": embedder.name,
        "dim": int(embedder.dim),
        "variant": variant_of(embedder),
        "fingerprint": fingerprint_,
    }


def recorded_variant(spec: dict[str, Any]) -> str | None:
    """The variant an index's ``embedder`` entry records (:data:`LEGACY_VARIANT` when it predates variants)."""
    return spec.get("variant", LEGACY_VARIANT)  # a present null means an embedder without variants


def fingerprint(embedder: Embedder) -> list[float]:
    """The first values of the probe sentence's vector, rounded: equal for embedders with the same weights."""
    vector = np.asarray(embedder.embed_query(FINGERPRINT_TEXT), dtype=np.float32).ravel()
    return [round(float(v), 4) for v in vector[:8]]


def resolve_embedder(
    embedder: Embedder | str | None, spec: dict[str, Any], folder: Path, variant: str | None = None
) -> Embedder:
    """The embedder to use with an index, refused unless it produces the same vectors as the one it was built with.

    Same vectors means: the same variant (when both sides name one), the same dimension, and the same
    fingerprint (the first values of a fixed probe sentence's vector, stored in the manifest). An alias of the
    same model (``minilm`` for ``all-MiniLM-L6-v2``) passes; another model, another variant of it, or the same
    name with other weights is refused. Without a stored fingerprint the names must match.

    Args:
        embedder: The embedder asked for (``None``: the one named in ``spec``).
        spec: The manifest's ``embedder`` entry (``name``, ``dim``, ``variant``, ``fingerprint``).
        folder: The index folder (named in the error).
        variant: The variant asked for (``None`` or ``auto``: the index's own).
    """
    built_with = str(spec.get("name"))
    stored = recorded_variant(spec)
    asked = None if variant is None or variant.strip().lower() == "auto" else concrete_variant(variant)
    if asked is not None and stored is not None and asked != stored:
        raise _variant_mismatch(folder, built_with, stored, asked)  # refused before loading anything
    if embedder is None or isinstance(embedder, str):
        emb = get_embedder(embedder or built_with, asked or stored)
    else:
        emb = embedder
    given = variant_of(emb)
    if stored is not None and given is not None and given != stored:
        raise _variant_mismatch(folder, built_with, stored, given)
    if int(emb.dim) != int(spec.get("dim", -1)):
        raise _mismatch(folder, f"{built_with} (dim {spec.get('dim')})", f"{emb.name} (dim {emb.dim})")
    recorded = spec.get("fingerprint")
    if recorded:
        if not np.allclose(np.asarray(recorded), np.asarray(fingerprint(emb)), atol=2e-3):
            other = emb.name if emb.name != built_with else f"{emb.name} with different weights"
            raise _mismatch(folder, built_with, other)
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


def _variant_mismatch(folder: Path, name: str, built: str, given: str) -> EmbedderMismatchError:
    return EmbedderMismatchError(
        f"the index was built with the embedder '{name}' in the variant '{built}', not '{given}': "
        "their vectors are not comparable",
        file=folder / "manifest.json",
        field="embedder.variant",
        hint=f"query without choosing a variant (the index's own, {built}, is used), "
        f"or rebuild the index with --variant {given}",
    )


def embed_chunks(
    embedder: Embedder,
    chunks: Sequence[Chunk],
    progress: Callable[[int, int], None] | None = None,
    checkpoint: EmbeddingCheckpoint | None = None,
) -> np.ndarray:
    """L2-normalised float32 vectors of the chunks' indexed text, in the chunks' order.

    Chunks whose vectors ``checkpoint`` kept are not embedded again. The others are embedded longest first in
    groups of :data:`EMBED_BATCH` (texts of similar length batch with little padding, and the ETA starts
    pessimistic rather than optimistic); each finished group is added to ``checkpoint``.

    Args:
        progress: Called with ``(done, total)`` before the first group (``done``: the chunks the checkpoint
            kept) and after each group.
        checkpoint: Where finished groups are kept, so an interrupted run resumes (``None``: nowhere).
    """
    vectors = np.zeros((len(chunks), embedder.dim), dtype=np.float32)
    if not chunks:
        return vectors
    texts = [c.indexed_text for c in chunks]
    keys = [text_key(t) for t in texts]
    kept = checkpoint.load() if checkpoint is not None else {}
    todo: list[int] = []
    for row, key in enumerate(keys):
        hit = kept.get(key)
        if hit is not None:
            vectors[row] = hit
        else:
            todo.append(row)
    done = len(chunks) - len(todo)
    if progress is not None:
        progress(done, len(chunks))
    todo.sort(key=lambda row: -len(texts[row]))
    for start in range(0, len(todo), EMBED_BATCH):
        rows = todo[start : start + EMBED_BATCH]
        part = np.asarray(embedder.embed_documents([texts[r] for r in rows]), dtype=np.float32)
        vectors[rows] = part
        if checkpoint is not None:
            checkpoint.save([keys[r] for r in rows], part)
        done += len(rows)
        if progress is not None:
            progress(done, len(chunks))
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)
