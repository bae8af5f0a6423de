"""Fine-tuning configs: frozen, documented, versioned pydantic models, saved with every run.

The peft habit: every tuning *method* is a config + implementation pair. :class:`LoRAConfig` pairs with
:class:`~workbench.tuning.methods.LoRAMethod` and :class:`QLoRAConfig` with
:class:`~workbench.tuning.methods.QLoRAMethod`; the ``type`` field picks the pair. A whole run is one
:class:`TuneConfig`: the base model, the method, the data, the training loop and the evaluation.

A config file is YAML or JSON::

    version: 1
    name: house-format-lora
    model: workbench-tiny
    method: {type: qlora, bits: 4, rank: 16, alpha: 32, target_modules: all-linear}
    data: {train: finetune/house-format/train.jsonl, eval: finetune/house-format/eval.jsonl}
    training: {max_steps: 60, batch_size: 8, learning_rate: 3.0e-3}

Relative data paths resolve against the config file's folder first, then the shipped ``datasets/`` folder.
The saved copy (``tune_config.json`` beside every adapter) adds a ``saved_with`` block (library versions) that
loading ignores. Bump :data:`CONFIG_VERSION` when a field changes meaning; older files keep loading.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from workbench.errors import ConfigError

if TYPE_CHECKING:
    from workbench._yaml import LineMap

#: Version of the config schema written by this code.
CONFIG_VERSION = 1
#: File name of the config saved beside every adapter and checkpoint.
CONFIG_FILE = "tune_config.json"
#: The projections of Llama-family models; the default LoRA targets (QLoRA paper: adapt all linear layers).
LLAMA_LINEAR_MODULES: tuple[str, ...] = (
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
)

Optimizer = Literal["adamw", "adamw8bit", "paged_adamw8bit"]
ComputeDtype = Literal["float32", "bfloat16", "float16"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _AdapterConfig(_Frozen):
    """Fields every LoRA-family method shares (see :class:`LoRAConfig`)."""

    rank: int = Field(16, gt=0, le=1024, description="Rank r of the adapter matrices (> 0).")
    alpha: float = Field(32.0, gt=0, description="LoRA alpha; updates are scaled by alpha / rank.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout on the adapter input while training.")
    target_modules: list[str] | Literal["all-linear"] = Field(
        default_factory=lambda: list(LLAMA_LINEAR_MODULES),
        description='Names of the modules to adapt, or "all-linear".',
    )

    @field_validator("target_modules")
    @classmethod
    def _targets(cls, value: list[str] | str) -> list[str] | str:
        if isinstance(value, list):
            if not value:
                raise ValueError('name at least one module to adapt, e.g. [q_proj, v_proj], or "all-linear"')
            if any(not isinstance(v, str) or not v.strip() for v in value):
                raise ValueError("module names must be non-empty strings")
        return value


class LoRAConfig(_AdapterConfig):
    """LoRA (Hu et al. 2021, arXiv 2106.09685): train low-rank adapters beside frozen 16/32-bit weights.

    Attributes:
        type: ``"lora"``; selects :class:`~workbench.tuning.methods.LoRAMethod`.
        rank: Rank ``r`` of the adapter matrices (> 0). 8-16 is plenty for a house style.
        alpha: Scaling numerator; the update is scaled by ``alpha / rank``.
        dropout: Dropout on the adapter's input during training.
        target_modules: Module names to adapt (``q_proj``, ``v_proj``...) or ``"all-linear"``.
        dtype: dtype of the frozen base weights: ``float32`` (CPU default), ``bfloat16`` or ``float16``.
    """

    type: Literal["lora"] = Field("lora", description="The tuning method.")
    dtype: ComputeDtype = Field("float32", description="dtype of the frozen base weights.")

    @property
    def bits(self) -> int:
        """Bits per frozen base weight."""
        return 32 if self.dtype == "float32" else 16


class QLoRAConfig(_AdapterConfig):
    """QLoRA (Dettmers et al. 2023, arXiv 2305.14314): LoRA on a 4-bit (NF4) or 8-bit frozen base.

    The base is quantized by bitsandbytes at load time. Where bitsandbytes cannot run on the device, the run
    falls back to 16-bit LoRA and the run card says so.

    Attributes:
        type: ``"qlora"``; selects :class:`~workbench.tuning.methods.QLoRAMethod`.
        rank: As in :class:`LoRAConfig`.
        alpha: As in :class:`LoRAConfig`.
        dropout: As in :class:`LoRAConfig`.
        target_modules: As in :class:`LoRAConfig`.
        bits: 4 (NF4/FP4) or 8 (LLM.int8).
        quant_type: 4-bit data type: ``nf4`` (QLoRA's NormalFloat) or ``fp4``.
        double_quant: Quantize the quantization constants too (saves ~0.37 bit per parameter).
        compute_dtype: dtype of the 4-bit matmuls and of the layers left unquantized. ``float32`` is the safe
            choice on CPU (bf16 diverged at lr 1e-2 on the tiny model).
    """

    type: Literal["qlora"] = Field("qlora", description="The tuning method.")
    bits: Literal[4, 8] = Field(4, description="Bit width of the frozen base: 4 or 8.")
    quant_type: Literal["nf4", "fp4"] = Field("nf4", description="4-bit data type.")
    double_quant: bool = Field(True, description="Quantize the quantization constants (4-bit only).")
    compute_dtype: ComputeDtype = Field("float32", description="dtype of the quantized matmuls.")


MethodConfig = Annotated[LoRAConfig | QLoRAConfig, Field(discriminator="type")]


class DataConfig(_Frozen):
    """Where the examples come from and how they become token sequences.

    Attributes:
        train: JSONL file of training examples (instruction or chat records).
        eval: Optional JSONL of held-out examples; without it ``eval_fraction`` of ``train`` is held out.
        format: ``instruction``, ``chat`` or ``auto`` (decided per line).
        eval_fraction: Share of ``train`` held out when ``eval`` is not given (0 disables evaluation).
        max_length: Longest example in tokens; default: the model's context length.
        overlength: What to do with longer examples: ``error`` (default), ``drop`` or ``truncate``.
        system_prompt: A system message prepended to every example that has none.
        train_on_prompt: Also learn the prompt tokens (default: only the answer is learnt).
    """

    train: Path = Field(description="JSONL file of training examples.")
    eval: Path | None = Field(None, description="JSONL file of held-out examples.")
    format: Literal["instruction", "chat", "auto"] = Field("auto", description="Record format.")
    eval_fraction: float = Field(0.1, ge=0.0, lt=1.0, description="Held-out share when eval is not set.")
    max_length: int | None = Field(None, gt=0, description="Longest example in tokens (default: context).")
    overlength: Literal["error", "drop", "truncate"] = Field("error", description="Policy for long examples.")
    system_prompt: str | None = Field(None, description="System message for examples without one.")
    train_on_prompt: bool = Field(False, description="Learn prompt tokens too, not only the answer.")


class TrainingConfig(_Frozen):
    """The training loop.

    Attributes:
        max_steps: Optimiser steps to run (wins over ``epochs``).
        epochs: Passes over the training set, when ``max_steps`` is not set.
        batch_size: Examples per micro-batch.
        gradient_accumulation_steps: Micro-batches per optimiser step.
        learning_rate: Peak learning rate (3e-3 to 1e-2 suits the tiny model; 1e-4 to 2e-4 real models).
        lr_scheduler: ``constant``, ``linear`` or ``cosine`` decay after warm-up.
        warmup_steps: Linear warm-up steps.
        weight_decay: AdamW weight decay.
        max_grad_norm: Gradient clipping norm (0 disables clipping).
        optimizer: ``adamw`` (torch), ``adamw8bit`` or ``paged_adamw8bit`` (bitsandbytes).
        gradient_checkpointing: Recompute activations in the backward pass (less memory, ~30 % slower).
        mixed_precision: ``no``, ``bf16`` or ``fp16`` autocast through accelerate.
        seed: Seeds adapter initialisation, data order and dropout.
        eval_every: Evaluate every N steps (0: only at the end).
        save_every: Checkpoint every N steps (0: only at the end and on stop/failure).
        keep_checkpoints: How many recent checkpoints to keep.
        early_stopping_patience: Stop after this many evaluations without improvement (``None``: never).
        early_stopping_min_delta: Smallest eval-loss drop that counts as an improvement.
        log_every: Emit a ``training_step`` telemetry event every N steps.
        num_threads: CPU threads torch may use during the run (``None``: torch's default). One thread is
            fastest for small models on a busy machine, where threads wait on each other.
    """

    max_steps: int | None = Field(60, gt=0, description="Optimiser steps (wins over epochs).")
    epochs: float | None = Field(None, gt=0, description="Passes over the data when max_steps is unset.")
    batch_size: int = Field(8, gt=0, description="Examples per micro-batch.")
    gradient_accumulation_steps: int = Field(1, gt=0, description="Micro-batches per optimiser step.")
    learning_rate: float = Field(3e-3, gt=0, description="Peak learning rate.")
    lr_scheduler: Literal["constant", "linear", "cosine"] = Field("constant", description="Decay schedule.")
    warmup_steps: int = Field(0, ge=0, description="Linear warm-up steps.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    max_grad_norm: float = Field(1.0, ge=0, description="Gradient clipping norm (0: off).")
    optimizer: Optimizer = Field("adamw", description="adamw | adamw8bit | paged_adamw8bit.")
    gradient_checkpointing: bool = Field(False, description="Recompute activations to save memory.")
    mixed_precision: Literal["no", "bf16", "fp16"] = Field("no", description="Autocast precision.")
    seed: int = Field(0, description="Seed of adapter init, data order and dropout.")
    eval_every: int = Field(20, ge=0, description="Evaluate every N steps (0: at the end only).")
    save_every: int = Field(20, ge=0, description="Checkpoint every N steps (0: at the end only).")
    keep_checkpoints: int = Field(2, ge=1, description="Recent checkpoints kept.")
    early_stopping_patience: int | None = Field(None, gt=0, description="Evaluations without improvement.")
    early_stopping_min_delta: float = Field(0.0, ge=0, description="Smallest improvement that counts.")
    log_every: int = Field(1, gt=0, description="Telemetry event every N steps.")
    num_threads: int | None = Field(None, gt=0, description="CPU threads for torch (default: torch's).")

    @model_validator(mode="after")
    def _steps_or_epochs(self) -> TrainingConfig:
        if self.max_steps is None and self.epochs is None:
            raise ValueError("set max_steps or epochs")
        return self


class EvaluationConfig(_Frozen):
    """Evaluation before and after training, on the held-out examples.

    Attributes:
        enabled: Evaluate the base and the tuned model (perplexity and generation scores).
        max_examples: Held-out examples used for generation scores (perplexity uses all).
        max_new_tokens: Generation budget per example.
        scorer: Generation scorer: ``house_format`` (the house-format set), ``json_fields`` (JSON answers such as
            the ticket-triage set), ``exact`` or ``none``.
        rubric: Optional rubric id or path, scored when the rubrics module is installed (hook).
    """

    enabled: bool = Field(True, description="Evaluate before and after training.")
    max_examples: int = Field(24, ge=0, description="Examples used for generation scores.")
    max_new_tokens: int = Field(48, gt=0, description="Generation budget per example.")
    scorer: Literal["house_format", "json_fields", "exact", "none"] = Field(
        "house_format", description="Generation scorer."
    )
    rubric: str | None = Field(None, description="Rubric id or path to score generations with (optional).")


class TuneConfig(_Frozen):
    """One fine-tuning run: base model + method + data + training + evaluation.

    Attributes:
        version: Config schema version (:data:`CONFIG_VERSION`).
        name: Run name; names the output folder.
        model: Base model: ``workbench-tiny``, a local Hugging Face folder, or a cached hub id.
        method: :class:`LoRAConfig` or :class:`QLoRAConfig` (``type: lora | qlora``).
        data: :class:`DataConfig`.
        training: :class:`TrainingConfig`.
        evaluation: :class:`EvaluationConfig`.
        output_dir: Where the adapter, checkpoints and run card go (default ``<runs_dir>/tune/<name>``).
        device: Force a device (``cpu``, ``cuda``, ``xpu``, ``npu``, ``mps``); default: the best one found.
    """

    version: int = Field(CONFIG_VERSION, ge=1, le=CONFIG_VERSION, description="Config schema version.")
    name: str = Field("tune", min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Run name.")
    model: str = Field("workbench-tiny", min_length=1, description="Base model name or folder.")
    method: MethodConfig = Field(
        default_factory=lambda: LoRAConfig.model_validate({}), description="lora or qlora settings."
    )
    data: DataConfig = Field(description="Training and held-out data.")
    training: TrainingConfig = Field(
        default_factory=lambda: TrainingConfig.model_validate({}), description="The training loop."
    )
    evaluation: EvaluationConfig = Field(
        default_factory=lambda: EvaluationConfig.model_validate({}), description="Before/after evaluation."
    )
    output_dir: Path | None = Field(None, description="Output folder (default <runs_dir>/tune/<name>).")
    device: str | None = Field(None, description="Force a device kind (default: auto).")

    def resolved_output_dir(self) -> Path:
        """The output folder: ``output_dir`` or ``<runs_dir>/tune/<name>``."""
        if self.output_dir is not None:
            return Path(self.output_dir).expanduser()
        from workbench.settings import get_settings

        return get_settings().runs_dir / "tune" / self.name

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; loads back with :meth:`from_dict`."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], *, file: str | Path | None = None, text: str | None = None
    ) -> TuneConfig:
        """Validate ``data``; a bad field raises :class:`ConfigError` naming the file, line and field."""
        data = {k: v for k, v in data.items() if k != "saved_with"}
        try:
            return cls.model_validate(data)
        except PydanticValidationError as exc:
            from workbench._yaml import yaml_lines

            raise _config_error(exc, file=file, lines=yaml_lines(text) if text else None) from None

    def save(self, path: str | Path) -> Path:
        """Write the config as JSON with a ``saved_with`` block of library versions."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {**self.to_dict(), "saved_with": library_versions()}
        path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
        return path

    def replace(self, **changes: Any) -> TuneConfig:
        """A copy with top-level fields or dotted sub-fields changed (``{"training.max_steps": 10}``), validated."""
        data = self.to_dict()
        for key, value in changes.items():
            node = data
            *parents, leaf = key.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        return TuneConfig.from_dict(data)


def load_config(path: str | Path) -> TuneConfig:
    """Load a YAML or JSON tune config; relative data paths resolve against the file's folder.

    Raises:
        NotFoundError: The file does not exist.
        ConfigError: The file is not valid YAML/JSON or a field is invalid (file, line and field named).
    """
    from workbench._yaml import load_yaml
    from workbench.errors import NotFoundError

    path = Path(path).expanduser()
    if path.is_dir() and (path / CONFIG_FILE).is_file():
        path = path / CONFIG_FILE
    if not path.is_file():
        raise NotFoundError(
            f"tune config '{path}' does not exist",
            file=path,
            hint="write one (see datasets/finetune/README.md for an example) or pass the right path",
        )
    text = path.read_text(encoding="utf-8")
    data, _ = load_yaml(
        text,
        file=path,
        error=ConfigError,
        message="not valid YAML/JSON",
        hint="check indentation and quoting",
    )
    if not isinstance(data, dict):
        raise ConfigError(
            "a tune config must be a mapping of fields", file=path, hint="start with 'data: ...'"
        )
    config = TuneConfig.from_dict(data, file=path, text=text)
    return _resolve_paths(config, path.parent)


def _resolve_paths(config: TuneConfig, base: Path) -> TuneConfig:
    changes: dict[str, Any] = {}
    for key in ("train", "eval"):
        value = getattr(config.data, key)
        if value is not None:
            changes[f"data.{key}"] = str(resolve_data_path(value, base))
    if config.output_dir is not None and not Path(config.output_dir).is_absolute():
        changes["output_dir"] = str((base / config.output_dir).resolve())
    return config.replace(**changes) if changes else config


def resolve_data_path(value: str | Path, base: Path | None = None) -> Path:
    """An absolute data path: as given, else under ``base``, else under the shipped ``datasets/`` folder."""
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    candidates = [base / path] if base is not None else []
    candidates.append(Path.cwd() / path)
    from workbench.settings import get_settings

    datasets = get_settings().datasets_dir
    candidates += [datasets / path, datasets.parent / path]
    for candidate in candidates:
        if candidate.exists():
            return candidate.resolve()
    return (candidates[0]).resolve()


def library_versions() -> dict[str, str | None]:
    """Versions of the libraries a run depends on (stamped into saved configs and run cards)."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"config_version": str(CONFIG_VERSION)}
    for dist in ("workbench", "torch", "transformers", "peft", "bitsandbytes", "accelerate", "safetensors"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


def _config_error(
    exc: PydanticValidationError, *, file: str | Path | None, lines: LineMap | None
) -> ConfigError:
    from workbench._yaml import format_loc, located_error, schema_issues

    # A method's loc carries the discriminator's tag ('method', 'lora', 'rank'); users write 'method.rank'.
    issue = schema_issues(exc, drop=lambda part: part in ("lora", "qlora"))[0]
    field = format_loc(issue.loc)
    message = issue.message
    hints = {
        "method.rank": "rank must be a positive integer; 8 or 16 is a good start",
        "method.type": "use type: lora or type: qlora",
        "method.bits": "QLoRA takes bits: 4 or bits: 8 (use type: lora for 16/32-bit)",
        "data.train": "point data.train at a JSONL file of examples",
    }
    hint = hints.get(field, "see the field list in workbench/tuning/config.py or datasets/finetune/README.md")
    if issue.kind == "extra_forbidden":
        message = f"unknown field '{issue.loc[-1]}'"
        hint = "remove it or check its spelling"
    return located_error(
        ConfigError, f"invalid tune config: {message}", issue.loc, file=file, lines=lines, hint=hint
    )
