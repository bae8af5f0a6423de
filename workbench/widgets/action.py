"""The action base of the notebook widgets: actions arrive as messages, outcomes and errors leave as traits.

The anywidget habit: a widget's state lives in synced traits and the front end sends only actions
(``{"action": "search", ...}``). :class:`ActionWidget` gives every widget the same rules for them:

- an action the front end sends runs through :meth:`ActionWidget.actions` (name -> handler); the names in
  ``background_actions`` run in a worker thread (one at a time), so long work never blocks the comm thread,
  and the rest run at once;
- any error reaches the learner through the synced ``error`` trait the view shows: a
  :class:`~workbench.errors.WorkbenchError` as its message, location and hint; an unexpected error as its type
  and message, with the traceback logged. It is never dropped: a worker keeps it for
  :meth:`ActionWidget.wait`, and Python callers of the widget's methods get it raised;
- :meth:`ActionWidget.wait` lets tests and headless callers wait for a background action and read its result.

Every action also has a Python method that runs it in the calling thread, so notebooks run headless (papermill,
nbclient) and tests drive the widget with no browser.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import anywidget
import traitlets

from workbench.errors import RunError, WorkbenchError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: What an action handler receives: the message's content (``{"action": name, ...}``).
Handler = Callable[[dict[str, Any]], Any]


def describe_error(exc: BaseException) -> str:
    """What the learner reads: a :class:`WorkbenchError`'s location, message and hint; else type and message."""
    text = str(exc) if isinstance(exc, WorkbenchError) else f"{type(exc).__name__}: {exc}"
    # Paths under the notebook's folder read relative to it: the learner's view, not the server's layout.
    return text.replace(f"{Path.cwd()}{os.sep}", "")


@dataclass
class ActionRun:
    """One action running (or run) in a worker thread.

    Attributes:
        name: The action.
        thread: The worker thread.
        result: What the action returned (once done).
        exception: What it raised (once done), also shown in the widget's ``error`` trait.
    """

    name: str
    thread: threading.Thread | None = None
    result: Any = None
    exception: BaseException | None = None

    @property
    def done(self) -> bool:
        """Whether the action has finished."""
        return self.thread is not None and not self.thread.is_alive()


class ActionWidget(anywidget.AnyWidget):
    """Base of the widgets whose front end sends actions: runs them and shows their errors to the learner.

    Subclasses list their actions in :meth:`actions`, name the slow ones in ``background_actions`` and may
    refine :meth:`error_status`. Their Python methods run a step with :meth:`perform`, which reports errors
    the same way.
    """

    status = traitlets.Unicode("idle").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    #: Actions the front end may send that run in a worker thread (the others run at once, on the comm thread).
    background_actions: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._run: ActionRun | None = None
        self._reported: BaseException | None = None
        self.on_msg(self._on_action)

    # -- what subclasses fill in ------------------------------------------------------------------------------

    def actions(self) -> Mapping[str, Handler]:
        """Action name -> handler of the message content (``{"action": name, ...}``)."""
        return {}

    def error_status(self, exc: BaseException) -> str | None:
        """The ``status`` an error leaves (``None``: leave it as it is)."""
        return "error"

    # -- errors -----------------------------------------------------------------------------------------------

    def report_error(self, exc: BaseException) -> None:
        """Show ``exc`` to the learner (``error`` trait and ``status``); log an unexpected one with its traceback."""
        if exc is self._reported:  # already shown by an inner step
            return
        self._reported = exc
        if not isinstance(exc, WorkbenchError):
            log.error("%s: unexpected error", type(self).__name__, exc_info=exc)
        status = self.error_status(exc)
        with self.hold_sync():
            self.error = describe_error(exc)
            if status is not None:
                self.status = status

    def perform(
        self, work: Callable[[], T], *, status: str | None = None, raise_errors: bool = True
    ) -> T | None:
        """Run one step of an action in this thread; its error reaches the learner, then the caller.

        Args:
            work: The step.
            status: Set before the step runs (and ``error`` cleared); ``None`` leaves both to ``work``.
            raise_errors: When false, a :class:`WorkbenchError` returns ``None`` instead of propagating (it is in
                the ``error`` trait); other errors always propagate.
        """
        if status is not None:
            self.status, self.error = status, ""
        try:
            return work()
        except Exception as exc:  # an interrupt (KeyboardInterrupt) is no error to show: it just propagates
            self.report_error(exc)
            if raise_errors or not isinstance(exc, WorkbenchError):
                raise
            return None

    # -- running actions --------------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """Whether a background action is running."""
        return self._run is not None and self._run.thread is not None and self._run.thread.is_alive()

    def start_action(self, name: str, work: Callable[[], Any]) -> ActionRun:
        """Run ``work`` in a worker thread; its error is shown (``error`` trait) and kept for :meth:`wait`.

        Raises:
            RunError: When another background action is still running.
        """
        if self.busy:
            raise RunError(
                f"an action is already running in this {type(self).__name__}",
                hint="wait() for it to finish first",
            )
        run = ActionRun(name)

        def target() -> None:
            try:
                run.result = work()
            except BaseException as exc:  # kept for wait() and shown in the view; a thread has no caller
                run.exception = exc
                if isinstance(exc, Exception):
                    self.report_error(exc)

        run.thread = threading.Thread(
            target=target, name=f"workbench-{type(self).__name__}-{name}", daemon=True
        )
        self._run = run
        run.thread.start()
        return run

    def wait(self, timeout: float | None = None, *, raise_errors: bool = False) -> Any:
        """Wait for the background action (from the front end or a ``start`` method) and return its result.

        Args:
            timeout: Most seconds to wait; ``None`` for as long as it takes.
            raise_errors: Re-raise the action's error (it is in the ``error`` trait either way).

        Returns:
            The action's result; ``None`` when none ran, it failed, or it is still running after ``timeout``.
        """
        run = self._run
        if run is None or run.thread is None:
            return None
        run.thread.join(timeout)
        if not run.done:
            return None
        if run.exception is not None and raise_errors:
            raise run.exception
        return run.result

    def _on_action(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """A message from the front end: run the action it names."""
        action = content.get("action") if isinstance(content, dict) else None
        handler = self.actions().get(action) if isinstance(action, str) else None
        if handler is None:
            self.error = f"unknown action {action!r}"
            return
        if action in self.background_actions:
            if self.busy:
                self.error = "an action is already running"
                return
            self.start_action(action, lambda: handler(content))
            return
        try:
            handler(content)
        except Exception as exc:  # shown in the view; raising here would only reach the kernel's log
            self.report_error(exc)
