"""Persistence and the shared doors: load builds through ``__init__``, one summary, one default ``k``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from workbench.cli import main
from workbench.rag import (
    DEFAULT_EVAL_K,
    DEFAULT_K,
    FUSIONS,
    MODES,
    SPLITTERS,
    ChunkingConfig,
    RagIndex,
    WorkbenchRetriever,
    read_info,
)

#: Manifest fields that say when and with what a save happened, not what the index holds.
VOLATILE = {"updated", "versions", "revision"}


class InitCounting(RagIndex):
    """A RagIndex that counts how often ``__init__`` ran (what ``load`` must go through)."""

    inits = 0

    def __init__(self, **kwargs: Any) -> None:
        type(self).inits += 1
        super().__init__(**kwargs)


def test_load_round_trips_through_init(built_index: Path, embedder: Any, tmp_path: Path) -> None:
    original = RagIndex.load(built_index, embedder=embedder)
    before = InitCounting.inits
    loaded = InitCounting.load(built_index, embedder=embedder)
    assert InitCounting.inits == before + 1 and isinstance(loaded, InitCounting)

    assert [c.to_dict() for c in loaded.chunks] == [c.to_dict() for c in original.chunks]
    assert loaded.documents == original.documents and loaded.next_chunk_id == original.next_chunk_id
    assert loaded.path == built_index.resolve() and loaded.chunking == original.chunking
    saved = json.loads((built_index / "manifest.json").read_text())
    for key in set(saved) - VOLATILE - {"files"}:
        assert loaded.manifest()[key] == saved[key], key
    question = "Which function serialises an object to a JSON string?"
    for mode in MODES:
        got = loaded.search(question, 3, mode=mode, record=False)
        want = original.search(question, 3, mode=mode, record=False)
        assert [(h.chunk.id, round(h.score, 5)) for h in got] == [
            (h.chunk.id, round(h.score, 5)) for h in want
        ]

    # Saved again and reloaded, nothing changes but the revision.
    loaded.save(tmp_path / "again")
    again = RagIndex.load(tmp_path / "again", embedder=embedder)
    assert [c.to_dict() for c in again.chunks] == [c.to_dict() for c in loaded.chunks]
    assert again.documents == loaded.documents and again.created == loaded.created


def test_info_is_the_one_summary(
    built_index: Path, embedder: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    index = RagIndex.load(built_index, embedder=embedder)
    info = index.info()
    assert info["documents"] == len(index.documents) == info["counts"]["documents"] == 5
    assert info["chunks"] == len(index) and info["sources"] == index.sources
    assert info["path"] == str(built_index.resolve()) and info["embedder"]["name"] == embedder.name
    json.dumps(info)

    on_disk = read_info(built_index)  # from the manifest alone
    assert set(on_disk) == set(info)
    assert {k: v for k, v in on_disk.items() if k not in VOLATILE | {"path"}} == {
        k: v for k, v in info.items() if k not in VOLATILE | {"path"}
    }
    assert main(["rag", "info", str(built_index), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == on_disk


def test_the_cli_the_widget_and_the_library_share_the_defaults(built_index: Path, embedder: Any) -> None:
    from workbench.cli.rag import command
    from workbench.widgets.rag import RagWidget

    def option(name: str, param: str) -> Any:
        return next(p for p in command.commands[name].params if p.name == param)

    assert option("query", "k").default == option("ask", "k").default == DEFAULT_K
    assert option("eval", "k").default == DEFAULT_EVAL_K
    assert tuple(option("query", "mode").type.choices) == tuple(option("ask", "mode").type.choices) == MODES
    assert tuple(option("query", "fusion").type.choices) == FUSIONS
    assert tuple(option("index", "splitter").type.choices) == SPLITTERS
    assert RagWidget.class_traits()["k"].default_value == DEFAULT_K
    assert WorkbenchRetriever(index=None).k == DEFAULT_K

    index = RagIndex.load(built_index, embedder=embedder)
    assert len(index) > DEFAULT_K
    assert len(index.search("csv json gzip dates sha256", record=False)) == DEFAULT_K
    assert [len(hits) for hits in index.search_batch(["csv", "json"], mode="dense")] == [DEFAULT_K] * 2


def test_the_widget_shows_info(corpus: Path, tmp_path: Path, embedder: Any) -> None:
    from workbench.widgets.rag import RagWidget

    widget = RagWidget(
        corpus, embedder=embedder, cache_dir=tmp_path / "cache", chunk_size=200, chunk_overlap=20
    )
    index = widget.build()
    shown = {k: v for k, v in widget.index_info.items() if k != "updated"}
    assert shown == {k: v for k, v in index.info().items() if k != "updated"}
    assert widget.index_info["chunking"] == ChunkingConfig(chunk_size=200, chunk_overlap=20).to_dict()
