"""A learner's workspace: where started playbooks are materialised, and the small run record kept beside them.

Starting a playbook copies its folder (notebook, ``playbook.yaml``, rubrics, data; never the answer bank) into
``<server root>/<workspace>/<playbook id>/``. The notebook is the *learner version*
(:func:`workbench.playbooks.learner_notebook`): solution regions become stubs, hints and the solutions'
fingerprints go to its metadata. The learner's parameters are written into the notebook, right after
its ``parameters`` cell, in a cell tagged ``injected-parameters`` (papermill's convention) that also sets the
telemetry context (learner pseudonym, playbook, run id). The kernel starts in that folder, so
:func:`workbench.playbooks.task` finds the manifest there and events land under the learner's pseudonym.

Never overwriting the learner's work is the rule: an existing notebook is resumed as it is (new parameters are
not applied to it); files the learner deleted are copied back, files they changed are left alone.

The run record (``.workbench-run.json``) remembers the run id, parameters and times. A corrupted record raises
:class:`CorruptRecordError` on read; :func:`start_or_resume` moves it aside (``.corrupt-<time>``) and writes a
fresh one, keeping the notebook.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench.errors import StoreError, ValidationError

RECORD_NAME = ".workbench-run.json"
RECORD_VERSION = 1
INJECTED_TAG = "injected-parameters"
_SKIP = {".ipynb_checkpoints", "__pycache__", ".workbench-run.json", "answers.yaml"}


class CorruptRecordError(StoreError):
    """The workspace's run record cannot be read."""


@dataclass
class StartResult:
    """What :func:`start_or_resume` did.

    Attributes:
        playbook: Playbook id.
        status: ``started`` (new notebook written) or ``resumed`` (existing notebook kept).
        folder: The workspace folder (absolute).
        notebook: The notebook (absolute).
        run_id: The run id events of this workspace carry.
        parameters: The parameters in effect (for a resume: the recorded ones).
        notices: Things the learner should know (record repaired, parameters not applied...).
    """

    playbook: str
    status: str
    folder: Path
    notebook: Path
    run_id: str
    parameters: dict[str, Any]
    notices: list[str] = field(default_factory=list)


def slug(value: str) -> str:
    """A file-name-safe form of a user name (letters, digits, ``-``, ``_``, ``.``)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", value.strip()).strip("-.")
    return cleaned[:64] or "learner"


def read_record(folder: Path) -> dict[str, Any] | None:
    """The run record in ``folder``, ``None`` when there is none.

    Raises:
        CorruptRecordError: When the file exists but is not a valid record.
    """
    path = folder / RECORD_NAME
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptRecordError(
            f"the progress record of this playbook is corrupted ({type(exc).__name__}: {exc})",
            file=path,
            hint="choose Start/Resume again: Workbench keeps your notebook, moves the broken record aside "
            "and writes a new one (your task history in telemetry is not affected)",
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("run_id"), str) or "playbook" not in data:
        raise CorruptRecordError(
            "the progress record of this playbook is incomplete (no run_id / playbook)",
            file=path,
            hint="choose Start/Resume again: Workbench keeps your notebook and writes a new record",
        )
    return data


def _write_record(folder: Path, record: dict[str, Any]) -> None:
    tmp = folder / (RECORD_NAME + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(folder / RECORD_NAME)  # atomic: a crash never leaves half a record


def _copy_missing(src: Path, dst: Path, skip: frozenset[str] = frozenset()) -> None:
    """Copy what ``dst`` lacks from ``src`` (never ``_SKIP`` nor ``skip``: the author notebook stays behind)."""
    dst.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.name in _SKIP or item.name in skip:
            continue
        target = dst / item.name
        if item.is_dir():
            _copy_missing(item, target)
        elif not target.exists():
            shutil.copy2(item, target)


def injected_source(parameters: dict[str, Any], *, learner: str, playbook: str, run_id: str) -> str:
    """The code of the ``injected-parameters`` cell."""
    lines = ["# Injected by Workbench when you started this playbook: your parameters and your (pseudonymous) id."]
    lines += [f"{name} = {value!r}" for name, value in parameters.items()]
    lines += [
        "from workbench.telemetry import set_context as _wb_set_context",
        f"_wb_set_context(learner={learner!r}, playbook={playbook!r}, run_id={run_id!r})",
    ]
    return "\n".join(lines) + "\n"


def kernel_language_info() -> dict[str, Any]:
    """The ``language_info`` an IPython kernel of this Python reports (ipykernel's own fields).

    JupyterLab writes the kernel's ``language_info`` into a notebook's metadata when the kernel connects; a
    notebook that carries less (shipped notebooks are stripped to ``{"name": "python"}``) is then marked modified
    the moment it opens. Writing the same fields up front keeps a freshly opened notebook unmodified.
    """
    import sys

    return {
        "name": "python",
        "version": sys.version.split()[0],
        "mimetype": "text/x-python",
        "codemirror_mode": {"name": "ipython", "version": sys.version_info[0]},
        "pygments_lexer": "ipython3",
        "nbconvert_exporter": "python",
        "file_extension": ".py",
    }


def materialise_notebook(src: Path | Any, dst: Path, parameters: dict[str, Any], **ctx: str) -> None:
    """Write notebook ``src`` (a file or an nbformat node) to ``dst`` with an ``injected-parameters`` cell after
    its ``parameters`` cell."""
    import copy

    import nbformat

    nb = nbformat.read(str(src), as_version=4) if isinstance(src, str | Path) else copy.deepcopy(src)
    cell = nbformat.v4.new_code_cell(injected_source(parameters, **ctx))
    cell.metadata["tags"] = [INJECTED_TAG]
    index = next(
        (i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])), None
    )
    nb.cells.insert(0 if index is None else index + 1, cell)
    if nb.metadata.get("language_info", {}).get("name", "python") == "python":
        nb.metadata["language_info"] = kernel_language_info()  # not modified on opening (see the helper)
    for c in nb.cells:  # a fresh copy: no outputs, no execution counts
        if c.cell_type == "code":
            c.outputs = []
            c.execution_count = None
    tmp = dst.with_name(dst.name + ".tmp")
    nbformat.write(nb, str(tmp))
    tmp.replace(dst)


def start_or_resume(
    playbook: Any,
    workspace: Path,
    *,
    learner: str,
    parameters: dict[str, Any] | None = None,
) -> StartResult:
    """Materialise ``playbook`` in ``workspace/<id>/``, or resume the copy already there.

    Args:
        playbook: A :class:`workbench.playbooks.Playbook`.
        workspace: The learner's workspace folder (created when missing).
        learner: The learner's pseudonym.
        parameters: Values for the manifest's parameters (validated and coerced).

    Raises:
        ValidationError: Unknown parameter or a value of the wrong type.
    """
    from workbench.playbooks import learner_notebook, resolve_parameters

    manifest = playbook.manifest
    folder = workspace / manifest.id
    notebook = folder / manifest.notebook_name
    notices: list[str] = []
    # Validate first, also when resuming: a typo in a parameter name deserves an error, not silence.
    values = resolve_parameters(manifest, parameters or {}, file=playbook.manifest_path)
    try:
        record = read_record(folder)
    except CorruptRecordError as exc:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        broken = folder / f"{RECORD_NAME}.corrupt-{stamp}"
        (folder / RECORD_NAME).replace(broken)
        notices.append(f"{exc.message}; it was moved to {broken.name} and a new record was written")
        record = None

    if notebook.exists():
        if parameters:
            notices.append("your notebook already exists, so it was kept as it is and the new parameters "
                           "were not applied (edit the injected-parameters cell, or rename the folder to start over)")
        # files the learner deleted come back; changed ones stay
        _copy_missing(playbook.root, folder, frozenset({manifest.notebook_name}))
        if record is None:
            record = {"playbook": manifest.id, "run_id": f"lab-{uuid.uuid4().hex[:12]}", "parameters": {},
                      "created": _now()}
        record.update(version=RECORD_VERSION, playbook_version=manifest.version, resumed=_now())
        _write_record(folder, record)
        return StartResult(manifest.id, "resumed", folder, notebook, record["run_id"],
                           dict(record.get("parameters") or {}), notices)

    run_id = f"lab-{uuid.uuid4().hex[:12]}"
    released = learner_notebook(playbook)  # first: malformed markers stop the start before anything is copied
    _copy_missing(playbook.root, folder, frozenset({manifest.notebook_name}))
    materialise_notebook(released, notebook, values, learner=learner, playbook=manifest.id, run_id=run_id)
    record = {"version": RECORD_VERSION, "playbook": manifest.id, "playbook_version": manifest.version,
              "run_id": run_id, "parameters": values, "created": _now()}
    _write_record(folder, record)
    return StartResult(manifest.id, "started", folder, notebook, run_id, values, notices)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def check_inside(root: Path, path: Path) -> Path:
    """``path`` resolved, refusing anything outside ``root`` (a configured workspace must stay in the root)."""
    resolved = path.resolve()
    if resolved != root.resolve() and root.resolve() not in resolved.parents:
        raise ValidationError(
            f"the workspace '{path}' is outside the server's root folder '{root}'",
            field="WorkbenchApp.workspace_dir",
            hint="set WorkbenchApp.workspace_dir to a folder relative to ServerApp.root_dir",
        )
    return resolved
