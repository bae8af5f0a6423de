"""The copilot widget (anywidget): pick a copilot spec, chat with it, see its last evaluation and its stage.

A thin view over :mod:`workbench.copilots`: the picker lists the specs :func:`~workbench.copilots.find_specs`
finds (the current folder and ``<data_dir>/copilots``, plus any you pass); opening one shows
:func:`~workbench.copilots.describe_copilot` (model, adapter, retrieval, registered versions, GA and canary,
promotion history, this version's last evaluation with its gates); a question goes through
:meth:`Copilot.answer <workbench.copilots.Copilot.answer>` (retrieval, guard, citations, telemetry), and the reply
streams into the ``reply`` trait token by token before it joins ``messages``; **Evaluate** runs
:func:`~workbench.copilots.evaluate_version` (registers the version, runs its suite, stores the report).

State lives in synced traits; the front end sends only actions (``{"action": "open" | "ask" | "evaluate" |
"clear", ...}``, the open and ask messages carrying the path and the question), which run in a worker thread
(:class:`~workbench.widgets.action.ActionWidget`). The same work runs headless::

    w = CopilotWidget("support-copilot/copilot.yaml")
    w.ask("How do I sort a list?")          # w.messages[-1]: the answer, its sources and its guard status
    w.evaluate(limit=4)                     # w.overview["last_evaluation"]: metrics and gates
"""

from __future__ import annotations

import pathlib
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import traitlets

from workbench.widgets._static import STATIC, widget_esm
from workbench.widgets.action import ActionWidget, Handler

#: Synced trait names; ``static/copilot.js`` declares the same list (a test keeps them in step).
FIELDS: tuple[str, ...] = ("specs", "spec", "overview", "messages", "reply", "status", "error")


class CopilotWidget(ActionWidget):
    """Chat with a copilot spec and see where its version stands.

    Args:
        spec: A ``copilot.yaml`` (or its folder) to open now; default the first one found.
        roots: Folders searched for specs (default: the current folder and ``<data_dir>/copilots``).
        backend: A loaded ``ChatBackend`` to answer with instead of the spec's model (tests, notebooks that
            already hold the model).
    """

    _esm = widget_esm("copilot.js")
    _css = STATIC / "copilot.css"

    specs = traitlets.List(traitlets.Dict()).tag(sync=True)
    spec = traitlets.Unicode("").tag(sync=True)
    overview = traitlets.Dict().tag(sync=True)
    messages = traitlets.List(traitlets.Dict()).tag(sync=True)
    reply = traitlets.Unicode("").tag(sync=True)

    background_actions: ClassVar[frozenset[str]] = frozenset({"open", "ask", "evaluate"})

    def __init__(
        self,
        spec: str | pathlib.Path | None = None,
        *,
        roots: Sequence[str | pathlib.Path] | None = None,
        backend: Any = None,
    ) -> None:
        from workbench.copilots import find_specs

        found = [str(p) for p in find_specs(roots)]
        chosen = str(_spec_file(spec)) if spec is not None else (found[0] if found else "")
        if chosen and chosen not in found:
            found.insert(0, chosen)
        super().__init__(specs=[{"label": _label(p), "path": p} for p in found])
        self._backend = backend
        self._copilot: Any = None
        self._busy = threading.Lock()
        if chosen:
            self.pick(chosen)

    def actions(self) -> Mapping[str, Handler]:
        """The front end's actions (see the module docstring)."""
        return {
            "open": lambda content: self.pick(content.get("spec") or self.spec),
            "ask": lambda content: self.ask(str(content.get("question") or "")),
            "evaluate": lambda content: self.evaluate(limit=content.get("limit")),
            "clear": lambda _content: self.clear(),
        }

    @property
    def copilot(self) -> Any:
        """The open :class:`~workbench.copilots.Copilot` (its model loads on the first question)."""
        return self._copilot

    # ----------------------------------------------------------------------------------------------- actions

    def pick(self, spec: str | pathlib.Path) -> dict[str, Any]:
        """Open a spec: validate it and show its overview; the conversation starts afresh."""
        from workbench.copilots import Copilot, describe_copilot

        def work() -> dict[str, Any]:
            overview = describe_copilot(_spec_file(spec))
            self._copilot = Copilot(overview.spec, backend=self._backend)
            with self.hold_sync():
                self.spec, self.overview = str(_spec_file(spec)), _jsonable(overview.to_dict())
                self.messages, self.reply, self.status = [], "", "ready"
            return self.overview

        with self._busy:
            return self.perform(work, status="opening") or {}

    def ask(self, question: str) -> dict[str, Any]:
        """Ask the open copilot (with the conversation so far); returns the assistant's message."""
        from workbench.errors import ValidationError

        def work() -> dict[str, Any]:
            if self._copilot is None:
                raise ValidationError("no copilot is open", field="spec", hint="pick a copilot.yaml first")
            if not question.strip():
                raise ValidationError("the question is empty", field="question", hint="type a question first")
            chat = [{"role": m["role"], "content": m["content"]} for m in self.messages]
            chat.append({"role": "user", "content": question})
            self.messages = [*self.messages, {"role": "user", "content": question}]
            self.reply = ""
            started = time.perf_counter()
            answer = self._copilot.answer(chat, stream=True, on_text=self._on_text)
            result = answer.result
            message = {
                "role": "assistant", "content": result.text, "sources": list(answer.turn.sources),
                "status": result.status, "latency_s": round(time.perf_counter() - started, 3),
                "output_tokens": result.output_tokens,
            }  # fmt: skip
            with self.hold_sync():
                self.messages, self.reply, self.status = [*self.messages, message], "", "ready"
            return message

        with self._busy:
            return self.perform(work, status="answering") or {}

    def evaluate(self, limit: int | None = None) -> dict[str, Any]:
        """Run the open version's evaluation suite (registered and stored) and show it with its gates."""
        from workbench.copilots import describe_copilot, evaluate_version
        from workbench.errors import ValidationError

        def work() -> dict[str, Any]:
            if self._copilot is None:
                raise ValidationError("no copilot is open", field="spec", hint="pick a copilot.yaml first")
            evaluate_version(self._copilot, limit=int(limit) if limit else None)
            self.overview = _jsonable(describe_copilot(self._copilot.spec).to_dict())
            self.status = "ready"
            return self.overview

        with self._busy:
            return self.perform(work, status="evaluating") or {}

    def clear(self) -> None:
        """Start a new conversation."""
        self.messages, self.reply = [], ""

    def _on_text(self, piece: str) -> None:
        self.reply += piece


def _spec_file(spec: str | pathlib.Path) -> pathlib.Path:
    path = pathlib.Path(spec).expanduser()
    return (path / "copilot.yaml" if path.is_dir() else path).resolve()


def _label(path: str) -> str:
    """``<folder>/copilot.yaml`` as the picker shows it: the folder's name."""
    return pathlib.Path(path).parent.name or path


def _jsonable(value: Any) -> Any:
    """``value`` with dates and paths as strings (synced traits travel as JSON)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
