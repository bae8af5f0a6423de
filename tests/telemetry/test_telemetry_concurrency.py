"""Several writer processes at once, and writers killed mid-batch (real SQLite files)."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from telemetry_workers import write_events

from workbench.telemetry import open_store

HERE = Path(__file__).parent


@pytest.mark.slow
def test_four_processes_writing_at_once_store_every_event(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    # No store exists yet: the four processes also race to create the file, WAL mode and schema.
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    workers = [ctx.Process(target=write_events, args=(url, w, 1000, start)) for w in range(4)]
    for p in workers:
        p.start()
    time.sleep(0.5)
    start.set()
    for p in workers:
        p.join(120)
    assert [p.exitcode for p in workers] == [0, 0, 0, 0]
    with open_store(url) as store:
        assert store.count() == 4000
        assert (
            store.value_counts("learner") == {v: 1000 for v in store.value_counts("learner")}
            and len(store.value_counts("learner")) == 4
        )
        assert store.to_frame()["id"].nunique() == 4000
    raw = sqlite3.connect(tmp_path / "shared.db")
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    raw.close()


def _read_acked(proc: subprocess.Popen[str]) -> int:
    assert proc.stdout is not None
    acked = 0
    for line in proc.stdout.read().split():
        if line.isdigit():
            acked = int(line)
    return acked


@pytest.mark.slow
def test_a_writer_killed_mid_batch_loses_no_acknowledged_event(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    url = f"sqlite:///{db}"
    batch = 50
    trials = int(os.environ.get("WORKBENCH_KILL_TRIALS", "8"))
    rng = random.Random(1)
    total_acked = 0
    for trial in range(trials):
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "telemetry_workers.py"), "kill-target", url, str(batch)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", f"trial {trial}: the writer did not start"
        time.sleep(rng.uniform(0.02, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        acked = _read_acked(proc)
        total_acked += acked
        raw = sqlite3.connect(db)
        try:
            assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok", f"trial {trial}"
            stored = raw.execute("SELECT count(*) FROM events").fetchone()[0]
        finally:
            raw.close()
        assert stored >= total_acked, f"trial {trial}: acknowledged events were lost"
        assert stored % batch == 0, f"trial {trial}: a batch was stored in part"
        total_acked = stored  # the next trial starts from what is there
    with open_store(url) as store:  # readable (and writable) through the normal API afterwards
        assert store.count() == total_acked
        store.append_many([])
