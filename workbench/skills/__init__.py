"""Skills: taxonomy, evidence-to-proficiency, gaps against role targets, and heatmap reports.

The orchestration layer's reporting half. Telemetry events (rubric ``score`` events and playbook task outcomes)
become per-skill evidence; a Beta-Bernoulli model with recency decay turns evidence into a level 0-4 with a
credible interval (see :mod:`workbench.skills.proficiency` for the model and why); reports compare levels with role
targets, per person and per team, over time, with outcome metrics, and drill down to the evidence.

    from workbench.skills import build_report, generate_cohort

    generate_cohort(learners=60)                       # a synthetic cohort into the default store
    report = build_report(out_dir="skills-report")      # report.html, PNG heatmaps, CSV tables
    report.drilldown("p_0123456789abcdef", "prompting") # the evidence behind one cell

Submodules import pandas; this package imports them lazily, so ``import workbench.skills`` stays light.
"""

from __future__ import annotations

from workbench._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # taxonomy
    "Taxonomy": "workbench.skills.taxonomy",
    "Skill": "workbench.skills.taxonomy",
    "Role": "workbench.skills.taxonomy",
    "LevelDescriptor": "workbench.skills.taxonomy",
    "LEVELS": "workbench.skills.taxonomy",
    "DEFAULT_TAXONOMY": "workbench.skills.taxonomy",
    "load_taxonomy": "workbench.skills.taxonomy",
    "parse_taxonomy": "workbench.skills.taxonomy",
    "default_taxonomy_path": "workbench.skills.taxonomy",
    # evidence and proficiency
    "Evidence": "workbench.skills.evidence",
    "EvidenceWeights": "workbench.skills.evidence",
    "load_events": "workbench.skills.evidence",
    "extract_evidence": "workbench.skills.evidence",
    "EstimatorConfig": "workbench.skills.proficiency",
    "estimate_proficiency": "workbench.skills.proficiency",
    "add_gaps": "workbench.skills.proficiency",
    # reports
    "SkillsReport": "workbench.skills.report",
    "ReportData": "workbench.skills.report_data",
    "build_report": "workbench.skills.report",
    "cached_report": "workbench.skills.report",
    "learner_view": "workbench.skills.report",
    "render_html": "workbench.skills.render",
    # synthetic cohorts
    "CohortSpec": "workbench.skills.cohort_spec",
    "Cohort": "workbench.skills.synthetic",
    "generate_cohort": "workbench.skills.synthetic",
    "generate_events": "workbench.skills.synthetic",
    "load_cohort_spec": "workbench.skills.cohort_spec",
    "synthetic_taxonomy": "workbench.skills.synthetic",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
