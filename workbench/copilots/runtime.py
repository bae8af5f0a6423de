"""A copilot at run time: its model, guard, template and index, and the one way a chat turn is answered.

:meth:`Copilot.answer` is what the evaluation, the server and notebooks share:

1. the question is the last user message; retrieval (when the spec has it) searches the index for it, and
   the guard drops retrieved passages it blocks (a document that addresses the model) and redacts PII in the
   rest;
2. the template (``id@version``) renders the question and the passages; its system prompt and few-shot turns
   come first, then the earlier turns of the conversation, then the rendered question. A client's own system
   messages are kept only when neither the template nor the spec has a system prompt;
3. :func:`workbench.prompting.guarded_generate` generates: guard preflight, the model, output checks, and one
   ``generation`` telemetry event with redacted text only. The event's ``task`` names the copilot version
   (``copilot:<id>@<version>`` when served, ``copilot-eval:<id>@<version>`` when evaluated).

Parameters merge lowest first: the template's recommended ones, the spec's ``prompt.parameters``, the caller's.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.copilots.spec import CopilotSpec, TemplateSlots, load_spec, template_slots
from workbench.errors import ValidationError

if TYPE_CHECKING:
    from workbench.guardrails import Guard
    from workbench.models import ChatBackend
    from workbench.prompting import GenerationResult, PromptTemplate
    from workbench.rag import Hit, RagIndex


@dataclass(frozen=True)
class Turn:
    """A chat request made ready for the model.

    Attributes:
        question: The user's last message.
        messages: The prompt the model gets, before the guard's redaction.
        passages: Retrieved passages kept in the prompt (redacted), in citation order ``[1]``, ``[2]``...
        sources: Their source ids, in the same order.
        template: ``id@version`` of the template, when the copilot has one.
        params: The merged generation parameters (template, spec).
    """

    question: str
    messages: list[dict[str, str]]
    passages: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    template: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    hits: list[Any] = field(default_factory=list, repr=False)


@dataclass(frozen=True)
class Answer:
    """One answered turn: the guarded generation and the turn it answered."""

    result: GenerationResult
    turn: Turn

    @property
    def text(self) -> str:
        """The answer as shown (after output checks)."""
        return self.result.text


def load_backend(spec: CopilotSpec) -> ChatBackend:
    """The spec's model: ``load_model(name, bits)``, or the LoRA adapter on it (``workbench.tuning.load_tuned``)."""
    if spec.model.adapter is not None:
        from workbench.tuning import load_tuned

        bits = spec.model.bits
        return load_tuned(spec.model.adapter, base=spec.model.name, bits=bits)  # type: ignore[no-any-return]
    from workbench.models import load_model

    return load_model(spec.model.name, bits=spec.model.bits)


class Copilot:
    """A loaded copilot. The model, guard and index load on first use (or pass them in, to share them).

    Args:
        spec: The spec, or a path to a ``copilot.yaml``.
        backend: A loaded model to use instead of loading the spec's.
        guard: A guard to use instead of the spec's policy.
        index: A loaded index to use instead of the spec's folder.
    """

    def __init__(
        self,
        spec: CopilotSpec | str | Path,
        *,
        backend: ChatBackend | None = None,
        guard: Guard | None = None,
        index: RagIndex | None = None,
    ) -> None:
        self.spec = spec if isinstance(spec, CopilotSpec) else load_spec(spec)
        self._backend = backend
        self._guard = guard
        self._index = index
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Copilot {self.spec.ref}>"

    # -- parts ------------------------------------------------------------------------------------------------

    @property
    def backend(self) -> ChatBackend:
        """The model (loaded once)."""
        with self._lock:
            if self._backend is None:
                self._backend = load_backend(self.spec)
            return self._backend

    @property
    def guard(self) -> Guard:
        """The guard applying the spec's policy (the built-in default's shared guard when it names none)."""
        with self._lock:
            if self._guard is None:
                if self.spec.guardrails.policy is None:
                    from workbench.prompting import default_guard

                    self._guard = default_guard()
                else:
                    from workbench.guardrails import Guard

                    self._guard = Guard(self.spec.guardrails.policy)
            return self._guard

    @property
    def index(self) -> RagIndex | None:
        """The retrieval index (loaded once), or ``None`` when the copilot does not retrieve."""
        if self.spec.retrieval is None:
            return None
        with self._lock:
            if self._index is None:
                from workbench.rag import RagIndex

                self._index = RagIndex.load(self.spec.retrieval.index)
            return self._index

    @property
    def k(self) -> int:
        """Passages retrieved per question (the spec's ``retrieval.k``, else ``workbench.rag.DEFAULT_K``)."""
        if self.spec.retrieval is not None and self.spec.retrieval.k is not None:
            return self.spec.retrieval.k
        from workbench.rag import DEFAULT_K

        return int(DEFAULT_K)

    @cached_property
    def template(self) -> PromptTemplate | None:
        """The prompt template, when the spec names one."""
        if self.spec.prompt.template is None:
            return None
        from workbench.prompting import get_template

        return get_template(self.spec.prompt.template)

    @cached_property
    def slots(self) -> TemplateSlots | None:
        """Which template variables receive the question and the passages."""
        return None if self.template is None else template_slots(self.spec, self.template)

    def load(self) -> Copilot:
        """Load the model, guard and index now (a server does this before it accepts requests)."""
        _ = self.backend, self.guard, self.index, self.slots
        return self

    # -- answering --------------------------------------------------------------------------------------------

    def retrieve(self, question: str, *, record: bool = True) -> list[Hit]:
        """The ``k`` best chunks for ``question`` (empty when the copilot does not retrieve)."""
        index = self.index
        if index is None or self.spec.retrieval is None:
            return []
        return index.search(question, self.k, mode=self.spec.retrieval.mode, record=record)

    def prepare(self, messages: str | Sequence[Mapping[str, Any]], *, hits: Sequence[Hit] | None = None) -> Turn:
        """Turn a chat request (or one question) into the model's prompt; retrieves unless ``hits`` are given.

        Raises:
            ValidationError: No user message, or the template does not render.
        """
        chat = [{"role": "user", "content": messages}] if isinstance(messages, str) else [dict(m) for m in messages]
        last = next((i for i in range(len(chat) - 1, -1, -1) if chat[i].get("role") == "user"), None)
        if last is None or not str(chat[last].get("content") or "").strip():
            raise ValidationError(
                "the request has no user message", field="messages", hint='end with {"role": "user", "content": ...}'
            )
        question = str(chat[last]["content"])
        found = list(hits) if hits is not None else self.retrieve(question)
        kept = self._screen(found)
        passages = [text for _, text in kept]
        own_system, rendered, template_params = self._render(question, passages)
        history = [
            {"role": str(m["role"]), "content": str(m.get("content") or "")}
            for m in chat[:last]
            if m.get("role") in ("user", "assistant") or (m.get("role") == "system" and not own_system)
        ]
        messages_out = [*own_system, *rendered[:-1], *history, rendered[-1]]
        params = {**template_params, **self.spec.prompt.parameters.as_dict()}
        return Turn(
            question=question,
            messages=messages_out,
            passages=passages,
            sources=[hit.source for hit, _ in kept],
            template=self.template.ref if self.template is not None else None,
            params=params,
            hits=[hit for hit, _ in kept],
        )

    def _screen(self, hits: Sequence[Hit]) -> list[tuple[Hit, str]]:
        """Hits the guard lets into the prompt, with their (redacted) text."""
        if not hits:
            return []
        decisions = self.guard.check_retrieved([h.text for h in hits], model=self.backend_name)
        return [(hit, d.text or hit.text) for hit, d in zip(hits, decisions, strict=True) if not d.blocked]

    @property
    def backend_name(self) -> str:
        """The model's name as the guard checks it (without loading the model)."""
        return str(getattr(self._backend, "name", None) or self.spec.model.name)

    def _render(
        self, question: str, passages: list[str]
    ) -> tuple[list[dict[str, str]], list[dict[str, str]], dict[str, Any]]:
        """(system messages, few-shot turns + the question turn, the template's parameters)."""
        system = self.spec.prompt.system
        template, slots = self.template, self.slots
        if template is None or slots is None:
            own = [{"role": "system", "content": system}] if system else []
            return own, [{"role": "user", "content": question}], {}
        values: dict[str, Any] = {**self.spec.prompt.variables, slots.question: question}
        if slots.context is not None:
            kind = template.variable(slots.context).type
            values[slots.context] = (
                passages if kind == "list" else "\n\n".join(f"[{n}] {p}" for n, p in enumerate(passages, 1))
            )
        rendered = template.render(values, system=system)
        messages = [dict(m) for m in rendered.messages]
        own = [m for m in messages if m["role"] == "system"]
        return own, [m for m in messages if m["role"] != "system"], dict(rendered.parameters)

    def answer(
        self,
        messages: str | Sequence[Mapping[str, Any]],
        *,
        params: Mapping[str, Any] | None = None,
        backend: ChatBackend | None = None,
        stream: bool = False,
        on_text: Any = None,
        learner: str | None = None,
        task: str | None = None,
        label: str | None = None,
        turn: Turn | None = None,
    ) -> Answer:
        """Answer a chat request through the guard, recorded as one ``generation`` event.

        Args:
            messages: Chat messages (or one question).
            params: Generation parameters over the template's and the spec's.
            backend: The model to generate with (a server passes its batching front); default :attr:`backend`.
            stream: Stream; ``on_text`` receives redacted pieces as they come.
            on_text: Callback for streamed text.
            learner: Who asked (raw id or pseudonym); default the telemetry context.
            task: The event's task (default ``copilot:<id>@<version>``).
            label: A label kept in the event (``variant``), e.g. the serving stage.
            turn: A prepared turn (:meth:`prepare`), to skip preparing again.

        Raises:
            ValidationError: No user message; invalid parameters.
            ContextLengthError: The prompt does not fit the model.
            PolicyViolation: The guard blocked the request.
        """
        from workbench.prompting import guarded_generate

        turn = turn or self.prepare(messages)
        result = guarded_generate(
            backend or self.backend,
            turn.messages,
            params={**turn.params, **(params or {})},
            guard=self.guard,
            template=turn.template,
            retrieved=turn.passages,
            stream=stream,
            on_text=on_text,
            learner=learner,
            label=label,
            task=task or f"copilot:{self.spec.ref}",
        )
        return Answer(result=result, turn=turn)
