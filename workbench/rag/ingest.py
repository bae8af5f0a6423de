"""Ingest: read a folder of documents, report what was skipped, and cut the rest into chunks.

Readers: Markdown (``.md``, ``.markdown``), plain text (``.txt``, ``.text``, ``.rst``), HTML (``.html``,
``.htm``; headings become Markdown headings so the header-aware splitter can use them) and PDF (``.pdf``, through
pypdf; page numbers are kept on chunks). A document's **source id** is its path relative to the folder given,
with ``/`` separators (``data/json.md``), so ids are stable across machines and re-indexing.

Nothing is skipped silently: binary files, files that are not UTF-8, unreadable or text-less PDFs, files over
the size limit, empty files, unsupported extensions, hidden entries and symbolic links that are not followed
each come back in :attr:`IngestReport.skipped` with a reason and a fix. Links are followed only inside the
source folder and never in a loop; each real file is indexed once (:func:`workbench.rag.files.walk_folder`).

Text and Markdown files over :data:`STREAM_BYTES` are streamed: checked and hashed block by block at reading, then
read and split window by window when chunked, so memory stays bounded whatever a file's size.

Chunking uses langchain-text-splitters: ``recursive`` (``RecursiveCharacterTextSplitter``) or ``markdown``
(``MarkdownHeaderTextSplitter`` on Markdown/HTML, then the recursive splitter inside each section; plain text
and PDF fall back to recursive). Sizes are in characters.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import logging
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal

from workbench.errors import ConfigError, NotFoundError, ValidationError
from workbench.rag.files import (
    BINARY_SNIFF,
    BLOCK_BYTES,
    line_windows,
    scan_text_file,
    text_windows,
    walk_folder,
)

Splitter = Literal["recursive", "markdown"]
SPLITTERS: tuple[str, ...] = ("recursive", "markdown")

#: extension -> format name.
FORMATS: dict[str, str] = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".rst": "text",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
#: Files larger than this are skipped (override with ``max_file_bytes``).
DEFAULT_MAX_FILE_BYTES = 20 * 1024 * 1024
#: Text and Markdown files larger than this are streamed: checked, hashed and chunked in windows, never held whole.
STREAM_BYTES = 1024 * 1024
#: The first Markdown heading (a document's title).
_TITLE = re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.MULTILINE)


@dataclass(frozen=True)
class ChunkingConfig:
    """How documents are cut into chunks.

    Args:
        splitter: ``"markdown"`` (header-aware on Markdown and HTML, recursive elsewhere) or ``"recursive"``.
        chunk_size: Largest chunk, in characters.
        chunk_overlap: Characters shared by neighbouring chunks of one section.
    """

    splitter: Splitter = "markdown"
    chunk_size: int = 1000
    chunk_overlap: int = 100

    def __post_init__(self) -> None:
        if self.splitter not in SPLITTERS:
            raise ConfigError(
                f"unknown splitter '{self.splitter}'",
                field="splitter",
                hint=f"use one of: {', '.join(SPLITTERS)}",
            )
        if not isinstance(self.chunk_size, int) or self.chunk_size < 50:
            raise ConfigError(
                f"chunk_size must be an integer of at least 50 characters, not {self.chunk_size!r}",
                field="chunk_size",
                hint="typical values are 300-1500 characters",
            )
        if not isinstance(self.chunk_overlap, int) or not 0 <= self.chunk_overlap < self.chunk_size:
            raise ConfigError(
                f"chunk_overlap must be between 0 and chunk_size - 1 ({self.chunk_size - 1}), "
                f"not {self.chunk_overlap!r}",
                field="chunk_overlap",
                hint="use about 10% of chunk_size",
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON form (stored in the index manifest)."""
        return {"splitter": self.splitter, "chunk_size": self.chunk_size, "chunk_overlap": self.chunk_overlap}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkingConfig:
        """Inverse of :meth:`to_dict`."""
        return cls(
            splitter=data.get("splitter", "markdown"),
            chunk_size=int(data.get("chunk_size", 1000)),
            chunk_overlap=int(data.get("chunk_overlap", 100)),
        )

    @property
    def label(self) -> str:
        """Short text form, e.g. ``markdown/1000/100``."""
        return f"{self.splitter}/{self.chunk_size}/{self.chunk_overlap}"


@dataclass
class SourceDocument:
    """One readable document.

    Attributes:
        source: Stable id: the path relative to the ingested folder, ``/``-separated.
        path: Where it was read from.
        format: ``markdown``, ``text``, ``html`` or ``pdf``.
        title: First heading, HTML ``<title>``, or the file name.
        sha256: Hash of the file's bytes (used to skip unchanged documents when re-adding).
        size: File size in bytes.
        page_starts: For PDFs, the offset in ``text`` where each page (1-based, in order) starts.
        loaded_text: The text when it is held in memory; ``None`` for a big text or Markdown file (over
            :data:`STREAM_BYTES`), which is read from disk in windows when chunked and never held whole.
    """

    source: str
    path: Path
    format: str
    title: str
    sha256: str
    size: int
    page_starts: list[int] = field(default_factory=list)
    loaded_text: str | None = None

    @property
    def text(self) -> str:
        """Extracted text (HTML headings as Markdown headings; PDF pages separated by blank lines).

        For a streamed document this reads the whole file: chunking uses :meth:`windows` instead.
        """
        return self.loaded_text if self.loaded_text is not None else "".join(self.windows(BLOCK_BYTES))

    @property
    def streamed(self) -> bool:
        """Whether the text is read from disk in windows rather than held in memory."""
        return self.loaded_text is None

    def windows(self, size: int) -> Iterator[str]:
        """The text in line-aligned windows of about ``size`` characters (joined: exactly :attr:`text`)."""
        if self.loaded_text is None:
            return text_windows(self.path, size)
        return line_windows([self.loaded_text], size)

    def page_at(self, offset: int) -> int | None:
        """The 1-based PDF page holding character ``offset``, or ``None`` for other formats."""
        if not self.page_starts:
            return None
        return max(1, bisect.bisect_right(self.page_starts, offset))


@dataclass(frozen=True)
class SkippedDocument:
    """A file that was not ingested, with why and how to fix it."""

    source: str
    reason: str
    hint: str = ""

    def to_dict(self) -> dict[str, str]:
        """JSON form."""
        return {"source": self.source, "reason": self.reason, "hint": self.hint}


@dataclass
class IngestReport:
    """What :func:`load_documents` read and what it skipped."""

    root: Path
    documents: list[SourceDocument] = field(default_factory=list)
    skipped: list[SkippedDocument] = field(default_factory=list)

    def summary(self) -> str:
        """One line per skipped file after a count line, for the CLI."""
        lines = [f"{len(self.documents)} documents read, {len(self.skipped)} skipped"]
        lines += [f"  skipped {s.source}: {s.reason}" for s in self.skipped]
        return "\n".join(lines)


@dataclass
class Chunk:
    """A piece of a document, the unit that is embedded, indexed and retrieved.

    Attributes:
        id: Integer id, unique within an index and never reused after removals.
        source: The source id of the document it came from.
        text: The chunk's text.
        metadata: Always ``source``, ``chunk_index``, ``start`` (offset in the document text, -1 if unknown),
            ``format``, ``title``, ``headers`` (Markdown section path, may be empty) and ``splitter``; ``page``
            for PDFs.
    """

    id: int
    source: str
    text: str
    metadata: dict[str, Any]

    @property
    def context(self) -> str:
        """The section path (or the document title): prepended to the text for indexing."""
        headers = self.metadata.get("headers") or []
        return " > ".join(headers) if headers else str(self.metadata.get("title", ""))

    @property
    def indexed_text(self) -> str:
        """What the embedder and BM25 see: the source id, the section path and the text."""
        return f"{self.source}: {self.context}\n{self.text}"

    def to_dict(self) -> dict[str, Any]:
        """JSON form (one line of ``chunks.jsonl``)."""
        return {"id": self.id, "source": self.source, "text": self.text, "metadata": self.metadata}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chunk:
        """Inverse of :meth:`to_dict`."""
        return cls(
            id=int(data["id"]), source=str(data["source"]), text=str(data["text"]), metadata=data["metadata"]
        )


# --------------------------------------------------------------------------------------------------- reading


def load_documents(
    src: str | Path,
    *,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    root: str | Path | None = None,
) -> IngestReport:
    """Read every supported document under ``src`` (a folder or one file).

    Args:
        src: Folder (walked recursively, in sorted order) or a single file.
        max_file_bytes: Files larger than this are skipped with a report.
        root: Folder that source ids are relative to; default ``src`` (or a single file's folder).

    Returns:
        The documents read and the files skipped, each with a reason.

    Raises:
        NotFoundError: ``src`` does not exist.
        ValidationError: ``src`` is outside ``root``.
    """
    src = Path(src).expanduser()
    if not src.exists():
        raise NotFoundError(
            f"no such file or folder: '{src}'", file=src, hint="check the path to the documents"
        )
    base = Path(root).expanduser() if root is not None else (src if src.is_dir() else src.parent)
    base = base.resolve()
    report = IngestReport(root=base)
    for entry in walk_folder(src.resolve(), base):
        try:
            source = entry.path.relative_to(base).as_posix()
        except ValueError:
            raise ValidationError(
                f"'{entry.path}' is not inside the index's source folder '{base}'",
                file=entry.path,
                hint="source ids are paths relative to one folder: pass root=<that folder> (CLI: --root)",
            ) from None
        if entry.hidden:
            report.skipped.append(
                SkippedDocument(
                    source, "hidden file or folder", "rename it without the leading '.' to index it"
                )
            )
            continue
        if entry.problem is not None:
            report.skipped.append(SkippedDocument(source, *entry.problem))
            continue
        result = read_document(entry.path, source, max_file_bytes=max_file_bytes)
        if isinstance(result, SkippedDocument):
            report.skipped.append(result)
        else:
            report.documents.append(result)
    return report


def read_document(
    path: Path, source: str, *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> SourceDocument | SkippedDocument:
    """Read one file, or say why it cannot be read."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        return SkippedDocument(
            source,
            f"unsupported file type '{path.suffix or '(no extension)'}'",
            f"supported: {', '.join(sorted(FORMATS))}; convert the file or remove it from the folder",
        )
    try:
        size = path.stat().st_size
        if size > max_file_bytes:
            return SkippedDocument(
                source,
                f"file is {size / 1e6:.1f} MB, over the limit of {max_file_bytes / 1e6:.1f} MB",
                f"split the file, or raise the limit: --max-file-mb {math.ceil(size / 1e6)} "
                f"(Python: max_file_bytes={size})",
            )
        if fmt in ("markdown", "text") and size > STREAM_BYTES:
            return _scan_big_text(path, source, fmt)
        data = path.read_bytes()
    except OSError as exc:
        return SkippedDocument(
            source, f"cannot read the file: {exc.strerror or exc}", "check its permissions"
        )
    if not data.strip():
        return SkippedDocument(source, "empty file", "add text to it or remove it")
    digest = hashlib.sha256(data).hexdigest()
    if fmt == "pdf":
        return _read_pdf(path, source, data, digest)
    if b"\x00" in data[:BINARY_SNIFF]:
        return SkippedDocument(
            source,
            f"binary content in a '{path.suffix}' file",
            "only text, Markdown, HTML and PDF files are read",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return SkippedDocument(
            source,
            f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            "re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
        )
    title = path.stem
    if fmt == "html":
        text, html_title = html_to_text(text)
        title = html_title or title
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        return SkippedDocument(source, "no text content", "the file has markup but no readable text")
    if fmt == "markdown":
        heading = _TITLE.search(text)
        title = heading.group(1) if heading else title
    return SourceDocument(
        source=source, path=path, format=fmt, loaded_text=text, title=title, sha256=digest, size=len(data)
    )


def _scan_big_text(path: Path, source: str, fmt: str) -> SourceDocument | SkippedDocument:
    """A big text or Markdown file, checked and hashed block by block; its text stays on disk until chunked."""
    scan = scan_text_file(path, _TITLE if fmt == "markdown" else None)
    if scan.problem is not None:
        return SkippedDocument(source, *scan.problem)
    title = scan.first_match or path.stem
    return SourceDocument(source=source, path=path, format=fmt, title=title, sha256=scan.sha256, size=scan.size)


def _read_pdf(path: Path, source: str, data: bytes, digest: str) -> SourceDocument | SkippedDocument:
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    hint = "re-export the PDF (it may be damaged), or convert it to text"
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            return SkippedDocument(source, "encrypted PDF", "remove the password and re-export it")
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:  # pypdf raises many types (PdfReadError, ValueError, KeyError...) on bad files
        return SkippedDocument(source, f"unreadable PDF: {type(exc).__name__}: {exc}".strip(), hint)
    if not any(p.strip() for p in pages):
        return SkippedDocument(
            source, "PDF has no extractable text (scanned images?)", "run OCR on it first (e.g. ocrmypdf)"
        )
    text_parts: list[str] = []
    starts: list[int] = []
    offset = 0
    for page in pages:
        starts.append(offset)
        text_parts.append(page)
        offset += len(page) + 2
    text = "\n\n".join(text_parts)
    title = next((line.strip() for line in text.splitlines() if line.strip()), path.stem)
    return SourceDocument(
        source=source, path=path, format="pdf", loaded_text=text, title=title[:200], sha256=digest,
        size=len(data), page_starts=starts,
    )  # fmt: skip


class _HTMLText(HTMLParser):
    """HTML -> text; ``<h1>``..``<h6>`` become Markdown headings; script/style/head dropped."""

    _BLOCK = frozenset(
        {"p", "div", "br", "li", "tr", "pre", "section", "article", "table", "ul", "ol", "blockquote", "hr"}
    )
    _SKIP = frozenset({"script", "style", "noscript", "template", "svg"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False
        self._heading = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif re.fullmatch(r"h[1-6]", tag):
            self._heading = int(tag[1])
            self.parts.append("\n\n" + "#" * self._heading + " ")
        elif tag in self._BLOCK:
            self.parts.append("\n\n" if tag != "br" else "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif re.fullmatch(r"h[1-6]", tag):
            self._heading = 0
            self.parts.append("\n\n")
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_title:
            self.title += data
            return
        self.parts.append(re.sub(r"\s+", " ", data) if self._heading else data)


def html_to_text(markup: str) -> tuple[str, str]:
    """``(text, title)`` of an HTML page."""
    parser = _HTMLText()
    parser.feed(markup)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"^(#{1,6}) +(.*?) *$", r"\1 \2", text, flags=re.MULTILINE)  # tidy heading lines
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return text, " ".join(parser.title.split())


# -------------------------------------------------------------------------------------------------- chunking


_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
_FENCE = re.compile(r"^(```|~~~)", re.MULTILINE)


class _Outline:
    """Markdown headings, fed window by window (the code-fence state carries over), read back as section paths."""

    def __init__(self) -> None:
        self.headings: list[tuple[int, int, str]] = []
        self._offsets: list[int] = []
        self._stack: list[tuple[int, str]] = []
        self._applied = 0  # headings[:_applied] are reflected in _stack
        self._in_fence = False

    def feed(self, text: str, offset: int) -> list[tuple[int, int, str]]:
        """Add the headings of ``text`` (which starts at document offset ``offset`` on a line start)."""
        marks = [(m.start(), m, True) for m in _FENCE.finditer(text)]
        marks += [(m.start(), m, False) for m in _HEADING.finditer(text)]
        found = []
        for position, match, fence in sorted(marks, key=lambda mark: mark[0]):
            if fence:
                self._in_fence = not self._in_fence
            elif not self._in_fence:
                found.append((offset + position, len(match.group(1)), match.group(2).strip()))
        self.headings += found
        self._offsets += [heading[0] for heading in found]
        return found

    def path_at(self, offset: int) -> list[str]:
        """The section path (heading titles, outermost first) in force at ``offset``.

        Chunks come in document order, so the stack usually only moves forward; a step back (langchain's
        start offsets are not always increasing) rebuilds it.
        """
        upto = bisect.bisect_right(self._offsets, offset)
        if upto < self._applied:
            self._stack, self._applied = [], 0
        for _, level, title in self.headings[self._applied : upto]:
            while self._stack and self._stack[-1][0] >= level:
                self._stack.pop()
            self._stack.append((level, title))
        self._applied = upto
        return [title for _, title in self._stack]


def heading_outline(text: str) -> list[tuple[int, int, str]]:
    """``(offset, level, title)`` of each Markdown heading in ``text``, ignoring lines inside code fences."""
    return _Outline().feed(text, 0)


def _pieces(doc: SourceDocument, splitter: Any, window: int, outline: _Outline | None) -> Iterator[tuple[int, str]]:
    """``(start offset, text)`` of each piece of ``doc``, split window by window so memory stays bounded.

    The last piece of a window may be cut short by the window's end, so it is not emitted: the text from its
    start is carried into the next window and split again there. Offsets are exact in the whole document.
    """
    buffer, offset = "", 0
    windows = doc.windows(window)
    current = next(windows, None)
    while current is not None:
        following = next(windows, None)
        if outline is not None:
            outline.feed(current, offset + len(buffer))
        buffer += current
        pieces = [(int(p.metadata.get("start_index", -1)), p.page_content) for p in splitter.create_documents([buffer])]
        keep = pieces[-1][0] if following is not None and len(pieces) > 1 else -1
        if following is None or keep > 0:
            for start, text in pieces if following is None else pieces[:-1]:
                yield (offset + start if start >= 0 else -1), text
        if keep > 0:
            buffer, offset = buffer[keep:], offset + keep
        current = following


def iter_chunks(
    documents: Iterable[SourceDocument],
    config: ChunkingConfig | None = None,
    *,
    first_id: int = 0,
) -> Iterator[Chunk]:
    """:func:`chunk_documents`, one chunk at a time: a big document is read and split window by window."""
    from langchain_text_splitters import Language, RecursiveCharacterTextSplitter

    config = config or ChunkingConfig()
    sizes = {"chunk_size": config.chunk_size, "chunk_overlap": config.chunk_overlap, "add_start_index": True}
    recursive = RecursiveCharacterTextSplitter(**sizes)  # type: ignore[arg-type]
    markdown = RecursiveCharacterTextSplitter.from_language(Language.MARKDOWN, **sizes)  # type: ignore[arg-type]
    window = max(64 * config.chunk_size, 256 * 1024)
    next_id = first_id
    for doc in documents:
        header_aware = config.splitter == "markdown" and doc.format in ("markdown", "html")
        outline = _Outline() if doc.format in ("markdown", "html") else None
        index = 0
        for start, text in _pieces(doc, markdown if header_aware else recursive, window, outline):
            if not text.strip():
                continue
            line_end = start + (text.find("\n") if "\n" in text else len(text))
            metadata: dict[str, Any] = {
                "source": doc.source,
                "chunk_index": index,
                "start": start,
                "format": doc.format,
                "title": doc.title,
                "headers": outline.path_at(line_end) if outline is not None and start >= 0 else [],
                "splitter": "markdown" if header_aware else "recursive",
            }
            page = doc.page_at(start) if start >= 0 else None
            if page is not None:
                metadata["page"] = page
            yield Chunk(id=next_id, source=doc.source, text=text, metadata=metadata)
            next_id += 1
            index += 1


def chunk_documents(
    documents: Iterable[SourceDocument],
    config: ChunkingConfig | None = None,
    *,
    first_id: int = 0,
) -> list[Chunk]:
    """Cut documents into chunks with metadata; ids count up from ``first_id`` in document order.

    ``markdown`` uses langchain's Markdown separators (headings first, then code fences, rules, paragraphs),
    so cuts fall on section boundaries where the size allows; every chunk's ``headers`` metadata is the
    section path where it starts. Other formats, and the ``recursive`` splitter, cut on paragraphs, lines
    and words. Big documents are split in windows of the text (see :func:`iter_chunks`), never whole.
    """
    return list(iter_chunks(documents, config, first_id=first_id))
