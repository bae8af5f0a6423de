"""Copilots: build one from the parts, evaluate it, version and promote it, export it.

A copilot is a spec (``copilot.yaml``, :mod:`~workbench.copilots.spec`): a model with an optional LoRA adapter,
a versioned prompt template, optional retrieval, a guardrail policy, an evaluation suite with thresholds and
service-level objectives. The pieces::

    from workbench.copilots import Copilot, new_copilot, evaluate_version, promote_version, rollback_copilot
    from workbench.copilots import export_copilot

    spec = new_copilot("it-helpdesk")                         # a folder with copilot.yaml, template, rubric, suite
    Copilot(spec).answer("How do I reset my password?").text  # guarded, recorded, retrieved when configured
    outcome = evaluate_version(spec)                          # registered, evaluated, compared with GA
    outcome.report.metrics["latency_p95_s"], outcome.comparison.regressions
    promote_version(spec, "canary")                           # refused with the failing gate named
    rollback_copilot("it-helpdesk")                           # the previous GA version serves again
    export_copilot(spec, "export/")                           # merged model folder, Modelfile, copilot.json

Serving (the OpenAI-compatible server) is an edge: :mod:`workbench.serving`. Importing this package is cheap:
names load on first use.
"""

from __future__ import annotations

from workbench._lazy import lazy_exports

_EXPORTS: dict[str, tuple[str, ...]] = {
    "spec": (
        "SPEC_NAME", "CopilotSpec", "TemplateSlots", "load_spec", "spec_from_data", "check_references",
        "find_specs", "template_slots",
    ),
    "authoring": ("new_copilot",),
    "runtime": ("Copilot", "Turn", "Answer", "load_backend"),
    "evaluation": (
        "SuiteQuestion", "QuestionResult", "EvalReport", "EVIDENCE_SKILLS", "load_suite", "evaluate_copilot",
        "summarise",
    ),
    "grounding": ("Grounding", "ground"),
    "gates": ("GATES", "Gate", "check_gates"),
    "compare": ("Comparison", "compare", "format_report"),
    # registry and lifecycle
    "registry": ("CopilotRegistry", "VersionRecord", "Promotion", "StageState", "open_registry"),
    "lifecycle": (
        "EvalOutcome", "ServedVersion", "resolve_spec", "evaluate_version", "promote_version",
        "rollback_copilot", "copilot_state", "serving_versions", "CopilotOverview", "describe_copilot",
    ),
    "export": ("ExportResult", "export_copilot", "prompt_settings"),
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
