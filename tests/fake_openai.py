"""A fake OpenAI-compatible HTTP server for tests: a fake at the network edge, not a mock of our code.

Serves ``GET /v1/models`` and ``POST /v1/chat/completions`` (plain and SSE streaming) on 127.0.0.1 with the
models ``fake-llm`` and ``fake-judge``. It echoes the last user message unless given a ``reply`` function.
Shared by the model runtime tests and the rubric judge tests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeOpenAIServer:
    """A tiny OpenAI-compatible server on 127.0.0.1 (``/v1/models``, ``/v1/chat/completions`` with SSE)."""

    base_url: str
    requests: list[dict[str, Any]]
    api_key: str | None = None


def _reply_for(body: dict[str, Any]) -> tuple[list[str], str]:
    last = next((m["content"] for m in reversed(body["messages"]) if m["role"] == "user"), "")
    words = f"You said: {last}".split(" ")
    pieces = [w if i == len(words) - 1 else w + " " for i, w in enumerate(words)]
    limit = body.get("max_tokens")
    if limit is not None and len(pieces) > limit:
        return pieces[:limit], "length"
    return pieces, "stop"


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeOpenAI/1.0"
    models = ("fake-llm", "fake-judge")

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        self._json(status, {"error": {"message": message, "type": kind, "code": None, "param": None}})

    def _authorised(self) -> bool:
        key = self.server.api_key  # type: ignore[attr-defined]
        if key and self.headers.get("Authorization") != f"Bearer {key}":
            self._error(401, "Incorrect API key provided", "authentication_error")
            return False
        return True

    def do_GET(self) -> None:
        if not self._authorised():
            return
        if self.path.rstrip("/") == "/v1/models":
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "tests"} for m in self.models]
            self._json(200, {"object": "list", "data": data})
        else:
            self._error(404, f"no route {self.path}")

    def do_POST(self) -> None:
        if not self._authorised():
            return
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._error(404, f"no route {self.path}")
            return
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        self.server.requests.append(body)  # type: ignore[attr-defined]
        if body.get("model") not in self.models:
            self._error(404, f"model '{body.get('model')}' not found")
            return
        if any("TOO_LONG" in m["content"] for m in body["messages"]):
            self._error(400, "This model's maximum context length is 8192 tokens, your prompt is longer.")
            return
        custom = self.server.reply  # type: ignore[attr-defined]
        pieces, finish = ([custom(body)], "stop") if custom is not None else _reply_for(body)
        prompt_tokens = sum(len(m["content"].split()) for m in body["messages"])
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(pieces),
            "total_tokens": prompt_tokens + len(pieces),
        }
        base = {"id": "chatcmpl-test", "created": 0, "model": body["model"]}
        if not body.get("stream"):
            self._json(
                200,
                {
                    **base,
                    "object": "chat.completion",
                    "usage": usage,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "".join(pieces)},
                            "finish_reason": finish,
                        }
                    ],
                },
            )
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()

        def send(payload: Any) -> None:
            text = payload if isinstance(payload, str) else json.dumps(payload)
            self.wfile.write(f"data: {text}\n\n".encode())
            self.wfile.flush()

        chunk = {**base, "object": "chat.completion.chunk"}
        send(
            {
                **chunk,
                "choices": [
                    {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                ],
            }
        )
        for piece in pieces:
            send({**chunk, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
        send({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            send({**chunk, "choices": [], "usage": usage})
        send("[DONE]")


def start_server(
    api_key: str | None = None, reply: Callable[[dict[str, Any]], str] | None = None
) -> tuple[ThreadingHTTPServer, FakeOpenAIServer]:
    """Start a fake server in a daemon thread; stop it with ``server.shutdown(); server.server_close()``.

    Args:
        api_key: The bearer key it demands (none by default).
        reply: The completion text for a request body (default: ``"You said: <last user message>"``).
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.requests = []  # type: ignore[attr-defined]
    server.api_key = api_key  # type: ignore[attr-defined]
    server.reply = reply  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    host, port = server.server_address[:2]
    return server, FakeOpenAIServer(f"http://{host}:{port}/v1", server.requests, api_key)  # type: ignore[attr-defined]
