"""The review-queue widget (anywidget): a thin view over :class:`workbench.rubrics.ReviewQueue`.

Shows one queued verdict at a time: the item, the criterion and its levels, the AI score, rationale and
confidence; the reviewer accepts it or overrides it with a score and a comment. Below, AI-human agreement per
rubric and criterion (exact agreement, weighted kappa). State lives in synced traits; the front end sends only
actions (``{"action": "accept" | "override" | "goto" | "refresh", ...}``). Every action has a Python method,
so notebooks and tests drive the widget headless::

    w = ReviewWidget(rubric="tone-policy")
    w                                   # the queue in JupyterLab
    w.current                           # the verdict shown (dict)
    w.override(1, comment="curt, not rude")
    w.accept()
    w.agreement                         # rows per rubric/criterion
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import traitlets

from workbench.rubrics import ReviewItem, ReviewQueue
from workbench.widgets._static import STATIC, widget_esm
from workbench.widgets.action import ActionWidget, Handler

#: Synced trait names; ``static/review.js`` declares the same list (a test keeps them in step).
FIELDS: tuple[str, ...] = ("rubric", "items", "index", "current", "counts", "agreement", "status", "error", "last")


class ReviewWidget(ActionWidget):
    """Human review of AI verdicts: accept or override with a comment; see AI-human agreement.

    Args:
        rubric: Only show this rubric's verdicts (``""``: all).
        queue: The queue to review (default: the one under ``settings.data_dir``), or its database path.
        limit: Most pending verdicts loaded at once.
        reviewer: Stored with each decision.
    """

    _esm = widget_esm("review.js")
    _css = STATIC / "review.css"

    rubric = traitlets.Unicode("").tag(sync=True)
    items = traitlets.List(traitlets.Dict()).tag(sync=True)
    index = traitlets.Int(0).tag(sync=True)
    current = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)
    counts = traitlets.Dict().tag(sync=True)
    agreement = traitlets.List(traitlets.Dict()).tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    last = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        rubric: str = "",
        *,
        queue: ReviewQueue | str | Path | None = None,
        limit: int = 200,
        reviewer: str | None = None,
    ) -> None:
        super().__init__(rubric=rubric)
        self._queue = queue if isinstance(queue, ReviewQueue) else ReviewQueue(queue)
        self._limit = limit
        self._reviewer = reviewer
        self.observe(self._on_index, names=["index"])
        self.observe(lambda _change: self.refresh(), names=["rubric"])
        self.refresh()

    @property
    def queue(self) -> ReviewQueue:
        """The queue this widget reviews."""
        return self._queue

    # ------------------------------------------------------------------------------------------------ state

    def refresh(self) -> None:
        """Reload pending verdicts, counts and agreement from the queue."""
        rubric = self.rubric or None
        pending = self._queue.pending(rubric=rubric, limit=self._limit)
        self.items = [_view(p) for p in pending]
        self.counts = self._queue.counts()
        self.agreement = [row.to_dict() for row in self._queue.agreement(rubric=rubric)]
        index = min(self.index, max(0, len(self.items) - 1))
        if index != self.index:
            self.index = index  # the observer updates current
        else:
            self._show(index)
        self.status = f"{len(self.items)} pending" if self.items else "nothing to review"

    def _on_index(self, change: dict[str, Any]) -> None:
        self._show(int(change["new"]))

    def _show(self, index: int) -> None:
        self.current = self.items[index] if 0 <= index < len(self.items) else None  # type: ignore[assignment]

    def goto(self, index: int) -> None:
        """Show the pending verdict at ``index`` (clamped)."""
        self.index = max(0, min(index, len(self.items) - 1)) if self.items else 0

    # ---------------------------------------------------------------------------------------------- actions

    def accept(self, comment: str = "", *, review_id: str | None = None) -> ReviewItem | None:
        """Accept the AI score of the current (or ``review_id``) verdict."""
        return self._decide(review_id, lambda rid: self._queue.accept(rid, comment=comment, reviewer=self._reviewer))

    def override(self, score: int, comment: str, *, review_id: str | None = None) -> ReviewItem | None:
        """Replace the AI score of the current (or ``review_id``) verdict, with a comment saying why."""
        return self._decide(
            review_id, lambda rid: self._queue.override(rid, int(score), comment=comment, reviewer=self._reviewer)
        )

    def _decide(self, review_id: str | None, action: Callable[[str], ReviewItem]) -> ReviewItem | None:
        shown: dict[str, Any] = self.current or {}
        rid = review_id or shown.get("id")
        if not rid:
            self.error = "nothing to review"
            return None
        decided = self.perform(lambda: action(rid), raise_errors=False)
        if decided is None:
            return None
        self.error = ""
        self.last = _view(decided)
        self.refresh()
        return decided

    def actions(self) -> Mapping[str, Handler]:
        """The front end's actions, run at once (see :class:`ActionWidget`)."""
        return {
            "accept": lambda content: self.accept(str(content.get("comment") or ""), review_id=content.get("id")),
            "override": self._override_message,
            "goto": lambda content: self.goto(int(content.get("index", 0))),
            "refresh": lambda _content: self.refresh(),
        }

    def error_status(self, exc: BaseException) -> None:
        """Errors leave :attr:`status` (the queue summary) as it is."""
        return None

    def _override_message(self, content: dict[str, Any]) -> ReviewItem | None:
        try:
            score = int(content.get("score"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            self.error = "choose a score to override with"
            return None
        return self.override(score, str(content.get("comment") or ""), review_id=content.get("id"))


def _view(item: ReviewItem) -> dict[str, Any]:
    data = item.to_dict()
    # Show the fields a reviewer reads first; keep the rest for context.
    data["fields"] = [{"name": k, "value": v if isinstance(v, str) else _compact(v)} for k, v in item.item.items()
                      if k != "id"]
    return data


def _compact(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, indent=1, default=str)
