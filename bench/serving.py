"""Workbench's copilot server against a hand-written FastAPI + transformers server, under concurrent load.

Usage::

    python bench/serving.py [--clients 16] [--requests 32] [--max-tokens 32] [--threads 1] [--json] [--check]

Both servers run in their own process on 127.0.0.1 with the same model (``smollm2-135m-instruct``, the same
safetensors folder), the same torch thread count (``--threads``, default 1: on the shared 2-core machine two
threads per process made generation about ten times slower for both sides), and answer the same prompts,
greedy, ``max_tokens`` each:

- **workbench**: ``workbench copilot serve`` of a bare copilot (no template, no retrieval; the built-in guard
  with a rate limit above what the benchmark sends, telemetry to a temporary store): dynamic batching groups
  the concurrent requests into shared ``generate_batch`` calls;
- **peer** (``bench/peers/serving_peer.py``): what a learner writes: one ``model.generate`` per request in FastAPI's
  threadpool.

``--clients`` concurrent clients (httpx, async) send ``--requests`` requests in all; after one warm-up request
per server, each side is timed alone (the other server is stopped), Workbench first. Reported per side:
throughput (requests/s and output tokens/s), p50/p95 latency, errors; and the throughput ratio (target >= 3x,
``--check`` exits 1 below it) and how many answers are identical on both sides (batched generation pads
prompts, so an answer can differ in a late token).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MODEL = "smollm2-135m-instruct"
PROMPTS = [
    "How do I reset my password?",
    "My VPN keeps disconnecting. What should I do?",
    "How do I add a printer on the third floor?",
    "Explain what a language model is in two sentences.",
    "Write a polite reply: the refund takes five business days.",
    "What is the capital of France?",
    "Give me three tips for a good meeting.",
    "How do I report a phishing email?",
    "Summarise: the release moved to Friday because tests failed.",
    "What does quantization do to a model?",
    "Suggest a name for a help desk chatbot.",
    "How can I request access to a shared folder?",
    "List two benefits of unit tests.",
    "Translate 'good morning' into Spanish.",
    "What should I do if my laptop is slow?",
    "How do I book a meeting room?",
]
SPEC = """id: bench-copilot
version: 1
model: {{name: {model}}}
guardrails: {{policy: policy.yaml}}
serving: {{max_batch_size: {batch}, max_wait_ms: {wait}, max_gather_ms: {gather}}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    import httpx

    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[2]} exited: {(proc.stderr.read() if proc.stderr else b'').decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"{cmd} did not start")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def _load(url: str, model: str, clients: int, requests: int, max_tokens: int) -> dict[str, Any]:
    import httpx

    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    latencies: list[float] = []
    answers: dict[int, str] = {}
    tokens, errors = 0, 0

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal tokens, errors
        while not queue.empty():
            i = queue.get_nowait()
            body = {"model": model, "max_tokens": max_tokens, "temperature": 0,
                    "messages": [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}]}  # fmt: skip
            t0 = time.perf_counter()
            response = await http.post(url, json=body)
            latencies.append(time.perf_counter() - t0)
            if response.status_code != 200:
                errors += 1
                continue
            data = response.json()
            answers[i] = data["choices"][0]["message"]["content"]
            tokens += int(data["usage"]["completion_tokens"])

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=3600) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    wall = time.perf_counter() - started
    return {
        "wall_s": round(wall, 3), "requests": requests, "errors": errors, "output_tokens": tokens,
        "requests_per_s": round(requests / wall, 4), "tokens_per_s": round(tokens / wall, 3),
        "p50_s": round(statistics.median(latencies), 3),
        "p95_s": round(sorted(latencies)[max(0, -(-95 * len(latencies) // 100) - 1)], 3), "answers": answers,
    }  # fmt: skip


def _side(name: str, cmd: list[str], env: dict[str, str], port: int, args: argparse.Namespace) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    proc = _start(cmd, env, port)
    try:
        asyncio.run(_load(url, name, 1, 1, 4))  # warm-up
        result = asyncio.run(_load(url, name, args.clients, args.requests, args.max_tokens))
        if name == "bench-copilot":
            import httpx

            result["batching"] = httpx.get(f"http://127.0.0.1:{port}/health").json()["batching"]
        return result
    finally:
        _stop(proc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="torch threads in each server process")
    parser.add_argument("--max-wait-ms", type=float, default=20.0, help="Workbench's batching wait")
    parser.add_argument("--max-gather-ms", type=float, default=2000.0, help="Workbench's wait for announced requests")
    parser.add_argument("--only", choices=["workbench", "peer"], default=None, help="run one side (diagnostics)")
    parser.add_argument("--target", type=float, default=3.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--check", action="store_true", help="exit 1 when the throughput ratio is below the target")
    args = parser.parse_args(argv)

    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.setdefault(var, "1")
    from workbench.models import build_smollm2_model
    from workbench.settings import get_settings

    folder = build_smollm2_model()  # the safetensors copy both servers load
    work = Path(tempfile.mkdtemp(prefix="wb-bench-serving-"))
    (work / "policy.yaml").write_text("limits: {requests_per_minute: 1000000, tokens_per_day: 1000000000}\n")
    (work / "copilot.yaml").write_text(SPEC.format(model=MODEL, batch=args.clients, wait=args.max_wait_ms, gather=args.max_gather_ms))
    threads = str(args.threads)
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "TOKENIZERS_PARALLELISM": "false",
           "WORKBENCH_DATA_DIR": str(work / "data"), "WORKBENCH_CACHE_DIR": str(get_settings().cache_dir),
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}  # fmt: skip
    load_before = os.getloadavg()
    wb_port, peer_port = _free_port(), _free_port()
    empty: dict[str, Any] = {"answers": {}, "tokens_per_s": 0.0}
    workbench = empty if args.only == "peer" else _side(
        "bench-copilot", [sys.executable, "-m", "workbench.cli", "copilot", "serve", str(work), "--port", str(wb_port),
                          "--log-level", "warning"], env, wb_port, args)  # fmt: skip
    peer = empty if args.only == "workbench" else _side(
        "peer", [sys.executable, str(ROOT / "bench" / "peers" / "serving_peer.py"), "--model", str(folder),
                 "--port", str(peer_port)], env, peer_port, args)  # fmt: skip
    same = sum(workbench["answers"].get(i) == peer["answers"].get(i) for i in range(args.requests))
    ratio = workbench["tokens_per_s"] / peer["tokens_per_s"] if peer["tokens_per_s"] else float("nan")
    if args.only:
        print(json.dumps({k: v for k, v in (workbench if args.only == "workbench" else peer).items() if k != "answers"}))
        return 0
    report = {
        "model": MODEL, "clients": args.clients, "requests": args.requests, "max_tokens": args.max_tokens,
        "torch_threads": args.threads, "throughput_ratio": round(ratio, 3), "target": args.target,
        "identical_answers": same,
        "workbench": {k: v for k, v in workbench.items() if k != "answers"},
        "peer": {k: v for k, v in peer.items() if k != "answers"},
        "load_average": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]},
        "machine": f"{platform.machine()} {os.cpu_count()} cpus",
    }  # fmt: skip
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{args.clients} clients, {args.requests} requests, {args.max_tokens} tokens max, {MODEL}, "
              f"{args.threads} torch thread(s) per server")  # fmt: skip
        for side in ("workbench", "peer"):
            r = report[side]
            print(f"  {side:<9} {r['requests_per_s']:7.3f} req/s {r['tokens_per_s']:8.2f} tok/s  p50 {r['p50_s']:7.2f} s"
                  f"  p95 {r['p95_s']:7.2f} s  errors {r['errors']}")  # fmt: skip
        print(f"throughput ratio workbench / peer: {ratio:.2f}x (target >= {args.target}x); "
              f"identical answers {same}/{args.requests}")  # fmt: skip
        print(f"  batching: {workbench.get('batching')}; load average before {report['load_average']['before']}, "
              f"after {report['load_average']['after']}")  # fmt: skip
    return 1 if args.check and ratio < args.target else 0


if __name__ == "__main__":
    sys.exit(main())
