"""A crafted pickle for the "never unpickle" tests: a payload that proves code ran, and a trap on ``torch.load``.

Shared by the RAG (embedders, rerankers) and tuning (adapters) safety tests.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest


class Payload:
    """Unpickling this writes a marker file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.marker, "unpickled: arbitrary code ran"))


def evil_pickle(key: str, marker: Path) -> bytes:
    """A pickled ``{key: Payload(marker)}``, shaped like a state dict of weights."""
    return pickle.dumps({key: Payload(marker)})


def trap_torch_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``torch.load`` fail the test, whatever torch's own safe-load default would have done."""
    import torch

    def trap(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("torch.load was called on an untrusted file")

    monkeypatch.setattr(torch, "load", trap)
