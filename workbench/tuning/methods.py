"""Tuning methods: the implementation half of each config + method pair (the peft habit).

:class:`LoRAMethod` implements :class:`~workbench.tuning.config.LoRAConfig`; :class:`QLoRAMethod` implements
:class:`~workbench.tuning.config.QLoRAConfig`. Both register in :data:`TUNING_METHODS` under the config's
``type``, through the same door a plugin uses (entry-point group ``workbench.tuning_methods``).

A method knows how to load the frozen base for training on a device, how to prepare it (k-bit preparation,
gradient checkpointing) and which peft adapter to attach. QLoRA asks the model runtime whether bitsandbytes
runs on the device; where it does not, it falls back to 16-bit LoRA and says so (:attr:`PreparedModel.notes`).
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from workbench._registry import Registry
from workbench.tuning.config import LoRAConfig, QLoRAConfig, TrainingConfig


@dataclass
class PreparedModel:
    """A base model with its adapter attached, ready to train.

    Attributes:
        model: The peft model.
        bits: Bits per frozen base weight actually used (after any fallback).
        quantization: What was loaded: backend, bits, quant type, compute dtype (JSON-ready).
        target_modules: The adapted module names (full paths).
        notes: Fallbacks and caveats, shown on the run card.
    """

    model: Any
    bits: int
    quantization: dict[str, Any]
    target_modules: list[str]
    notes: list[str] = field(default_factory=list)


class TuningMethod(ABC):
    """How to load, prepare and adapt a base model for one kind of config.

    Subclasses set :attr:`name` and :attr:`config_cls` and implement :meth:`load_base`.
    """

    name: ClassVar[str]
    config_cls: ClassVar[type[LoRAConfig] | type[QLoRAConfig]]

    def __init__(self, config: LoRAConfig | QLoRAConfig) -> None:
        if not isinstance(config, self.config_cls):
            raise TypeError(
                f"{type(self).__name__} takes a {self.config_cls.__name__}, got {type(config).__name__}"
            )
        self.config = config

    @abstractmethod
    def load_base(self, model_dir: Path, device: str) -> tuple[Any, dict[str, Any], list[str]]:
        """Load the frozen base on ``device``; returns (model, quantization summary, notes)."""

    def prepare(self, model: Any, training: TrainingConfig) -> Any:
        """Make the loaded base trainable through adapters (gradient checkpointing when asked)."""
        if training.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            model.enable_input_require_grads()
        return model

    def peft_config(self) -> Any:
        """The peft ``LoraConfig`` of this method's adapter."""
        from peft import LoraConfig as PeftLoraConfig

        targets = self.config.target_modules
        return PeftLoraConfig(
            r=self.config.rank,
            lora_alpha=self.config.alpha,  # type: ignore[arg-type]  # peft annotates int; floats work
            lora_dropout=self.config.dropout,
            target_modules=targets if targets == "all-linear" else list(targets),
            task_type="CAUSAL_LM",
        )

    def build(self, model_dir: Path, device: str, training: TrainingConfig) -> PreparedModel:
        """Load, prepare and attach the adapter (seeded by ``training.seed``).

        Raises:
            ConfigError: A target module does not exist (the message lists those that do).
        """
        from peft import get_peft_model

        from workbench.tuning.tracing import check_targets

        model, quantization, notes = self.load_base(model_dir, device)
        targets = check_targets(model, self.config.target_modules)
        model = self.prepare(model, training)
        _seed(training.seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            peft_model = get_peft_model(model, self.peft_config())
        bits = int(quantization.get("bits") or 32)
        return PreparedModel(peft_model, bits, quantization, targets, notes)


def _seed(seed: int) -> None:
    from accelerate.utils import set_seed

    set_seed(seed)


def _torch_dtype(name: str) -> Any:
    import torch

    return getattr(torch, name)


class LoRAMethod(TuningMethod):
    """LoRA on a 32- or 16-bit frozen base."""

    name = "lora"
    config_cls = LoRAConfig

    def load_base(self, model_dir: Path, device: str) -> tuple[Any, dict[str, Any], list[str]]:
        from transformers import AutoModelForCausalLM

        assert isinstance(self.config, LoRAConfig)
        dtype = self.config.dtype
        notes: list[str] = []
        if dtype == "float16" and device == "cpu":
            notes.append("float16 matmuls are slow or missing on CPU; using bfloat16")
            dtype = "bfloat16"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=_torch_dtype(dtype), use_safetensors=True)
        model.to(device)  # type: ignore[arg-type]
        bits = 32 if dtype == "float32" else 16
        return model, {"backend": "none", "bits": bits, "dtype": dtype}, notes


class QLoRAMethod(TuningMethod):
    """LoRA on a bitsandbytes 4-bit (NF4/FP4) or 8-bit frozen base; 16-bit LoRA where bitsandbytes cannot run."""

    name = "qlora"
    config_cls = QLoRAConfig

    def fallback(self, device: str) -> LoRAMethod:
        """The 16-bit LoRA method used where bitsandbytes cannot run."""
        c = self.config
        dtype = "bfloat16" if device.split(":")[0] in ("cpu", "cuda", "xpu", "npu") else "float16"
        fields = {"rank": c.rank, "alpha": c.alpha, "dropout": c.dropout, "target_modules": c.target_modules}
        return LoRAMethod(LoRAConfig.model_validate({**fields, "type": "lora", "dtype": dtype}))

    def load_base(self, model_dir: Path, device: str) -> tuple[Any, dict[str, Any], list[str]]:
        from transformers import AutoModelForCausalLM

        from workbench.models.quantization import exact_4bit_kernels
        from workbench.tuning._runtime import quantization_kwargs, quantization_support, quiet_bitsandbytes

        assert isinstance(self.config, QLoRAConfig)
        ok, why = quantization_support(device)
        if not ok:
            model, summary, notes = self.fallback(device).load_base(model_dir, device)
            notes.insert(
                0,
                f"bitsandbytes {self.config.bits}-bit cannot run on {device} ({why or 'unsupported'}); "
                f"fell back to 16-bit LoRA",
            )
            summary["fallback_from"] = f"qlora-{self.config.bits}bit"
            return model, summary, notes
        quiet_bitsandbytes()
        kwargs, summary = quantization_kwargs(self.config, device)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = AutoModelForCausalLM.from_pretrained(str(model_dir), use_safetensors=True, **kwargs)
        exact_4bit_kernels(model)  # the held-out evaluation must not switch it to inference-only kernels
        return model, summary, []

    def prepare(self, model: Any, training: TrainingConfig) -> Any:
        from peft import prepare_model_for_kbit_training

        if not getattr(model, "is_loaded_in_4bit", False) and not getattr(model, "is_loaded_in_8bit", False):
            return super().prepare(model, training)  # the 16-bit fallback
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return prepare_model_for_kbit_training(
                model,
                use_gradient_checkpointing=training.gradient_checkpointing,
                gradient_checkpointing_kwargs={"use_reentrant": False},
            )


#: Tuning methods by config ``type``; plugins add theirs through the ``workbench.tuning_methods`` entry points.
TUNING_METHODS: Registry[type[TuningMethod]] = Registry("tuning method", "workbench.tuning_methods")
TUNING_METHODS.register("lora", LoRAMethod)
TUNING_METHODS.register("qlora", QLoRAMethod)


def method_for(config: LoRAConfig | QLoRAConfig) -> TuningMethod:
    """The method implementing ``config`` (looked up by its ``type``)."""
    return TUNING_METHODS.get(config.type)(config)
