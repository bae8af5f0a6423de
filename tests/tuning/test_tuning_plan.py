"""The preflight plan: breakdown from the config alone, recommendations, and accuracy against a measured peak."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.errors import ConfigError
from workbench.tuning import PlanRequest, estimate_memory, measure_step_peak, plan_memory
from workbench.tuning.plan import BNB_MIN_8BIT_SIZE, optimizer_bytes

MIB = 2**20


def test_breakdown_follows_bits_optimizer_and_checkpointing(tiny_model_dir: Path) -> None:
    model = str(tiny_model_dir)
    base = PlanRequest(model=model, bits=32, rank=16, seq_len=128, batch_size=8)
    fp32, nf4, int8 = (estimate_memory(base.changed(bits=b)) for b in (32, 4, 8))
    assert fp32.details["parameters"] == nf4.details["parameters"] > 500_000
    assert nf4.weights < int8.weights < fp32.weights
    assert fp32.adapters == fp32.gradients == 4 * fp32.details["trainable_parameters"]
    assert fp32.optimizer == 2 * fp32.adapters  # AdamW: two float32 moments
    checkpointed = estimate_memory(base.changed(gradient_checkpointing=True))
    assert checkpointed.activations < fp32.activations
    assert estimate_memory(base.changed(batch_size=16)).activations > 1.8 * fp32.activations
    assert set(fp32.to_dict()["bytes"]) == {
        "weights",
        "adapters",
        "optimizer",
        "gradients",
        "activations",
        "total",
    }


def test_8bit_optimizer_state_follows_bitsandbytes_rules() -> None:
    big, small = 100_000, BNB_MIN_8BIT_SIZE - 1
    assert optimizer_bytes((big,), "adamw") == 8 * big
    assert optimizer_bytes((big,), "adamw8bit") < 2.1 * big  # 2 bytes + block constants
    assert optimizer_bytes((small,), "adamw8bit") == 8 * small  # small tensors keep 32-bit state


def test_unknown_targets_are_named_with_the_real_ones(tiny_model_dir: Path) -> None:
    with pytest.raises(ConfigError) as info:
        estimate_memory(PlanRequest(model=str(tiny_model_dir), targets=("q_proj", "query_key_value")))
    err = info.value
    assert err.field == "method.target_modules" and "'query_key_value'" in err.message
    assert err.hint and "q_proj" in err.hint and "down_proj" in err.hint and "lm_head" not in err.hint


def test_recommends_the_nearest_configuration_that_fits(tiny_model_dir: Path) -> None:
    request = PlanRequest(model=str(tiny_model_dir), bits=32, seq_len=256, batch_size=32)
    need = estimate_memory(request).total
    plan = plan_memory(request, free_bytes=int(need * 0.6), device="cpu")
    assert not plan.fits and plan.recommendation is not None and plan.recommended_estimate is not None
    assert plan.recommended_estimate.total <= 0.6 * need * 0.9
    assert plan.changes and plan.recommendation.seq_len == 256  # data is not cut when other savings suffice
    roomy = plan_memory(request, free_bytes=need * 4, device="cpu")
    assert roomy.fits and roomy.recommendation == request and roomy.changes == []
    hopeless = plan_memory(request, free_bytes=1024, device="cpu")
    assert hopeless.recommendation is None and "no configuration" in hopeless.notes[-1]


def test_plan_cli_json(tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["tune", "plan", "--model", str(tiny_model_dir), "--bits", "4", "--rank", "8", "--targets",
            "q_proj,v_proj", "--seq-len", "64", "--batch-size", "2", "--optimizer", "paged_adamw8bit", "--json"]  # fmt: skip
    assert main(args) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["request"]["bits"] == 4 and plan["request"]["targets"] == ["q_proj", "v_proj"]
    assert plan["device"]["kind"] == "cpu" and plan["device"]["free_bytes"] > 0
    parts = plan["estimate"]["bytes"]
    assert parts["total"] == sum(v for k, v in parts.items() if k != "total")
    assert plan["fits"] is True
    assert any("paged" in note for note in plan["notes"])
    assert main(["tune", "plan", "--model", str(tiny_model_dir), "--targets", "nope", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["field"] == "method.target_modules"


@pytest.mark.parametrize(
    ("method", "checkpointing"),
    [({"type": "lora"}, False), ({"type": "qlora", "bits": 4}, False), ({"type": "qlora", "bits": 8}, True)],
)
def test_estimate_within_25_percent_of_measured_tensor_peak(
    tiny_model_dir: Path, method: dict, checkpointing: bool
) -> None:

    from workbench.tuning import LoRAConfig, QLoRAConfig, TrainingConfig
    from workbench.tuning.methods import method_for

    config = (QLoRAConfig if method["type"] == "qlora" else LoRAConfig).model_validate(method)
    training = TrainingConfig(gradient_checkpointing=checkpointing)
    model = method_for(config).build(tiny_model_dir, "cpu", training).model
    batch, seq = 8, 64
    measured = measure_step_peak(model, batch, seq)["peak_bytes"]
    request = PlanRequest(model=str(tiny_model_dir), bits=config.bits, rank=16, seq_len=seq, batch_size=batch,
                          gradient_checkpointing=checkpointing)  # fmt: skip
    estimate = estimate_memory(request).total
    assert 0.75 <= estimate / measured <= 1.25, (
        f"estimate {estimate / MIB:.1f} MiB, measured {measured / MIB:.1f} MiB"
    )


def test_measure_step_peak_counts_the_model_and_the_optimizer_state(tiny_model_dir: Path) -> None:
    import torch

    from workbench.tuning import LoRAConfig, TrainingConfig
    from workbench.tuning.memory import model_tensor_bytes
    from workbench.tuning.methods import method_for

    model = method_for(LoRAConfig()).build(tiny_model_dir, "cpu", TrainingConfig()).model
    params = [p for p in model.parameters() if p.requires_grad]
    trainable = sum(p.numel() for p in params)
    adamw = measure_step_peak(model, 2, 32)  # default optimizer: torch AdamW
    assert adamw["model_bytes"] == model_tensor_bytes(model)
    assert adamw["peak_bytes"] == adamw["model_bytes"] + adamw["delta_bytes"]
    assert adamw["end_delta_bytes"] >= 8 * trainable  # AdamW's two float32 moments outlive the steps
    sgd = measure_step_peak(model, 2, 32, optimizer=torch.optim.SGD(params, lr=0.1))
    assert sgd["end_delta_bytes"] < adamw["end_delta_bytes"] and sgd["peak_bytes"] < adamw["peak_bytes"]


@pytest.mark.parametrize("bits", [4, 8])
def test_quantized_weights_match_the_plan_and_the_floor(tiny_model_dir: Path, bits: int) -> None:
    from workbench.tuning import QLoRAConfig
    from workbench.tuning.memory import model_tensor_bytes, quantized_weight_bytes
    from workbench.tuning.methods import QLoRAMethod

    model, summary, notes = QLoRAMethod(QLoRAConfig.model_validate({"bits": bits})).load_base(
        tiny_model_dir, "cpu"
    )
    assert summary["backend"] == "bitsandbytes" and not notes
    counts = quantized_weight_bytes(model)
    floor = 0.5 if bits == 4 else 1.0
    assert (
        counts["weight_bytes"] == counts["quantized_params"] * floor
    )  # packed data sits exactly on the floor
    assert counts["constant_bytes"] > 0
    planned = estimate_memory(PlanRequest(model=str(tiny_model_dir), bits=bits)).weights
    assert planned == pytest.approx(model_tensor_bytes(model), rel=0.05)


def test_plan_cli_text_and_sizes(tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.cli.tune import parse_size

    assert (
        parse_size("8GiB") == 8 * 2**30 and parse_size("500MB") == 500_000_000 and parse_size("1024") == 1024
    )
    assert (
        main(["tune", "plan", "--model", str(tiny_model_dir), "--bits", "32", "--free-memory", "12MiB"]) == 0
    )
    out = capsys.readouterr().out
    for word in ("weights", "adapters", "optimizer", "gradients", "activations", "total", "does not fit"):
        assert word in out
    assert "recommended:" in out and "gradient checkpointing" in out


def test_plan_for_a_device_that_is_not_here(tiny_model_dir: Path) -> None:
    from workbench.errors import ModelError

    request = PlanRequest(model=str(tiny_model_dir), bits=4)
    plan = plan_memory(request, device="cuda", free_bytes=24 * 2**30)
    assert plan.fits and plan.device == "cuda" and "not present" in plan.device_name
    assert any("not present here" in note for note in plan.notes)
    with pytest.raises(ModelError):
        plan_memory(request, device="cuda")  # without a budget there is nothing to plan against


def test_an_eager_only_architecture_counts_its_quadratic_attention(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where transformers can only run eager attention, the plan traces it: the estimate follows the real peak."""
    from transformers.models.llama import modeling_llama

    from workbench.tuning import LoRAConfig, TrainingConfig
    from workbench.tuning import plan as plan_module
    from workbench.tuning.methods import method_for

    batch, seq = 8, 256
    request = PlanRequest(model=str(tiny_model_dir), bits=32, rank=16, seq_len=seq, batch_size=batch)
    fused = estimate_memory(request)
    assert fused.details["attention"] == "sdpa"

    for flag in ("_supports_sdpa", "_supports_flash_attn", "_supports_flex_attn"):
        monkeypatch.setattr(modeling_llama.LlamaPreTrainedModel, flag, False)
    monkeypatch.setattr(plan_module, "_TRACES", {})
    eager = estimate_memory(request)
    assert eager.details["attention"] == "eager"
    layers = eager.details["layers"]
    probs = batch * 4 * seq * seq * 4 * layers  # (batch, heads, seq, seq) float32 probabilities per layer
    assert eager.activations - fused.activations >= 0.9 * probs  # less what the fused kernel saves instead

    model = method_for(LoRAConfig()).build(tiny_model_dir, "cpu", TrainingConfig()).model
    assert model.config._attn_implementation == "eager"
    measured = measure_step_peak(model, batch, seq)["peak_bytes"]
    assert 0.9 <= eager.total / measured <= 1.1, f"estimate {eager.total / MIB:.1f} MiB, measured {measured / MIB:.1f}"
    assert fused.total / measured < 0.9  # what the plan said before it traced eager attention
