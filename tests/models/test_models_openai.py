"""The OpenAI-compatible backend against a fake server we own (a fake at the network edge)."""

from __future__ import annotations

from typing import Any

import pytest

from workbench.errors import (
    ConfigError,
    ContextLengthError,
    EndpointError,
    ModelNotFoundError,
    QuantizationError,
)
from workbench.models import ChatBackend, GenerationParams, load_model


def test_generate_through_the_endpoint(openai_server: Any) -> None:
    backend = load_model("openai:fake-llm", base_url=openai_server.base_url)
    assert isinstance(backend, ChatBackend)
    assert backend.name == "openai:fake-llm" and backend.bits is None
    gen = backend.generate("hello there", max_new_tokens=50, seed=3)
    assert gen.text == "You said: hello there"
    assert gen.model == "fake-llm"
    assert (gen.input_tokens, gen.output_tokens) == (2, 4)
    assert gen.finish_reason == "stop" and gen.bits is None
    request = openai_server.requests[-1]
    assert request["messages"] == [{"role": "user", "content": "hello there"}]
    assert request["max_tokens"] == 50 and request["temperature"] == 0.0 and request["seed"] == 3
    assert gen.to_attributes()["gen_ai.request.model"] == "fake-llm"


def test_streaming_over_sse(openai_server: Any) -> None:
    backend = load_model("openai:fake-llm", base_url=openai_server.base_url)
    stream = backend.stream(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "one two"}]
    )
    chunks = list(stream)
    assert chunks == ["You ", "said: ", "one ", "two"]
    result = stream.result
    assert result.text == "".join(chunks)
    assert result.output_tokens == 4  # from the usage chunk
    assert result.ttft_s is not None and result.ttft_s <= result.latency_s
    assert openai_server.requests[-1]["stream"] is True


def test_stop_strings_and_length(openai_server: Any) -> None:
    backend = load_model("openai:fake-llm", base_url=openai_server.base_url)
    params = GenerationParams(stop=("one",), max_new_tokens=50)
    assert backend.generate("one two", params).text == "You said: "
    stream = backend.stream("one two", params)
    assert "".join(stream) == stream.result.text == "You said: "
    assert stream.result.finish_reason == "stop"
    assert backend.generate("a b c d e f", max_new_tokens=2).finish_reason == "length"


def test_batch_is_sequential_requests(openai_server: Any) -> None:
    backend = load_model("openai:fake-llm", base_url=openai_server.base_url)
    texts = [g.text for g in backend.generate_batch(["a", "b"])]
    assert texts == ["You said: a", "You said: b"]


def test_env_configures_endpoint_and_key(
    openai_server_with_key: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_OPENAI_BASE_URL", openai_server_with_key.base_url)
    monkeypatch.setenv("WORKBENCH_OPENAI_API_KEY", "sk-test")
    backend = load_model("openai:fake-llm")
    assert backend.generate("hi").text == "You said: hi"
    info = backend.info()
    assert info["api_key_set"] is True and "sk-test" not in str(info)
    assert info["served_models"] == ["fake-judge", "fake-llm"]


def test_wrong_key_is_an_endpoint_error(openai_server_with_key: Any) -> None:
    with pytest.raises(EndpointError) as err:
        load_model("openai:fake-llm", base_url=openai_server_with_key.base_url, api_key="sk-wrong")
    assert "refused the API key" in err.value.message
    assert "WORKBENCH_OPENAI_API_KEY" in (err.value.hint or "")


def test_unreachable_endpoint_fails_fast(closed_port: int) -> None:
    with pytest.raises(EndpointError) as err:
        load_model("openai:llama3.2", base_url=f"http://127.0.0.1:{closed_port}/v1")
    assert f"127.0.0.1:{closed_port}" in err.value.message
    assert "ollama serve" in (err.value.hint or "")
    assert err.value.field == "base_url"


def test_unknown_model_on_the_server(openai_server: Any) -> None:
    backend = load_model("openai:missing-model", base_url=openai_server.base_url)
    with pytest.raises(ModelNotFoundError) as err:
        backend.generate("hi")
    assert "missing-model" in err.value.message
    assert "fake-llm" in (err.value.hint or "")


def test_server_context_error_becomes_context_length_error(openai_server: Any) -> None:
    backend = load_model("openai:fake-llm", base_url=openai_server.base_url)
    with pytest.raises(ContextLengthError):
        backend.generate("TOO_LONG")


def test_local_context_check_when_the_context_is_known(openai_server: Any) -> None:
    backend = load_model("openai:fake-llm", base_url=openai_server.base_url, context_length=10)
    with pytest.raises(ContextLengthError, match="context of 10 tokens"):
        backend.generate("x" * 200)
    assert backend.count_tokens("abcdefgh") == 2  # an estimate: 4 characters per token


def test_bits_and_device_do_not_apply_to_endpoints(openai_server: Any) -> None:
    with pytest.raises(QuantizationError, match="decides its own precision"):
        load_model("openai:fake-llm", base_url=openai_server.base_url, bits=4)
    with pytest.raises(ConfigError):
        load_model("openai:fake-llm", base_url=openai_server.base_url, device="cuda")
    with pytest.raises(ModelNotFoundError, match="empty"):
        load_model("openai:", base_url=openai_server.base_url)
    with pytest.raises(ConfigError, match="base_ur"):
        load_model("openai:fake-llm", base_ur=openai_server.base_url)


def test_official_api_without_key_explains(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("WORKBENCH_OPENAI_BASE_URL", "OPENAI_BASE_URL", "WORKBENCH_OPENAI_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(EndpointError, match="no API key"):
        load_model("openai:gpt-4o-mini")
