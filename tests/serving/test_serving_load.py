"""Load on loopback (16 concurrent clients, 200 requests) and SIGTERM draining, on real servers."""

from __future__ import annotations

import json
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from serving_helpers import LiveServer, chat_body, start_cli_server, wait_healthy
from wb_lab import free_port

QUESTIONS = ["How do I reset my password?", "My VPN keeps disconnecting.", "How do I add a printer?",
             "How do I submit an expense?", "How do I book a meeting room?", "I lost my phone."]  # fmt: skip


def test_sixteen_clients_two_hundred_requests_none_lost(server: LiveServer) -> None:
    url = f"{server.base_url}/chat/completions"
    total, clients = 200, 16
    results: list[tuple[int, str]] = []
    lock = threading.Lock()
    counter = iter(range(total))

    def client() -> None:
        with httpx.Client(timeout=120) as http:
            while True:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                response = http.post(url, json=chat_body(QUESTIONS[n % len(QUESTIONS)], max_tokens=24))
                content = response.json()["choices"][0]["message"]["content"] if response.status_code == 200 else ""
                with lock:
                    results.append((response.status_code, content))

    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(client) for _ in range(clients)]:
            future.result()
    statuses = [status for status, _ in results]
    assert len(results) == total, "requests were lost"
    assert statuses.count(200) == total, {s: statuses.count(s) for s in set(statuses)}
    assert all(content for _, content in results)
    health = httpx.get(f"{server.url}/health").json()
    batching = health["batching"][0]
    assert batching["requests"] == total
    assert batching["batches"] < total and batching["largest"] > 1  # concurrent requests shared generate calls


def test_concurrent_streams_share_batched_generate_calls(server: LiveServer) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=120)
    questions = QUESTIONS * 2
    plain = {q: client.chat.completions.create(model="it-helpdesk", max_tokens=24,
                                               messages=[{"role": "user", "content": q}]).choices[0].message.content
             for q in QUESTIONS}  # fmt: skip
    before = httpx.get(f"{server.url}/health").json()["batching"][0]

    def stream(question: str) -> list[str]:
        chunks = client.chat.completions.create(
            model="it-helpdesk", max_tokens=24, stream=True, messages=[{"role": "user", "content": question}]
        )
        return [c.choices[0].delta.content or "" for c in chunks if c.choices]

    with ThreadPoolExecutor(len(questions)) as pool:
        streamed = list(pool.map(stream, questions))
    for question, pieces in zip(questions, streamed, strict=True):
        assert "".join(pieces) == plain[question]  # greedy: each row's stream is its own answer
        assert len([p for p in pieces if p]) > 1  # token by token
    after = httpx.get(f"{server.url}/health").json()["batching"][0]
    requests, batches = after["requests"] - before["requests"], after["batches"] - before["batches"]
    assert requests == len(questions)
    assert batches < requests and after["largest"] > 1  # the streams shared generate calls


def test_sigterm_lets_in_flight_requests_finish(served_spec: Path) -> None:
    spec_file = served_spec / "copilot.yaml"
    text = spec_file.read_text(encoding="utf-8")
    # Requests wait 3 s in the batcher for company, so they are surely in flight when SIGTERM comes.
    spec_file.write_text(text.replace("max_wait_ms: 10", "max_wait_ms: 3000"), encoding="utf-8")
    port = free_port()
    proc = start_cli_server(served_spec, port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        replies: list[httpx.Response] = []
        streamed: list[str] = []

        def ask(question: str) -> None:
            replies.append(httpx.post(f"{url}/v1/chat/completions", json=chat_body(question), timeout=120))

        def stream() -> None:
            body = chat_body("How do I add a printer?", stream=True, max_tokens=200)
            with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=120) as response:
                streamed.extend(line for line in response.iter_lines() if line.startswith("data: "))

        threads = [threading.Thread(target=ask, args=(q,)) for q in QUESTIONS]
        threads.append(threading.Thread(target=stream))
        for t in threads:
            t.start()
        _wait_in_flight(url, len(threads))  # every request accepted (a late one would meet a closed socket)
        proc.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(120)
        # uvicorn re-raises the signal once it has shut down, so the exit status still says "terminated".
        assert proc.wait(timeout=120) in (0, -signal.SIGTERM)
        assert [r.status_code for r in replies] == [200] * len(QUESTIONS)
        assert all(r.json()["choices"][0]["message"]["content"] for r in replies)
        assert streamed and streamed[-1] == "data: [DONE]"
        assert json.loads(streamed[-2].removeprefix("data: "))["choices"][0]["finish_reason"] in ("stop", "length")
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/health", timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _wait_in_flight(url: str, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = httpx.get(f"{url}/metrics", timeout=5).text
        value = next((float(line.split()[-1]) for line in text.splitlines()
                      if line.startswith("workbench_copilot_in_flight ")), 0.0)  # fmt: skip
        if value >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {n} requests got in flight")


def test_batcher_isolates_a_failing_prompt(tiny_model: Any) -> None:
    from workbench.errors import ContextLengthError
    from workbench.models import GenerationParams
    from workbench.serving import DynamicBatcher

    batcher = DynamicBatcher(tiny_model, max_batch_size=8, max_wait_s=0.5)
    try:
        params = GenerationParams(max_new_tokens=8)
        futures = [batcher.submit(q, params) for q in QUESTIONS[:3]]
        futures.append(batcher.submit("printer " * 900, params))  # longer than the model's context
        futures.append(batcher.submit(QUESTIONS[3], GenerationParams(max_new_tokens=4)))  # other parameters
        assert all(f.result(timeout=60).text for f in futures[:3])
        with pytest.raises(ContextLengthError):
            futures[3].result(timeout=60)
        assert futures[4].result(timeout=60).output_tokens <= 4
        assert batcher.stats.largest == 4 and batcher.stats.requests >= 5
    finally:
        batcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        batcher.submit("late", GenerationParams())


def test_batcher_waits_for_announced_requests(tiny_model: Any) -> None:
    from workbench.models import GenerationParams
    from workbench.serving import DynamicBatcher

    batcher = DynamicBatcher(tiny_model, max_batch_size=8, max_wait_s=0.001, max_gather_s=10.0)
    params = GenerationParams(max_new_tokens=4)
    results: list[str] = []

    def request(delay: float) -> None:
        with batcher.expecting():
            time.sleep(delay)  # the guard, the template, retrieval...
            results.append(batcher.generate("How do I add a printer?", params).text)

    threads = [threading.Thread(target=request, args=(0.1 * i,)) for i in range(4)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(results) == 4 and batcher.stats.batches == 1 and batcher.stats.largest == 4
    finally:
        batcher.close()
