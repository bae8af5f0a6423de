"""Shared fixtures for the fine-tuning tests: the shipped house-format set, small configs, one thread.

Training the built-in model uses one torch thread here: on a small model two threads only wait on each other,
and on a busy 2-core machine that waiting makes steps ten times slower.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tuning_helpers import HOUSE, small_config


@pytest.fixture(autouse=True, scope="package")
def _one_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def house_dir() -> Path:
    """The shipped fine-tuning set and its example configs."""
    return HOUSE


@pytest.fixture
def make_config(tmp_path: Path, tiny_model_dir: Path) -> Callable[..., Any]:
    """``make_config("lora", **dotted_changes)`` -> a small TuneConfig writing under tmp_path."""

    def make(name: str = "lora", *, out: Path | None = None, **changes: Any) -> Any:
        return small_config(name, out or tmp_path / f"run-{name}", **changes)

    return make
