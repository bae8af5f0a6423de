"""Fixtures of the model runtime tests: a fake OpenAI-compatible HTTP server (a fake at the network edge),
a closed port, and a private copy of the built-in model to damage."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_openai import FakeOpenAIServer, start_server

# --- a fake OpenAI-compatible server (tests/fake_openai.py) ------------------------------------------------


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    """A running fake OpenAI-compatible server (no API key required)."""
    server, info = start_server()
    yield info
    server.shutdown()
    server.server_close()


@pytest.fixture
def openai_server_with_key() -> Iterator[FakeOpenAIServer]:
    """A running fake server that demands the API key ``sk-test``."""
    server, info = start_server(api_key="sk-test")
    yield info
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port() -> int:
    """A localhost port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def model_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the built-in model's folder, free to damage."""
    import shutil

    target = tmp_path / "model-copy"
    shutil.copytree(tiny_model_dir, target)
    return target
