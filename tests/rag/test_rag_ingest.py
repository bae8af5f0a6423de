"""Ingest: readers, stable source ids, the skip report for bad files, and chunking with metadata."""

from __future__ import annotations

from pathlib import Path

import pytest
from rag_helpers import simple_pdf

from workbench.errors import ConfigError, NotFoundError, ValidationError
from workbench.rag import ChunkingConfig, RagIndex, chunk_documents, load_documents
from workbench.rag.ingest import heading_outline, html_to_text


def test_reads_every_format_with_relative_posix_source_ids(corpus: Path) -> None:
    report = load_documents(corpus)
    assert report.skipped == []
    by_id = {d.source: d for d in report.documents}
    assert sorted(by_id) == [
        "guides/csv.md",
        "guides/json.md",
        "notes/compression.txt",
        "pdf/hashing.pdf",
        "web/dates.html",
    ]
    assert by_id["guides/csv.md"].format == "markdown" and by_id["guides/csv.md"].title == "Reading CSV files"
    html = by_id["web/dates.html"]
    assert html.title == "Dates and times"
    assert "# Dates" in html.text and "## Clocks" in html.text and "not text" not in html.text
    pdf = by_id["pdf/hashing.pdf"]
    assert "hashlib.sha256 computes" in pdf.text and pdf.page_starts == [0]
    assert len(by_id["guides/json.md"].sha256) == 64


def test_a_single_file_gets_its_name_as_source_id(corpus: Path) -> None:
    report = load_documents(corpus / "guides" / "csv.md")
    assert [d.source for d in report.documents] == ["csv.md"]
    report = load_documents(corpus / "guides" / "csv.md", root=corpus)
    assert [d.source for d in report.documents] == ["guides/csv.md"]


def test_bad_files_are_skipped_with_a_reason_never_silently(corpus: Path) -> None:
    (corpus / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (corpus / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf\n%%EOF")
    (corpus / "scanned.pdf").write_bytes(simple_pdf([]))
    (corpus / "huge.txt").write_text("word " * 5000)
    (corpus / "empty.md").write_text("  \n")
    (corpus / "data.xlsx").write_bytes(b"PK\x03\x04")
    (corpus / ".hidden.md").write_text("secret")
    report = load_documents(corpus, max_file_bytes=10_000)
    reasons = {s.source: s.reason for s in report.skipped}
    assert reasons["image.md"].startswith("binary content")
    assert reasons["latin1.txt"] == "not UTF-8 (byte 0xe9 at offset 3)"
    assert reasons["broken.pdf"].startswith("unreadable PDF")
    assert reasons["scanned.pdf"].startswith("PDF has no extractable text")
    assert (
        reasons["huge.txt"].startswith("file is 0.0 MB, over the limit")
        or "over the limit" in reasons["huge.txt"]
    )
    assert reasons["empty.md"] == "empty file"
    assert reasons["data.xlsx"].startswith("unsupported file type '.xlsx'")
    assert reasons[".hidden.md"] == "hidden file or folder"
    assert all(s.hint for s in report.skipped)
    assert len(report.documents) == 5  # the good ones still come through
    assert "skipped latin1.txt: not UTF-8" in report.summary()


def test_empty_or_missing_folder_is_a_clear_error(tmp_path: Path, embedder: object) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValidationError, match="no readable documents in") as err:
        RagIndex.build(empty, out=tmp_path / "idx", embedder=embedder)  # type: ignore[arg-type]
    assert err.value.hint and not (tmp_path / "idx").exists()
    (empty / "bad.txt").write_bytes(b"\xff\xfe\x00\x00")
    with pytest.raises(ValidationError, match=r"1 skipped: bad.txt: binary content"):
        RagIndex.build(empty, embedder=embedder)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError, match="no such file or folder"):
        load_documents(tmp_path / "nope")


def test_chunking_config_is_validated() -> None:
    with pytest.raises(ConfigError, match="unknown splitter 'sentences'") as err:
        ChunkingConfig(splitter="sentences")  # type: ignore[arg-type]
    assert err.value.field == "splitter"
    with pytest.raises(ConfigError, match="chunk_overlap must be between 0 and chunk_size - 1"):
        ChunkingConfig(chunk_size=100, chunk_overlap=100)
    with pytest.raises(ConfigError, match="chunk_size must be an integer of at least 50"):
        ChunkingConfig(chunk_size=10, chunk_overlap=0)
    config = ChunkingConfig(splitter="recursive", chunk_size=300, chunk_overlap=30)
    assert ChunkingConfig.from_dict(config.to_dict()) == config and config.label == "recursive/300/30"


def test_every_chunk_carries_metadata_and_exact_offsets(corpus: Path) -> None:
    docs = load_documents(corpus).documents
    text_of = {d.source: d.text for d in docs}
    chunks = chunk_documents(docs, ChunkingConfig(chunk_size=80, chunk_overlap=10), first_id=7)
    assert [c.id for c in chunks] == list(range(7, 7 + len(chunks)))
    for chunk in chunks:
        meta = chunk.metadata
        assert {"source", "chunk_index", "start", "format", "title", "headers", "splitter"} <= set(meta)
        assert meta["source"] == chunk.source
        assert text_of[chunk.source][meta["start"] :].startswith(chunk.text)
    pdf = [c for c in chunks if c.source == "pdf/hashing.pdf"]
    assert pdf and all(c.metadata["page"] == 1 for c in pdf)
    dialects = next(c for c in chunks if "csv.Sniffer" in c.text)
    assert dialects.metadata["headers"] == ["Reading CSV files", "Dialects"]
    assert dialects.context == "Reading CSV files > Dialects"
    assert dialects.indexed_text.startswith("guides/csv.md: Reading CSV files > Dialects\n")


def test_markdown_splitter_cuts_on_headings_recursive_does_not(corpus: Path) -> None:
    docs = [d for d in load_documents(corpus).documents if d.source == "guides/json.md"]
    markdown = chunk_documents(docs, ChunkingConfig(splitter="markdown", chunk_size=120, chunk_overlap=0))
    assert [c.text.splitlines()[0] for c in markdown] == ["# JSON", "## Decoding"]
    assert {c.metadata["splitter"] for c in markdown} == {"markdown"}
    recursive = chunk_documents(docs, ChunkingConfig(splitter="recursive", chunk_size=120, chunk_overlap=0))
    assert {c.metadata["splitter"] for c in recursive} == {"recursive"}


def test_headings_inside_code_fences_are_not_sections() -> None:
    text = "# Title\n\n```\n# a comment\n```\n\n## Part\nbody\n"
    assert [(level, title) for _, level, title in heading_outline(text)] == [(1, "Title"), (2, "Part")]
    body, title = html_to_text("<title> T </title><h2>Head <b>x</b></h2><p>a &amp; b</p>")
    assert title == "T" and "## Head x" in body and "a & b" in body
