"""Quantization plans for every device kind x bit width, honest fallbacks, and real 4/8-bit loads on CPU."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest
from model_fakes import GiB

from workbench.errors import QuantizationError
from workbench.models import DeviceInfo, QuantizationPlan, plan_quantization
from workbench.models import quantization as quantization_module


def device(kind: str, *, bf16: bool = True) -> DeviceInfo:
    torch_device = {"rocm": "cuda:0", "mps": "mps", "cpu": "cpu"}.get(kind, f"{kind}:0")
    index = None if kind in {"mps", "cpu"} else 0
    return DeviceInfo(kind, f"fake {kind}", index, 16 * GiB, 8 * GiB, bf16, torch_device)


# (kind, bits) -> (bits that run, method, compute dtype, falls back?)
EXPECTED = {
    ("cuda", 4): (4, "bnb-nf4", "bfloat16", False),
    ("cuda", 8): (8, "bnb-int8", "bfloat16", False),
    ("cuda", 16): (16, "bf16", "bfloat16", False),
    ("cuda", 32): (32, "fp32", "float32", False),
    ("rocm", 4): (4, "bnb-nf4", "bfloat16", False),
    ("rocm", 8): (8, "bnb-int8", "bfloat16", False),
    ("rocm", 16): (16, "bf16", "bfloat16", False),
    ("rocm", 32): (32, "fp32", "float32", False),
    ("xpu", 4): (4, "bnb-nf4", "bfloat16", False),
    ("xpu", 8): (8, "bnb-int8", "bfloat16", False),
    ("xpu", 16): (16, "bf16", "bfloat16", False),
    ("xpu", 32): (32, "fp32", "float32", False),
    ("npu", 4): (16, "bf16", "bfloat16", True),
    ("npu", 8): (16, "bf16", "bfloat16", True),
    ("npu", 16): (16, "bf16", "bfloat16", False),
    ("npu", 32): (32, "fp32", "float32", False),
    ("mps", 4): (16, "bf16", "bfloat16", True),
    ("mps", 8): (16, "bf16", "bfloat16", True),
    ("mps", 16): (16, "bf16", "bfloat16", False),
    ("mps", 32): (32, "fp32", "float32", False),
    ("cpu", 4): (4, "bnb-nf4", "float32", False),
    ("cpu", 8): (8, "bnb-int8", "float32", False),
    ("cpu", 16): (16, "bf16", "bfloat16", False),
    ("cpu", 32): (32, "fp32", "float32", False),
}


@pytest.mark.parametrize(("kind", "bits"), sorted(EXPECTED))
def test_plan_for_each_device_and_bit_width(kind: str, bits: int) -> None:
    plan = plan_quantization(bits, device(kind))
    runs, method, dtype, falls_back = EXPECTED[(kind, bits)]
    assert (plan.requested_bits, plan.bits, plan.method, plan.compute_dtype) == (bits, runs, method, dtype)
    assert plan.fell_back is falls_back
    assert plan.device.kind == kind
    if falls_back:
        assert "bitsandbytes has no 4/8-bit kernels" in (plan.fallback_reason or "")
        assert f"requested {bits}-bit" in plan.describe()
    assert plan.double_quant is (method == "bnb-nf4")


def test_without_bf16_half_precision_is_fp16() -> None:
    old_gpu = device("cuda", bf16=False)
    assert plan_quantization(16, old_gpu).method == "fp16"
    assert plan_quantization(4, old_gpu).compute_dtype == "float16"
    assert plan_quantization(8, device("mps", bf16=False)).method == "fp16"


def test_default_bits_follow_the_device() -> None:
    assert plan_quantization(None, device("cpu")).bits == 32
    assert plan_quantization(None, device("cuda")).bits == 16


@pytest.mark.parametrize("kind", ["mps", "npu"])
def test_strict_refuses_and_names_what_works(kind: str) -> None:
    with pytest.raises(QuantizationError) as err:
        plan_quantization(4, device(kind), strict=True)
    assert err.value.field == "bits"
    assert "4-bit quantization cannot run" in err.value.message
    assert "bits=16 (bf16) or bits=32 (fp32)" in (err.value.hint or "")
    assert plan_quantization(16, device(kind), strict=True).bits == 16


def test_missing_bitsandbytes_falls_back_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quantization_module, "bitsandbytes_available", lambda: False)
    plan = plan_quantization(8, device("cuda"))
    assert (plan.bits, plan.method) == (16, "bf16")
    assert "pip install bitsandbytes" in (plan.fallback_reason or "")
    with pytest.raises(QuantizationError, match="not installed"):
        plan_quantization(4, device("cpu"), strict=True)


@pytest.mark.parametrize("bits", [3, 0, 64, "four", True])
def test_invalid_bits_are_a_clear_error(bits: object) -> None:
    with pytest.raises(QuantizationError) as err:
        plan_quantization(bits, device("cpu"))  # type: ignore[arg-type]
    assert err.value.field == "bits"
    assert "4, 8, 16, 32" in (err.value.hint or "")


def test_bits_may_be_written_as_text() -> None:
    assert plan_quantization("4bit", device("cpu")).bits == 4
    assert plan_quantization("8", device("cpu")).bits == 8


def test_load_kwargs_nf4_double_quant_and_compute_dtype() -> None:
    import torch

    kwargs = plan_quantization(4, device("cuda")).to_load_kwargs()
    config = kwargs["quantization_config"]
    assert config.load_in_4bit and config.bnb_4bit_quant_type == "nf4"
    assert config.bnb_4bit_use_double_quant is True
    assert config.bnb_4bit_compute_dtype == torch.bfloat16
    assert kwargs["device_map"] == {"": "cuda:0"}


def test_load_kwargs_int8_and_plain_dtypes() -> None:
    import torch

    int8 = plan_quantization(8, device("cpu")).to_load_kwargs()
    assert int8["quantization_config"].load_in_8bit
    bf16 = plan_quantization(16, device("cpu")).to_load_kwargs()
    assert "quantization_config" not in bf16 and bf16["dtype"] == torch.bfloat16
    assert plan_quantization(32, device("cpu")).to_load_kwargs()["dtype"] == torch.float32
    fallback = plan_quantization(4, device("mps")).to_load_kwargs()
    assert "quantization_config" not in fallback and fallback["device_map"] == {"": "mps"}


def test_plans_are_frozen_and_describe_themselves() -> None:
    plan = plan_quantization(4, device("cpu"))
    assert isinstance(plan, QuantizationPlan)
    with pytest.raises(FrozenInstanceError):
        plan.bits = 8  # type: ignore[misc]
    assert plan.describe() == "4-bit NF4 (bitsandbytes, double quant, compute float32) on cpu"
    data = plan.to_dict()
    assert data["method"] == "bnb-nf4" and data["device"]["kind"] == "cpu" and data["description"]


def test_device_may_be_named_by_string() -> None:
    assert plan_quantization(32, "cpu").device.kind == "cpu"


@pytest.mark.slow
def test_probe_quantization_runs_4_and_8_bit_for_real_here(tiny_model_dir: object) -> None:
    from workbench.models import probe_quantization

    probes = probe_quantization("cpu")
    assert set(probes) == {4, 8}
    for bits, probe in probes.items():
        assert probe.works, probe.detail
        assert probe.bits == bits
        assert probe.max_abs_logit_diff is not None
        assert probe.footprint_bytes is not None and probe.fp32_footprint_bytes is not None
        assert probe.footprint_bytes < probe.fp32_footprint_bytes
    assert probes[4].method == "bnb-nf4" and probes[8].method == "bnb-int8"
    assert probes[4].to_dict()["works"] is True


def test_probe_reports_a_device_that_cannot_quantize(tiny_model_dir: object) -> None:
    from workbench.models import probe_quantization

    # The fp32 reference runs on the CPU; a fake MPS device name only changes the plan, so the probe must
    # report the refusal instead of trying.
    probes = probe_quantization(device("mps"))
    assert not probes[4].works and not probes[8].works
    assert "MPS" in probes[4].detail or "mps" in probes[4].detail
