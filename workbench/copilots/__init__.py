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

_EXPORTS: dict[str, str] = {
    # spec
    "SPEC_NAME": "workbench.copilots.spec",
    "CopilotSpec": "workbench.copilots.spec",
    "TemplateSlots": "workbench.copilots.spec",
    "load_spec": "workbench.copilots.spec",
    "spec_from_data": "workbench.copilots.spec",
    "check_references": "workbench.copilots.spec",
    "find_specs": "workbench.copilots.spec",
    "template_slots": "workbench.copilots.spec",
    "new_copilot": "workbench.copilots.authoring",
    # runtime
    "Copilot": "workbench.copilots.runtime",
    "Turn": "workbench.copilots.runtime",
    "Answer": "workbench.copilots.runtime",
    "load_backend": "workbench.copilots.runtime",
    # evaluation
    "SuiteQuestion": "workbench.copilots.evaluation",
    "QuestionResult": "workbench.copilots.evaluation",
    "EvalReport": "workbench.copilots.evaluation",
    "EVIDENCE_SKILLS": "workbench.copilots.evaluation",
    "load_suite": "workbench.copilots.evaluation",
    "evaluate_copilot": "workbench.copilots.evaluation",
    "summarise": "workbench.copilots.evaluation",
    "Grounding": "workbench.copilots.grounding",
    "ground": "workbench.copilots.grounding",
    "GATES": "workbench.copilots.gates",
    "Gate": "workbench.copilots.gates",
    "check_gates": "workbench.copilots.gates",
    "Comparison": "workbench.copilots.compare",
    "compare": "workbench.copilots.compare",
    "format_report": "workbench.copilots.compare",
    # registry and lifecycle
    "CopilotRegistry": "workbench.copilots.registry",
    "VersionRecord": "workbench.copilots.registry",
    "Promotion": "workbench.copilots.registry",
    "StageState": "workbench.copilots.registry",
    "open_registry": "workbench.copilots.registry",
    "EvalOutcome": "workbench.copilots.lifecycle",
    "ServedVersion": "workbench.copilots.lifecycle",
    "resolve_spec": "workbench.copilots.lifecycle",
    "evaluate_version": "workbench.copilots.lifecycle",
    "promote_version": "workbench.copilots.lifecycle",
    "rollback_copilot": "workbench.copilots.lifecycle",
    "copilot_state": "workbench.copilots.lifecycle",
    "serving_versions": "workbench.copilots.lifecycle",
    # export
    "ExportResult": "workbench.copilots.export",
    "export_copilot": "workbench.copilots.export",
    "prompt_settings": "workbench.copilots.export",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
