"""The built-in model through the ChatBackend protocol: generate, stream, batch, stop, sample, measure."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from workbench.errors import ContextLengthError, ModelError, ValidationError
from workbench.models import (
    TINY_MODEL,
    ChatBackend,
    Generation,
    GenerationParams,
    GenerationStream,
    load_model,
)
from workbench.models.generation import StopScanner, cut_at_stop, to_messages

SUPPORT = [
    {"role": "system", "content": "You are a helpful IT support assistant."},
    {"role": "user", "content": "How do I reset my password?"},
]
GRADER = [
    {"role": "system", "content": "You are a strict grader. Reply with JSON only."},
    {"role": "user", "content": "Question: How do I reset my password?\nAnswer: Try again later."},
]


def corpus_words(tiny_model_dir: Path) -> set[str]:
    from workbench.models.tiny import corpus_path

    return set(re.findall(r"[a-z]+", corpus_path().read_text(encoding="utf-8").lower()))


def test_backend_satisfies_the_protocol(tiny_model: Any) -> None:
    assert isinstance(tiny_model, ChatBackend)
    assert tiny_model.name == TINY_MODEL
    assert tiny_model.bits == 32
    assert tiny_model.context_length >= 512
    info = tiny_model.info()
    assert info["source"] == "builtin" and info["method"] == "fp32" and info["chat_template"] is True
    assert info["footprint_bytes"] == tiny_model.memory_footprint() > 0
    assert tiny_model.model is not None and tiny_model.tokenizer is not None


def test_default_model_comes_from_settings(tiny_model_dir: Path) -> None:
    backend = load_model()
    assert backend.name == TINY_MODEL


def test_greedy_generation_is_readable_and_measured(tiny_model: Any, tiny_model_dir: Path) -> None:
    gen = tiny_model.generate(SUPPORT, max_new_tokens=60)
    assert isinstance(gen, Generation)
    words = re.findall(r"[a-z]+", gen.text.lower())
    assert len(words) >= 5, gen.text
    known = corpus_words(tiny_model_dir)
    assert sum(w in known for w in words) / len(words) >= 0.9, gen.text
    assert gen.model == TINY_MODEL and gen.bits == 32
    assert gen.input_tokens == tiny_model.count_tokens(SUPPORT)
    assert 0 < gen.output_tokens <= 60
    assert gen.finish_reason == "stop"  # the model ends its turn
    assert gen.ttft_s is not None and 0 <= gen.ttft_s <= gen.latency_s


def test_greedy_is_deterministic(tiny_model: Any) -> None:
    first = tiny_model.generate("My VPN keeps disconnecting.", max_new_tokens=20)
    second = tiny_model.generate("My VPN keeps disconnecting.", max_new_tokens=20)
    assert first.text == second.text


def test_grader_prompt_answers_with_json(tiny_model: Any) -> None:
    gen = tiny_model.generate(GRADER, max_new_tokens=40)
    data = json.loads(gen.text)
    assert set(data) == {"score", "rationale"}
    assert data["score"] in {0, 1, 2, 3}


def test_a_string_prompt_is_one_user_message(tiny_model: Any) -> None:
    text = tiny_model.render_chat("Hello there")
    assert text == tiny_model.render_chat([{"role": "user", "content": "Hello there"}])
    assert text == "<|user|>\nHello there<|end|>\n<|assistant|>\n"


def test_stream_chunks_join_to_the_text(tiny_model: Any) -> None:
    stream = tiny_model.stream(SUPPORT, max_new_tokens=40)
    assert isinstance(stream, GenerationStream)
    chunks = list(stream)
    assert len(chunks) > 1 and all(chunks)
    result = stream.result
    assert "".join(chunks) == result.text
    assert result.text == tiny_model.generate(SUPPORT, max_new_tokens=40).text
    assert result.ttft_s is not None and result.ttft_s <= result.latency_s
    assert stream.done


def test_stream_result_consumes_the_rest(tiny_model: Any) -> None:
    stream = tiny_model.stream("How do I open a ticket?", max_new_tokens=30)
    first = next(stream)
    assert stream.result.text.startswith(first)


def test_closing_a_stream_stops_it(tiny_model: Any) -> None:
    with tiny_model.stream("How do I open a ticket?", max_new_tokens=200) as stream:
        next(stream)
    assert stream.done
    # the backend is free again afterwards
    assert tiny_model.generate("How do I open a ticket?", max_new_tokens=5).output_tokens <= 5


def test_stop_strings_cut_the_output_in_generate_and_stream(tiny_model: Any) -> None:
    full = tiny_model.generate(SUPPORT, max_new_tokens=60).text
    word = "portal"
    assert word in full
    gen = tiny_model.generate(SUPPORT, max_new_tokens=60, stop=[word])
    assert gen.text == full[: full.index(word)]
    assert gen.finish_reason == "stop"
    stream = tiny_model.stream(SUPPORT, GenerationParams(max_new_tokens=60, stop=(word,)))
    chunks = list(stream)
    assert "".join(chunks) == stream.result.text == gen.text


def test_max_new_tokens_ends_with_length(tiny_model: Any) -> None:
    gen = tiny_model.generate(SUPPORT, max_new_tokens=3)
    assert gen.output_tokens == 3
    assert gen.finish_reason == "length"


def test_sampling_with_a_seed_is_reproducible(tiny_model: Any) -> None:
    params = GenerationParams(max_new_tokens=20, temperature=1.5, top_p=0.95, seed=7)
    assert tiny_model.generate(SUPPORT, params).text == tiny_model.generate(SUPPORT, params).text


def test_batch_matches_single_greedy_generation(tiny_model: Any) -> None:
    prompts = [SUPPORT, "My VPN keeps disconnecting.", GRADER]
    batch = tiny_model.generate_batch(prompts, max_new_tokens=30)
    assert len(batch) == 3
    for prompt, gen in zip(prompts, batch, strict=True):
        single = tiny_model.generate(prompt, max_new_tokens=30)
        assert gen.text == single.text
        assert gen.input_tokens == single.input_tokens
        assert gen.ttft_s is None
    assert tiny_model.generate_batch([]) == []
    with pytest.raises(ValidationError, match="list of prompts"):
        tiny_model.generate_batch("one string")


def test_prompt_longer_than_the_context_names_the_lengths(tiny_model: Any) -> None:
    long_prompt = "password " * 2000
    n = tiny_model.count_tokens([{"role": "user", "content": long_prompt}])
    with pytest.raises(ContextLengthError) as err:
        tiny_model.generate(long_prompt)
    assert f"has {n} tokens" in err.value.message
    assert f"context of {tiny_model.context_length} tokens" in err.value.message
    assert err.value.hint
    with pytest.raises(ContextLengthError, match="prompt 1 of the batch"):
        tiny_model.generate_batch(["hi", long_prompt])
    with pytest.raises(ContextLengthError):
        tiny_model.stream(long_prompt)


def test_output_is_clipped_to_the_room_left_in_the_context(tiny_model: Any) -> None:
    ctx = tiny_model.context_length
    content = "password " * 10
    while tiny_model.count_tokens([{"role": "user", "content": content + "password "}]) < ctx - 3:
        content += "password "
    gen = tiny_model.generate(content, max_new_tokens=100)
    assert gen.input_tokens + gen.output_tokens <= ctx


def test_count_tokens_raw_text_and_messages(tiny_model: Any) -> None:
    assert tiny_model.count_tokens("") == 0
    assert tiny_model.count_tokens("password") >= 1
    # messages include the template's role tokens and BOS
    assert tiny_model.count_tokens([{"role": "user", "content": "password"}]) > tiny_model.count_tokens(
        "password"
    )


def test_to_attributes_uses_the_genai_names(tiny_model: Any) -> None:
    attrs = tiny_model.generate("Hi", max_new_tokens=5).to_attributes()
    assert set(attrs) == {
        "gen_ai.request.model",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.response.finish_reasons",
        "latency_s",
        "ttft_s",
        "bits",
    }
    assert attrs["gen_ai.request.model"] == TINY_MODEL
    assert isinstance(attrs["gen_ai.response.finish_reasons"], list)
    json.dumps(attrs)


def test_bad_messages_and_params_are_validation_errors(tiny_model: Any) -> None:
    with pytest.raises(ValidationError) as err:
        tiny_model.generate([{"role": "robot", "content": "hi"}])
    assert err.value.field == "messages[0].role"
    with pytest.raises(ValidationError, match="unknown generation parameter"):
        tiny_model.generate("hi", max_tokens=5)
    with pytest.raises(ValidationError) as err:
        GenerationParams(temperature=-1)
    assert err.value.field == "temperature"
    with pytest.raises(ValidationError):
        to_messages([])


def test_params_accept_dicts_and_single_stop_string() -> None:
    assert GenerationParams(stop="x").stop == ("x",)
    from workbench.models.generation import resolve_params

    assert resolve_params({"max_new_tokens": 5}, {"seed": 1}) == GenerationParams(max_new_tokens=5, seed=1)


def test_stop_scanner_holds_back_possible_prefixes() -> None:
    scanner = StopScanner(["STOP"])
    out = [scanner.feed(c) for c in ["ab", "cS", "TO", "Pxyz"]]
    assert "".join(out) == "abc" and scanner.stopped
    assert scanner.flush() == ""
    plain = StopScanner([])
    assert plain.feed("abc") == "abc" and plain.flush() == ""
    partial = StopScanner(["STOP"])
    assert partial.feed("abST") == "a" and partial.flush() == "bST"
    assert cut_at_stop("hello world", ["o w"]) == ("hell", True)
    assert cut_at_stop("hello", []) == ("hello", False)


@pytest.mark.slow
@pytest.mark.parametrize("bits", [4, 8])
def test_quantized_loads_are_smaller_with_close_logits(tiny_model: Any, bits: int) -> None:
    import torch

    quantized = load_model(TINY_MODEL, bits=bits, device="cpu")
    assert quantized.bits == bits
    assert quantized.info()["method"] == ("bnb-nf4" if bits == 4 else "bnb-int8")
    assert quantized.memory_footprint() < tiny_model.memory_footprint()
    inputs = tiny_model.tokenizer(tiny_model.render_chat(SUPPORT), return_tensors="pt")
    with torch.no_grad():
        reference = tiny_model.model(**inputs).logits
        logits = quantized.model(**inputs).logits.float()
    spread = float(reference.max() - reference.min())
    assert float((logits - reference).abs().max()) < 0.25 * spread
    gen = quantized.generate(SUPPORT, max_new_tokens=20)
    assert gen.bits == bits and gen.text.strip()


def test_16_bit_load_on_cpu_is_bf16(tiny_model_dir: Path) -> None:
    import torch

    half = load_model(TINY_MODEL, bits=16)
    assert half.info()["method"] == "bf16"
    assert next(half.model.parameters()).dtype == torch.bfloat16
    assert half.generate("How do I open a ticket?", max_new_tokens=8).output_tokens > 0


def test_a_seed_does_not_reset_the_callers_random_stream(tiny_model: Any) -> None:
    import torch

    torch.manual_seed(5)
    expected = torch.rand(2)
    torch.manual_seed(5)
    tiny_model.generate("hi", max_new_tokens=3, temperature=1.0, seed=99)
    assert torch.equal(torch.rand(2), expected)


BATCH = ["How do I reset my password?", "My VPN keeps disconnecting.", "How do I add a printer?"]


def test_batched_streams_match_the_batch_and_stream_row_by_row(tiny_model: Any) -> None:
    params = GenerationParams(max_new_tokens=30)
    expected = tiny_model.generate_batch(BATCH, params)
    streams = tiny_model.stream_batch(BATCH, params)
    assert len(streams) == len(BATCH)
    for stream, want in zip(streams, expected, strict=True):
        chunks = list(stream)
        assert len(chunks) > 1  # token by token, not one piece at the end
        assert "".join(chunks) == stream.result.text == want.text
        assert stream.result.finish_reason == want.finish_reason
        assert stream.result.output_tokens == want.output_tokens
        assert stream.result.ttft_s is not None and stream.result.ttft_s <= stream.result.latency_s


def test_closing_one_batched_stream_stops_only_its_row(tiny_model: Any) -> None:
    params = GenerationParams(max_new_tokens=30)
    expected = tiny_model.generate_batch(BATCH, params)
    first, *others = tiny_model.stream_batch(BATCH, params)
    with first:
        next(first)
    with pytest.raises(ModelError, match="closed before it finished"):
        _ = first.result
    for stream, want in zip(others, expected[1:], strict=True):
        assert stream.result.text == want.text


def test_batched_streams_refuse_a_prompt_over_the_context_before_starting(tiny_model: Any) -> None:
    with pytest.raises(ContextLengthError, match="prompt 1 of the batch"):
        tiny_model.stream_batch(["hello", "printer " * 5000], max_new_tokens=4)
    assert tiny_model.stream_batch([], max_new_tokens=4) == []
