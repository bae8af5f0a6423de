"""Several writers on one index folder: nobody's change is silently lost, nobody waits forever.

The multi-process test runs the real CLI (``workbench rag add``) in separate Python processes at the same time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from rag_helpers import SMALL, write_corpus

from workbench.rag import (
    IndexConflictError,
    IndexLockTimeout,
    RagIndex,
    cached_index,
    index_lock,
)


def _note(root: Path, name: str) -> Path:
    path = root / "extra" / f"{name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {name}\n\nA note about the {name} module and what it is for.\n", encoding="utf-8")
    return path


def test_a_stale_writer_is_refused_and_succeeds_after_reloading(tmp_path: Path, embedder: Any) -> None:
    src = write_corpus(tmp_path / "docs")
    RagIndex.build(src, out=tmp_path / "idx", chunking=SMALL, embedder=embedder)
    first = RagIndex.load(tmp_path / "idx", embedder=embedder)
    second = RagIndex.load(tmp_path / "idx", embedder=embedder)

    first.add([_note(src, "zipfile")])
    with pytest.raises(IndexConflictError, match="another process saved the index") as caught:
        second.add([_note(src, "tarfile")])
    assert caught.value.field == "revision" and "load the index again" in (caught.value.hint or "")
    on_disk = RagIndex.load(tmp_path / "idx", embedder=embedder)
    assert "extra/zipfile.md" in on_disk.sources and "extra/tarfile.md" not in on_disk.sources  # nothing lost

    retry = RagIndex.load(tmp_path / "idx", embedder=embedder)
    retry.add([src / "extra" / "tarfile.md"])
    final = RagIndex.load(tmp_path / "idx", embedder=embedder)
    assert {"extra/zipfile.md", "extra/tarfile.md"} <= set(final.sources)
    # The refused change is still in memory: saving it to another folder is not a conflict.
    second.save(tmp_path / "copy")
    assert "extra/tarfile.md" in RagIndex.load(tmp_path / "copy", embedder=embedder).sources


def test_a_writer_waits_for_the_lock_and_times_out_with_a_clear_error(tmp_path: Path, embedder: Any) -> None:
    src = write_corpus(tmp_path / "docs")
    index = RagIndex.build(src, out=tmp_path / "idx", chunking=SMALL, embedder=embedder)
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with index_lock(tmp_path / "idx"):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(30)
        started = time.monotonic()
        with pytest.raises(IndexLockTimeout, match="another process has been writing the index") as caught:
            index.save(lock_timeout=0.3)
        assert 0.25 < time.monotonic() - started < 10
        assert caught.value.file is not None and str(caught.value.file).endswith(".idx.lock")
    finally:
        release.set()
        thread.join(30)
    assert index.save(lock_timeout=5) == (tmp_path / "idx").resolve()  # free again
    # Re-entrant in one thread: cached_index holds the lock and saves inside it.
    with index_lock(tmp_path / "idx"):
        index.save(lock_timeout=1)


def test_cached_index_from_two_threads_builds_once(tmp_path: Path, embedder: Any) -> None:
    src = write_corpus(tmp_path / "docs")
    results: list[Any] = []
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            results.append(cached_index(src, chunking=SMALL, embedder=embedder, cache_dir=tmp_path / "cache"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors and len(results) == 2
    assert results[0].path == results[1].path and results[0].sources == results[1].sources


@pytest.mark.slow
def test_concurrent_cli_adds_from_separate_processes_all_land(tmp_path: Path, embedder: Any) -> None:
    src = write_corpus(tmp_path / "docs")
    RagIndex.build(src, out=tmp_path / "idx", chunking=SMALL, embedder=embedder)
    names = ["zipfile", "tarfile", "shutil"]
    files = [_note(src, name) for name in names]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    cli = [sys.executable, "-c", "import sys; from workbench.cli import main; sys.exit(main())"]
    procs = [
        subprocess.Popen(
            [*cli, "rag", "add", str(tmp_path / "idx"), str(f), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for f in files
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert len(json.loads(out)["added"]) == 1
    final = RagIndex.load(tmp_path / "idx", embedder=embedder)
    assert {f"extra/{name}.md" for name in names} <= set(final.sources)
    assert len(list(tmp_path.glob(".idx.tmp-*"))) == 0 and len(list(tmp_path.glob(".idx.old-*"))) == 0
