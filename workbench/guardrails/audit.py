"""An append-only, hash-chained audit log of guardrail decisions (JSON Lines).

Each line is one decision: ``seq``, ``time``, ``check``, ``action``, ``kinds``, ``reasons``, the learner's
pseudonym, the model and the policy, plus ``prev`` (the previous line's hash) and ``hash`` (SHA-256 over
``prev`` and the line's canonical JSON). Editing, deleting or reordering any line breaks the chain from that
line on, which :func:`verify_audit` reports. Entries never carry raw text: kinds and signal names only.

Appends take an exclusive ``flock`` on the file and read the last line's hash under it, so several processes
can write one log safely. Without ``fsync`` an entry survives a process crash but not a power loss.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench.errors import StoreError

try:  # POSIX; on Windows appends are serialised within a process only
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

GENESIS = "0" * 64


def _canonical(body: Mapping[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _digest(prev: str, body: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev + _canonical(body)).encode("utf-8")).hexdigest()


def _last_line(fh: Any) -> bytes:
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    if size == 0:
        return b""
    block = 4096
    pos = size
    tail = b""
    while pos > 0:
        step = min(block, pos)
        pos -= step
        fh.seek(pos)
        tail = fh.read(step) + tail
        stripped = tail.rstrip(b"\n")
        idx = stripped.rfind(b"\n")
        if idx >= 0:
            return stripped[idx + 1 :]
    return tail.rstrip(b"\n")


class AuditLog:
    """Appends decisions to a hash-chained JSONL file.

    The file stays open in append mode. Under the lock, the file size tells whether another process wrote
    since this one did; only then is the last line re-read to pick up the chain.

    Args:
        path: The log file (created with its folder on first write).
        fsync: ``os.fsync`` after every append.
    """

    def __init__(self, path: str | Path, *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._lock = threading.Lock()
        self._fh: Any = None
        self._pid = -1
        self._tail: tuple[int, str, int] | None = None  # (file size, last hash, last seq) after our last write

    def append(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        """Append one entry; returns it with ``seq``, ``time``, ``prev`` and ``hash`` filled in."""
        return self.append_many([entry])[0]

    def _handle(self) -> Any:
        if self._fh is None or self._pid != os.getpid() or self._fh.closed:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a+b")  # noqa: SIM115 - kept open for the life of the log
            self._pid = os.getpid()
            self._tail = None
        return self._fh

    def append_many(self, entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Append several entries under one lock (one write)."""
        if not entries:
            return []
        try:
            with self._lock:
                fh = self._handle()
                if fcntl is not None:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                try:
                    size = os.fstat(fh.fileno()).st_size
                    if self._tail is not None and self._tail[0] == size:
                        _, prev, seq = self._tail
                    else:
                        last = _last_line(fh)
                        if last:
                            head = json.loads(last)
                            prev, seq = head["hash"], int(head["seq"])
                        else:
                            prev, seq = GENESIS, 0
                    now = datetime.now(timezone.utc).isoformat()
                    written: list[dict[str, Any]] = []
                    lines: list[bytes] = []
                    for entry in entries:
                        seq += 1
                        body = {"seq": seq, "time": now, **entry, "prev": prev}
                        body.pop("hash", None)
                        canonical = _canonical(body)
                        prev = hashlib.sha256((body["prev"] + canonical).encode("utf-8")).hexdigest()
                        body["hash"] = prev
                        written.append(body)
                        lines.append(f'{canonical[:-1]},"hash":"{prev}"}}\n'.encode())
                    data = b"".join(lines)
                    fh.seek(0, os.SEEK_END)
                    fh.write(data)
                    fh.flush()
                    if self.fsync:
                        os.fsync(fh.fileno())
                    self._tail = (size + len(data), prev, seq)
                    return written
                finally:
                    if fcntl is not None:
                        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        except (OSError, ValueError, KeyError) as exc:
            self._tail = None
            raise StoreError(
                f"cannot append to the audit log: {exc}",
                file=self.path,
                hint="check the folder is writable; if the last line is damaged, run 'workbench guard audit' to find it",
            ) from exc

    def close(self) -> None:
        """Close the file handle (appends reopen it)."""
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every entry, oldest first."""
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)

    def tail(self, n: int = 20) -> list[dict[str, Any]]:
        """The last ``n`` entries."""
        return list(self.entries())[-n:]

    def verify(self) -> AuditVerification:
        """Check the hash chain; see :func:`verify_audit`."""
        return verify_audit(self.path)


@dataclass(frozen=True)
class AuditVerification:
    """The result of checking an audit log's hash chain.

    Attributes:
        ok: Every line is intact and chained.
        entries: Lines checked.
        bad_line: 1-based line number of the first broken entry, if any.
        reason: What is wrong with it.
    """

    ok: bool
    entries: int
    bad_line: int | None = None
    reason: str | None = None


def verify_audit(path: str | Path) -> AuditVerification:
    """Check that an audit log is an unbroken hash chain (no line edited, removed, inserted or reordered)."""
    path = Path(path)
    if not path.exists():
        return AuditVerification(True, 0)
    prev, expected_seq, n = GENESIS, 1, 0
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            n += 1
            try:
                body = json.loads(line)
            except json.JSONDecodeError:
                return AuditVerification(False, n, lineno, "not valid JSON")
            stored = body.pop("hash", None)
            if body.get("prev") != prev:
                return AuditVerification(False, n, lineno, "chain broken: 'prev' does not match the previous hash")
            if body.get("seq") != expected_seq:
                return AuditVerification(False, n, lineno, f"sequence gap: expected seq {expected_seq}")
            if _digest(prev, body) != stored:
                return AuditVerification(False, n, lineno, "hash mismatch: the entry was modified")
            prev = stored
            expected_seq += 1
    return AuditVerification(True, n)
