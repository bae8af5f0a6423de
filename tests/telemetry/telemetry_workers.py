"""Code run in child processes by the telemetry concurrency and crash tests (importable, and a script)."""

from __future__ import annotations

import sys


def write_events(url: str, worker: int, n: int, start: object) -> None:
    """Write ``n`` events as learner ``worker-<worker>`` through a Recorder, after ``start`` is set."""
    from workbench.telemetry import Recorder, open_store

    with open_store(url) as store, Recorder(store) as recorder:
        start.wait(60)  # type: ignore[attr-defined]
        for i in range(n):
            recorder.emit("training_step", learner=f"worker-{worker}", step=i, loss=1.0 / (i + 1))
        recorder.flush()


def kill_target(url: str, batch: int) -> None:
    """Write batches forever, printing the acknowledged total after each flush (the parent SIGKILLs us)."""
    from workbench.telemetry import Recorder, open_store

    recorder = Recorder(open_store(url), batch_size=batch * 10, flush_interval_s=0)
    print("ready", flush=True)
    acked = 0
    payload = "x" * 200
    while True:
        for i in range(batch):
            recorder.emit("generation", learner="crash", n=acked + i, payload=payload)
        recorder.flush()
        acked += batch
        print(acked, flush=True)


def exit_without_flush(url: str) -> None:
    """Emit a few events on the default recorder and exit normally without flushing (atexit must)."""
    import os

    os.environ["WORKBENCH_STORE_URL"] = url
    from workbench.telemetry import record

    for i in range(3):
        record("retrieval", k=i)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "kill-target":
        kill_target(args[0], int(args[1]))
    elif command == "exit-without-flush":
        exit_without_flush(args[0])
    else:  # pragma: no cover
        raise SystemExit(f"unknown command {command}")
