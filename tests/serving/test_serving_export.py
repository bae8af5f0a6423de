"""The exported folder, loaded with plain transformers, answers like the served copilot (greedy, 5 prompts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openai import OpenAI
from serving_helpers import LiveServer, make_app

PROMPTS = ["How do I reset my password?", "My VPN keeps disconnecting.", "How do I add a printer?",
           "How do I submit an expense?", "I think I clicked a phishing link."]  # fmt: skip


def _plain_transformers_answers(folder: Path) -> list[str]:
    """What a developer would write with the export: transformers, the chat template, copilot.json's prompt."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    settings = json.loads((folder / "copilot.json").read_text())
    prompt = settings["prompt"]
    model = AutoModelForCausalLM.from_pretrained(folder / "model").eval()
    tokenizer = AutoTokenizer.from_pretrained(folder / "model")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 2-layer model: more threads only wait on each other on a busy machine
    try:
        answers = [_answer(model, tokenizer, prompt, question) for question in PROMPTS]
    finally:
        torch.set_num_threads(threads)
    return answers


def _answer(model: Any, tokenizer: Any, prompt: dict[str, Any], question: str) -> str:
    import torch

    user = prompt["user_template"].replace("{{ question }}", question)
    messages = [{"role": "system", "content": prompt["system"]}, {"role": "user", "content": user}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=prompt["parameters"]["max_new_tokens"], do_sample=False)
    return str(tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)).strip()


def test_exported_folder_gives_the_served_copilots_greedy_answers(
    served_spec: Path, tiny_model: Any, tmp_path: Path
) -> None:
    from workbench.cli import main

    assert main(["copilot", "export", str(served_spec), "--out", str(tmp_path / "export"), "--json"]) == 0
    export = tmp_path / "export"
    assert {p.name for p in (export / "model").iterdir()} >= {
        "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"
    }  # fmt: skip
    assert not list((export / "model").glob("*.bin"))  # safetensors only
    with LiveServer(make_app(served_spec, tiny_model)) as live:
        client = OpenAI(base_url=live.base_url, api_key="unused", max_retries=0)
        served = [
            (client.chat.completions.create(model="it-helpdesk", messages=[{"role": "user", "content": q}])
             .choices[0].message.content or "").strip()
            for q in PROMPTS
        ]  # fmt: skip
    assert _plain_transformers_answers(export) == served
    assert len(set(served)) > 1  # five prompts, not one canned answer
