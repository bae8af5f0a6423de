"""Telemetry ingest: Workbench's batched Recorder/store against one-commit-per-event SQLAlchemy ORM writes.

Usage::

    python bench/telemetry.py [--events N] [--batch-size B] [--rounds R] [--json]

What is measured, in one run, on the same machine and SQLite settings (WAL, synchronous=NORMAL,
busy_timeout 30 s), each into its own fresh database file with the same table and indexes:

- ``workbench_recorder``: ``Recorder.emit(...)`` for each event then a final ``flush()``: the real path, which
  also builds and validates each event (pseudonymises the learner, masks secrets) - work the peer skips.
- ``workbench_append_many``: ``TelemetryStore.append_many`` on the already-built events, in batches of B.
- ``orm_commit_per_event`` (the peer): a plain declarative ORM model, ``session.add(row)`` and
  ``session.commit()`` per event - what a straightforward implementation does.
- ``orm_batched`` (for attribution): the same ORM model with one commit per B events, to show how much of
  the gain is batching and how much is Core versus the ORM's unit of work.

The peer gets the events the Workbench recorder produced (same ids, times, attributes). The N events are run
in R interleaved rounds (each round runs every path on the next N/R events, rotating the order), so a busy
spell on a shared machine slows all paths alike. Rates are events per second of wall time, summed over the
rounds, including each round's final commit/flush; every database is checked to hold all N events.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sqlite3
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import event as sa_event  # noqa: E402
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column  # noqa: E402

from workbench._sqlite import apply_pragmas  # noqa: E402
from workbench.telemetry import EVENT_FIELDS, Event, Recorder, TelemetryStore, events_table, open_store  # noqa: E402
from workbench.telemetry.sqlite_backend import OPTIONS  # noqa: E402

MODELS = ("workbench-tiny", "gpt-4o-mini", "qwen2.5-0.5b-instruct")
KINDS = ("generation", "generation", "generation", "retrieval", "score", "task_completed", "training_step")


class Base(DeclarativeBase):
    pass


class EventRow(Base):
    """The peer's model: the same columns and indexes as Workbench's ``events`` table."""

    __tablename__ = "events"
    __table_args__ = tuple(
        sa.Index(index.name, *(column.name for column in index.columns), unique=index.unique)
        for index in sorted(events_table.indexes, key=lambda index: str(index.name))
    )

    seq: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(sa.String(36))
    time: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    schema_version: Mapped[int] = mapped_column(sa.SmallInteger)
    learner: Mapped[str | None] = mapped_column(sa.String(64))
    team: Mapped[str | None] = mapped_column(sa.String(200))
    playbook: Mapped[str | None] = mapped_column(sa.String(200))
    task: Mapped[str | None] = mapped_column(sa.String(200))
    run_id: Mapped[str | None] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(32))
    duration_s: Mapped[float | None] = mapped_column(sa.Float)
    status: Mapped[str | None] = mapped_column(sa.String(64))
    attributes: Mapped[dict[str, Any]] = mapped_column(sa.JSON)


def make_payloads(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` realistic emit() arguments: mostly generations with GenAI attributes, a cohort of 200 learners."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = rng.choice(KINDS)
        attributes: dict[str, Any]
        if kind == "generation":
            tokens_in, tokens_out = rng.randint(20, 800), rng.randint(5, 300)
            attributes = {
                "gen_ai.request.model": rng.choice(MODELS),
                "gen_ai.usage.input_tokens": tokens_in,
                "gen_ai.usage.output_tokens": tokens_out,
                "gen_ai.response.finish_reasons": ["stop"],
                "latency_s": round(rng.uniform(0.05, 3.0), 4),
                "ttft_s": round(rng.uniform(0.01, 0.5), 4),
                "cost": round((tokens_in * 0.15 + tokens_out * 0.6) / 1e6, 8),
                "bits": rng.choice([4, 8, 16]),
            }
        elif kind == "score":
            attributes = {
                "rubric": "rag-answer",
                "rubric_version": 2,
                "criterion": "grounded",
                "skill": "retrieval_design",
                "score": rng.random(),
                "passed": rng.random() > 0.3,
                "scorer": "deterministic",
                "item": f"q{i % 50}",
            }
        elif kind == "retrieval":
            attributes = {"k": 5, "latency_s": rng.uniform(0.001, 0.05), "hits": rng.randint(0, 5)}
        elif kind == "training_step":
            attributes = {"step": i, "loss": rng.uniform(0.5, 3.0), "lr": 2e-4}
        else:
            attributes = {"skills": {"prompting": 1.0}}
        out.append(
            {
                "kind": kind,
                "learner": f"learner{rng.randint(0, 199)}@example.com",
                "team": f"team-{rng.randint(0, 9)}",
                "playbook": rng.choice(("prompting-101", "rag-101", "qlora-101")),
                "task": f"task-{rng.randint(1, 6)}",
                "run_id": f"run-{i // 500}",
                "duration_s": round(rng.uniform(0.01, 5.0), 4) if kind != "training_step" else None,
                "status": "completed" if kind == "task_completed" else None,
                "attributes": attributes,
            }
        )
    return out


def _sqlite_count(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        conn.close()


def time_recorder(recorder: Recorder, payloads: list[dict[str, Any]]) -> tuple[float, list[Event]]:
    """Workbench's real path: emit() each payload, then flush. Returns (seconds, events)."""
    emit = recorder.emit
    started = time.perf_counter()
    events = [emit(**p) for p in payloads]
    recorder.flush()
    return time.perf_counter() - started, events


def time_append_many(store: TelemetryStore, events: list[Event], batch_size: int) -> float:
    """Workbench's storage path alone: append_many in batches of pre-built events."""
    started = time.perf_counter()
    for i in range(0, len(events), batch_size):
        store.append_many(events[i : i + batch_size])
    return time.perf_counter() - started


def orm_engine(path: Path) -> sa.Engine:
    """The peer's engine: default ORM setup plus the same SQLite settings as Workbench's store."""
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})

    @sa_event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        apply_pragmas(dbapi_connection, OPTIONS)

    Base.metadata.create_all(engine)
    return engine


def _row(e: Event) -> EventRow:
    values = {name: getattr(e, name) for name in EVENT_FIELDS}
    return EventRow(**values | {"kind": e.kind.value})


def time_orm(session: Session, events: list[Event], per_commit: int) -> float:
    """The peer: ORM objects, a commit every ``per_commit`` events (1 = the naive one-commit-per-event)."""
    started = time.perf_counter()
    for i, e in enumerate(events, 1):
        session.add(_row(e))
        if i % per_commit == 0:
            session.commit()
    session.commit()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5_000, help="events per path (default 5000)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--batch-size", type=int, default=100, help="Workbench batch size (default 100)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    n, batch = args.events, args.batch_size

    payloads = make_payloads(n)
    rounds = max(1, min(args.rounds, n))
    chunks = [payloads[i * n // rounds : (i + 1) * n // rounds] for i in range(rounds)]
    names = ("workbench_recorder", "workbench_append_many", "orm_commit_per_event", "orm_batched")
    seconds = dict.fromkeys(names, 0.0)
    with tempfile.TemporaryDirectory(prefix="wb-bench-telemetry-") as tmp:
        folder = Path(tmp)
        files = {name: folder / f"{name}.db" for name in names}
        recorder_store, append_store = open_store(files[names[0]]), open_store(files[names[1]])
        recorder = Recorder(recorder_store, batch_size=batch, flush_interval_s=0)
        engines = {name: orm_engine(files[name]) for name in names[2:]}
        sessions = {name: Session(engines[name]) for name in names[2:]}
        try:
            # Warm-up (imports, statement compilation, caches), not timed, into throwaway files.
            with open_store(folder / "warm.db") as warm_store:
                _, warm = time_recorder(Recorder(warm_store, flush_interval_s=0), make_payloads(200, seed=1))
            warm_engine = orm_engine(folder / "warm-orm.db")
            with Session(warm_engine) as warm_session:
                time_orm(warm_session, warm, 1)
            warm_engine.dispose()
            # Interleaved rounds, so that a busy spell on a shared machine hits every path alike. The peer
            # stores exactly the events the recorder made.
            for r, chunk in enumerate(chunks):
                took, events = time_recorder(recorder, chunk)
                seconds["workbench_recorder"] += took
                others = [
                    ("workbench_append_many", lambda ev: time_append_many(append_store, ev, batch)),
                    ("orm_commit_per_event", lambda ev: time_orm(sessions["orm_commit_per_event"], ev, 1)),
                    ("orm_batched", lambda ev: time_orm(sessions["orm_batched"], ev, batch)),
                ]
                for name, run in others[r % 3 :] + others[: r % 3]:
                    seconds[name] += run(events)
        finally:
            recorder.close()
            for store in (recorder_store, append_store):
                store.close()
            for session in sessions.values():
                session.close()
            for engine in engines.values():
                engine.dispose()
        stored = {name: _sqlite_count(path) for name, path in files.items()}
    if any(count != n for count in stored.values()):
        print(f"error: not every path stored {n} events: {stored}", file=sys.stderr)
        return 1

    rates = {name: n / s for name, s in seconds.items()}
    peer = rates["orm_commit_per_event"]
    result = {
        "benchmark": "telemetry-ingest",
        "events": n,
        "batch_size": batch,
        "rounds": rounds,
        "sqlite_version": sqlite3.sqlite_version,
        "sqlalchemy_version": sa.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "settings": "WAL, synchronous=NORMAL, busy_timeout=30s; one fresh file per path",
        "seconds": {k: round(v, 4) for k, v in seconds.items()},
        "events_per_s": {k: round(v, 1) for k, v in rates.items()},
        "ratio_vs_orm_commit_per_event": {
            k: round(v / peer, 2) for k, v in rates.items() if k != "orm_commit_per_event"
        },
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"telemetry ingest: {n} events, batch {batch}, {rounds} interleaved rounds, "
        f"SQLite {sqlite3.sqlite_version} (WAL, NORMAL)"
    )
    print(f"{'path':<28}{'events/s':>12}{'seconds':>10}{'x peer':>9}")
    for name, rate in rates.items():
        ratio = rate / peer
        print(f"{name:<28}{rate:>12,.0f}{seconds[name]:>10.3f}{ratio:>8.1f}x")
    print(
        f"\nWorkbench Recorder (emit + validate + batch) is {rates['workbench_recorder'] / peer:.1f}x the "
        "one-commit-per-event ORM peer."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
