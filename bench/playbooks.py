"""Playbook runs: Workbench's batch runner (reused kernels) against sequential papermill calls.

Usage::

    python bench/playbooks.py [--runs N] [--workers W] [--json]

What is measured, in one run, on the same machine and notebook:

- ``papermill_sequential`` (the peer): N calls of ``papermill.execute_notebook`` one after the other, each
  starting and stopping its own kernel - what a straightforward "run it for every learner" loop does.
- ``workbench_batch``: :func:`workbench.playbooks.run_batch` over the same N runs with W reused kernels
  (a fresh IPython session per run, parameters and ``WORKBENCH_*`` environment re-injected); and, for
  attribution, the same batch on a single kernel (kernel reuse alone, no parallelism).
- ``workbench_dask``: the same runs with ``--executor dask`` on a 2-worker ``LocalCluster`` (processes, one
  thread and so one warm kernel each), cluster start-up and the staged-telemetry commit included.

The playbook is short and realistic: a parameters cell, the kernel-side API (``task()`` / ``check()``, which
import telemetry and write task events to SQLite), and a little work. Both sides get identical parameters
per run (the batch's learner pseudonym and run id are passed to papermill too), and the cell outputs of every
run are compared: the benchmark fails if any differ. One untimed papermill run warms the OS caches first.
Target: batch at least 5x faster.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET = 5.0

MANIFEST = """\
id: bench-short
title: Benchmark playbook
version: "1.0"
summary: A short playbook for the runner benchmark.
estimated_minutes: 1
skills: {prompting: 1.0}
tasks:
  - {id: greet, title: Greet}
  - {id: count, title: Count}
parameters:
  - {name: name, type: str, default: World, help: Who to greet.}
  - {name: n, type: int, default: 3, help: How far to count.}
"""


def _write_playbook(root: Path) -> Path:
    import nbformat

    folder = root / "bench-short"
    folder.mkdir(parents=True)
    (folder / "playbook.yaml").write_text(MANIFEST, encoding="utf-8")

    def code(source: str, *tags: str) -> Any:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = list(tags)
        return cell

    nb = nbformat.v4.new_notebook(
        cells=[
            code('name = "World"\nn = 3', "parameters"),
            code("from workbench.playbooks import check, task"),
            code(
                'with task("greet"):\n    greeting = f"Hello, {name}!"\n    print(greeting)\n'
                '    check(name in greeting, "the greeting names the learner")',
                "task:greet",
            ),
            code('with task("count"):\n    total = sum(range(n + 1))\n    print(total)\ntotal', "task:count"),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nbformat.write(nb, folder / "bench-short.ipynb")
    return folder


def _outputs(path: Path) -> list[list[Any]]:
    """Each code cell's outputs without execution counts, for comparison.

    Consecutive stream outputs of one name are joined, as JupyterLab shows them: how a kernel's stdout is split
    into messages depends on when it flushes (a timing, not a result), so one run may record ``"Hello!"`` and
    ``"\n✓ ..."`` where another records them as one text.
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code" or "workbench-run-status" in cell.metadata.get("tags", []):
            continue
        items: list[dict[str, Any]] = []
        for o in cell.get("outputs", []):
            item = {k: v for k, v in o.items() if k not in ("execution_count", "metadata")}
            last = items[-1] if items else None
            if last and item.get("output_type") == last.get("output_type") == "stream" and item["name"] == last["name"]:
                last["text"] += item["text"]
            else:
                items.append(item)
        out.append(items)
    return out


def _dask_batch(folder: Path, learners: list[str]) -> tuple[Any, float]:
    """The same runs on a 2-worker Dask ``LocalCluster``; the batch and its seconds (cluster start included)."""
    from workbench.playbooks import DaskBatchRunner

    t0 = time.perf_counter()
    batch = DaskBatchRunner(workers=2, progress=False, version="author").run(
        folder, [{"learner": name, "name": name, "n": i} for i, name in enumerate(learners)]
    )
    return batch, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="Print the results as JSON.")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="wb-bench-playbooks-"))
    os.environ["WORKBENCH_DATA_DIR"] = str(tmp / "data")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ["WORKBENCH_LOAD_PLUGINS"] = "0"
    from workbench.settings import reset_settings

    reset_settings()

    import papermill

    from workbench.playbooks import run_batch
    from workbench.playbooks.runner import base_kernel_env

    folder = _write_playbook(tmp / "pbs")
    notebook = folder / "bench-short.ipynb"
    learners = [f"learner-{i:02d}" for i in range(args.runs)]
    env_before = dict(os.environ)

    # The batch first decides ids; papermill then gets exactly the same parameters per run.
    t0 = time.perf_counter()
    # The bench playbook has no exercises, so both versions are the same notebook; the author version runs it
    # as is, as papermill does below (the learner version would add a per-run release step to the comparison).
    batch = run_batch(
        folder,
        parameter_sets=[{"learner": name, "name": name, "n": i} for i, name in enumerate(learners)],
        workers=args.workers,
        progress=False,
        version="author",
    )
    batch_s = time.perf_counter() - t0
    if not batch.ok:
        print(f"batch runs failed: {batch.counts}", file=sys.stderr)
        return 1
    # Attribution: the same runs on one reused kernel (kernel reuse alone, no parallelism).
    t0 = time.perf_counter()
    single = run_batch(
        folder,
        parameter_sets=[{"learner": name, "name": name, "n": i} for i, name in enumerate(learners)],
        workers=1,
        progress=False,
        version="author",
    )
    single_s = time.perf_counter() - t0
    dask, dask_s = _dask_batch(folder, learners)

    def papermill_run(i: int, out: Path) -> None:
        run = batch.results[i]
        os.environ.clear()
        os.environ.update(base_kernel_env())  # the kernel inherits: store, PYTHONPATH...
        os.environ.update(
            {
                "WORKBENCH_LEARNER": run.learner,
                "WORKBENCH_PLAYBOOK": "bench-short",
                "WORKBENCH_RUN_ID": run.run_id,
            }
        )
        try:
            papermill.execute_notebook(
                str(notebook),
                str(out),
                parameters={
                    **run.parameters,
                    "workbench_learner": run.learner,
                    "workbench_run_id": run.run_id,
                },
                kernel_name="python3",
                progress_bar=False,
                cwd=str(folder),
            )
        finally:
            os.environ.clear()
            os.environ.update(env_before)

    (tmp / "papermill").mkdir()
    # Kernels inherit this process's stderr; keep their TCP-transport warnings out of the report.
    saved_stderr = os.dup(2)
    with open(tmp / "papermill-kernels.log", "wb") as log:
        os.dup2(log.fileno(), 2)
        try:
            papermill_run(0, tmp / "warmup.ipynb")  # untimed: warms OS caches for whichever side goes first
            t0 = time.perf_counter()
            for i in range(args.runs):
                papermill_run(i, tmp / "papermill" / f"run-{i:02d}.ipynb")
            papermill_s = time.perf_counter() - t0
        finally:
            os.dup2(saved_stderr, 2)
            os.close(saved_stderr)

    mismatches = [
        i
        for i, run in enumerate(batch.results)
        if not _outputs(run.output_path)
        == _outputs(single.results[i].output_path)
        == _outputs(dask.results[i].output_path)
        == _outputs(tmp / "papermill" / f"run-{i:02d}.ipynb")
    ]
    ratio = papermill_s / batch_s
    result = {
        "benchmark": "playbooks",
        "runs": args.runs,
        "workers": args.workers,
        "papermill_sequential_s": round(papermill_s, 3),
        "papermill_per_run_s": round(papermill_s / args.runs, 3),
        "workbench_batch_s": round(batch_s, 3),
        "workbench_per_run_s": round(batch_s / args.runs, 3),
        "kernel_starts": batch.kernel_starts,
        "workbench_batch_1_worker_s": round(single_s, 3),
        "ratio_1_worker": round(papermill_s / single_s, 2),
        "workbench_dask_2_workers_s": round(dask_s, 3),
        "dask_counts": dask.counts,
        "ratio_dask": round(papermill_s / dask_s, 2),
        "ratio": round(ratio, 2),
        "target": TARGET,
        "same_outputs": not mismatches,
        "mismatched_runs": mismatches,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load": os.getloadavg()[0]},
    }
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "playbooks.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{args.runs} runs of a short playbook ({os.cpu_count()} CPUs, load {result['machine']['load']:.1f})"
        )
        print(f"  papermill, sequential       {papermill_s:7.2f} s  ({papermill_s / args.runs:.3f} s/run)")
        print(
            f"  workbench batch, {args.workers} kernels  {batch_s:7.2f} s  ({batch_s / args.runs:.3f} s/run, "
            f"{batch.kernel_starts} kernel starts)"
        )
        print(
            f"  workbench batch, 1 kernel   {single_s:7.2f} s  ({single_s / args.runs:.3f} s/run; "
            f"kernel reuse alone: {papermill_s / single_s:.1f}x)"
        )
        print(
            f"  workbench dask, 2 workers   {dask_s:7.2f} s  ({dask_s / args.runs:.3f} s/run, cluster start "
            f"included; {papermill_s / dask_s:.1f}x)"
        )
        print(f"  ratio {ratio:.1f}x (target >= {TARGET:.0f}x); same outputs: {mismatches or 'yes'}")
    return 0 if not mismatches and ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
