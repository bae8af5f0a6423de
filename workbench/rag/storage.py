"""Index persistence: the folder format, atomic saves, the write lock, revisions and crash recovery.

An index lives in one folder::

    manifest.json   format version, embedder (name, dim, fingerprint), chunking, BM25 settings, library
                    versions, documents (sha256, chunk ids), skipped files, and a sha256 of every file below
    chunks.jsonl    one chunk per line: id, source, text, metadata
    dense.faiss     the FAISS index of :class:`~workbench.rag.search.ChunkIndex` (ids are the chunk ids)
    bm25/           a bm25s index over the same chunks (rebuilt on load when missing or from another tokenizer)

Writes are atomic: the whole folder is written to a hidden temporary sibling and renamed into place, so a
reader sees the old index or the new one, never half of one. (Replacing an existing folder takes two renames;
if a crash falls between them, :func:`read_index` restores the previous index.)

Several processes may share an index folder (two kernels of the same lesson, a CLI ``rag add`` while a
notebook queries). Writers take an exclusive lock (:func:`index_lock`, a ``filelock`` lock file next to the
folder, released by the OS if the process dies), and every save stamps a new ``revision`` in the manifest. A
save whose index was loaded at an older revision than the one on disk is refused with
:class:`IndexConflictError` instead of silently dropping the other writer's change ("last writer wins").
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError, NotFoundError, ValidationError
from workbench.rag.embedders import recorded_variant
from workbench.rag.ingest import Chunk
from workbench.rag.search import ChunkIndex
from workbench.rag.text import TOKENIZER_VERSION

log = logging.getLogger(__name__)

FORMAT = "workbench-rag-index"
FORMAT_VERSION = 1
#: Seconds a writer waits for another one before :class:`IndexLockTimeout` (builds of big folders take minutes).
DEFAULT_LOCK_TIMEOUT = 600.0
_locks: dict[str, Any] = {}


class IndexCorruptError(ValidationError):
    """An index folder is incomplete, damaged or does not match its manifest."""


class IndexConflictError(ConfigError):
    """Another process saved the index after this one loaded it; saving now would drop its change."""


class IndexLockTimeout(ConfigError):
    """Another process held the index's write lock for longer than the timeout."""


def now() -> str:
    """The current UTC time, ISO 8601 to the second (the manifest's ``created``/``updated``)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries an index depends on (recorded in the manifest)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for dist in ("workbench", "faiss-cpu", "bm25s", "langchain-text-splitters", "pypdf", "numpy"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "unknown"
    return out


def file_sha256(path: Path) -> str:
    """The sha256 hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _rebuild_hint(folder: Path) -> str:
    return f"rebuild it: workbench rag index SRC --out {folder}"


# --------------------------------------------------------------------------------------------- the lock


@contextlib.contextmanager
def index_lock(folder: str | Path, *, timeout: float | None = None) -> Iterator[None]:
    """Hold the exclusive write lock of the index ``folder`` (re-entrant in one process; waits for others).

    The lock is ``.<name>.lock`` next to the folder, taken with ``filelock`` (the well-kept cross-platform lock
    that Hugging Face and pip use): on POSIX an ``flock`` that the OS releases when the process dies, so a killed
    writer never leaves a stale lock. Readers do not take it: writes are atomic renames.

    Raises:
        IndexLockTimeout: Another process held it for more than ``timeout`` seconds (default 600).
    """
    from filelock import FileLock, Timeout

    target = Path(folder).expanduser().resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    key = str(target)
    lock = _locks.get(key)
    if lock is None:
        lock = _locks.setdefault(key, FileLock(str(target.parent / f".{target.name}.lock")))
    wait = DEFAULT_LOCK_TIMEOUT if timeout is None else timeout
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        raise IndexLockTimeout(
            f"another process has been writing the index '{target}' for more than {wait:g} s",
            file=Path(lock.lock_file),
            hint="wait for it to finish (a build of a large folder takes minutes), or pass a longer timeout",
        ) from None
    try:
        yield
    finally:
        lock.release()


# ----------------------------------------------------------------------------------------- the manifest


def require_index_folder(folder: Path) -> None:
    """Raise :class:`NotFoundError` unless ``folder`` is a directory."""
    if not folder.is_dir():
        raise NotFoundError(
            f"no index at '{folder}'", file=folder, hint="build one with: workbench rag index SRC --out DIR"
        )


def read_manifest(folder: Path) -> dict[str, Any]:
    """Read and check ``folder/manifest.json``."""
    path = folder / "manifest.json"
    rebuild = _rebuild_hint(folder)
    if not path.is_file():
        raise IndexCorruptError(
            f"'{folder}' is not a Workbench index (no manifest.json)", file=folder, hint=rebuild
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise IndexCorruptError(
            f"manifest is not valid JSON: {exc.msg}", file=path, line=exc.lineno, hint=rebuild
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(f"cannot read the manifest: {exc}", file=path, hint=rebuild) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexCorruptError(
            "manifest is not a Workbench index manifest", file=path, field="format", hint=rebuild
        )
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise IndexCorruptError(
            f"index format version {version!r} is not supported (this Workbench reads up to {FORMAT_VERSION})",
            file=path,
            field="format_version",
            hint="upgrade Workbench, or " + rebuild,
        )
    for key in ("embedder", "chunking"):
        if not isinstance(manifest.get(key), dict):
            raise IndexCorruptError(f"manifest lacks '{key}'", file=path, field=key, hint=rebuild)
    return manifest


def summarize(manifest: dict[str, Any], path: Path | None) -> dict[str, Any]:
    """The index summary that ``RagIndex.info()``, ``workbench rag info`` and the RAG widget show.

    The manifest without the per-document table and the file checksums, plus ``path``, ``sources`` (sorted
    source ids), and the ``documents`` and ``chunks`` counts at the top level (also under ``counts``). The
    ``embedder`` entry always has a ``variant`` (``torch-fp32`` for an index that predates recording it).
    """
    data = {key: value for key, value in manifest.items() if key not in ("documents", "files")}
    data["embedder"] = {**manifest["embedder"], "variant": recorded_variant(manifest["embedder"])}
    documents = manifest.get("documents") or {}
    counts = manifest.get("counts") or {}
    data["path"] = str(path) if path else None
    data["sources"] = sorted(documents)
    data["documents"] = counts.get("documents", len(documents))
    data["chunks"] = counts.get("chunks")
    return data


def read_info(folder: str | Path) -> dict[str, Any]:
    """:func:`summarize` of the index saved in ``folder``, read from its manifest alone (nothing is loaded).

    Raises:
        NotFoundError: No such folder.
        IndexCorruptError: Not an index (no readable manifest).
    """
    folder = Path(folder)
    require_index_folder(folder)
    return summarize(read_manifest(folder), folder)


def revision_on_disk(folder: Path) -> str | None:
    """The ``revision`` of the index saved in ``folder`` (``None``: no index, or one saved before revisions)."""
    try:
        value = read_manifest(folder).get("revision")
    except IndexCorruptError:  # no index there, or a damaged one: nothing another writer could lose
        return None
    return value if isinstance(value, str) else None


# ------------------------------------------------------------------------------------------------ load


@dataclass
class SavedIndex:
    """What :func:`read_index` found in an index folder: the checked manifest and the chunk-level parts.

    Attributes:
        folder: The folder, resolved.
        manifest: The manifest (``embedder``, ``chunking``, ``documents``, ``revision``...).
        chunks: The chunks, in index order.
        dense: The FAISS index holding their vectors.
        bm25: The saved bm25s index, or ``None`` when it must be rebuilt (missing, or another tokenizer).
    """

    folder: Path
    manifest: dict[str, Any]
    chunks: list[Chunk]
    dense: Any
    bm25: Any


def read_index(path: str | Path) -> SavedIndex:
    """Read and check an index folder (restoring it first if a save was interrupted between its renames).

    Raises:
        NotFoundError: No such folder.
        IndexCorruptError: Not an index, or damaged (names the file and how to rebuild).
    """
    import faiss

    folder = Path(path).expanduser()
    recover(folder)
    require_index_folder(folder)
    manifest = read_manifest(folder)
    _check_files(folder, manifest)
    chunks = _read_chunks(folder / "chunks.jsonl")
    try:
        dense = faiss.read_index(str(folder / "dense.faiss"))
    except RuntimeError as exc:
        raise IndexCorruptError(
            f"cannot read the FAISS index: {str(exc).splitlines()[-1][:200]}", file=folder / "dense.faiss",
            hint=_rebuild_hint(folder),
        ) from None  # fmt: skip
    if dense.ntotal != len(chunks):
        raise IndexCorruptError(
            f"FAISS holds {dense.ntotal} vectors but chunks.jsonl has {len(chunks)} chunks",
            file=folder / "dense.faiss",
            hint=_rebuild_hint(folder),
        )
    bm25 = _read_bm25(folder / "bm25", manifest, len(chunks))
    return SavedIndex(folder.resolve(), manifest, chunks, dense, bm25)


def _check_files(folder: Path, manifest: dict[str, Any]) -> None:
    for name, digest in manifest.get("files", {}).items():
        file = folder / name
        if not file.is_file():
            raise IndexCorruptError(f"index file '{name}' is missing", file=file, hint=_rebuild_hint(folder))
        if file_sha256(file) != digest:
            raise IndexCorruptError(
                f"index file '{name}' does not match its checksum", file=file, hint=_rebuild_hint(folder)
            )


def _read_chunks(path: Path) -> list[Chunk]:
    rebuild = _rebuild_hint(path.parent)
    chunks = []
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                try:
                    chunks.append(Chunk.from_dict(json.loads(line)))
                except (ValueError, KeyError, TypeError) as exc:
                    raise IndexCorruptError(f"bad chunk record: {exc}", file=path, line=number,
                                            hint=rebuild) from None  # fmt: skip
    except OSError as exc:
        raise IndexCorruptError(f"cannot read chunks: {exc}", file=path, hint=rebuild) from None
    return chunks


def _read_bm25(folder: Path, manifest: dict[str, Any], count: int) -> Any:
    """The saved BM25 index when it is usable as is, else ``None`` (rebuilding it is cheap)."""
    import bm25s

    same = manifest.get("bm25", {}).get("tokenizer") == TOKENIZER_VERSION
    if same and folder.is_dir() and count:
        try:
            loaded = bm25s.BM25.load(str(folder), show_progress=False)
            if int(loaded.scores.get("num_docs", -1)) == count:
                return loaded
        except Exception as exc:  # another bm25s version may store differently: rebuilding is cheap
            log.info("rebuilding BM25 for %s: %s", folder, exc)
    return None


# ------------------------------------------------------------------------------------------------ save


def check_writable_target(target: Path) -> None:
    """Refuse to write an index over a file, or over a non-empty folder that is not an index."""
    if target.exists() and not target.is_dir():
        raise ConfigError(f"'{target}' exists and is not a folder", file=target, hint="choose another --out")
    if target.is_dir() and any(target.iterdir()) and not (target / "manifest.json").is_file():
        raise ConfigError(
            f"refusing to replace '{target}': it is not empty and not a Workbench index",
            file=target,
            hint="choose an empty or new folder for --out",
        )


def write_index(
    target: Path,
    manifest: dict[str, Any],
    store: ChunkIndex,
    *,
    loaded_from: Path | None = None,
    loaded_revision: str | None = None,
    lock_timeout: float | None = None,
) -> str:
    """Write ``store`` and ``manifest`` to ``target`` atomically, under the write lock; the new revision.

    Args:
        loaded_from: The folder the index was loaded from (or last saved to), if any.
        loaded_revision: The revision it had then. Saving back to ``loaded_from`` after another process saved
            a different revision there raises :class:`IndexConflictError`.

    Raises:
        IndexConflictError: See ``loaded_revision``.
        IndexLockTimeout: Another writer held the lock longer than ``lock_timeout`` seconds.
    """
    check_writable_target(target)
    with index_lock(target, timeout=lock_timeout):
        on_disk = revision_on_disk(target)
        if (
            loaded_from is not None
            and target.resolve() == loaded_from
            and on_disk not in (None, loaded_revision)
        ):
            raise IndexConflictError(
                f"another process saved the index '{target}' after this one loaded it "
                f"(revision {on_disk}, loaded {loaded_revision}); saving would drop its change",
                file=target / "manifest.json",
                field="revision",
                hint="load the index again (RagIndex.load) and repeat the change, or save to another folder",
            )
        revision = uuid.uuid4().hex
        manifest = {**manifest, "revision": revision}
        write_atomic(target, lambda folder: _write_files(folder, manifest, store))
    return revision


def _write_files(folder: Path, manifest: dict[str, Any], store: ChunkIndex) -> None:
    import faiss

    with (folder / "chunks.jsonl").open("w", encoding="utf-8") as handle:
        for chunk in store.chunks:
            handle.write(json.dumps(chunk.to_dict(), ensure_ascii=False) + "\n")
    faiss.write_index(store.dense, str(folder / "dense.faiss"))
    if len(store):
        store.bm25.save(str(folder / "bm25"), show_progress=False)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    manifest["files"] = {p.relative_to(folder).as_posix(): file_sha256(p) for p in files}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")


def write_atomic(target: Path, write: Callable[[Path], None]) -> None:
    """Run ``write(tmp)`` on a hidden sibling folder, fsync it, then rename it to ``target``."""
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        write(tmp)
        for file in tmp.rglob("*"):
            if file.is_file():
                with file.open("rb") as handle:
                    os.fsync(handle.fileno())
        if target.exists():
            old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
        with contextlib.suppress(OSError):  # make the renames durable where the platform allows
            fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def recover(target: Path) -> None:
    """Restore the previous index if a crash fell between the two renames of :func:`write_atomic`."""
    if target.exists() or not target.parent.is_dir():
        return
    olds = sorted(target.parent.glob(f".{target.name}.old-*"))
    if len(olds) == 1 and (olds[0] / "manifest.json").is_file():
        log.warning("restoring %s from an interrupted update (%s)", target, olds[0].name)
        olds[0].rename(target)
