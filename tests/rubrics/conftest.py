"""Fixtures for the rubric tests."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture
def data_dir() -> Path:
    """``tests/data``: the rubric_* files."""
    return DATA


@pytest.fixture
def judge_model(tiny_model):  # type: ignore[no-untyped-def]
    """The session's tiny model, run on one torch thread for the test.

    Why: its matrices are tiny, and two OpenMP threads spin-waiting on a loaded 2-core machine made judge
    calls 10-20x slower than one thread (measured). The previous thread count is restored afterwards.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tiny_model
    torch.set_num_threads(before)
