"""Prompting fixtures: share the session's loaded tiny model with code that loads models by name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def shared_backend(tiny_model: Any) -> Iterator[Any]:
    """Make ``get_backend("workbench-tiny")`` (the CLI's and the widget's path) return the session's model.

    Loading by name works on its own (the CLI tests would pass without this); it only saves a second
    load of the same weights, which costs tens of seconds on a busy 2-core machine.
    """
    from workbench.prompting import playground

    key = (tiny_model.name, None)
    previous = playground._BACKENDS.get(key)
    playground._BACKENDS[key] = tiny_model
    yield tiny_model
    if previous is None:
        playground._BACKENDS.pop(key, None)
    else:
        playground._BACKENDS[key] = previous
