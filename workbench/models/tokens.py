"""What each token id of a tokenizer adds to a text: the lookup table constrained decoders check tokens with."""

from __future__ import annotations

import contextlib
import weakref
from typing import Any

_TOKEN_TEXTS: weakref.WeakKeyDictionary[Any, list[str | None]] = weakref.WeakKeyDictionary()


def token_texts(tokenizer: Any) -> list[str | None]:
    """The text each token id adds when decoded after other text (``None`` for special tokens).

    Decoding a token alone loses SentencePiece's leading space, so each token is decoded after an anchor
    token and the anchor's text is cut off. Cached per tokenizer.
    """
    try:
        return _TOKEN_TEXTS[tokenizer]
    except (KeyError, TypeError):
        pass
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    anchor_ids = tokenizer.encode("a", add_special_tokens=False)
    anchor = anchor_ids[-1] if anchor_ids else None
    anchor_text = tokenizer.decode([anchor]) if anchor is not None else ""
    texts: list[str | None] = []
    for token_id in range(len(tokenizer)):
        if token_id in special:
            texts.append(None)
            continue
        if anchor is None:
            text = tokenizer.decode([token_id])
        else:
            text = tokenizer.decode([anchor, token_id])
            text = text[len(anchor_text) :] if text.startswith(anchor_text) else tokenizer.decode([token_id])
        texts.append(text or None)
    with contextlib.suppress(TypeError):  # not weak-referenceable: no cache
        _TOKEN_TEXTS[tokenizer] = texts
    return texts
