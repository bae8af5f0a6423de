"""Ingest on hostile or careless folders: symbolic links (loops, links out, duplicates) and big files.

A loop such as ``docs/loop/up -> ..`` once made ``workbench rag index`` index one page 41 times; big text files
were read whole and split whole. Now each real file is indexed once, links never leave the source folder, and
files over :data:`~workbench.rag.ingest.STREAM_BYTES` are checked, hashed and chunked window by window.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from workbench.cli import main
from workbench.rag.ingest import (
    STREAM_BYTES,
    ChunkingConfig,
    chunk_documents,
    heading_outline,
    load_documents,
)

PAGE = "# Page\n\n" + "\n\n".join(f"Paragraph {i} about retrieval and chunking." * 3 for i in range(12)) + "\n"


def _skipped(report: Any) -> dict[str, str]:
    return {s.source: s.reason for s in report.skipped}


def test_a_symlink_loop_indexes_each_page_once(tmp_path: Path, embedder: Any, capsys: pytest.CaptureFixture[str]) -> None:
    docs = tmp_path / "docs"
    (docs / "loop").mkdir(parents=True)
    (docs / "loop" / "page.md").write_text(PAGE)
    (docs / "loop" / "up").symlink_to("..")
    report = load_documents(docs)
    assert [d.source for d in report.documents] == ["loop/page.md"]
    assert "already indexed" in _skipped(report)["loop/up"]

    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "page.md").write_text(PAGE)
    counts = []
    for folder in (docs, plain):
        assert main(["rag", "index", str(folder), "--out", str(tmp_path / f"idx-{folder.name}"), "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        counts.append((out["documents"], out["chunks"]))
    assert counts[0] == counts[1] and counts[0][0] == 1  # the loop adds nothing


def test_links_out_of_the_folder_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("# Secret\n\nthe payroll of everyone\n")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "page.md").write_text(PAGE)
    (docs / "secret.md").symlink_to(outside / "secret.md")
    (docs / "elsewhere").symlink_to(outside)
    (docs / "etc").symlink_to("/etc")
    (docs / "broken.md").symlink_to(tmp_path / "nowhere.md")
    report = load_documents(docs)
    assert [d.source for d in report.documents] == ["page.md"]
    skipped = _skipped(report)
    for name in ("secret.md", "elsewhere", "etc"):
        assert "outside the source folder" in skipped[name], skipped
    assert skipped["broken.md"] == "broken symbolic link"
    assert not any("payroll" in d.text for d in report.documents)


def test_links_inside_the_folder_count_once_and_the_real_path_wins(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "guides").mkdir(parents=True)
    (docs / "guides" / "page.md").write_text(PAGE)
    (docs / "a-alias.md").symlink_to(docs / "guides" / "page.md")  # sorts before the real file
    (docs / "a-guides").symlink_to("guides")  # a second door to a folder
    (docs / ".drafts").mkdir()
    (docs / ".drafts" / "draft.md").write_text("# Draft\n\nwork in progress\n")
    (docs / "drafts").symlink_to(".drafts")  # a link into a hidden folder: the author asked for it
    report = load_documents(docs)
    assert [d.source for d in report.documents] == ["drafts/draft.md", "guides/page.md"]
    skipped = _skipped(report)
    assert "same file as 'page.md'" in skipped["a-alias.md"]
    assert "already indexed" in skipped["a-guides"]
    assert skipped[".drafts"] == "hidden file or folder"


def test_a_file_over_the_limit_names_the_flag_to_raise_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "page.md").write_text(PAGE)
    (docs / "big.txt").write_text("word " * 500_000)  # 2.5 MB
    report = load_documents(docs, max_file_bytes=1_000_000)
    big = next(s for s in report.skipped if s.source == "big.txt")
    assert "over the limit of 1.0 MB" in big.reason
    assert "--max-file-mb 3" in big.hint and "max_file_bytes=2500000" in big.hint


def test_a_big_markdown_file_is_streamed_with_exact_offsets_and_sections(tmp_path: Path) -> None:
    lines = ["\ufeff# Handbook\r\n"]
    for i in range(2_000):
        lines.append(f"## Section {i}\r\n\r\n" if i % 40 == 0 else "")
        lines.append("```\r\n# not a heading\r\n```\r\n" if i % 97 == 0 else "")
        lines.append(f"Line {i}: the retrieval index streams big files window by window. " * 8 + "\r\n\r\n")
    path = tmp_path / "docs" / "handbook.md"
    path.parent.mkdir()
    path.write_text("".join(lines), encoding="utf-8", newline="")
    assert path.stat().st_size > STREAM_BYTES
    doc = load_documents(path.parent).documents[0]
    assert doc.streamed and doc.title == "Handbook" and doc.size == path.stat().st_size
    text = doc.text
    assert text == "".join(lines)[1:].replace("\r\n", "\n")
    outline = heading_outline(text)
    chunks = chunk_documents([doc], ChunkingConfig(chunk_size=400, chunk_overlap=40))
    assert len(chunks) > 2_000
    for chunk in chunks:
        start = chunk.metadata["start"]
        assert text[start:].startswith(chunk.text)
        line_end = start + (chunk.text.find("\n") if "\n" in chunk.text else len(chunk.text))
        before = [(level, title) for offset, level, title in outline if offset <= line_end]
        expected: list[tuple[int, str]] = []
        for level, title in before:
            expected = [h for h in expected if h[0] < level] + [(level, title)]
        assert chunk.metadata["headers"] == [title for _, title in expected]
    assert not any(h == "not a heading" for c in chunks for h in c.metadata["headers"])


def test_big_files_that_are_not_text_are_still_refused(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "latin1.txt").write_bytes(b"a" * (STREAM_BYTES + 10) + b"caf\xe9\n")
    (docs / "blob.txt").write_bytes(b"\x00\x01" * STREAM_BYTES)
    (docs / "blank.md").write_bytes(b" \n" * STREAM_BYTES)
    skipped = _skipped(load_documents(docs))
    assert skipped["latin1.txt"] == f"not UTF-8 (byte 0xe9 at offset {STREAM_BYTES + 13})"
    assert skipped["blob.txt"] == "binary content in a '.txt' file"
    assert skipped["blank.md"] == "empty file"


_MEASURE = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from workbench.rag import RagIndex

    class HashEmbedder:  # the pipeline's memory, not a model's: MiniLM would take minutes on 36k chunks here
        name, dim = "hash-32", 32
        def embed_documents(self, texts):
            out = np.zeros((len(texts), self.dim), dtype=np.float32)
            for row, text in enumerate(texts):
                out[row, hash(text) % self.dim] = 1.0
            return out
        def embed_query(self, text):
            return self.embed_documents([text])[0]

    def peak_kb():  # VmHWM: this process's own peak (ru_maxrss also counts the parent's pages before exec)
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

    started = time.perf_counter()
    index = RagIndex.build(sys.argv[1], out=sys.argv[2], embedder=HashEmbedder(), max_file_bytes=30_000_000)
    print(len(index), index.chunks[-1].metadata["start"], peak_kb(), round(time.perf_counter() - started, 1))
    """
)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak RSS from /proc (Linux)")
def test_a_25_mb_text_file_indexes_in_bounded_memory(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    sentence = "The quick brown fox reads the retrieval handbook and files a ticket about chunking. "
    paragraph = sentence * 9 + "\n\n"
    with (docs / "big.txt").open("w") as handle:
        for _ in range(25_000_000 // len(paragraph) + 1):
            handle.write(paragraph)
    size = (docs / "big.txt").stat().st_size
    assert size > 25_000_000
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(docs), str(tmp_path / "index")], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    chunks, last_start, peak_kb, seconds = done.stdout.split()
    peak_mb = int(peak_kb) / 1024
    print(f"\n25 MB text file: {chunks} chunks, peak RSS {peak_mb:.0f} MB, {seconds} s (hash embedder)")
    assert int(chunks) > 25_000 and int(last_start) > size - 2_000
    assert peak_mb < 500, f"peak RSS {peak_mb:.0f} MB"
