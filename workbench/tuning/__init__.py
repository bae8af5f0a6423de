"""Fine-tuning: LoRA and QLoRA (4-bit NF4, 8-bit) through peft, bitsandbytes, accelerate and transformers.

Importing this package is cheap: names load on first use. The pieces:

- configs (:mod:`~workbench.tuning.config`): frozen, versioned pydantic models, saved with every run;
  :class:`LoRAConfig` / :class:`QLoRAConfig` pair with :class:`LoRAMethod` / :class:`QLoRAMethod`
  (:mod:`~workbench.tuning.methods`);
- data (:mod:`~workbench.tuning.data`): instruction and chat JSONL, validated line by line;
- the preflight plan (:mod:`~workbench.tuning.plan`): peak memory by component, from the model's config alone;
- training (:mod:`~workbench.tuning.trainer`): :func:`train`, checkpoints, :class:`StopSignal`, callbacks,
  telemetry, the run card (:mod:`~workbench.tuning.runcard`);
- use and export (:mod:`~workbench.tuning.export`): load a tuned adapter as a chat model, merge, evaluate.

Quick start::

    from workbench.tuning import load_config, train, load_tuned
    result = train(load_config("datasets/finetune/house-format/lora.yaml"))
    model = load_tuned(result.adapter_dir)
    model.generate([{"role": "user", "content": "My VPN keeps disconnecting."}]).text
"""

from __future__ import annotations

from workbench._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "CONFIG_VERSION": "workbench.tuning.config",
    "DataConfig": "workbench.tuning.config",
    "EvaluationConfig": "workbench.tuning.config",
    "LoRAConfig": "workbench.tuning.config",
    "QLoRAConfig": "workbench.tuning.config",
    "TrainingConfig": "workbench.tuning.config",
    "TuneConfig": "workbench.tuning.config",
    "load_config": "workbench.tuning.config",
    "DatasetReport": "workbench.tuning.data",
    "Example": "workbench.tuning.data",
    "load_examples": "workbench.tuning.data",
    "split_examples": "workbench.tuning.data",
    "validate_file": "workbench.tuning.data",
    "LoRAMethod": "workbench.tuning.methods",
    "QLoRAMethod": "workbench.tuning.methods",
    "TUNING_METHODS": "workbench.tuning.methods",
    "TuningMethod": "workbench.tuning.methods",
    "method_for": "workbench.tuning.methods",
    "MemoryEstimate": "workbench.tuning.plan",
    "MemoryPlan": "workbench.tuning.plan",
    "PlanRequest": "workbench.tuning.plan",
    "estimate_memory": "workbench.tuning.plan",
    "plan_memory": "workbench.tuning.plan",
    "PeakMemoryMeter": "workbench.tuning.memory",
    "measure_tensor_peak": "workbench.tuning.memory",
    "measure_step_peak": "workbench.tuning.memory",
    "RunCard": "workbench.tuning.runcard",
    "RunInfo": "workbench.tuning.callbacks",
    "StepMetrics": "workbench.tuning.callbacks",
    "StopSignal": "workbench.tuning.callbacks",
    "Tuner": "workbench.tuning.trainer",
    "TrainingCallback": "workbench.tuning.callbacks",
    "TrainingResult": "workbench.tuning.trainer",
    "train": "workbench.tuning.trainer",
    "EvalResult": "workbench.tuning.evaluate",
    "AdapterSource": "workbench.tuning.export",
    "evaluate_adapter": "workbench.tuning.export",
    "evaluate_model": "workbench.tuning.evaluate",
    "house_format_ok": "workbench.tuning.evaluate",
    "check_adapter_dir": "workbench.tuning.checkpoint",
    "load_adapter": "workbench.tuning.export",
    "load_tuned": "workbench.tuning.export",
    "merge_adapter": "workbench.tuning.export",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
