"""Hugging Face plumbing shared by the model runtime: quiet loading, and the hub's offline/online state.

Nothing here loads a model. :func:`quiet_hf` hides progress bars and known-harmless warnings while a model
loads (learners should see our progress, not library noise); the ``hub_*`` helpers decide whether the hub may
be asked before anything touches the network, because a blind download attempt retries for about 70 s.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse


@contextmanager
def quiet_hf() -> Iterator[None]:
    """Hide transformers' progress bars, info logs and known-harmless warnings while loading a model."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            # torch.utils.mkldnn (imported on the quantized load path) uses a deprecated torch.jit API.
            warnings.filterwarnings(
                "ignore", message=r".*torch\.jit\.script_method.*", category=DeprecationWarning
            )
            yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()
        hf_logging.set_verbosity(verbosity)


def no_hub_telemetry() -> None:
    """Turn off ``huggingface_hub``'s usage pings for this process (and the kernels and workers it starts).

    TRL's trainers call ``huggingface_hub.utils.send_telemetry`` when they are built (unless ``CI`` is set), which
    starts a thread that resolves and connects to huggingface.co. Workbench sends nothing outside its own store,
    so before building one it sets ``HF_HUB_DISABLE_TELEMETRY`` (the switch ``send_telemetry`` honours, read from
    ``huggingface_hub.constants`` at each call) without touching the user's other hub settings.
    """
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    from huggingface_hub import constants

    constants.HF_HUB_DISABLE_TELEMETRY = True


#: A hub id: ``org/name``, optionally ``@revision``.
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*(@[\w./-]+)?$")


def hub_offline() -> bool:
    """Whether offline mode is on (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE``)."""
    return any(
        os.environ.get(var, "").strip().lower() in {"1", "true", "yes", "on"}
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def hub_endpoint() -> str:
    """The hub's base URL (``HF_ENDPOINT`` or https://huggingface.co)."""
    return os.environ.get("HF_ENDPOINT", "").strip() or "https://huggingface.co"


def hub_reachable(timeout: float = 1.0) -> bool:
    """Whether a TCP connection to the hub opens within ``timeout`` seconds (DNS included)."""
    url = urlparse(hub_endpoint())
    host = url.hostname or "huggingface.co"
    port = url.port or (443 if url.scheme == "https" else 80)
    result: dict[str, bool] = {}

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result["ok"] = True
        except OSError:
            result["ok"] = False

    # A thread, because name resolution ignores socket timeouts and can hang for many seconds.
    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return result.get("ok", False)


def hub_cached(repo_id: str, revision: str | None = None) -> bool:
    """Whether the hub model's ``config.json`` is in the local Hugging Face cache."""
    return hub_snapshot(repo_id, revision) is not None


def hub_snapshot(repo_id: str, revision: str | None = None) -> Path | None:
    """The local folder of a cached hub model (the snapshot holding its ``config.json``), or ``None``."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    return Path(found).parent if isinstance(found, str) else None
