"""The :class:`ChatBackend` protocol every model speaks, its shared base, and the model-source protocol.

A *model source* turns a model name into a loaded :class:`ChatBackend`; :mod:`workbench.models.loading` keeps
the registry of sources and :func:`~workbench.models.loading.load_model`. This module imports no source, so
sources and backends can import it freely.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from workbench.errors import ConfigError, ValidationError
from workbench.models.generation import (
    Generation,
    GenerationParams,
    GenerationStream,
    Message,
    Prompt,
    resolve_params,
)


@runtime_checkable
class ChatBackend(Protocol):
    """A loaded model that chats. Every model source returns one.

    Attributes:
        name: The model name as loaded (``workbench-tiny``, a folder, ``org/name``, ``openai:<model>``).
        context_length: Tokens the model can attend to (prompt + output).
        bits: The bit width it runs in (``None`` for remote endpoints).
    """

    name: str
    context_length: int
    bits: int | None

    def generate(
        self, prompt: Prompt, params: GenerationParams | Mapping[str, Any] | None = None, **overrides: Any
    ) -> Generation:
        """Generate a reply to ``prompt`` (a string is one user message)."""
        ...

    def stream(
        self, prompt: Prompt, params: GenerationParams | Mapping[str, Any] | None = None, **overrides: Any
    ) -> GenerationStream:
        """Like :meth:`generate`, yielding text chunks as they are produced."""
        ...

    def generate_batch(
        self,
        prompts: Sequence[Prompt],
        params: GenerationParams | Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> list[Generation]:
        """Generate replies to several prompts (batched where the backend can)."""
        ...

    def count_tokens(self, text_or_messages: Prompt) -> int:
        """Tokens in a raw text, or in a message list rendered with the chat template."""
        ...

    def render_chat(self, messages: Prompt) -> str:
        """The prompt text the model sees for ``messages`` (chat template + assistant cue)."""
        ...

    def memory_footprint(self) -> int | None:
        """Bytes the weights take, when known."""
        ...

    def info(self) -> dict[str, Any]:
        """JSON-ready description (source, bits, device, context length, footprint...)."""
        ...


class BaseChatBackend:
    """Shared behaviour: parameter handling, :meth:`generate` via :meth:`stream`, sequential batches.

    Subclasses implement :meth:`_stream` (a generator of chunks returning the :class:`Generation`) and may
    override :meth:`generate` and :meth:`generate_batch` with faster paths.
    """

    name: str = ""
    context_length: int = 0
    bits: int | None = None
    #: Why another model than the default was loaded (the default's wheel is missing), else ``None``.
    model_fallback: str | None = None

    def _stream(self, prompt: Prompt, params: GenerationParams) -> GenerationStream:
        raise NotImplementedError

    def stream(
        self, prompt: Prompt, params: GenerationParams | Mapping[str, Any] | None = None, **overrides: Any
    ) -> GenerationStream:
        """Generate a reply to ``prompt``, yielding text chunks; ``.result`` holds the Generation."""
        return self._stream(prompt, resolve_params(params, overrides))

    def generate(
        self, prompt: Prompt, params: GenerationParams | Mapping[str, Any] | None = None, **overrides: Any
    ) -> Generation:
        """Generate a reply to ``prompt`` (a string is one user message)."""
        return self.stream(prompt, params, **overrides).result

    def stream_batch(
        self, prompts: Sequence[Prompt], params: GenerationParams | Mapping[str, Any] | None = None, **overrides: Any
    ) -> list[GenerationStream]:
        """One stream per prompt. Here each runs when it is read; backends that can share a generation among
        several streams (transformers) override this."""
        check_prompt_list(prompts)
        resolved = resolve_params(params, overrides)
        return [self._stream(p, resolved) for p in prompts]

    def generate_batch(
        self,
        prompts: Sequence[Prompt],
        params: GenerationParams | Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> list[Generation]:
        """Generate replies to ``prompts`` one after the other."""
        check_prompt_list(prompts)
        resolved = resolve_params(params, overrides)
        return [self.generate(p, resolved) for p in prompts]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} bits={self.bits}>"


class ModelSource(Protocol):
    """Turns a model name into a :class:`ChatBackend`.

    Attributes:
        name: Registry key, also usable as an explicit prefix (``<name>:<spec>``).
        syntax: How names look, for error messages (``"openai:<model>"``).
        priority: Lower is asked first when a name has no prefix.
    """

    name: str
    syntax: str
    priority: int

    def matches(self, spec: str) -> bool:
        """Whether an un-prefixed ``spec`` belongs to this source."""
        ...

    def load(self, spec: str, *, bits: int | str | None, device: Any, **kwargs: Any) -> ChatBackend:
        """Load ``spec`` (prefix removed)."""
        ...


def check_prompt_list(prompts: Sequence[Prompt]) -> None:
    """Refuse one string where ``generate_batch`` wants a list of prompts (a string is a sequence too).

    Raises:
        ValidationError: ``prompts`` is a string.
    """
    if isinstance(prompts, str):
        raise ValidationError(
            "generate_batch takes a list of prompts, not one string",
            field="prompts",
            hint="wrap it in a list, or call generate()",
        )


def check_kwargs(source: str, kwargs: Mapping[str, Any], allowed: Sequence[str]) -> None:
    """Refuse keyword arguments a source does not understand (a typo must not pass silently)."""
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ConfigError(
            f"the {source} model source does not take the option(s) {', '.join(unknown)}",
            field=unknown[0],
            hint=f"options it takes: {', '.join(allowed) or 'none'}",
        )


__all__ = ["BaseChatBackend", "ChatBackend", "Message", "ModelSource", "check_kwargs", "check_prompt_list"]
