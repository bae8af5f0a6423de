"""The human review queue: AI verdicts a person accepts or overrides, and AI-human agreement.

Verdicts arrive from :func:`~workbench.rubrics.score_items` (low judge agreement, no valid judge answer, a
scorer error, or a random calibration sample). A reviewer sees the item, the criterion and its levels, the AI
score and rationale, and accepts it or overrides it with a comment. Every decision is stored in a SQLite file
(``<data_dir>/reviews.db`` by default) and written to telemetry as a ``review`` event (``rubric``,
``criterion``, ``item``, ``ai_score``, ``human_score``, ``agreed``, ``comment``) plus a ``score`` event with
``scorer="human"``, the final word on that criterion for that item.

Stored item text goes through guardrail redaction first (PII never lands in the queue file).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from workbench._sqlite import SqliteOptions, SqliteWriter, release_writer, shared_writer
from workbench.errors import NotFoundError, StoreError, ValidationError
from workbench.rubrics.agreement import exact_agreement, weighted_kappa

if TYPE_CHECKING:
    from workbench.rubrics.schema import Rubric
    from workbench.rubrics.verdicts import CriterionScore

Status = Literal["pending", "accepted", "overridden"]

#: WAL with ``synchronous=FULL``: a reviewer's decision survives a power cut.
_OPTIONS = SqliteOptions(wal=True, synchronous="FULL")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS review_items (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    rubric TEXT NOT NULL,
    rubric_version INTEGER NOT NULL,
    criterion TEXT NOT NULL,
    criterion_description TEXT NOT NULL,
    skill TEXT,
    levels_json TEXT NOT NULL,
    item_id TEXT NOT NULL,
    item_json TEXT NOT NULL,
    subject TEXT NOT NULL,
    ai_score INTEGER NOT NULL,
    max_score INTEGER NOT NULL,
    ai_rationale TEXT NOT NULL,
    confidence REAL NOT NULL,
    reason TEXT NOT NULL,
    pass_threshold REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    human_score INTEGER,
    comment TEXT,
    reviewer TEXT,
    reviewed_at TEXT
);
CREATE INDEX IF NOT EXISTS review_items_status ON review_items (status, rubric, criterion);
"""


@dataclass(frozen=True)
class ReviewItem:
    """One verdict in the queue."""

    id: str
    created_at: str
    rubric: str
    rubric_version: int
    criterion: str
    criterion_description: str
    skill: str | None
    levels: list[dict[str, Any]]
    item_id: str
    item: dict[str, Any]
    subject: str
    ai_score: int
    max_score: int
    ai_rationale: str
    confidence: float
    reason: str
    pass_threshold: float = 0.6
    status: Status = "pending"
    human_score: int | None = None
    comment: str | None = None
    reviewer: str | None = None
    reviewed_at: str | None = None

    @property
    def agreed(self) -> bool | None:
        """Whether the human kept the AI score (``None`` while pending)."""
        return None if self.human_score is None else self.human_score == self.ai_score

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (what the review widget shows)."""
        data = asdict(self)
        data["agreed"] = self.agreed
        return data


@dataclass(frozen=True)
class AgreementRow:
    """AI-human agreement for one rubric, and one criterion (``None``: all criteria pooled)."""

    rubric: str
    criterion: str | None
    n: int
    exact: float | None
    kappa_quadratic: float | None
    kappa_linear: float | None

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return asdict(self)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _redacted(item: Mapping[str, Any]) -> dict[str, Any]:
    try:
        from workbench.guardrails import redact
    except ImportError:  # guardrails missing: store as is rather than lose the review
        return dict(item)

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return redact(value).text
        if isinstance(value, Mapping):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return {str(k): clean(v) for k, v in item.items()}


class ReviewQueue:
    """A persistent review queue in SQLite (WAL; every queue on a file shares the process's one connection).

    Args:
        path: The database file; default ``<settings.data_dir>/reviews.db``.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        if path is None:
            from workbench.settings import get_settings

            path = get_settings().data_dir / "reviews.db"
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            writer = shared_writer(self.path, _OPTIONS)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the review queue '{self.path}': {exc}",
                             hint="check that the data directory is writable (WORKBENCH_DATA_DIR)") from None
        self._writer: SqliteWriter | None = writer
        try:
            with writer.locked() as conn:
                conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            self.close()
            raise StoreError(f"cannot open the review queue '{self.path}': {exc}",
                             hint="check that the data directory is writable (WORKBENCH_DATA_DIR)") from None

    def close(self) -> None:
        """Give back this queue's hold on the connection (closed when the last queue on the file closes)."""
        if self._writer is not None:
            release_writer(self._writer)
            self._writer = None

    def __enter__(self) -> ReviewQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self, *, write: bool = False) -> Iterator[sqlite3.Cursor]:
        """A cursor (rows as :class:`sqlite3.Row`) on the locked connection; in a write transaction if ``write``."""
        if self._writer is None:
            raise StoreError(f"the review queue '{self.path}' is closed", hint="open it again with ReviewQueue()")
        try:
            with self._writer.transaction() if write else self._writer.locked() as conn:
                cursor = conn.cursor()
                cursor.row_factory = sqlite3.Row
                yield cursor
        except sqlite3.Error as exc:
            raise StoreError(f"review queue '{self.path}' failed: {exc}") from None

    # --- writing ---------------------------------------------------------------------------------------------

    def add(
        self,
        rubric: Rubric,
        criterion_id: str,
        item: Mapping[str, Any],
        verdict: CriterionScore,
        *,
        subject: str = "copilot",
        reason: str | None = None,
    ) -> ReviewItem:
        """Queue the AI ``verdict`` on ``item`` for ``criterion_id`` of ``rubric``."""
        criterion = rubric.criterion(criterion_id)
        item_id = str(item.get("id")) if item.get("id") is not None else "item"
        review = ReviewItem(
            id=uuid.uuid4().hex, created_at=_now(), rubric=rubric.id, rubric_version=rubric.version,
            criterion=criterion.id, criterion_description=criterion.description, skill=criterion.skill,
            levels=[level.model_dump() for level in criterion.levels], item_id=item_id, item=_redacted(item),
            subject=subject, ai_score=verdict.raw_score, max_score=verdict.max_score,
            ai_rationale=verdict.rationale, confidence=verdict.confidence,
            reason=reason or verdict.review_reason or "manual",
            pass_threshold=(
                criterion.pass_threshold if criterion.pass_threshold is not None else rubric.pass_threshold
            ),
        )
        with self._tx(write=True) as conn:
            conn.execute(
                "INSERT INTO review_items (id, created_at, rubric, rubric_version, criterion, "
                "criterion_description, skill, levels_json, item_id, item_json, subject, ai_score, max_score, "
                "ai_rationale, confidence, reason, pass_threshold) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (review.id, review.created_at, review.rubric, review.rubric_version, review.criterion,
                 review.criterion_description, review.skill, json.dumps(review.levels), review.item_id,
                 json.dumps(review.item, default=str), review.subject, review.ai_score, review.max_score,
                 review.ai_rationale, review.confidence, review.reason, review.pass_threshold),
            )
        return review

    def accept(self, review_id: str, *, comment: str = "", reviewer: str | None = None,
               record: bool = True) -> ReviewItem:
        """Keep the AI score."""
        current = self.get(review_id)
        return self._decide(current, current.ai_score, "accepted", comment, reviewer, record)

    def override(self, review_id: str, score: int, *, comment: str, reviewer: str | None = None,
                 record: bool = True) -> ReviewItem:
        """Replace the AI score with ``score``; a comment saying why is required."""
        current = self.get(review_id)
        if not isinstance(score, int) or isinstance(score, bool) or not 0 <= score <= current.max_score:
            raise ValidationError(
                f"score {score!r} is not a level of criterion '{current.criterion}'",
                field="score", hint=f"give an integer from 0 to {current.max_score}",
            )
        if not comment or not comment.strip():
            raise ValidationError(
                "an override needs a comment", field="comment",
                hint="say why the AI score is wrong, so the rubric and the judge can improve",
            )
        return self._decide(current, score, "overridden", comment, reviewer, record)

    def _decide(self, current: ReviewItem, score: int, status: Status, comment: str, reviewer: str | None,
                record: bool) -> ReviewItem:
        comment = _redact_text(comment.strip()) if comment else ""
        when = _now()
        with self._tx(write=True) as conn:
            conn.execute(
                "UPDATE review_items SET status=?, human_score=?, comment=?, reviewer=?, reviewed_at=? WHERE id=?",
                (status, score, comment, reviewer, when, current.id),
            )
        decided = self.get(current.id)
        if record:
            _record_review(decided)
        return decided

    # --- reading ---------------------------------------------------------------------------------------------

    def get(self, review_id: str) -> ReviewItem:
        """The queued verdict ``review_id``."""
        with self._tx() as conn:
            row = conn.execute("SELECT * FROM review_items WHERE id=?", (review_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no review item '{review_id}'", hint="list them with ReviewQueue().pending()")
        return _from_row(row)

    def items(self, *, status: Status | None = None, rubric: str | None = None, criterion: str | None = None,
              limit: int | None = None) -> list[ReviewItem]:
        """Queued verdicts, oldest first, filtered."""
        sql, args = "SELECT * FROM review_items WHERE 1=1", list[object]()
        for column, value in (("status", status), ("rubric", rubric), ("criterion", criterion)):
            if value is not None:
                sql += f" AND {column}=?"
                args.append(value)
        sql += " ORDER BY created_at, rowid"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        with self._tx() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [_from_row(r) for r in rows]

    def pending(self, *, rubric: str | None = None, criterion: str | None = None,
                limit: int | None = None) -> list[ReviewItem]:
        """Verdicts waiting for a person."""
        return self.items(status="pending", rubric=rubric, criterion=criterion, limit=limit)

    def reviewed(self, *, rubric: str | None = None, criterion: str | None = None) -> list[ReviewItem]:
        """Verdicts a person has accepted or overridden."""
        return [r for r in self.items(rubric=rubric, criterion=criterion) if r.status != "pending"]

    def counts(self) -> dict[str, int]:
        """How many verdicts are pending, accepted and overridden."""
        with self._tx() as conn:
            rows = conn.execute("SELECT status, COUNT(*) FROM review_items GROUP BY status").fetchall()
        found = {str(r[0]): int(r[1]) for r in rows}
        return {s: found.get(s, 0) for s in ("pending", "accepted", "overridden")}

    def agreement(self, *, rubric: str | None = None) -> list[AgreementRow]:
        """AI-human agreement per rubric and criterion, plus one pooled row per rubric (``criterion=None``).

        Kappa uses each criterion's full level range as labels, so unused levels still count in the weights.
        """
        groups: dict[tuple[str, str | None], list[ReviewItem]] = {}
        for r in self.reviewed(rubric=rubric):
            groups.setdefault((r.rubric, r.criterion), []).append(r)
            groups.setdefault((r.rubric, None), []).append(r)
        rows = []
        for (rub, crit), reviews in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
            ai = [r.ai_score for r in reviews]
            human = [r.human_score for r in reviews if r.human_score is not None]
            labels = list(range(max(r.max_score for r in reviews) + 1))
            rows.append(AgreementRow(
                rubric=rub, criterion=crit, n=len(reviews), exact=exact_agreement(ai, human),
                kappa_quadratic=weighted_kappa(ai, human, labels=labels, weights="quadratic"),
                kappa_linear=weighted_kappa(ai, human, labels=labels, weights="linear"),
            ))
        return rows


def _redact_text(text: str) -> str:
    try:
        from workbench.guardrails import redact
    except ImportError:
        return text
    return redact(text).text


def _from_row(row: sqlite3.Row) -> ReviewItem:
    data = dict(row)
    data["levels"] = json.loads(data.pop("levels_json"))
    data["item"] = json.loads(data.pop("item_json"))
    return ReviewItem(**data)


def _record_review(review: ReviewItem) -> None:
    from workbench.telemetry import get_recorder

    recorder = get_recorder()
    recorder.emit(
        "review", status=review.status, rubric=review.rubric, criterion=review.criterion, item=review.item_id,
        ai_score=review.ai_score, human_score=review.human_score, agreed=review.agreed, comment=review.comment,
    )
    human = review.human_score if review.human_score is not None else review.ai_score
    recorder.emit(
        "score", status="reviewed", rubric=review.rubric, rubric_version=review.rubric_version,
        criterion=review.criterion, skill=review.skill, score=human / review.max_score, raw_score=human,
        max_score=review.max_score, passed=human / review.max_score >= review.pass_threshold, scorer="human", confidence=1.0, item=review.item_id,
        subject=review.subject,
    )
    recorder.flush()
