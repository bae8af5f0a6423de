"""Model names and their sources, and the clear error for every way loading can go wrong."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from workbench.errors import (
    ConfigError,
    ModelLoadError,
    ModelNotFoundError,
    OfflineError,
    QuantizationError,
)
from workbench.models import MODEL_SOURCES, TINY_MODEL, DeviceInfo, load_model
from workbench.models.backends import BaseChatBackend
from workbench.models.generation import Generation, GenerationStream
from workbench.models.loading import accepted_syntax, resolve_source


def test_names_resolve_to_their_sources(tmp_path: Path) -> None:
    folder = tmp_path / "my-model"
    folder.mkdir()
    assert resolve_source(TINY_MODEL)[0].name == "tiny"
    assert resolve_source(str(folder))[0].name == "local"
    assert resolve_source("./not-there")[0].name == "local"
    assert resolve_source("Qwen/Qwen2.5-0.5B-Instruct")[0].name == "hub"
    assert resolve_source("org/name@v1.0")[0].name == "hub"
    source, spec = resolve_source("openai:llama3.2")
    assert (source.name, spec) == ("openai", "llama3.2")
    source, spec = resolve_source(f"local:{folder}")
    assert (source.name, spec) == ("local", str(folder))


def test_unknown_name_lists_what_is_accepted() -> None:
    with pytest.raises(ModelNotFoundError) as err:
        load_model("gpt-five-ultra")
    assert "gpt-five-ultra" in err.value.message
    hint = err.value.hint or ""
    for accepted in ("'workbench-tiny'", "local Hugging Face folder", "'org/name'", "'openai:<model>'"):
        assert accepted in hint
    assert err.value.field == "model"


def test_empty_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        load_model("  ")


def test_local_folder_loads(model_copy: Path) -> None:
    backend = load_model(str(model_copy))
    assert backend.info()["source"] == "local"
    assert backend.name == str(model_copy)
    assert backend.generate("How do I open a ticket?", max_new_tokens=10).model == str(model_copy)


def test_missing_folder_path(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError) as err:
        load_model(str(tmp_path / "nope"))
    assert err.value.file == str(tmp_path / "nope")


def test_a_file_is_not_a_model_folder(model_copy: Path) -> None:
    with pytest.raises(ModelLoadError, match="a file, not a model folder"):
        load_model(str(model_copy / "config.json"))


def test_corrupt_weights_name_the_file(model_copy: Path) -> None:
    weights = model_copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ModelLoadError) as err:
        load_model(str(model_copy))
    assert err.value.file == str(weights.resolve())
    assert "corrupt or truncated" in err.value.message
    assert "model.safetensors" in str(err.value)


def test_corrupt_config_names_file_and_line(model_copy: Path) -> None:
    (model_copy / "config.json").write_text('{\n  "model_type": "llama",\n  oops\n}\n')
    with pytest.raises(ModelLoadError) as err:
        load_model(str(model_copy))
    assert err.value.file == str((model_copy / "config.json").resolve())
    assert err.value.line == 3


def test_pickle_only_folder_is_refused(model_copy: Path) -> None:
    (model_copy / "model.safetensors").unlink()
    (model_copy / "pytorch_model.bin").write_bytes(b"not unpickled, never")
    with pytest.raises(ModelLoadError) as err:
        load_model(str(model_copy))
    assert "pickle" in err.value.message and "pytorch_model.bin" in err.value.message
    assert err.value.file == str((model_copy / "pytorch_model.bin").resolve())
    assert "safe_serialization=True" in (err.value.hint or "")


def test_folder_without_config_or_weights_or_tokenizer(tmp_path: Path, model_copy: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match=r"no config\.json"):
        load_model(str(empty))
    (empty / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="no weights"):
        load_model(str(empty))
    (model_copy / "tokenizer.json").unlink()
    with pytest.raises(ModelLoadError, match="no tokenizer"):
        load_model(str(model_copy))


def test_missing_shard_is_named(model_copy: Path) -> None:
    (model_copy / "model.safetensors").rename(model_copy / "model-00001-of-00002.safetensors")
    index = {
        "metadata": {},
        "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"},
    }
    (model_copy / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(ModelLoadError) as err:
        load_model(str(model_copy))
    assert "model-00002-of-00002.safetensors" in err.value.message


@pytest.mark.timeout(30)
def test_hub_id_while_offline_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(OfflineError) as err:
        load_model("acme/never-downloaded-model")
    elapsed = time.perf_counter() - started
    assert "not in the local cache" in err.value.message and "HF_HUB_OFFLINE" in err.value.message
    assert "download it once" in (err.value.hint or "")
    print(f"offline error after {elapsed:.3f} s")


@pytest.mark.timeout(30)
def test_hub_id_with_unreachable_hub_fails_fast(monkeypatch: pytest.MonkeyPatch, closed_port: int) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port}")
    with pytest.raises(OfflineError) as err:
        load_model("acme/never-downloaded-model")
    assert "cannot be reached" in err.value.message


def test_bits_the_device_cannot_do_strict() -> None:
    mps = DeviceInfo("mps", "Apple MPS", None, 16 * 2**30, 8 * 2**30, True, "mps")
    with pytest.raises(QuantizationError) as err:
        load_model(TINY_MODEL, bits=4, device=mps, strict=True)
    assert "cannot run on mps" in err.value.message
    assert "bits=16" in (err.value.hint or "")


def test_invalid_bits() -> None:
    with pytest.raises(QuantizationError, match="3"):
        load_model(TINY_MODEL, bits=3)


def test_unknown_option_is_refused() -> None:
    with pytest.raises(ConfigError) as err:
        load_model(TINY_MODEL, temprature=0.5)
    assert err.value.field == "temprature"


class EchoBackend(BaseChatBackend):
    """A plugin backend that repeats the prompt."""

    context_length = 100

    def __init__(self, name: str) -> None:
        self.name = name

    def _stream(self, prompt: Any, params: Any) -> GenerationStream:
        text = prompt if isinstance(prompt, str) else prompt[-1]["content"]

        def chunks() -> Any:
            yield from text.split()
            return Generation(text.replace(" ", ""), self.name, 1, 1, 0.0, 0.0, "stop", None)

        return GenerationStream(chunks())

    def count_tokens(self, text_or_messages: Any) -> int:
        return 1

    def render_chat(self, messages: Any) -> str:
        return str(messages)

    def memory_footprint(self) -> None:
        return None

    def info(self) -> dict[str, Any]:
        return {"name": self.name}


class EchoSource:
    name = "echo"
    syntax = "'echo:<anything>'"
    priority = 5

    def matches(self, spec: str) -> bool:
        return spec.startswith("echo-")

    def load(self, spec: str, *, bits: Any = None, device: Any = None, **kw: Any) -> EchoBackend:
        return EchoBackend(spec)


@pytest.fixture
def echo_source() -> Any:
    MODEL_SOURCES.register("echo", EchoSource)  # a class, as an entry point would give
    yield
    MODEL_SOURCES._items.pop("echo", None)


def test_plugins_register_through_the_same_door(echo_source: Any) -> None:
    backend = load_model("echo:hello")
    assert backend.generate("a b c").text == "abc"
    assert list(backend.stream("a b")) == ["a", "b"]
    assert [g.text for g in backend.generate_batch(["a b", "c d"])] == ["ab", "cd"]
    assert load_model("echo-direct").name == "echo-direct"  # un-prefixed, by matches()
    assert "'echo:<anything>'" in accepted_syntax()


def test_a_plugin_that_failed_to_load_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.errors import PluginError

    monkeypatch.setitem(MODEL_SOURCES.load_failures, "broken", "ImportError: no module named 'broken_plugin'")
    with pytest.raises(PluginError, match="broken_plugin"):
        load_model("broken:some-model")
