"""Per-learner rate limits and token budgets, persisted in SQLite so they hold across processes.

One table, ``usage(learner, ts, tokens)``: a generation reserves a row before it runs (the rate limit counts
rows in the last minute, the budget sums tokens in the last 24 hours) and fills in its real token count when it
ends. Reserve-and-check happens in one ``BEGIN IMMEDIATE`` transaction, so two processes cannot both take the
last slot. Learners are stored as pseudonyms. Rows older than a day are pruned now and then.

Connections come from :mod:`workbench._sqlite`: WAL mode with a busy timeout, and one connection per process
and database file (the bundled SQLite's WAL-reset bug bites with several writer connections in one process).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from workbench._sqlite import SqliteOptions, SqliteWriter, shared_writer
from workbench.errors import StoreError

_DAY_S = 86_400.0
_MINUTE_S = 60.0

#: WAL, ``synchronous=NORMAL`` (a crash loses nothing; a power cut may forget the last reservations).
_OPTIONS = SqliteOptions(wal=True, synchronous="NORMAL")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS usage (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    learner TEXT NOT NULL,
    ts REAL NOT NULL,
    tokens INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS usage_learner_ts ON usage (learner, ts);
"""


def _open(path: Path) -> SqliteWriter:
    """The process's writer of the usage database at ``path``, its schema created."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = shared_writer(path, _OPTIONS)
        with writer.locked() as conn:
            conn.executescript(_SCHEMA)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(
            f"cannot open the guardrail usage database: {exc}", file=path, hint="check the data_dir is writable"
        ) from exc
    return writer


@dataclass(frozen=True)
class Reservation:
    """The outcome of :meth:`UsageLimiter.reserve`.

    Attributes:
        allowed: Whether the request may go ahead.
        check: ``"rate_limit"`` or ``"token_budget"`` when refused, else ``"limits"``.
        reason: Why it was refused.
        row_id: The reserved row (pass it to :meth:`UsageLimiter.complete`), or ``None`` when refused.
        requests_last_minute: Requests counted in the window (before this one).
        tokens_last_day: Tokens counted in the window (before this one).
        retry_after_s: When refused, seconds until a slot frees up (approximate).
    """

    allowed: bool
    check: str
    reason: str = ""
    row_id: int | None = None
    requests_last_minute: int = 0
    tokens_last_day: int = 0
    retry_after_s: float | None = None


class UsageLimiter:
    """Per-learner limits stored in a SQLite file.

    Args:
        path: The database file (e.g. ``<data_dir>/guardrails/usage.db``).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._reserves = 0
        self._writer: SqliteWriter | None = None

    @contextmanager
    def _db(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """The process's connection to the database, locked; in a ``BEGIN IMMEDIATE`` transaction if ``write``."""
        if self._writer is None:
            self._writer = _open(self.path)
        try:
            with self._writer.transaction() if write else self._writer.locked() as conn:
                yield conn
        except sqlite3.Error as exc:
            raise StoreError(f"guardrail usage database error: {exc}", file=self.path) from exc

    def reserve(
        self,
        learner: str,
        *,
        tokens: int = 0,
        requests_per_minute: int | None,
        tokens_per_day: int | None,
        now: float | None = None,
    ) -> Reservation:
        """Check both limits for ``learner`` and, if they allow it, record the request.

        Args:
            learner: The learner's pseudonym.
            tokens: Tokens known before the call (the prompt); the rest are added by :meth:`complete`.
            requests_per_minute: Rate limit, ``None`` for none.
            tokens_per_day: Rolling 24-hour token budget, ``None`` for none.
            now: The current time (tests pass it).
        """
        now = time.time() if now is None else now
        # Reserve-and-check in one write transaction: two processes cannot both take the last slot.
        with self._db(write=True) as conn:
            result = self._reserve_locked(conn, learner, tokens, requests_per_minute, tokens_per_day, now)
        self._reserves += 1
        if self._reserves % 1000 == 0:
            self.prune(now=now)
        return result

    def _reserve_locked(
        self,
        conn: sqlite3.Connection,
        learner: str,
        tokens: int,
        rpm: int | None,
        tpd: int | None,
        now: float,
    ) -> Reservation:
        # One indexed range scan answers both windows (the minute lies inside the day).
        recent, oldest, used = conn.execute(
            "SELECT coalesce(sum(ts > ?), 0), min(CASE WHEN ts > ? THEN ts END), coalesce(sum(tokens), 0) "
            "FROM usage WHERE learner = ? AND ts > ?",
            (now - _MINUTE_S, now - _MINUTE_S, learner, now - _DAY_S),
        ).fetchone()
        if rpm is not None and recent >= rpm:
            retry = max(0.0, (oldest or now) + _MINUTE_S - now)
            return Reservation(
                False,
                "rate_limit",
                f"rate limit reached: {recent} requests in the last minute (limit {rpm})",
                requests_last_minute=recent,
                retry_after_s=round(retry, 1),
            )
        if tpd is not None and used + tokens > tpd:
            return Reservation(
                False,
                "token_budget",
                f"token budget reached: {used} tokens used in the last 24 h (budget {tpd})",
                requests_last_minute=recent,
                tokens_last_day=used,
            )
        cur = conn.execute("INSERT INTO usage (learner, ts, tokens) VALUES (?, ?, ?)", (learner, now, tokens))
        return Reservation(True, "limits", "", cur.lastrowid, recent, used)

    def complete(self, row_id: int | None, tokens: int) -> None:
        """Record the final token count of a reserved request."""
        if row_id is None:
            return
        with self._db(write=False) as conn:
            conn.execute("UPDATE usage SET tokens = ? WHERE id = ?", (int(tokens), row_id))

    def cancel(self, row_id: int | None) -> None:
        """Delete a reserved row whose request never ran."""
        if row_id is None:
            return
        with self._db(write=False) as conn:
            conn.execute("DELETE FROM usage WHERE id = ?", (row_id,))

    def usage(self, learner: str, *, now: float | None = None) -> dict[str, int]:
        """``{"requests_last_minute", "tokens_last_day"}`` for ``learner``."""
        now = time.time() if now is None else now
        with self._db(write=False) as conn:
            req = conn.execute(
                "SELECT count(*) FROM usage WHERE learner = ? AND ts > ?", (learner, now - _MINUTE_S)
            ).fetchone()[0]
            tok = conn.execute(
                "SELECT coalesce(sum(tokens), 0) FROM usage WHERE learner = ? AND ts > ?", (learner, now - _DAY_S)
            ).fetchone()[0]
        return {"requests_last_minute": int(req), "tokens_last_day": int(tok)}

    def prune(self, *, now: float | None = None) -> int:
        """Delete rows older than the longest window; returns how many."""
        now = time.time() if now is None else now
        with self._db(write=False) as conn:
            cur = conn.execute("DELETE FROM usage WHERE ts <= ?", (now - _DAY_S,))
        return cur.rowcount
