"""Export: the Modelfile and settings beside the model, an adapter merged into its base, refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from workbench.copilots import Copilot, export_copilot, load_spec
from workbench.errors import ValidationError


def test_export_writes_the_modelfile_and_the_prompt_settings(helpdesk: Path, tiny_model: Any, tmp_path: Path) -> None:
    result = export_copilot(Copilot(load_spec(helpdesk), backend=tiny_model), tmp_path / "out")
    assert result.copilot == "it-helpdesk@1" and not result.merged_adapter
    assert {"Modelfile", "copilot.json", "README.md", "prompt-template.yaml", "model/model.safetensors"} <= set(result.files)
    modelfile = (tmp_path / "out" / "Modelfile").read_text()
    assert "FROM ./model" in modelfile
    assert 'SYSTEM """You are the company help desk assistant. Answer briefly."""' in modelfile
    assert "PARAMETER temperature 0.0" in modelfile and "PARAMETER num_predict 64" in modelfile
    assert 'PARAMETER stop "<|end|>"' in modelfile  # the tiny model's end-of-turn token, from its generation config
    settings = json.loads((tmp_path / "out" / "copilot.json").read_text())
    assert settings["prompt"]["template"] == "it-helpdesk-answer@1"
    assert settings["prompt"]["parameters"] == {"temperature": 0.0, "max_new_tokens": 64}
    assert settings["spec"]["id"] == "it-helpdesk" and settings["guardrails"]["policy"] == "built-in default"
    with pytest.raises(ValidationError, match="not empty"):
        export_copilot(Copilot(load_spec(helpdesk), backend=tiny_model), tmp_path / "out")
    again = export_copilot(Copilot(load_spec(helpdesk), backend=tiny_model), tmp_path / "out", overwrite=True)
    assert again.files == result.files


def test_export_of_a_retrieving_copilot_carries_its_retrieval_settings(
    tmp_path: Path, docs_index: Path, tiny_model: Any
) -> None:
    from workbench.copilots import new_copilot

    spec = new_copilot("rag-desk", tmp_path / "rag-desk", model="workbench-tiny", index=docs_index)
    export_copilot(Copilot(spec, backend=tiny_model), tmp_path / "out")
    settings = json.loads((tmp_path / "out" / "copilot.json").read_text())
    assert settings["retrieval"]["index"] == str(docs_index) and settings["retrieval"]["k"] == 4
    assert settings["retrieval"]["embedder"] and settings["prompt"]["context_variable"] == "sources"


def test_export_merges_a_lora_adapter_into_its_base(helpdesk: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    torch.manual_seed(0)
    lora = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    lora.save_pretrained(tmp_path / "adapter")
    spec_file = helpdesk / "copilot.yaml"
    spec_file.write_text(spec_file.read_text().replace("adapter: null", f"adapter: {tmp_path / 'adapter'}"))
    copilot = Copilot(load_spec(helpdesk))
    result = export_copilot(copilot, tmp_path / "out")
    assert result.merged_adapter
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "out" / "model")
    plain = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    probe = torch.tensor([[1, 5, 9, 12]])
    with torch.no_grad():
        assert not torch.allclose(merged(probe).logits, plain(probe).logits)  # the adapter is in the weights
    question = "How do I reset my password?"
    served = copilot.answer(question).text
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "out" / "model")
    turn = copilot.prepare(question)
    ids = tokenizer.apply_chat_template(turn.messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = merged.generate(**ids, max_new_tokens=64, do_sample=False)
    assert tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True).strip() == served.strip()
