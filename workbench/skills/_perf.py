"""Performance helpers for the report pipeline."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a bulk computation.

    Reading a million events creates a million attribute dicts that stay alive for the whole report; every burst
    of allocations (building columns, tuples, frames) would then trigger full collections that traverse all of
    them, which more than doubles the CPU time. Reference counting still frees everything the pipeline drops;
    cycles (rare here) are collected once the block ends. Nested use is safe.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class Stopwatch:
    """Wall-clock and CPU seconds per named stage (``lap`` closes a stage)."""

    def __init__(self) -> None:
        import time

        self._time = time
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._wall = time.perf_counter()
        self._cpu = time.process_time()

    def lap(self, stage: str) -> None:
        """Record the time since the previous lap (or the start) under ``stage``."""
        wall, cpu = self._time.perf_counter(), self._time.process_time()
        self.wall[stage] = self.wall.get(stage, 0.0) + wall - self._wall
        self.cpu[stage] = self.cpu.get(stage, 0.0) + cpu - self._cpu
        self._wall, self._cpu = wall, cpu
