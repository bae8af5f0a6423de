"""Playbooks: guided notebooks with a manifest, run interactively by learners and headless by authors and CI.

Authoring and discovery (light, importable inside kernels)::

    from workbench.playbooks import discover_playbooks, get_playbook, load_manifest, new_playbook

Inside a playbook notebook (the kernel-side API)::

    from workbench.playbooks import task, check, hint
    with task("first-prompt"):
        ### BEGIN SOLUTION first-prompt        (the author's answer; the learner version has a stub here)
        reply = model.generate("Say hello")
        ### END SOLUTION
        check(reply.output_tokens > 0, "the model answered", hint="raise max_new_tokens")
    hint("first-prompt")   # shows the exercise's next hint, and records that it was revealed

Releasing (the learner version: regions become stubs; hints and solution fingerprints go to metadata)::

    from workbench.playbooks import release_playbook, learner_notebook
    release_playbook("prompting-fundamentals", "out/")     # out/prompting-fundamentals/, ready for learners

Running (papermill / nbclient, imported on first use)::

    from workbench.playbooks import run_playbook, run_batch, learner_progress
    result = run_playbook("prompting-fundamentals", learner="ana", parameters={"max_new_tokens": 32})
    batch = run_batch("prompting-fundamentals", learners=["ana", "ben"], workers=2)

Run statuses (:class:`RunStatus`): ``completed``, ``failed`` (a cell raised), ``timeout``, ``kernel_died``,
``error`` (could not execute) - taken from the executor's exception, never from the output notebook.
"""

from __future__ import annotations

from workbench._lazy import lazy_exports
from workbench.playbooks.discovery import (
    Catalog,
    Playbook,
    builtin_pack_dir,
    discover_playbooks,
    filter_playbooks,
    get_playbook,
    load_playbook,
    packs,
    task_skill_weights,
)
from workbench.playbooks.kernel import (
    CheckFailed,
    PlaybookTask,
    check,
    current_manifest,
    hint,
    is_smoke_run,
    run_dir,
    task,
)
from workbench.playbooks.manifest import (
    MANIFEST_NAME,
    ParameterSpec,
    PlaybookManifest,
    Requirements,
    TaskSpec,
    is_playbook_id,
    load_manifest,
)
from workbench.playbooks.params import resolve_parameters

# name -> submodule; loaded on first access so that kernels importing task()/check() stay light.
_LAZY: dict[str, str] = {
    "PlaybookRunner": "runner",
    "PreparedRun": "runner",
    "prepare_run": "runner",
    "run_playbook": "runner",
    "BatchJob": "batch",
    "BatchResult": "batch",
    "BatchRunner": "batch",
    "jobs_from": "batch",
    "load_parameter_sets": "batch",
    "run_batch": "batch",
    "RunResult": "results",
    "RunStatus": "results",
    "EXIT_CODES": "results",
    "Problem": "validate",
    "validate_playbook": "validate",
    "PlaybookProgress": "progress",
    "TaskProgress": "progress",
    "learner_progress": "progress",
    "new_playbook": "authoring",
    "copy_playbook": "authoring",
    "SmokeResult": "smoke",
    "smoke_test": "smoke",
    "learner_notebook": "release",
    "release_notebook": "release",
    "release_playbook": "release",
    "AnswerBank": "answers",
    "SimulatedLearner": "answers",
    "load_answer_bank": "answers",
    "simulated_jobs": "answers",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())


__all__ = [
    "EXIT_CODES",
    "MANIFEST_NAME",
    "AnswerBank",
    "BatchJob",
    "BatchResult",
    "BatchRunner",
    "Catalog",
    "CheckFailed",
    "ParameterSpec",
    "Playbook",
    "PlaybookManifest",
    "PlaybookProgress",
    "PlaybookRunner",
    "PlaybookTask",
    "PreparedRun",
    "Problem",
    "Requirements",
    "RunResult",
    "RunStatus",
    "SimulatedLearner",
    "SmokeResult",
    "TaskProgress",
    "TaskSpec",
    "builtin_pack_dir",
    "check",
    "copy_playbook",
    "current_manifest",
    "discover_playbooks",
    "filter_playbooks",
    "is_playbook_id",
    "get_playbook",
    "hint",
    "is_smoke_run",
    "jobs_from",
    "learner_notebook",
    "learner_progress",
    "load_answer_bank",
    "load_manifest",
    "load_parameter_sets",
    "load_playbook",
    "new_playbook",
    "packs",
    "prepare_run",
    "release_notebook",
    "release_playbook",
    "resolve_parameters",
    "run_batch",
    "run_dir",
    "run_playbook",
    "simulated_jobs",
    "smoke_test",
    "task",
    "task_skill_weights",
    "validate_playbook",
]
