"""Optional cross-encoder reranking.

A cross-encoder reads the question and a chunk together and scores their relevance; it is slower than the
bi-encoder but more precise, so it reorders the fused candidates. **Workbench ships no cross-encoder**: pass
a local folder holding a sentence-transformers ``CrossEncoder`` (for example ``cross-encoder/ms-marco-MiniLM-L6-v2``
downloaded where there is network), or a hub id that is already in the local Hugging Face cache.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.errors import ModelLoadError, NotFoundError

_NO_MODEL_HINT = (
    "Workbench ships no cross-encoder. Where there is network, download one, e.g. "
    "`hf download cross-encoder/ms-marco-MiniLM-L6-v2 --local-dir models/reranker`, "
    "then pass that folder (CLI: --rerank models/reranker); or leave reranking off"
)

_CACHE: dict[str, CrossEncoderReranker] = {}


class CrossEncoderReranker:
    """Scores ``(query, text)`` pairs with a sentence-transformers ``CrossEncoder``.

    Args:
        model: A loaded ``CrossEncoder``.
        name: Shown in telemetry and the widget.
        batch_size: Pairs per forward pass.
    """

    def __init__(self, model: Any, name: str, *, batch_size: int = 32) -> None:
        self.model = model
        self.name = name
        self.batch_size = batch_size

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        """Relevance of each text to ``query`` (higher is better)."""
        if not texts:
            return []
        pairs = [(query, text) for text in texts]
        scores = self.model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False)
        return [float(s) for s in (scores.tolist() if hasattr(scores, "tolist") else scores)]


def _refuse_pickles(folder: Path | None, hub_id: str) -> None:
    """Refuse pickle weights (the folder's, or the cached hub snapshot's) before sentence-transformers reads them."""
    from workbench.models import hub_snapshot, refuse_pickle_weights

    folder = folder or hub_snapshot(hub_id)
    if folder is not None:
        refuse_pickle_weights(
            folder,
            hint="use a cross-encoder saved as safetensors; convert once, where you trust the source: "
            "CrossEncoder(folder).save(folder, safe_serialization=True), then delete the pickle files",
        )


def load_reranker(name: str | Path) -> CrossEncoderReranker:
    """Load a cross-encoder from a local folder (or the local hub cache), once per process.

    Raises:
        NotFoundError: No such model here (with how to get one).
        ModelLoadError: The folder exists but is not a loadable cross-encoder, or its weights are pickles
            (refused before anything is unpickled).
    """
    key = str(name)
    if key in _CACHE:
        return _CACHE[key]
    path = Path(key).expanduser()
    local = path.is_dir()
    if not local and (path.suffix or key.startswith((".", "/", "~")) or key.count("/") != 1):
        raise NotFoundError(f"no cross-encoder model at '{key}'", field="rerank", hint=_NO_MODEL_HINT)
    if local and not (path / "config.json").is_file():
        raise ModelLoadError(
            f"'{path}' is not a model folder (no config.json)", file=path, field="rerank", hint=_NO_MODEL_HINT
        )
    _refuse_pickles(path if local else None, key)
    from sentence_transformers import CrossEncoder

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a hub id must come from the local cache, never the network
    try:
        model = CrossEncoder(str(path) if local else key, device="cpu", local_files_only=True,
                             model_kwargs={"use_safetensors": True})  # fmt: skip
    except OSError as exc:
        if local:
            raise ModelLoadError(f"cannot load the cross-encoder in '{path}': {exc}", file=path, field="rerank",
                                 hint=_NO_MODEL_HINT) from None  # fmt: skip
        raise NotFoundError(
            f"the cross-encoder '{key}' is not available offline", field="rerank", hint=_NO_MODEL_HINT
        ) from None
    except Exception as exc:  # config or weights that transformers cannot use
        raise ModelLoadError(f"cannot load the cross-encoder '{key}': {type(exc).__name__}: {exc}",
                             field="rerank", hint=_NO_MODEL_HINT) from None  # fmt: skip
    reranker = CrossEncoderReranker(model, path.name if local else key)
    _CACHE[key] = reranker
    return reranker
