"""An optional semantic cache: a new request whose redacted prompt embeds close enough to a cached one's gets
the cached answer without a model call.

Keys are *redacted* prompts (the guard's prompt check runs first, so PII never reaches the cache) embedded with
the offline MiniLM embedder; values are answers that already passed the output checks. Entries are partitioned
by copilot version and generation parameters, and only greedy requests (temperature 0) are cached: a sampled
answer is meant to vary. Streamed and JSON-mode requests always go to the model. Least recently used entries go first when ``max_entries`` is reached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class CachedAnswer:
    """What a cache hit returns."""

    text: str
    finish_reason: str
    input_tokens: int
    output_tokens: int
    similarity: float


class SemanticCache:
    """Embedding-keyed answers (see the module docstring).

    Args:
        embedder: Anything with ``embed_query(text) -> vector`` (``workbench.models.load_embedder()``).
        similarity: Cosine similarity at or above which a cached prompt counts as the same question.
        max_entries: Entries kept (least recently used dropped first).
    """

    def __init__(self, embedder: Any, *, similarity: float = 0.95, max_entries: int = 1024) -> None:
        self.embedder = embedder
        self.similarity = similarity
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[tuple[Hashable, str], tuple[np.ndarray, CachedAnswer]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def hit_rate(self) -> float:
        """Hits over lookups (0 before the first lookup)."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def __len__(self) -> int:
        return len(self._entries)

    def _vector(self, key: str) -> np.ndarray:
        vector = np.asarray(self.embedder.embed_query(key), dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def lookup(self, partition: Hashable, key: str) -> tuple[CachedAnswer | None, np.ndarray]:
        """The cached answer closest to ``key`` in ``partition`` when similar enough, and ``key``'s vector
        (pass it to :meth:`store` on a miss, to embed once)."""
        vector = self._vector(key)
        with self._lock:
            best, best_key, best_score = None, None, -1.0
            for entry_key, (stored, answer) in self._entries.items():
                if entry_key[0] != partition:
                    continue
                score = float(np.dot(stored, vector))
                if score > best_score:
                    best, best_key, best_score = answer, entry_key, score
            if best is not None and best_key is not None and best_score >= self.similarity:
                self._entries.move_to_end(best_key)
                self.hits += 1
                found = CachedAnswer(best.text, best.finish_reason, best.input_tokens, best.output_tokens,
                                     round(best_score, 6))  # fmt: skip
                return found, vector
            self.misses += 1
            return None, vector

    def store(self, partition: Hashable, key: str, vector: np.ndarray, answer: CachedAnswer) -> None:
        """Keep ``answer`` for ``key``."""
        with self._lock:
            self._entries[(partition, key)] = (vector, answer)
            self._entries.move_to_end((partition, key))
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def stats(self) -> dict[str, Any]:
        """Entries, hits, misses and hit rate."""
        return {"entries": len(self), "hits": self.hits, "misses": self.misses, "hit_rate": round(self.hit_rate, 4)}
