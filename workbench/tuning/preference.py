"""Preference tuning: a LoRA adapter trained with DPO on chosen/rejected reply pairs (TRL's ``DPOTrainer``).

Supervised tuning (:func:`~workbench.tuning.train`) shows the model good answers; preference tuning shows it a
good *and* a bad answer to the same prompt and raises the likelihood of the first relative to the second,
measured against a frozen reference (the base model). Direct Preference Optimisation (DPO, Rafailov et al.
2023) does that without a reward model: its loss is ``-log sigmoid(beta * margin)`` where the margin is how much
more the policy prefers ``chosen`` over ``rejected`` than the reference does. At step one the policy *is* the
reference, so the loss is ``log 2`` (0.693) and the margin 0; learning shows as the loss falling and the margin
rising.

Why TRL: ``trl.DPOTrainer`` is the maintained reference implementation (the one the DPO, IPO and ORPO papers'
authors contribute to). It applies the chat template to prompt and answers, masks the prompt, computes the
policy's and the reference's log-probabilities of both answers (with a peft model the reference is the same
network with the adapter switched off, so no second copy sits in memory), and logs the reward margin and
preference accuracy. Hand-written, that bookkeeping is where DPO implementations go wrong.

The adapter is saved as safetensors in the house layout (``<output_dir>/adapter``), so
:func:`~workbench.tuning.load_tuned` and ``load_model("<output_dir>/adapter")`` use it like any LoRA run.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from workbench.errors import ConfigError, ValidationError

PAIR_FIELDS = ("prompt", "chosen", "rejected")
PREFERENCE_CONFIG_FILE = "preference_config.json"


@dataclass(frozen=True)
class PreferencePair:
    """One prompt with the preferred (``chosen``) and the dispreferred (``rejected``) answer."""

    id: str
    prompt: str
    chosen: str
    rejected: str


def load_preferences(path: str | Path) -> list[PreferencePair]:
    """Read a preference JSONL file: one ``{"prompt", "chosen", "rejected", "id"?}`` object a line.

    Raises:
        ValidationError: A missing file, or lines that are not such objects (all listed, ``file:line``), or
            a pair whose two answers are the same.
    """
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"no preference file at {path}", file=path, hint="point at a JSONL file of pairs")
    pairs: list[PreferencePair] = []
    problems: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{number}: not JSON ({exc.msg})")
            continue
        if not isinstance(record, dict):
            problems.append(f"{path}:{number}: expected an object with prompt, chosen and rejected")
            continue
        bad = [k for k in PAIR_FIELDS if not isinstance(record.get(k), str) or not record[k].strip()]
        if bad:
            problems.append(f"{path}:{number} ({bad[0]}): needs a non-empty string for {', '.join(bad)}")
        elif record["chosen"].strip() == record["rejected"].strip():
            problems.append(f"{path}:{number} (rejected): the rejected answer equals the chosen one")
        else:
            pairs.append(PreferencePair(str(record.get("id") or f"line-{number}"), *(record[k] for k in PAIR_FIELDS)))
    if problems or not pairs:
        raise ValidationError(
            "; ".join(problems[:10]) if problems else f"{path} holds no preference pairs",
            file=path,
            hint='each line: {"prompt": "...", "chosen": "the better answer", "rejected": "the worse answer"}',
        )
    return pairs


@dataclass(frozen=True)
class PreferenceConfig:
    """A DPO run of a LoRA adapter. Frozen; saved next to the adapter as ``preference_config.json``.

    Attributes:
        model: Base model (``smollm2-135m-instruct``, ``workbench-tiny``, a local folder or a cached hub id).
        train: The preference JSONL file.
        output_dir: Run folder; the adapter goes to ``<output_dir>/adapter``.
        rank, alpha, dropout, target_modules: The LoRA adapter (``all-linear``: every linear layer).
        beta: DPO's temperature: how far the policy may move from the reference (0.1 is the paper's default).
        loss_type: ``sigmoid`` is DPO; ``ipo`` and ``hinge`` are TRL's variants.
        max_steps, batch_size, learning_rate, seed: The optimiser (AdamW, linear decay).
        max_length: Longest prompt + answer in tokens (longer pairs are truncated).
        system_prompt: A system message before every prompt (``None``: none, so the chat template adds its
            default one, as it does when the adapter answers a bare prompt later).
        num_threads: torch CPU threads (``None``: leave as is).
    """

    model: str
    train: str
    output_dir: str
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: str | tuple[str, ...] = "all-linear"
    beta: float = 0.1
    loss_type: Literal["sigmoid", "ipo", "hinge"] = "sigmoid"
    max_steps: int = 20
    batch_size: int = 4
    learning_rate: float = 5e-4
    max_length: int = 128
    seed: int = 0
    system_prompt: str | None = None
    num_threads: int | None = None

    def __post_init__(self) -> None:
        for name in ("rank", "alpha", "max_steps", "batch_size", "max_length"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}", field=name)
        if not 0 < self.beta <= 10:
            raise ConfigError(f"beta must be in (0, 10], got {self.beta}", field="beta", hint="0.1 is usual")
        if not 0 < self.learning_rate < 1:
            raise ConfigError(f"learning_rate must be in (0, 1), got {self.learning_rate}", field="learning_rate")
        if self.loss_type not in ("sigmoid", "ipo", "hinge"):
            raise ConfigError(f"unknown loss_type '{self.loss_type}'", field="loss_type", hint="sigmoid (DPO), ipo or hinge")


@dataclass
class PreferenceResult:
    """What a DPO run did: per-step metrics as TRL logged them, the adapter folder and the wall time."""

    config: PreferenceConfig
    adapter_dir: Path
    steps: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    files: list[str] = field(default_factory=list)

    def series(self, name: str) -> list[float]:
        """One logged metric over the steps: ``loss``, ``margin``, ``accuracy``, ``chosen``, ``rejected``."""
        return [s[name] for s in self.steps if name in s]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {"config": asdict(self.config), "adapter_dir": str(self.adapter_dir), "steps": self.steps,
                "seconds": round(self.seconds, 2), "files": self.files}  # fmt: skip


_METRICS = {
    "loss": "loss",
    "rewards/margins": "margin",
    "rewards/accuracies": "accuracy",
    "rewards/chosen": "chosen",
    "rewards/rejected": "rejected",
}


def _as_rows(pairs: list[PreferencePair], system_prompt: str | None) -> list[dict[str, Any]]:
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return [
        {
            "prompt": [*system, {"role": "user", "content": p.prompt}],
            "chosen": [{"role": "assistant", "content": p.chosen}],
            "rejected": [{"role": "assistant", "content": p.rejected}],
        }
        for p in pairs
    ]


def _metrics_callback(steps: list[dict[str, float]]) -> Any:
    from transformers import TrainerCallback

    class _Collect(TrainerCallback):  # type: ignore[misc]
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **_: Any) -> None:
            row = {short: float(logs[key]) for key, short in _METRICS.items() if logs and key in logs}
            if "loss" in row:
                steps.append({"step": float(state.global_step), **row})

    return _Collect()


def _trainer(config: PreferenceConfig, pairs: list[PreferencePair], steps: list[dict[str, float]]) -> Any:
    import importlib

    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback
    from trl import DPOConfig, DPOTrainer

    from workbench.models._hf import no_hub_telemetry
    from workbench.tuning._runtime import resolve_model_dir

    no_hub_telemetry()  # DPOTrainer would otherwise ping huggingface.co from a thread
    # Hugging Face's `datasets` (TRL's input type); by name, since linters see the repo's datasets/ folder there.
    dataset_cls = importlib.import_module("datasets").Dataset
    model_dir = resolve_model_dir(config.model)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    torch.manual_seed(config.seed)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), use_safetensors=True, dtype=torch.float32)
    targets = config.target_modules if isinstance(config.target_modules, str) else list(config.target_modules)
    lora = LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
                      target_modules=targets, task_type="CAUSAL_LM")  # fmt: skip
    args = DPOConfig(
        output_dir=str(Path(config.output_dir) / "trl"),
        beta=config.beta,
        loss_type=[config.loss_type],
        max_length=config.max_length,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        lr_scheduler_type="linear",
        warmup_steps=0,
        seed=config.seed,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
        gradient_checkpointing=False,
    )
    trainer = DPOTrainer(model=model, args=args, train_dataset=dataset_cls.from_list(_as_rows(pairs, config.system_prompt)),
                         processing_class=tokenizer, peft_config=lora, callbacks=[_metrics_callback(steps)])  # fmt: skip
    trainer.remove_callback(PrinterCallback)  # the metrics are collected above, not printed line by line
    return trainer


def train_preferences(config: PreferenceConfig, *, overwrite: bool = False) -> PreferenceResult:
    """Train a LoRA adapter with DPO on ``config.train`` and save it as safetensors.

    Args:
        config: The run.
        overwrite: Replace an adapter already in ``<output_dir>/adapter``.

    Returns:
        The per-step loss, reward margin and preference accuracy, the adapter folder and the wall time.

    Raises:
        ValidationError: A bad preference file (see :func:`load_preferences`).
        ConfigError: An adapter already in the output folder (without ``overwrite``).
        ModelNotFoundError, OfflineError: The base model is not available locally.
    """
    import shutil

    import torch

    from workbench.tuning._runtime import quiet_bitsandbytes
    from workbench.tuning.checkpoint import ADAPTER_CONFIG, save_adapter

    pairs = load_preferences(config.train)
    out = Path(config.output_dir)
    adapter_dir = out / "adapter"
    if adapter_dir.exists():
        if not overwrite:
            raise ConfigError(f"{adapter_dir} already holds an adapter", file=adapter_dir,
                              hint="pass overwrite=True or choose another output_dir")  # fmt: skip
        shutil.rmtree(adapter_dir)
    quiet_bitsandbytes()
    threads = torch.get_num_threads()
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    steps: list[dict[str, float]] = []
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer = _trainer(config, pairs, steps)
            trainer.train()
        files = save_adapter(trainer.model, adapter_dir)
    finally:
        torch.set_num_threads(threads)
    shutil.rmtree(out / "trl", ignore_errors=True)
    # Name the base as the config does ("smollm2-135m-instruct"), not its cache folder: the adapter stays portable.
    adapter_config = json.loads((adapter_dir / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    adapter_config["base_model_name_or_path"] = config.model
    (adapter_dir / ADAPTER_CONFIG).write_text(json.dumps(adapter_config, indent=2), encoding="utf-8")
    (adapter_dir / PREFERENCE_CONFIG_FILE).write_text(json.dumps(asdict(config), indent=2), encoding="utf-8")
    result = PreferenceResult(config, adapter_dir, steps, time.perf_counter() - start, [*files, PREFERENCE_CONFIG_FILE])
    (out / "preference_run.json").write_text(json.dumps(result.to_dict(), indent=2), encoding="utf-8")
    return result


__all__ = [
    "PreferenceConfig",
    "PreferencePair",
    "PreferenceResult",
    "load_preferences",
    "train_preferences",
]
