"""One door to every model: the :class:`ChatBackend` protocol, model sources, and :func:`load_model`.

A *model source* turns a model name into a loaded :class:`ChatBackend`. Built-in sources register in
:data:`MODEL_SOURCES` exactly as plugins do (entry-point group ``workbench.backends``):

========== ====================================== ===================================================
source     name syntax                            backend
========== ====================================== ===================================================
``tiny``   ``workbench-tiny``                     the built-in model, built locally on first use
``local``  a folder path (``./my-model``)         a Hugging Face folder with safetensors weights
``hub``    ``org/name`` (optionally ``@rev``)     a Hugging Face hub model (cached, or downloaded)
``openai`` ``openai:<model>``                     an OpenAI-compatible HTTP endpoint (Ollama, vLLM,
                                                  llama.cpp server, OpenAI)
========== ====================================== ===================================================

Any registered source can also be named explicitly with a ``<source>:`` prefix (``local:models/x``,
``hub:org/name``). Without a prefix, sources are asked in ``priority`` order whether a name is theirs.

A plugin source is an object with ``name``, ``syntax``, ``priority``, ``matches(spec)`` and
``load(spec, *, bits, device, **kw)``; register it under ``[project.entry-points."workbench.backends"]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from workbench._registry import Registry
from workbench.errors import ConfigError, ModelNotFoundError, PluginError, ValidationError
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

    def generate_batch(
        self,
        prompts: Sequence[Prompt],
        params: GenerationParams | Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> list[Generation]:
        """Generate replies to ``prompts`` one after the other."""
        if isinstance(prompts, str):
            raise ValidationError(
                "generate_batch takes a list of prompts, not one string",
                field="prompts",
                hint="wrap it in a list, or call generate()",
            )
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


#: Every model source, built-in and plugin (entry-point group ``workbench.backends``).
MODEL_SOURCES: Registry[Any] = Registry("model source", "workbench.backends")


def _source(name: str) -> ModelSource:
    obj = MODEL_SOURCES.get(name)
    # Plugins may register a class; instantiate it once.
    if isinstance(obj, type):
        obj = obj()
        MODEL_SOURCES.register(name, obj, replace=True)
    return obj  # type: ignore[no-any-return]


_builtins_registered = False


def _register_builtins() -> None:
    """Register the built-in sources once, before entry points load (a plugin cannot shadow them)."""
    global _builtins_registered
    if _builtins_registered:
        return
    from workbench.models.openai_backend import OpenAISource
    from workbench.models.transformers_backend import HubSource, LocalFolderSource, TinySource

    for source in (TinySource(), LocalFolderSource(), OpenAISource(), HubSource()):
        MODEL_SOURCES.register(source.name, source, replace=True)
    _builtins_registered = True


def model_sources() -> list[ModelSource]:
    """Registered sources in the order un-prefixed names are tried."""
    _register_builtins()
    sources = [_source(n) for n in MODEL_SOURCES.names()]
    return sorted(sources, key=lambda s: (getattr(s, "priority", 50), s.name))


def accepted_syntax() -> str:
    """A human list of the model names every registered source accepts."""
    return "; ".join(f"{s.syntax}" for s in model_sources())


def resolve_source(spec: str) -> tuple[ModelSource, str]:
    """The source that loads ``spec`` and the spec it receives (prefix removed).

    Raises:
        ModelNotFoundError: No source accepts ``spec``; the message lists the accepted forms.
    """
    from pathlib import Path

    _register_builtins()
    prefix, sep, rest = spec.partition(":")
    # A one-letter prefix is a Windows drive (C:\models), not a source.
    if sep and len(prefix) > 1 and not Path(spec).exists():
        if prefix in MODEL_SOURCES:
            return _source(prefix), rest
        if prefix in MODEL_SOURCES.load_failures:
            raise PluginError(
                f"the model source plugin '{prefix}' failed to load: {MODEL_SOURCES.load_failures[prefix]}",
                field="model",
                hint="fix or reinstall the plugin package, or set WORKBENCH_LOAD_PLUGINS=0 to ignore plugins",
            )
    for source in model_sources():
        if source.matches(spec):
            return source, spec
    raise ModelNotFoundError(
        f"no model source knows the name '{spec}'",
        field="model",
        hint=f"accepted: {accepted_syntax()}",
    )


def load_model(
    name: str | None = None,
    *,
    bits: int | str | None = None,
    device: Any = None,
    **kwargs: Any,
) -> ChatBackend:
    """Load a model by name and return its :class:`ChatBackend`.

    Args:
        name: ``workbench-tiny`` (default: ``settings.default_model``), a local Hugging Face folder, a hub
            id ``org/name`` (``org/name@revision``), or ``openai:<model>``; any registered source by prefix.
        bits: 4 or 8 (bitsandbytes), 16 or 32; ``None`` for the device's natural precision. Falls back to
            16-bit where 4/8-bit cannot run (the backend's ``info()`` says why); pass ``strict=True`` to
            raise instead.
        device: ``None``/``"auto"`` (best found), ``"cpu"``, ``"cuda:0"``, ``"mps"``..., or a DeviceInfo.
        **kwargs: Source options: ``strict`` (local models); ``base_url``, ``api_key``, ``timeout``,
            ``context_length`` (``openai:``); ``revision`` (hub).

    Raises:
        ModelNotFoundError: The name matches no source.
        ModelLoadError: A local folder is corrupt, incomplete or pickle-only.
        OfflineError: A hub id while offline and not in the local cache.
        EndpointError: The HTTP endpoint cannot be reached.
        QuantizationError: Invalid ``bits``, or ``strict`` and ``bits`` cannot run on the device.
    """
    if name is None:
        from workbench.settings import get_settings

        name = get_settings().default_model
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("the model name is empty", field="model", hint=f"accepted: {accepted_syntax()}")
    source, spec = resolve_source(name.strip())
    return source.load(spec, bits=bits, device=device, **kwargs)


def check_kwargs(source: str, kwargs: Mapping[str, Any], allowed: Sequence[str]) -> None:
    """Refuse keyword arguments a source does not understand (a typo must not pass silently)."""
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ConfigError(
            f"the {source} model source does not take the option(s) {', '.join(unknown)}",
            field=unknown[0],
            hint=f"options it takes: {', '.join(allowed) or 'none'}",
        )


__all__ = [
    "MODEL_SOURCES",
    "BaseChatBackend",
    "ChatBackend",
    "Message",
    "ModelSource",
    "accepted_syntax",
    "check_kwargs",
    "load_model",
    "model_sources",
    "resolve_source",
]
