"""A one-line status in a notebook cell while something slow runs (loading a model can take most of a minute).

:func:`kernel_status` shows ``Loading smollm2-135m-instruct... 12 s`` in the running cell's output, updates the
seconds while the work goes on, and leaves one final line (``smollm2-135m-instruct ready in 14.2 s``). It only
acts in a Jupyter kernel's main thread (a notebook cell, papermill); in a terminal, a test, or a widget's
worker thread it does nothing, so the CLI's and the widgets' own progress stay the only ones there.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: Seconds between updates of the elapsed time.
TICK_S = 1.0


def in_kernel_cell() -> bool:
    """Whether this code runs in a notebook cell (a Jupyter kernel's main thread), where stderr shows as red."""
    if "ipykernel" not in sys.modules or threading.current_thread() is not threading.main_thread():
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - ipykernel brings IPython
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _show(text: str, display_id: str | None = None) -> Any:
    from IPython.display import display, update_display

    data = {"text/plain": text}
    if display_id is None:
        return display(data, raw=True, display_id=True)
    update_display(data, raw=True, display_id=display_id)
    return None


@contextmanager
def kernel_status(doing: str, done: Callable[[float], str] | None = None) -> Iterator[None]:
    """Show ``doing... N s`` in the cell while the block runs, then ``done(seconds)`` (or a failure line).

    Args:
        doing: What is happening, e.g. ``Loading smollm2-135m-instruct``.
        done: The final line from the elapsed seconds (default ``"<doing>: done in N s"``).
    """
    if not in_kernel_cell():
        yield
        return
    started = time.monotonic()
    handle = _show(f"{doing}...")
    display_id = getattr(handle, "display_id", None)
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(TICK_S):
            _show(f"{doing}... {time.monotonic() - started:.0f} s", display_id)

    ticker = threading.Thread(target=tick, name="workbench-status", daemon=True)
    if display_id is not None:
        ticker.start()
    ok = False
    try:
        yield
        ok = True
    finally:
        stop.set()
        if ticker.is_alive():
            ticker.join()
        elapsed = time.monotonic() - started
        if display_id is not None:
            if ok:
                final = done(elapsed) if done else f"{doing}: done in {elapsed:.1f} s"
            else:
                final = f"{doing}: stopped after {elapsed:.1f} s"
            _show(final, display_id)
