"""Reading a document folder safely: a walk that stays inside it, and big text files read in blocks.

:func:`walk_folder` lists the files under a folder, following symbolic links only while they stay inside the
index's source folder and never in a loop: every real file comes back once (under its own path when the folder
holds it directly, else under the first link to it), and each link that is not followed comes back with the
reason. :func:`scan_text_file` checks a text file (UTF-8, not binary, not empty) and hashes it block by block, and
:func:`text_windows` reads its decoded text back in line-aligned windows, so a file of any size is never held
whole in memory.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: Bytes read per block when scanning or streaming a file.
BLOCK_BYTES = 1 << 20
#: Bytes sniffed for NUL bytes (binary content) at the start of a file.
BINARY_SNIFF = 8192


@dataclass(frozen=True)
class FolderEntry:
    """One entry of :func:`walk_folder`.

    Attributes:
        path: The path as walked (links not resolved): source ids are made from it.
        hidden: A hidden file or folder (name starting with ``.``), not descended into.
        problem: ``(reason, hint)`` when the entry is not read (a link out of the folder, a loop, a duplicate).
    """

    path: Path
    hidden: bool = False
    problem: tuple[str, str] | None = None


@dataclass
class _Walk:
    boundary: Path
    folders: set[Path] = field(default_factory=set)
    files: dict[Path, Path] = field(default_factory=dict)  # real path -> the path it was first reached by
    links: list[Path] = field(default_factory=list)
    entries: list[FolderEntry] = field(default_factory=list)


def walk_folder(src: Path, boundary: Path) -> list[FolderEntry]:
    """The files under ``src`` in sorted order, each real file once; links are followed inside ``boundary`` only.

    Files and folders reached without a link come first (their own path wins), then symbolic links in sorted
    order: a link whose target is outside ``boundary``, broken, a folder already walked (a loop such as
    ``up -> ..``, or a second link to one folder) or a file already listed is returned with a reason instead.
    """
    if not src.is_dir():
        return [FolderEntry(src)]
    state = _Walk(boundary=boundary.resolve())
    state.folders.add(src.resolve())
    _walk_plain(src, state)
    while state.links:
        _follow(state.links.pop(0), state)
    return sorted(state.entries, key=lambda e: e.path.parts)


def _walk_plain(folder: Path, state: _Walk) -> None:
    """Walk ``folder`` without following links; links are queued for :func:`_follow`."""
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            state.entries.append(FolderEntry(entry, hidden=True))
        elif entry.is_symlink():
            state.links.append(entry)
        elif entry.is_dir():
            state.folders.add(entry.resolve())
            _walk_plain(entry, state)
        elif entry.is_file():
            _add_file(entry, entry.resolve(), state)
        else:
            state.entries.append(FolderEntry(entry, problem=("not a regular file (a device, socket or pipe)",
                                                             "remove it from the folder")))  # fmt: skip
    state.links.sort(key=lambda p: p.parts)


def _follow(link: Path, state: _Walk) -> None:
    """Resolve one symbolic link: walk it, list it, or say why not."""
    try:
        real = link.resolve(strict=True)
    except (OSError, RuntimeError):  # missing target, or a chain of links that loops
        state.entries.append(FolderEntry(link, problem=("broken symbolic link", "fix or remove the link")))
        return
    if not real.is_relative_to(state.boundary):
        state.entries.append(FolderEntry(link, problem=(
            "symbolic link to a path outside the source folder (not followed)",
            "copy the file into the folder, or index the folder it points to",
        )))  # fmt: skip
        return
    if real.is_dir():
        if real in state.folders:
            state.entries.append(FolderEntry(link, problem=(
                "symbolic link to a folder that is already indexed (a loop, or a second link to it)",
                "nothing to do: each file is indexed once, under its own path",
            )))  # fmt: skip
            return
        state.folders.add(real)
        _walk_plain(link, state)
    else:
        _add_file(link, real, state)


def _add_file(path: Path, real: Path, state: _Walk) -> None:
    """List a file, unless its real file is listed already (then say so)."""
    first = state.files.setdefault(real, path)
    if first is path:
        state.entries.append(FolderEntry(path))
        return
    state.entries.append(FolderEntry(path, problem=(
        f"the same file as '{first.name}' (a symbolic link to it): indexed once",
        "nothing to do: each file is indexed once, under its own path",
    )))  # fmt: skip


# ---------------------------------------------------------------------------------------------- big text


@dataclass(frozen=True)
class TextScan:
    """What :func:`scan_text_file` found: a readable UTF-8 text file, or why not.

    Attributes:
        sha256: Hash of the file's bytes.
        size: Bytes read.
        first_match: The first group of ``title_pattern`` in the text (e.g. the first Markdown heading).
        problem: ``(reason, hint)`` when the file cannot be indexed (binary, not UTF-8, empty).
    """

    sha256: str
    size: int
    first_match: str | None = None
    problem: tuple[str, str] | None = None


def scan_text_file(path: Path, title_pattern: re.Pattern[str] | None = None) -> TextScan:
    """Check and hash a text file block by block (never holding it whole); see :class:`TextScan`."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    size, blank, title, tail = 0, True, None, ""
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(BLOCK_BYTES), b""):
            if size == 0 and b"\x00" in block[:BINARY_SNIFF]:
                return TextScan(digest.hexdigest(), size, problem=(
                    f"binary content in a '{path.suffix}' file", "only text, Markdown, HTML and PDF files are read",
                ))  # fmt: skip
            digest.update(block)
            pending = len(decoder.getstate()[0])
            try:
                text = decoder.decode(block)
            except UnicodeDecodeError as exc:
                return TextScan(digest.hexdigest(), size, problem=_not_utf8(exc, size - pending))
            size += len(block)
            blank = blank and not block.strip()
            if title_pattern is not None and title is None and len(tail) < BLOCK_BYTES:  # not in a giant line
                lines, _, tail = (tail + text).rpartition("\n")
                found = title_pattern.search(lines)
                title = found.group(1) if found else None
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return TextScan(digest.hexdigest(), size, problem=_not_utf8(exc, size - len(exc.object)))
    if title_pattern is not None and title is None and 0 < len(tail) < BLOCK_BYTES:
        found = title_pattern.search(tail)
        title = found.group(1) if found else None
    if blank:
        return TextScan(digest.hexdigest(), size, problem=("empty file", "add text to it or remove it"))
    return TextScan(digest.hexdigest(), size, first_match=title)


def _not_utf8(exc: UnicodeDecodeError, base: int) -> tuple[str, str]:
    return (
        f"not UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {base + exc.start})",
        "re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
    )


def normalised_blocks(path: Path) -> Iterator[str]:
    """The file's UTF-8 text (BOM dropped, ``\\r\\n`` and ``\\r`` as ``\\n``) in blocks of about 1 MB."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    held = ""
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(BLOCK_BYTES), b""):
            text = held + decoder.decode(block)
            held = "\r" if text.endswith("\r") else ""  # a "\r\n" may straddle two blocks
            text = text[:-1] if held else text
            yield text.replace("\r\n", "\n").replace("\r", "\n")
    last = held + decoder.decode(b"", final=True)
    if last:
        yield last.replace("\r\n", "\n").replace("\r", "\n")


def line_windows(blocks: Iterable[str], size: int) -> Iterator[str]:
    """Re-cut a stream of text into windows of at least ``size`` characters that end at a line break.

    A line longer than ``4 * size`` is cut after a space (or anywhere), so a file without line breaks is still
    read in bounded windows. The last window holds the rest. Joined, the windows are exactly the text of
    ``blocks``.
    """
    buffer = ""
    for block in blocks:
        buffer += block
        while len(buffer) >= size:
            cut = buffer.find("\n", size - 1)
            if cut < 0 and len(buffer) >= 4 * size:  # one huge line: cut after a space (or anywhere)
                space = buffer.rfind(" ", size, 4 * size)
                cut = space if space >= 0 else 4 * size - 1
            if cut < 0:
                break  # a long line: wait for its end
            yield buffer[: cut + 1]
            buffer = buffer[cut + 1 :]
    if buffer:
        yield buffer


def text_windows(path: Path, size: int) -> Iterator[str]:
    """A text file's normalised text in line-aligned windows of about ``size`` characters."""
    return line_windows(normalised_blocks(path), size)
