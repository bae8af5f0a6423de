"""Serving fixtures: a scaffolded copilot on workbench-tiny, its deployments and a live server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serving_helpers import LiveServer, make_app


@pytest.fixture
def served_spec(copilot_template: Path, tmp_path: Path) -> Path:
    """A private copy of the scaffolded copilot folder on workbench-tiny (see tests/conftest.py)."""
    return Path(shutil.copytree(copilot_template, tmp_path / "it-helpdesk"))


@pytest.fixture
def server(served_spec: Path, tiny_model: Any) -> Iterator[LiveServer]:
    """A live server of the copilot, no API key (loopback)."""
    with LiveServer(make_app(served_spec, tiny_model)) as live:
        yield live


@pytest.fixture
def keyed_server(served_spec: Path, tiny_model: Any) -> Iterator[LiveServer]:
    """A live server that takes the key ``team=s3cret``."""
    with LiveServer(make_app(served_spec, tiny_model, api_keys=("team=s3cret",))) as live:
        yield live
