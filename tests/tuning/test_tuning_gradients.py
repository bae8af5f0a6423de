"""A wrong-gradient detector for QLoRA, independent of the end-to-end loss tests.

A 4-bit LoRA layer, loaded and prepared the way ``workbench tune run`` does it, must give the same gradients
as the same layer computed densely from its dequantized weight, also after the model has run one held-out
evaluation (eval mode, no gradients). On CPUs with AVX512-BF16, bitsandbytes >= 0.49 repacks 4-bit weights for
inference during such an evaluation; without :func:`workbench.models.quantization.exact_4bit_kernels` the
input gradient through the frozen 4-bit weight was then wrong (the inference kernel has no autograd
formula), and QLoRA 4-bit stopped learning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def _prepared_qlora(tiny_model_dir: Path, make_config: Any) -> Any:
    from workbench.tuning.methods import method_for

    config = make_config("qlora-4bit")
    return method_for(config.method).build(tiny_model_dir, "cpu", config.training).model


def _first_lora_layer(model: Any) -> Any:
    for name, module in model.named_modules():
        if name.endswith("q_proj") and hasattr(module, "lora_A"):
            return module
    raise AssertionError("no LoRA-wrapped q_proj in the prepared model")


def _dequantized(layer: Any) -> Any:
    import bitsandbytes.functional as bnbf

    base = layer.base_layer
    return bnbf.dequantize_4bit(base.weight.data, base.weight.quant_state).float()


def _dense_reference(layer: Any, weight: Any, x: Any) -> tuple[Any, Any, Any]:
    """Output, input gradient and LoRA-B gradient of ``layer`` computed densely from its dequantized weight."""
    base = layer.base_layer
    a = layer.lora_A["default"].weight.detach().clone().requires_grad_(False)
    b = layer.lora_B["default"].weight.detach().clone().requires_grad_(True)
    scale = layer.scaling["default"]
    xx = x.clone().requires_grad_(True)
    out = xx @ weight.t() + (xx @ a.t()) @ b.t() * scale
    if base.bias is not None:
        out = out + base.bias.float()
    out.pow(2).sum().backward()
    return out.detach(), xx.grad, b.grad


def _layer_grads(layer: Any, x: Any) -> tuple[Any, Any, Any]:
    layer.zero_grad(set_to_none=True)
    xx = x.clone().requires_grad_(True)
    out = layer(xx)
    out.pow(2).sum().backward()
    return out.detach(), xx.grad, layer.lora_B["default"].weight.grad


def test_4bit_lora_gradients_match_the_dequantized_layer_after_an_evaluation(
    tiny_model_dir: Path, make_config: Any
) -> None:
    import torch

    model = _prepared_qlora(tiny_model_dir, make_config)
    layer = _first_lora_layer(model)
    assert type(layer.base_layer).__name__ == "Linear4bit"
    with torch.no_grad():  # LoRA B starts at zero; give it values so its gradient path is exercised too
        layer.lora_B["default"].weight.normal_(0, 0.02)
    torch.manual_seed(0)
    x = torch.randn(2, 5, layer.base_layer.in_features)
    weight = _dequantized(layer)  # before the evaluation, in the standard 4-bit layout

    model.eval()  # what the trainer's held-out evaluation does before training starts
    with torch.no_grad():
        model(torch.tensor([[1, 2, 3, 4]]))
    model.train()

    out, grad_x, grad_b = _layer_grads(layer, x)
    ref_out, ref_x, ref_b = _dense_reference(layer, weight, x)
    assert grad_x is not None, "no gradient flows through the frozen 4-bit weight (inference-only kernel)"
    # The forward may run in bf16 inside bitsandbytes' CPU kernels; gradients must be exact to float32 rounding.
    torch.testing.assert_close(out, ref_out, rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(grad_x, ref_x, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(grad_b, ref_b, rtol=1e-3, atol=1e-3)
