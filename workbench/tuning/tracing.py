"""A model's structure and one traced training forward pass, on the ``meta`` device (no memory, no weights).

The preflight plan (:mod:`workbench.tuning.plan`) and the trainer's early target check read a model from its
config alone: :func:`build_meta_model` builds it with accelerate's ``init_empty_weights``,
:func:`check_targets` matches the LoRA targets against its linear layers, and :func:`trace_model` attaches the
adapters and runs one forward pass *on meta tensors* with a saved-tensor hook. That yields exact parameter
counts per module and the exact size of every tensor autograd keeps for the backward pass, for this
architecture, batch and sequence length (:class:`ActivationTrace`).

Attention is traced the way the model will run it. Where transformers picks a fused kernel (SDPA, flash or
flex attention: the default for every architecture that supports one), it is traced as a fused kernel that saves
q, k, v, the output and the log-sum-exp (what PyTorch's SDPA flash kernels keep on CPU and CUDA). An architecture
that only has the eager path is traced through it, so its quadratic attention-probability tensors count.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass
from typing import Any

from workbench.errors import ConfigError, WorkbenchError

#: The name the fused-attention stand-in registers under in transformers' ``AttentionInterface``.
TRACE_ATTENTION = "workbench_trace"


def load_model_config(model: str | Any) -> Any:
    """The ``PretrainedConfig`` of a model name/folder (no weights read), or ``model`` if it is one already."""
    if not isinstance(model, str):
        return model
    from transformers import AutoConfig

    from workbench.tuning._runtime import resolve_model_dir

    path = resolve_model_dir(model)
    try:
        return AutoConfig.from_pretrained(str(path))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot read the config of model '{model}': {exc}", field="model", hint="check the model folder"
        ) from None


def build_meta_model(config: Any, dtype: str = "float32") -> Any:
    """The causal LM of ``config`` on the meta device (tied embeddings tied, as loading would tie them)."""
    import torch
    from accelerate import init_empty_weights
    from transformers import AutoModelForCausalLM

    with init_empty_weights():
        model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
    if getattr(config.get_text_config(), "tie_word_embeddings", False):
        model.tie_weights()
    return model


def linear_modules(model: Any) -> dict[str, tuple[int, int]]:
    """``{name: (in_features, out_features)}`` of every ``nn.Linear`` in ``model``."""
    import torch

    return {
        name: (module.in_features, module.out_features)
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear)
    }


def unquantized_modules(model: Any) -> list[str]:
    """Modules bitsandbytes leaves in full precision: the output embedding, tied and last modules."""
    from transformers.quantizers.base import get_keys_to_not_convert

    keys = list(get_keys_to_not_convert(model))
    keys += list(getattr(model, "_keep_in_fp32_modules", None) or [])
    return keys


def check_targets(model: Any, targets: list[str] | tuple[str, ...] | str) -> list[str]:
    """The linear module names matched by ``targets``.

    Raises:
        ConfigError: A target matches no module (the message lists the names that exist).
    """
    linears = linear_modules(model)
    skip = set(unquantized_modules(model))
    if targets == "all-linear" or list(targets) == ["all-linear"]:
        return [n for n in linears if n.rsplit(".", 1)[-1] not in skip and n not in skip]
    missing = []
    matched: list[str] = []
    for target in targets:
        hits = [n for n in linears if n == target or n.endswith(f".{target}")]
        if not hits:
            missing.append(target)
        matched += hits
    if missing:
        leaf_names = sorted({n.rsplit(".", 1)[-1] for n in linears} - skip)
        raise ConfigError(
            f"target module(s) {', '.join(repr(m) for m in missing)} do not exist in this model",
            field="method.target_modules",
            hint=f'linear modules of this model: {", ".join(leaf_names)} (or use "all-linear")',
        )
    return sorted(set(matched))


@dataclass(frozen=True)
class ActivationTrace:
    """Bytes autograd saves in one forward pass, split by decoder layer.

    Attributes:
        per_layer: Saved bytes of each decoder layer.
        outside: Saved bytes outside the decoder layers (embeddings, final norm, head, loss).
        layer_input: Bytes of one decoder layer's input (what gradient checkpointing keeps per layer).
        logits: Bytes of the logits tensor.
        trainable: Trainable parameter count, and each trainable tensor's size.
        total_params: Parameters of the base model (tied weights once).
        linears: ``{name: (in, out)}`` of the base model's linear layers.
        unquantized: Modules bitsandbytes leaves in full precision.
        targets: The adapted modules.
        attention: The attention implementation transformers resolved (``eager`` is traced as is).
    """

    per_layer: tuple[int, ...]
    outside: int
    layer_input: int
    logits: int
    trainable: tuple[int, ...]
    total_params: int
    linears: dict[str, tuple[int, int]]
    unquantized: tuple[str, ...]
    targets: tuple[str, ...]
    attention: str = "sdpa"


@dataclass(frozen=True)
class TraceShape:
    """What a trace depends on besides the model's config: the adapter and the batch.

    Attributes:
        rank: LoRA rank.
        targets: Modules to adapt, or ``("all-linear",)``.
        batch: Examples per micro-batch.
        seq: Tokens per example.
        dtype: dtype the model is built in (that of the activations).
    """

    rank: int
    targets: tuple[str, ...]
    batch: int
    seq: int
    dtype: str = "float32"


def trace_model(config: Any, shape: TraceShape) -> ActivationTrace:
    """Trace one LoRA forward pass of ``config`` at ``shape`` on the meta device (uncached; the plan caches).

    Raises:
        ConfigError: A target matches no linear module.
        WorkbenchError: The architecture's forward pass cannot run on meta tensors.
    """
    # A private copy: the trace switches the config's attention to its stand-in, and the caller's config (often
    # cached) must keep the implementation transformers resolved.
    model = build_meta_model(copy.deepcopy(config), shape.dtype)
    total_params = sum(p.numel() for p in model.parameters())
    linears = linear_modules(model)
    unquantized = tuple(unquantized_modules(model))
    names = check_targets(model, shape.targets)
    peft_model = _attach_lora(model, shape.rank, names)
    trainable = tuple(p.numel() for p in peft_model.parameters() if p.requires_grad)
    # What transformers resolved for this architecture is what training will run (the trainer does not override
    # it): the eager path is traced as it is, any fused kernel as the fused stand-in.
    attention = str(getattr(model.config, "_attn_implementation", None) or "eager")
    if attention != "eager":
        _use_fused_stand_in(peft_model)
    saved = _SavedTensors(peft_model)
    logits = saved.forward(shape.batch, shape.seq)
    return ActivationTrace(
        per_layer=saved.per_layer(),
        outside=saved.outside(),
        layer_input=saved.layer_input,
        logits=logits,
        trainable=trainable,
        total_params=total_params,
        linears=linears,
        unquantized=unquantized,
        targets=tuple(names),
        attention=attention,
    )


def _attach_lora(model: Any, rank: int, names: list[str]) -> Any:
    """``model`` with LoRA adapters of ``rank`` on ``names`` (the shape the trainer will attach)."""
    import warnings

    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return get_peft_model(
            model,
            PeftLoraConfig(
                r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules=names, task_type="CAUSAL_LM"
            ),
        )


def _flash_like_attention() -> Any:
    """An attention function for tracing that saves what fused SDPA kernels save (q, k, v, out, logsumexp)."""
    import torch

    class _Fused(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, q: Any, k: Any, v: Any) -> Any:  # q: (b, heads, s, d)
            out = torch.empty_like(q)
            lse = torch.empty(q.shape[:-1], dtype=torch.float32, device=q.device)
            ctx.save_for_backward(q, k, v, out, lse)
            return out

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:  # pragma: no cover - never run on meta
            q, k, v, _, _ = ctx.saved_tensors
            return torch.zeros_like(q), torch.zeros_like(k), torch.zeros_like(v)

    def attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, **kwargs: Any) -> Any:
        out = _Fused.apply(query, key, value)
        return out.transpose(1, 2).contiguous(), None

    return attention


def _use_fused_stand_in(peft_model: Any) -> None:
    """Switch every config in ``peft_model`` to the fused-attention stand-in (registered once per call)."""
    from transformers import AttentionInterface

    AttentionInterface.register(TRACE_ATTENTION, _flash_like_attention())
    for module in peft_model.modules():
        cfg = getattr(module, "config", None)
        if cfg is not None and hasattr(cfg, "_attn_implementation"):
            # Some configs guard the attribute; their default attention is traced then.
            with contextlib.suppress(Exception):
                cfg._attn_implementation = TRACE_ATTENTION


class _SavedTensors:
    """Counts the bytes autograd saves during one forward pass, by the decoder layer that saved them."""

    def __init__(self, peft_model: Any) -> None:
        from transformers.modeling_layers import GradientCheckpointingLayer

        self.model = peft_model
        self.layers = [m for m in peft_model.modules() if isinstance(m, GradientCheckpointingLayer)]
        self.current: int | None = None  # the decoder layer running now
        self.layer_input = 0
        self.seen: dict[int, tuple[int, int | None]] = {}  # storage -> (bytes, layer index or None)
        self._params = {p.untyped_storage()._cdata for p in peft_model.parameters()}

    def _hooks(self) -> list[Any]:
        hooks = []
        for index, layer in enumerate(self.layers):

            def pre(module: Any, args: Any, kwargs: Any, index: int = index) -> None:
                self.current = index
                hidden = args[0] if args else kwargs.get("hidden_states")
                if hidden is not None:
                    self.layer_input = hidden.numel() * hidden.element_size()

            def post(module: Any, args: Any, output: Any) -> None:
                self.current = None

            hooks.append(layer.register_forward_pre_hook(pre, with_kwargs=True))
            hooks.append(layer.register_forward_hook(post))
        return hooks

    def _pack(self, tensor: Any) -> Any:
        storage = tensor.untyped_storage()
        key = storage._cdata
        if key not in self._params and key not in self.seen:
            self.seen[key] = (storage.nbytes(), self.current)
        return tensor

    def forward(self, batch: int, seq: int) -> int:
        """Run one training forward pass on meta tensors; returns the logits' bytes."""
        import warnings

        import torch

        ids = torch.zeros((batch, seq), dtype=torch.long, device="meta")
        self.model.train()
        hooks = self._hooks()
        try:
            with torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = self.model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=ids)
        except Exception as exc:  # pragma: no cover - architectures that cannot run on meta
            raise WorkbenchError(
                f"cannot trace this architecture on the meta device: {type(exc).__name__}: {exc}",
                hint="the plan supports Hugging Face causal LMs whose forward pass runs on meta tensors",
            ) from exc
        finally:
            for hook in hooks:
                hook.remove()
        return int(out.logits.numel() * out.logits.element_size())

    def per_layer(self) -> tuple[int, ...]:
        """Saved bytes of each decoder layer."""
        totals = [0] * len(self.layers)
        for nbytes, index in self.seen.values():
            if index is not None:
                totals[index] += nbytes
        return tuple(totals)

    def outside(self) -> int:
        """Saved bytes outside the decoder layers."""
        return sum(nbytes for nbytes, index in self.seen.values() if index is None)
