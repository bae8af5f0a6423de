"""The server with the clients people use: the official ``openai`` package and LangChain's ``ChatOpenAI``."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from openai import OpenAI
from serving_helpers import LiveServer, chat_body, make_app

from workbench.telemetry import get_recorder, open_store


def test_openai_client_plain_streamed_and_models(server: LiveServer) -> None:
    client = OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list()] == ["it-helpdesk", "it-helpdesk@1"]
    reply = client.chat.completions.create(
        model="it-helpdesk", messages=[{"role": "user", "content": "How do I reset my password?"}]
    )
    text = reply.choices[0].message.content or ""
    assert "self-service portal" in text
    assert reply.model == "it-helpdesk@1" and reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0

    stream = client.chat.completions.create(
        model="it-helpdesk", messages=[{"role": "user", "content": "How do I reset my password?"}], stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    pieces, finish, usage = [], None, None
    for chunk in stream:
        if chunk.choices:
            pieces.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
        usage = chunk.usage or usage
    assert "".join(pieces) == text  # greedy: the streamed answer is the plain one
    assert len([p for p in pieces if p]) > 1 and finish == "stop"
    assert usage is not None and usage.completion_tokens == reply.usage.completion_tokens


def test_langchain_chat_openai_plain_and_streamed(server: LiveServer) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=server.base_url, api_key="unused", model="it-helpdesk", max_retries=0, temperature=0)
    message = llm.invoke("How do I add a printer?")
    assert "Printers" in str(message.content)
    streamed = "".join(str(chunk.content) for chunk in llm.stream("How do I add a printer?"))
    assert streamed == message.content


def test_every_request_is_recorded_redacted_with_copilot_id_and_version(server: LiveServer) -> None:
    body = chat_body("My VPN keeps disconnecting, mail ana@example.com", user="ana@example.com")
    assert httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=60).status_code == 200
    get_recorder().flush()
    with open_store() as store:
        events = store.query(kind="generation", task="copilot:it-helpdesk@1")
    assert len(events) == 1
    event = events[0]
    assert event.attributes["variant"] == "direct" and event.attributes["template"] == "it-helpdesk-answer@1"
    stored = json.dumps(event.model_dump(mode="json"))
    assert "ana@example.com" not in stored and "[EMAIL]" in event.attributes["prompt_redacted"]
    assert event.learner is not None and event.learner.startswith("p_")  # the request's user, pseudonymised


def test_json_mode_returns_one_json_object(server: LiveServer) -> None:
    client = OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)
    reply = client.chat.completions.create(
        model="it-helpdesk", messages=[{"role": "user", "content": "Classify: my VPN is down"}],
        response_format={"type": "json_object"}, max_tokens=48,
    )  # fmt: skip
    assert isinstance(json.loads(reply.choices[0].message.content or ""), dict)


def test_api_keys_are_required_when_configured(keyed_server: LiveServer) -> None:
    good = OpenAI(base_url=keyed_server.base_url, api_key="s3cret", max_retries=0)
    assert good.chat.completions.create(model="it-helpdesk", messages=[{"role": "user", "content": "Hi"}]).choices
    import openai

    with pytest.raises(openai.AuthenticationError):
        OpenAI(base_url=keyed_server.base_url, api_key="wrong", max_retries=0).models.list()
    assert httpx.get(f"{keyed_server.url}/health").status_code == 200  # open for load balancers


def _metric(text: str, name: str, **labels: Any) -> float:
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_semantic_cache_answers_a_similar_question_without_the_model(served_spec: Any, tiny_model: Any) -> None:
    spec_file = served_spec / "copilot.yaml"
    text = spec_file.read_text(encoding="utf-8")
    spec_file.write_text(text.replace("cache: {enabled: false", "cache: {enabled: true"), encoding="utf-8")
    with LiveServer(make_app(served_spec, tiny_model)) as live:
        url = f"{live.base_url}/chat/completions"
        first = httpx.post(url, json=chat_body("How do I reset my password?"), timeout=60).json()
        second = httpx.post(url, json=chat_body("How do I reset my password ?"), timeout=60).json()
        other = httpx.post(url, json=chat_body("Where do I book a meeting room?"), timeout=60).json()
        assert second["choices"][0]["message"]["content"] == first["choices"][0]["message"]["content"]
        assert other["choices"][0]["message"]["content"] != first["choices"][0]["message"]["content"]
        health = httpx.get(f"{live.url}/health").json()
        assert health["cache"]["hits"] == 1 and health["cache"]["misses"] == 2
        assert health["batching"][0]["requests"] == 2  # the hit never reached the model
        metrics = httpx.get(f"{live.url}/metrics").text
        assert _metric(metrics, "workbench_copilot_cache_lookups_total", result="hit") == 1.0
        assert abs(_metric(metrics, "workbench_copilot_cache_hit_ratio") - 1 / 3) < 1e-6
    get_recorder().flush()
    with open_store() as store:
        hits = [e for e in store.query(kind="generation") if e.attributes.get("cache_hit")]
    assert len(hits) == 1 and hits[0].task == "copilot:it-helpdesk@1"
