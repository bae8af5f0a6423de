"""Interrupted indexing resumes: the vectors embedded before Ctrl-C are kept next to the index and not redone."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rag_helpers import CountingEmbedder, write_corpus

import workbench.rag.embedders as embedders
from workbench.cli.rag import EmbedProgress
from workbench.rag import ChunkingConfig, EmbeddingCheckpoint, RagIndex, checkpoint_folder

TINY = ChunkingConfig(chunk_size=80, chunk_overlap=0)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def small_groups(monkeypatch: pytest.MonkeyPatch) -> int:
    """Embed in groups of 2 chunks (a checkpoint part each), so the small corpus makes several groups."""
    monkeypatch.setattr(embedders, "EMBED_BATCH", 2)
    return 2


def _parts(index_folder: Path) -> list[Path]:
    return sorted(checkpoint_folder(index_folder).glob("part-*.npz"))


def test_an_interrupted_build_resumes_without_re_embedding_finished_chunks(
    tmp_path: Path, embedder: Any, small_groups: int
) -> None:
    src = write_corpus(tmp_path / "docs")
    out = tmp_path / "idx"
    interrupted = CountingEmbedder(embedder, interrupt_after=3)
    with pytest.raises(KeyboardInterrupt):
        RagIndex.build(src, out=out, chunking=TINY, embedder=interrupted)
    assert not out.exists()  # nothing half-written where the index goes
    assert len(_parts(out)) == 3 and interrupted.embedded == 3 * small_groups

    resumed = CountingEmbedder(embedder)
    seen: list[tuple[int, int]] = []
    index = RagIndex.build(
        src, out=out, chunking=TINY, embedder=resumed, progress=lambda d, t: seen.append((d, t))
    )
    total = len(index)
    assert total > 3 * small_groups
    assert resumed.embedded == total - 3 * small_groups  # the finished chunks came from the checkpoint
    assert seen[0] == (3 * small_groups, total) and seen[-1] == (total, total)
    assert not checkpoint_folder(out).exists()  # removed once the index is saved

    fresh = RagIndex.build(src, chunking=TINY, embedder=embedder)  # the same index, embedded in one go
    for question in ("How do I parse an ISO date?", "gzip files", "SHA-256 digest"):
        got = index.search(question, 3, mode="dense", record=False)
        want = fresh.search(question, 3, mode="dense", record=False)
        assert [h.chunk.id for h in got] == [h.chunk.id for h in want]
        assert np.allclose([h.score for h in got], [h.score for h in want], atol=1e-5)


def test_an_interrupted_add_resumes_and_add_still_embeds_only_what_changed(
    tmp_path: Path, embedder: Any, small_groups: int
) -> None:
    src = write_corpus(tmp_path / "docs")
    out = tmp_path / "idx"
    counting = CountingEmbedder(embedder)
    RagIndex.build(src, out=out, chunking=TINY, embedder=counting)
    built = counting.embedded
    (src / "guides" / "regex.md").write_text(
        "# Regular expressions\n\nre.findall returns all non-overlapping matches of a pattern.\n\n"
        "## Substitution\n\nre.sub replaces every match of a pattern with a replacement string.\n\n"
        "## Flags\n\nre.IGNORECASE makes the match case-insensitive; re.MULTILINE anchors at each line.\n"
    )
    interrupted = CountingEmbedder(embedder, interrupt_after=1)
    with pytest.raises(KeyboardInterrupt):
        RagIndex.load(out, embedder=interrupted).add([src])
    assert len(_parts(out)) == 1 and "guides/regex.md" not in RagIndex.load(out, embedder=embedder).sources

    resumed = CountingEmbedder(embedder)
    report = RagIndex.load(out, embedder=resumed).add([src])
    assert report.added == ["guides/regex.md"] and len(report.unchanged) == 5
    assert resumed.embedded == report.chunks_added - small_groups  # only the unfinished new chunks
    assert counting.embedded == built and not checkpoint_folder(out).exists()


def test_a_checkpoint_of_another_embedder_is_discarded(tmp_path: Path) -> None:
    folder = tmp_path / "ckpt"
    identity = {"embedder": "all-MiniLM-L6-v2", "variant": "openvino-bf16", "dim": 3, "fingerprint": [0.1]}
    mine = EmbeddingCheckpoint(folder, identity)
    mine.save(["a", "b"], np.eye(2, 3, dtype=np.float32))
    (folder / "part-broken.npz").write_bytes(b"not a zip")  # skipped, not fatal
    kept = mine.load()
    assert sorted(kept) == ["a", "b"] and np.allclose(kept["b"], [0, 1, 0])
    other = EmbeddingCheckpoint(folder, {**identity, "variant": "onnx-int8"})
    assert other.load() == {} and not folder.exists()


def test_progress_reports_rate_resumed_chunks_and_the_resume_hint(tmp_path: Path) -> None:
    progress = EmbedProgress()
    progress(4, 10)  # 4 came from a checkpoint
    time.sleep(0.01)
    progress(10, 10)
    progress.close()
    assert progress.resumed == 4 and progress.done == progress.total == 10
    assert progress.chunks_per_s is not None and progress.chunks_per_s > 0
    message = progress.interrupted(tmp_path / "idx")
    assert f"10 of 10 chunks are embedded and kept in {tmp_path / '.idx.embedding'}" in message
    assert "run the same command again to resume" in message


def test_the_json_report_says_what_was_resumed(
    corpus: Path, tmp_path: Path, embedder: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from workbench.cli import main

    code = main(["rag", "index", str(corpus), "--out", str(tmp_path / "idx"), "--json"])
    report = json.loads(capsys.readouterr().out)  # stdout holds the JSON alone (the bar goes to a terminal)
    assert code == 0 and report["embedding"]["resumed_chunks"] == 0
    assert report["embedder"]["variant"] == embedder.variant


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_ctrl_c_on_rag_index_keeps_the_embedded_chunks(tmp_path: Path) -> None:
    """A real ``workbench rag index`` process, stopped with SIGINT once it has checkpointed a group."""
    src = tmp_path / "docs"
    shutil.copytree(ROOT / "datasets" / "corpus" / "docs", src)  # over 1,000 chunks: several groups
    out = tmp_path / "idx"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "rag", "index", str(src), "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 480
    while not _parts(out) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, (stdout, stderr)
    assert "run the same command again to resume" in stderr and "Traceback" not in stderr
    assert _parts(out) and not out.exists()
