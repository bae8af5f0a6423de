"""What scorers share during one scoring run: the judge backend, embedders, options and counters.

Its own module (below the scorers and the scoring loop) so that scorers can name it without importing the
scoring loop, which imports them.
"""

from __future__ import annotations

from typing import Any


def judge_model_name() -> str:
    """The model a judge loads when none is named: ``settings.judge_model`` (``WORKBENCH_JUDGE_MODEL``), else
    the default model (``workbench.models.default_model_name``, which falls back to ``workbench-tiny`` with a
    warning when the SmolLM2 wheel is missing).

    A stronger judge is one setting away: ``WORKBENCH_JUDGE_MODEL=openai:<model>`` with
    ``WORKBENCH_OPENAI_BASE_URL`` pointing at a company's vLLM or Ollama server.
    """
    from workbench.settings import get_settings

    configured = get_settings().judge_model
    if configured:
        return configured
    from workbench.models import default_model_name

    return default_model_name()


class ScoringContext:
    """What scorers share during one scoring run: models, embedders, options and counters.

    Args:
        backend: A loaded ``ChatBackend`` for judges; default: load ``model`` on first use.
        model: Model name for judges when no backend is given (default :func:`judge_model_name`).
        k: Overrides every judge's number of samples.
        seed: Added to every judge's seed.
    """

    def __init__(self, *, backend: Any = None, model: str | None = None, k: int | None = None, seed: int = 0) -> None:
        self._backend = backend
        self.model = model
        self.k = k
        self.seed = seed
        self.judge_calls = 0
        self._backends: dict[str, Any] = {}
        self._embedders: dict[str | None, Any] = {}

    def backend_for(self, model: str | None = None) -> Any:
        """The judge backend: the given one, or ``model`` (or :func:`judge_model_name`) loaded once."""
        if model is None and self._backend is not None:
            return self._backend
        name = model or self.model or judge_model_name()
        if name not in self._backends:
            from workbench.models import load_model

            self._backends[name] = load_model(name)
        return self._backends[name]

    def embedder(self, name: str | None = None) -> Any:
        """An embedder (``workbench.models.load_embedder``), loaded once per name."""
        if name not in self._embedders:
            from workbench.models import load_embedder

            self._embedders[name] = load_embedder(name)
        return self._embedders[name]
