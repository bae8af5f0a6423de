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

_EXPORTS: dict[str, tuple[str, ...]] = {
    "taxonomy": (
        "Taxonomy", "Skill", "Role", "LevelDescriptor", "LEVELS", "DEFAULT_TAXONOMY", "load_taxonomy",
        "parse_taxonomy", "default_taxonomy_path",
    ),
    # evidence and proficiency
    "evidence": ("Evidence", "EvidenceWeights", "load_events", "extract_evidence"),
    "proficiency": ("EstimatorConfig", "estimate_proficiency", "add_gaps"),
    "sql_estimates": ("estimate_in_sql",),
    # reports
    "report": ("SkillsReport", "build_report", "cached_report", "learner_view"),
    "report_data": ("ReportData",),
    "render": ("render_html",),
    # synthetic cohorts
    "cohort_spec": ("CohortSpec", "load_cohort_spec"),
    "synthetic": ("Cohort", "generate_cohort", "generate_events", "synthetic_taxonomy"),
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
