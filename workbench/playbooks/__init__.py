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

# submodule -> names; loaded on first access so that kernels importing task()/check() stay light.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "runner": ("PlaybookRunner", "PreparedRun", "prepare_run", "run_playbook"),
    "batch": ("BatchJob", "BatchResult", "BatchRunner", "jobs_from", "load_parameter_sets", "run_batch"),
    "dask_batch": ("DaskBatchRunner", "batch_runner"),
    "results": ("RunResult", "RunStatus", "EXIT_CODES"),
    "validate": ("Problem", "validate_playbook"),
    "progress": ("PlaybookProgress", "TaskProgress", "learner_progress"),
    "authoring": ("new_playbook", "copy_playbook"),
    "smoke": ("SmokeResult", "smoke_test"),
    "release": ("learner_notebook", "release_notebook", "release_playbook"),
    "answers": ("AnswerBank", "SimulatedLearner", "load_answer_bank", "simulated_jobs"),
}

# the names imported above (light: kernels use them)
_EAGER = (
    "Catalog", "Playbook", "builtin_pack_dir", "discover_playbooks", "filter_playbooks", "get_playbook",
    "load_playbook", "packs", "task_skill_weights", "CheckFailed", "PlaybookTask", "check", "current_manifest",
    "hint", "is_smoke_run", "run_dir", "task", "MANIFEST_NAME", "ParameterSpec", "PlaybookManifest",
    "Requirements", "TaskSpec", "is_playbook_id", "load_manifest", "resolve_parameters",
)

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), eager=_EAGER)
