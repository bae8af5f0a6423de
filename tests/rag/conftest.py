"""Shared RAG fixtures: the real offline MiniLM embedder (loaded once), small document folders and indexes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rag_helpers import SMALL, write_corpus


@pytest.fixture(scope="session")
def embedder() -> Any:
    """The default embedder (offline MiniLM), loaded once and seeded into workbench.rag's cache.

    Seeding the cache lets code paths that resolve the embedder by name (the CLI, ``RagIndex.load``) reuse it.
    """
    from workbench.models import load_embedder
    from workbench.rag import cache_embedder
    from workbench.settings import DEFAULT_EMBEDDER

    emb = load_embedder()
    cache_embedder(emb, *dict.fromkeys([emb.name, DEFAULT_EMBEDDER]))
    return emb


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A fresh copy of the small corpus."""
    return write_corpus(tmp_path / "corpus")


@pytest.fixture(scope="session")
def built_index(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Path:
    """A saved index of the small corpus (read-only: copy it with ``index_copy`` to change it)."""
    from workbench.rag import RagIndex

    base = tmp_path_factory.mktemp("rag")
    src = write_corpus(base / "corpus")
    RagIndex.build(src, out=base / "index", chunking=SMALL, embedder=embedder)
    return base / "index"


@pytest.fixture
def index_copy(built_index: Path, tmp_path: Path) -> Iterator[Path]:
    """A private copy of ``built_index`` (its manifest still points at the session corpus)."""
    target = tmp_path / "index"
    shutil.copytree(built_index, target)
    yield target
