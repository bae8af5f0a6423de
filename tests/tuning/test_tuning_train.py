"""`workbench tune run` trains LoRA, QLoRA 4-bit and QLoRA 8-bit on the built-in model, on CPU.

For each: the loss falls, the held-out perplexity falls and the house-format score rises over the base, the
adapter is safetensors only and reloads with bit-identical logits, and the run card records everything.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tuning_helpers import small_config

from workbench.cli import main

pytestmark = pytest.mark.slow

METHODS = ["lora", "qlora-4bit", "qlora-8bit"]
#: Optimizer steps per run. At 40, whether the tiny model's greedy answers keep the "[" of "[ticket: ...]" was a
#: coin toss between CPUs for 8-bit (same loss curve, different rounding); at 60 every method settles on it.
STEPS = 60
#: Held-out examples the format score is measured on: all 42. On 8, one CPU (AMD EPYC) scored 4-bit at 0.625
#: against LoRA's 1.0 while another scored both 1.0; on 42 the same runs score 0.81 and 0.93 (perplexity gains
#: 32x and 34x), so the comparison measures quantization, not which 3 of 8 greedy answers dropped a bracket.
EVAL_EXAMPLES = 42


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], dict[str, Any]]]:
    """``cli_runs(name)``: run ``workbench tune run CONFIG --json`` once per method (memoised per module)."""
    import io
    from contextlib import redirect_stdout

    from workbench.settings import reset_settings

    done: dict[str, dict[str, Any]] = {}

    def run(name: str) -> dict[str, Any]:
        if name in done:
            return done[name]
        root = tmp_path_factory.mktemp(f"cli-{name}")
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("WORKBENCH_DATA_DIR", str(root / "wb-data"))
            reset_settings()
            config = small_config(
                name,
                root / "out",
                **{
                    "training.max_steps": STEPS,
                    "training.learning_rate": 0.01,
                    "training.eval_every": STEPS // 2,
                    "training.save_every": STEPS // 2,
                    "evaluation.enabled": True,
                    "evaluation.max_examples": EVAL_EXAMPLES,
                    "evaluation.max_new_tokens": 36,
                },
            )
            path = config.save(root / f"{name}.json")
            buffer = io.StringIO()
            with redirect_stdout(buffer):
                code = main(["tune", "run", str(path), "--json"])
        reset_settings()  # back to the calling test's data dir
        assert code == 0, buffer.getvalue()[-2000:]
        done[name] = {"name": name, "result": json.loads(buffer.getvalue()), "root": root, "config": config}
        return done[name]

    yield run


@pytest.fixture(params=METHODS)
def cli_run(request: pytest.FixtureRequest, cli_runs: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """The CLI run of each method in turn."""
    return cli_runs(request.param)


def test_loss_falls_and_held_out_scores_rise(cli_run: dict[str, Any]) -> None:
    card = cli_run["result"]["card"]
    assert card["status"] == "completed"
    losses = [p["loss"] for p in card["loss_curve"]]
    assert len(losses) == STEPS
    assert sum(losses[-5:]) / 5 < 0.5 * losses[0]
    before, after = card["evaluation"]["before"], card["evaluation"]["after"]
    assert after["perplexity"] < 0.5 * before["perplexity"]
    assert before["scores"]["format_compliance"] == 0.0  # the base never answers in the house format
    assert after["scores"]["format_compliance"] > before["scores"]["format_compliance"]
    assert card["evaluation"]["delta"]["perplexity"] < 0
    assert [p["step"] for p in card["eval_curve"]] == [STEPS // 2, STEPS]


def test_qlora_learns_as_much_as_lora(cli_runs: Callable[[str], dict[str, Any]]) -> None:
    """Quantizing the frozen base may cost a little, not the learning (4-bit once lost it to a CPU kernel)."""
    lora = cli_runs("lora")["result"]["card"]["evaluation"]
    for name in ("qlora-4bit", "qlora-8bit"):
        quant = cli_runs(name)["result"]["card"]["evaluation"]
        lora_gain = lora["before"]["perplexity"] / lora["after"]["perplexity"]
        quant_gain = quant["before"]["perplexity"] / quant["after"]["perplexity"]
        assert quant_gain > 0.8 * lora_gain, (name, quant_gain, lora_gain)
        compliance = quant["after"]["scores"]["format_compliance"]
        assert compliance >= lora["after"]["scores"]["format_compliance"] - 0.25, (name, compliance)


def test_adapter_is_safetensors_and_reloads_with_identical_logits(cli_run: dict[str, Any]) -> None:
    from workbench.tuning.evaluate import probe_logits
    from workbench.tuning.export import load_adapter

    result = cli_run["result"]
    adapter = Path(result["adapter_dir"])
    files = {p.name for p in adapter.iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", "tune_config.json", "run_card.json"} <= files
    out = Path(result["output_dir"])
    assert not [p for p in out.rglob("*") if p.suffix in (".bin", ".pt", ".pth", ".pkl")], (
        "pickle files written"
    )
    model, tokenizer, info = load_adapter(adapter)
    assert info["bits"] == {"lora": 32, "qlora-4bit": 4, "qlora-8bit": 8}[cli_run["name"]]
    assert probe_logits(model, tokenizer) == result["card"]["adapter"]["probe"]


def test_run_card_records_the_run(cli_run: dict[str, Any]) -> None:
    from workbench.tuning import RunCard
    from workbench.tuning.data import files_sha256

    out = Path(cli_run["result"]["output_dir"])
    card = RunCard.read(out)
    config = cli_run["config"]
    assert card.config["method"]["type"] == config.method.type
    assert card.dataset["sha256"] == files_sha256([config.data.train, config.data.eval])
    assert card.dataset["train_examples"] == 168 and card.dataset["eval_examples"] == 42
    assert card.device["kind"] == "cpu"
    expected_bits = {"lora": 32, "qlora-4bit": 4, "qlora-8bit": 8}[cli_run["name"]]
    assert card.method["bits"] == expected_bits
    if expected_bits < 16:
        assert card.quantization["backend"] == "bitsandbytes" and card.quantization["bits"] == expected_bits
    assert (
        card.plan["bytes"]["total"] > 0 and card.memory["peak_bytes"] > 0 and card.memory["method"] == "rss"
    )
    assert card.timing["steps"] == STEPS and card.timing["steps_per_s"] > 0 and card.timing["tokens"] > 0
    assert card.versions["peft"] and card.versions["transformers"]
    assert [Path(p).name for p in card.checkpoints["kept"]] == [f"step-{STEPS // 2:07d}", f"step-{STEPS:07d}"]
    markdown = (out / "run_card.md").read_text()
    for heading in ("# Run card", "## Loss", "## Evaluation (held-out)", "## Preflight memory estimate"):
        assert heading in markdown
    saved = json.loads((out / "tune_config.json").read_text())
    assert saved["method"] == json.loads(json.dumps(config.to_dict()["method"]))
    assert "saved_with" in saved


def test_tuned_model_answers_in_house_format_and_merges(cli_runs: Callable[[str], dict[str, Any]]) -> None:
    cli_run = cli_runs("lora")
    from workbench.models import load_model
    from workbench.tuning import merge_adapter
    from workbench.tuning.evaluate import house_format_ok

    adapter = Path(cli_run["result"]["adapter_dir"])
    backend = load_model(str(adapter))  # the adapter model source (a built-in entry point)
    messages = [
        {"role": "system", "content": "You are the Acme help desk. Reply in the house format."},
        {"role": "user", "content": "How do I reset my password?"},
    ]
    text = backend.generate(messages, max_new_tokens=40).text
    assert house_format_ok(text), text
    merged_dir = cli_run["root"] / "merged"
    info = merge_adapter(adapter, merged_dir)
    assert info["max_logit_diff"] < 1e-4
    assert main(["tune", "merge", str(adapter), "--out", str(cli_run["root"] / "merged-cli"), "--json"]) == 0
    assert (merged_dir / "model.safetensors").is_file() and (merged_dir / "config.json").is_file()
    merged = load_model(str(merged_dir))
    assert merged.generate(messages, max_new_tokens=40).text == text


def test_tune_eval_cli_compares_with_the_base(
    cli_runs: Callable[[str], dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    cli_run = cli_runs("qlora-4bit")
    adapter = cli_run["result"]["adapter_dir"]
    assert main(["tune", "eval", adapter, "--max-examples", "4", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["tuned"]["perplexity"] < result["base"]["perplexity"]
    assert result["delta"]["format_compliance"] > 0
