"""``workbench copilot serve``: the serving edge's own command (the ``copilot`` group loads it by name)."""

from __future__ import annotations

from typing import Any

import click


@click.command("serve")
@click.argument("target")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback needs --api-key.")  # fmt: skip
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--api-key", "api_keys", multiple=True, envvar="WORKBENCH_SERVE_API_KEY",
              help="An accepted bearer key, NAME=KEY or KEY (repeatable; env WORKBENCH_SERVE_API_KEY, "
              "space-separated).")  # fmt: skip
@click.option("--canary-share", type=click.FloatRange(0.0, 1.0), default=None,
              help="Share of requests for the canary (default: the canary spec's serving.canary_share).")  # fmt: skip
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]),
              default="info", show_default=True, help="uvicorn's log level.")  # fmt: skip
def command(
    target: str, host: str, port: int, api_keys: tuple[str, ...], canary_share: float | None, log_level: str
) -> None:
    """Serve a copilot as an OpenAI-compatible endpoint (/v1/chat/completions, /v1/models, /health, /metrics).

    TARGET is a spec (that version), id@version, or a registered id (its GA version, and its canary for a share
    of the requests). Concurrent requests are batched; every request is recorded as redacted telemetry.
    SIGTERM lets in-flight requests finish.
    """
    from workbench.serving import serve

    def ready(app: Any) -> None:
        router = app.state.server.router
        versions = ", ".join(f"{d.ref} ({d.label})" for d in router.deployments)
        click.echo(f"serving '{router.name}' [{versions}] on http://{host}:{port}/v1"
                   + ("" if api_keys else " (no API key: loopback only)"), err=True)  # fmt: skip

    serve(target, host=host, port=port, api_keys=api_keys, canary_share=canary_share, log_level=log_level,
          on_ready=ready)  # fmt: skip
