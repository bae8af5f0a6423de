"""Running the server: load the versions, build their batchers and caches, check the address, start uvicorn.

``workbench copilot serve`` calls :func:`serve`. Without API keys the server listens only on a loopback address
(``127.0.0.1``, ``::1``, ``localhost``); any other address needs at least one key. uvicorn handles SIGTERM and
SIGINT: it stops accepting connections and waits up to ``graceful_s`` for in-flight requests (streams included)
before the app's shutdown drains the batchers.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import ConfigError
from workbench.serving.batching import DynamicBatcher
from workbench.serving.cache import SemanticCache
from workbench.serving.deployment import Deployment

if TYPE_CHECKING:
    from fastapi import FastAPI

    from workbench.copilots import Copilot, CopilotSpec, ServedVersion

#: Seconds uvicorn waits for in-flight requests after SIGTERM.
GRACEFUL_S = 60


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, api_keys: Mapping[str, str] | Sequence[str]) -> None:
    """Refuse a non-loopback address without an API key.

    Raises:
        ConfigError: Naming the address and the fix.
    """
    if not api_keys and not is_loopback(host):
        raise ConfigError(
            f"refusing to serve on {host} without an API key: anyone who can reach it could use the copilot",
            field="host",
            hint="pass --api-key NAME=KEY (or set WORKBENCH_SERVE_API_KEY), or serve on 127.0.0.1",
        )


def _model_key(spec: CopilotSpec) -> tuple[Any, ...]:
    return (spec.model.name, str(spec.model.adapter), spec.model.bits)


def build_deployments(
    versions: Sequence[ServedVersion | Copilot], *, backends: Mapping[tuple[Any, ...], Any] | None = None
) -> list[Deployment]:
    """Load the versions (model, guard, index) and give each model one batcher, shared by the versions on it.

    Args:
        versions: What to serve (:func:`workbench.copilots.serving_versions`), or loaded copilots (served as is).
        backends: Models already loaded, by ``(name, adapter, bits)`` (tests share one).
    """
    from workbench.copilots import Copilot

    loaded: dict[tuple[Any, ...], Any] = dict(backends or {})
    batchers: dict[tuple[Any, ...], DynamicBatcher] = {}
    deployments = []
    for item in versions:
        copilot = item if isinstance(item, Copilot) else Copilot(item.spec)
        stage = None if isinstance(item, Copilot) else item.stage
        spec = copilot.spec
        key = _model_key(spec)
        if key in loaded and copilot._backend is None:
            copilot = Copilot(spec, backend=loaded[key], guard=copilot._guard, index=copilot._index)
        copilot.load()
        loaded.setdefault(key, copilot.backend)
        if key not in batchers:
            serving = spec.serving
            batchers[key] = DynamicBatcher(
                copilot.backend, max_batch_size=serving.max_batch_size, max_wait_s=serving.max_wait_ms / 1000,
                max_gather_s=serving.max_gather_ms / 1000,
            )
        deployments.append(Deployment(copilot, stage, batchers[key], _cache(spec)))
    return deployments


def _cache(spec: CopilotSpec) -> SemanticCache | None:
    options = spec.serving.cache
    if not options.enabled:
        return None
    from workbench.models import load_embedder

    return SemanticCache(load_embedder(options.embedder), similarity=options.similarity, max_entries=options.max_entries)


def build_app(
    target: str | Path | Sequence[ServedVersion | Copilot], *, api_keys: Sequence[str] = (),
    canary_share: float | None = None,
) -> FastAPI:  # fmt: skip
    """The app for a spec path, ``id@version``, registered id, or versions/copilots (see :func:`serve`)."""
    from workbench.copilots import serving_versions
    from workbench.serving.app import create_app, parse_api_keys

    versions = serving_versions(target) if isinstance(target, str | Path) else list(target)
    return create_app(build_deployments(versions), api_keys=parse_api_keys(api_keys), canary_share=canary_share)


def serve(
    target: str | Path, *, host: str = "127.0.0.1", port: int = 8000, api_keys: Sequence[str] = (),
    canary_share: float | None = None, log_level: str = "info", on_ready: Any = None,
) -> None:  # fmt: skip
    """Serve a copilot until SIGTERM/SIGINT (see the module docstring).

    Args:
        target: A spec path or ``id@version`` (that version), or a registered id (its GA version and canary).
        host: The address to listen on.
        port: The port.
        api_keys: ``NAME=KEY`` or ``KEY`` values; required off loopback.
        canary_share: Share of requests for the canary (default: the canary spec's ``serving.canary_share``).
        log_level: uvicorn's log level.
        on_ready: Called with the app once it is built, before the server starts (the CLI prints the address).

    Raises:
        ConfigError: A non-loopback address without a key.
    """
    import uvicorn

    check_bind(host, api_keys)
    app = build_app(target, api_keys=api_keys, canary_share=canary_share)
    if on_ready is not None:
        on_ready(app)
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=GRACEFUL_S, lifespan="on"
    )
    uvicorn.Server(config).run()
