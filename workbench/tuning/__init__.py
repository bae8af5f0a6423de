"""Fine-tuning: LoRA and QLoRA (4-bit NF4, 8-bit) through peft, bitsandbytes, accelerate and transformers.

Importing this package is cheap: names load on first use. The pieces:

- configs (:mod:`~workbench.tuning.config`): frozen, versioned pydantic models, saved with every run;
  :class:`LoRAConfig` / :class:`QLoRAConfig` pair with :class:`LoRAMethod` / :class:`QLoRAMethod`
  (:mod:`~workbench.tuning.methods`);
- data (:mod:`~workbench.tuning.data`): instruction and chat JSONL, validated line by line;
- the preflight plan (:mod:`~workbench.tuning.plan`): peak memory by component, from the model's config alone;
- training (:mod:`~workbench.tuning.trainer`): :func:`train`, checkpoints, :class:`StopSignal`, callbacks,
  telemetry, the run card (:mod:`~workbench.tuning.runcard`);
- use and export (:mod:`~workbench.tuning.export`): load a tuned adapter as a chat model, merge, evaluate;
- preference tuning (:mod:`~workbench.tuning.preference`): DPO of a LoRA adapter on chosen/rejected pairs
  (:func:`train_preferences`, TRL's ``DPOTrainer``).

Quick start::

    from workbench.tuning import load_config, train, load_tuned
    result = train(load_config("datasets/finetune/house-format/lora.yaml"))
    model = load_tuned(result.adapter_dir)
    model.generate([{"role": "user", "content": "My VPN keeps disconnecting."}]).text
"""

from __future__ import annotations

from workbench._lazy import lazy_exports

_EXPORTS: dict[str, tuple[str, ...]] = {
    "config": (
        "CONFIG_VERSION", "DataConfig", "EvaluationConfig", "LoRAConfig", "QLoRAConfig", "TrainingConfig",
        "TuneConfig", "load_config",
    ),
    "data": ("DatasetReport", "Example", "load_examples", "split_examples", "validate_file"),
    "methods": ("LoRAMethod", "QLoRAMethod", "TUNING_METHODS", "TuningMethod", "method_for"),
    "plan": ("MemoryEstimate", "MemoryPlan", "PlanRequest", "estimate_memory", "plan_memory"),
    "memory": ("PeakMemoryMeter", "measure_tensor_peak", "measure_step_peak"),
    "runcard": ("RunCard",),
    "callbacks": ("RunInfo", "StepMetrics", "StopSignal", "TrainingCallback"),
    "trainer": ("Tuner", "TrainingResult", "train"),
    "evaluate": ("EvalResult", "evaluate_model", "house_format_ok"),
    "export": ("AdapterSource", "evaluate_adapter", "load_adapter", "load_tuned", "merge_adapter"),
    "checkpoint": ("check_adapter_dir",),
    "preference": (
        "PreferenceConfig", "PreferencePair", "PreferenceResult", "load_preferences", "train_preferences",
    ),
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
