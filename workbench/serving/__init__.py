"""Serving copilots as an OpenAI-compatible endpoint (an edge: it imports the layers below, nothing imports it).

Any OpenAI client works unchanged (the ``openai`` package, LangChain's ``ChatOpenAI``, curl)::

    workbench copilot serve it-helpdesk/copilot.yaml --port 8000
    curl http://127.0.0.1:8000/v1/chat/completions -H 'Content-Type: application/json' \\
         -d '{"model": "it-helpdesk", "messages": [{"role": "user", "content": "My VPN is broken"}]}'

Pieces: :mod:`~workbench.serving.app` (routes, errors, streams), :mod:`~workbench.serving.batching` (dynamic
batching), :mod:`~workbench.serving.deployment` (versions, canary routing, telemetry),
:mod:`~workbench.serving.cache` (semantic cache), :mod:`~workbench.serving.metrics` (Prometheus),
:mod:`~workbench.serving.server` (address checks, uvicorn). Names load on first use.
"""

from __future__ import annotations

from workbench._lazy import lazy_exports

_EXPORTS: dict[str, tuple[str, ...]] = {
    "app": ("create_app", "parse_api_keys"),
    "batching": ("DynamicBatcher", "BatchedModel"),
    "cache": ("SemanticCache",),
    "deployment": ("Deployment", "Router"),
    "server": ("build_app", "build_deployments", "check_bind", "is_loopback", "serve"),
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
