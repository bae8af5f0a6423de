"""Library noise goes to the log, not into a learner's notebook.

The libraries Workbench drives speak up in ways that mean nothing to a learner and look like failures: a
bitsandbytes "Failed to load CPU gemm_4bit_forward from kernels-community" line at import, ``UserWarning``s
about dtypes and deprecated arguments, transformers' "Loading weights" progress bars and its tokenizer
warnings. Inside :func:`quiet_libraries` (which Workbench's own entry points enter: loading a model, training,
planning, building and querying an index, the RAG chain) all of that becomes ``DEBUG`` records of the
``workbench.library`` logger instead of red output in the cell.

It is scoped, not blanket: the switch is a context variable, so a warning raised by the learner's own code, or
in another thread while a training run is busy in the background, is shown as usual; and the hooks it
installs pass everything through unchanged when no Workbench call is running. To see the noise, configure
logging: ``logging.basicConfig(level=logging.DEBUG)`` or ``logging.getLogger("workbench.library")``.
"""

from __future__ import annotations

import contextvars
import importlib.util
import logging
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: Where the routed warnings and log lines go (``DEBUG`` records).
LOG = logging.getLogger("workbench.library")
#: Loggers of libraries that log through Python's last-resort handler (straight to stderr) when the
#: application has not configured logging, as in a notebook kernel.
LIBRARY_LOGGERS: tuple[str, ...] = ("bitsandbytes", "peft", "accelerate", "sentence_transformers")

_ACTIVE: contextvars.ContextVar[bool] = contextvars.ContextVar("workbench_quiet_libraries", default=False)
_LOCK = threading.Lock()
_installed = False
_shown: Any = None


def active() -> bool:
    """Whether library noise is being routed to the log in this context."""
    return _ACTIVE.get()


def _showwarning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    if _ACTIVE.get():
        LOG.debug("%s: %s (%s:%s)", getattr(category, "__name__", category), message, filename, lineno)
        return
    _shown(message, category, filename, lineno, file, line)


class _Router(logging.Handler):
    """On a library's logger: inside a Workbench call, to ``workbench.library``; outside, as before."""

    def __init__(self, library: str) -> None:
        super().__init__()
        self.library = library

    def emit(self, record: logging.LogRecord) -> None:
        if _ACTIVE.get() and not record.name.startswith(LOG.name):
            LOG.debug("%s: %s", record.name, record.getMessage())
            return
        if not logging.getLogger(self.library).propagate:  # (something may have turned propagation back on)
            logging.getLogger().handle(record)  # the root's handlers, or the last-resort stderr handler


class _QuietFilter(logging.Filter):
    """On transformers' own stderr handler: drop (and log) its records inside a Workbench call."""

    def filter(self, record: logging.LogRecord) -> bool:
        # our own records pass (the handler may be shared, e.g. a test's capture handler): never route them again
        if _ACTIVE.get() and not record.name.startswith(LOG.name):
            LOG.debug("%s: %s", record.name, record.getMessage())
            return False
        return True


_FILTER = _QuietFilter()


def _install() -> None:
    """Install the hooks (pass-through outside :func:`quiet_libraries`): the logging ones once per process; the
    ``showwarning`` one again whenever something (a ``warnings.catch_warnings`` block ending) put back another."""
    global _installed, _shown
    with _LOCK:
        if warnings.showwarning is not _showwarning:
            _shown = warnings.showwarning
            warnings.showwarning = _showwarning
        if _installed:
            return
        for name in LIBRARY_LOGGERS:
            logger = logging.getLogger(name)
            logger.addHandler(_Router(name))
            logger.propagate = False
        _installed = True


def _quiet_transformers() -> bool:
    """Hide transformers' progress bars and route its log lines; whether its bars were on before."""
    if "transformers" not in sys.modules and importlib.util.find_spec("transformers") is None:
        return False
    from transformers.utils import logging as hf_logging

    hf_logging.get_logger("transformers")  # configures the library's root logger and its stderr handler
    for handler in logging.getLogger("transformers").handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
    bars = bool(hf_logging.is_progress_bar_enabled())
    hf_logging.disable_progress_bar()
    return bars


@contextmanager
def quiet_libraries(*, transformers: bool = True) -> Iterator[None]:
    """Route library warnings, log lines and progress bars to the ``workbench.library`` log while inside.

    Args:
        transformers: Also hide transformers' progress bars and route its log lines (imports its logging
            module, about a second the first time: pass ``False`` on paths that never touch transformers).
    """
    _install()
    if _ACTIVE.get():  # nested: the outer call restores
        yield
        return
    token = _ACTIVE.set(True)
    bars = _quiet_transformers() if transformers else False
    try:
        yield
    finally:
        _ACTIVE.reset(token)
        if bars:
            from transformers.utils import logging as hf_logging

            hf_logging.enable_progress_bar()
