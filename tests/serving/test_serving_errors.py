"""Bad input over raw HTTP: each gets OpenAI's error shape and a 4xx, and the server keeps serving."""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from serving_helpers import LiveServer, chat_body

#: (what, request keyword arguments for httpx, status, error code or None)
BAD_REQUESTS: list[tuple[str, dict[str, Any], int, str | None]] = [
    ("malformed JSON", {"content": b'{"model": "it-helpdesk", "messages": [', "headers": {"content-type": "application/json"}}, 400, "invalid_json"),
    ("not an object", {"json": ["it-helpdesk"]}, 400, "invalid_json"),
    ("no messages", {"json": {"model": "it-helpdesk", "messages": []}}, 400, None),
    ("unknown role", {"json": {"model": "it-helpdesk", "messages": [{"role": "tool", "content": "x"}]}}, 400, None),
    ("two choices", {"json": chat_body("Hi", n=2)}, 400, None),
    ("bad temperature", {"json": chat_body("Hi", temperature=7)}, 400, None),
    ("unknown model", {"json": chat_body("Hi", model="gpt-4o")}, 404, "model_not_found"),
    ("prompt over max_prompt_chars", {"json": chat_body("word " * 8000)}, 400, "context_length_exceeded"),
    ("prompt over the model's context", {"json": chat_body("printer " * 900)}, 400, "context_length_exceeded"),
    ("body over the size limit", {"content": b"x" * 300_000, "headers": {"content-type": "application/json"}}, 413, "request_too_large"),
    ("no user message", {"json": {"model": "it-helpdesk", "messages": [{"role": "assistant", "content": "x"}]}}, 400, None),
]  # fmt: skip


def _assert_openai_error(response: httpx.Response, status: int, code: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    if code is not None:
        assert error["code"] == code
    return error  # type: ignore[no-any-return]


def _still_serving(server: LiveServer) -> None:
    ok = httpx.post(f"{server.base_url}/chat/completions", json=chat_body("How do I add a printer?"), timeout=60)
    assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"]


def test_bad_requests_get_the_openai_error_shape_and_a_4xx(server: LiveServer) -> None:
    url = f"{server.base_url}/chat/completions"
    with httpx.Client(timeout=60) as client:
        for what, kwargs, status, code in BAD_REQUESTS:
            error = _assert_openai_error(client.post(url, **kwargs), status, code)
            assert error["type"] == "invalid_request_error", what
        _assert_openai_error(client.get(f"{server.base_url}/nowhere"), 404, "not_found")
        _assert_openai_error(client.get(f"{server.base_url}/models/gpt-4o"), 404, "model_not_found")
        stream = client.post(url, json=chat_body("printer " * 900, stream=True))
        _assert_openai_error(stream, 400, "context_length_exceeded")  # refused before the first event
    _still_serving(server)


def test_missing_or_wrong_api_key_is_a_401(keyed_server: LiveServer) -> None:
    url = f"{keyed_server.base_url}/chat/completions"
    cases = [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic s3cret"}, {"Authorization": "Bearer"}]
    for headers in cases:
        error = _assert_openai_error(httpx.post(url, json=chat_body("Hi"), headers=headers), 401, "invalid_api_key")
        assert error["type"] == "authentication_error"
    _assert_openai_error(httpx.get(f"{keyed_server.base_url}/models"), 401, "invalid_api_key")
    ok = httpx.post(url, json=chat_body("Hi"), headers={"Authorization": "Bearer s3cret"}, timeout=60)
    assert ok.status_code == 200


def _metric(server: LiveServer, name: str) -> float:
    for line in httpx.get(f"{server.url}/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def test_a_client_that_disconnects_mid_stream_stops_its_generation(server: LiveServer) -> None:
    host, port = urlparse(server.url).hostname, urlparse(server.url).port
    body = b'{"model": "it-helpdesk", "stream": true, "max_tokens": 400, "messages": [{"role": "user", "content": "Tell me everything about printers and VPNs and passwords."}]}'
    request = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body  # fmt: skip
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(request)
        received = b""
        while received.count(b"data: ") < 3:  # the role chunk and two pieces of text
            received += sock.recv(4096)
        assert b"200 OK" in received
    deadline = time.monotonic() + 30
    while _metric(server, "workbench_copilot_disconnects_total") < 1:
        assert time.monotonic() < deadline, "the server never noticed the disconnect"
        time.sleep(0.05)
    while _metric(server, "workbench_copilot_in_flight") > 0:
        assert time.monotonic() < deadline, "the abandoned stream kept running"
        time.sleep(0.05)
    while not _events(status="client_disconnected"):  # recorded once the generation stopped
        assert time.monotonic() < deadline, "the generation never stopped"
        time.sleep(0.1)
    assert not _events(status="ok")  # it never ran to its end
    _still_serving(server)


def _events(**filters: Any) -> list[Any]:
    from workbench.telemetry import get_recorder, open_store

    get_recorder().flush()
    with open_store() as store:
        return store.query(kind="generation", task="copilot:it-helpdesk@1", **filters)


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "example.com"])
def test_refuses_a_public_address_without_a_key(host: str) -> None:
    from workbench.errors import ConfigError
    from workbench.serving import check_bind, is_loopback

    with pytest.raises(ConfigError, match="without an API key") as caught:
        check_bind(host, [])
    assert caught.value.field == "host" and "--api-key" in (caught.value.hint or "")
    check_bind(host, ["team=key"])
    assert not is_loopback(host)
    assert all(is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "[::1]"))


def test_cli_serve_refuses_a_public_address_without_a_key(served_spec: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.cli import main

    assert main(["copilot", "serve", str(served_spec), "--host", "0.0.0.0"]) == 2
    assert "refusing to serve on 0.0.0.0 without an API key" in capsys.readouterr().err
