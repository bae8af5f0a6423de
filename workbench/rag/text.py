"""The lexical side: BM25 tokenization and query-term highlighting (same rules, so highlights match scoring).

Tokens are lower-cased runs of two or more word characters (bm25s's default pattern), minus English stopwords.
Identifiers are split on ``.`` and ``_`` as well as kept whole (``json.dumps`` gives ``json``, ``dumps``;
``max_workers`` gives ``max_workers``, ``max``, ``workers``), which helps questions written in prose find
API names.
"""

from __future__ import annotations

import re
import sys
from functools import lru_cache

TOKENIZER_VERSION = "workbench-bm25-v1"
_WORD = re.compile(r"(?u)\b\w\w+\b")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """English stopwords (bm25s's list)."""
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def tokenize(text: str) -> list[str]:
    """BM25 tokens of ``text`` (interned: a corpus's token lists share one string per distinct word)."""
    stop = stopwords()
    out: list[str] = []
    for word in _WORD.findall(text.lower()):
        if word in stop:
            continue
        out.append(sys.intern(word))  # a 25 MB corpus holds ~5M tokens: separate strings would cost ~300 MB
        if "_" in word:
            out += [sys.intern(part) for part in word.split("_") if len(part) > 1 and part not in stop]
    return out


def highlight_spans(text: str, query: str) -> list[tuple[int, int]]:
    """``(start, end)`` offsets in ``text`` of words that match a query token, in order, non-overlapping."""
    terms = set(tokenize(query))
    if not terms:
        return []
    spans = []
    for match in _WORD.finditer(text):
        word = match.group(0).lower()
        if word in terms or any(part in terms for part in word.split("_") if len(part) > 1):
            spans.append((match.start(), match.end()))
    return spans


def highlight(text: str, query: str, *, before: str = "**", after: str = "**") -> str:
    """``text`` with query terms wrapped in ``before``/``after`` (Markdown bold by default)."""
    out = []
    last = 0
    for start, end in highlight_spans(text, query):
        out += [text[last:start], before, text[start:end], after]
        last = end
    out.append(text[last:])
    return "".join(out)
