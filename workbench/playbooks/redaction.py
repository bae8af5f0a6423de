"""A playbook run's stored record carries no raw PII: parameters, outputs, errors and the kernel log are redacted.

A learner's input reaches a headless run through its parameters (``workbench playbook run ID -p prompt=...``),
and a run stores copies of it under the data directory: the injected-parameters cell and papermill's metadata
in the output notebook, ``run.json`` and the notebook's ``workbench`` metadata, whatever the cells printed, the
error message of a failed cell, and the kernel's log. Before the runner writes them (:func:`redact_run_record`),
each string goes through :func:`workbench.guardrails.redact` with every kind, names included, the same way
telemetry is redacted. The cells the playbook's author wrote are left as they are: they are the playbook, not
the learner's data. So is the author's vocabulary (:func:`vocabulary`): the parameters' declared defaults and
choices stay readable, or a ``tune_config`` of ``lora`` would be stored as ``[PERSON]`` (Lora is a name too).

Limit: papermill saves the output notebook after each cell while a run is going; the runner rewrites it redacted
when the run ends, however it ends, but a runner process that is itself killed mid-run leaves that autosaved
copy as it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from workbench.guardrails import redact

#: The file in a run's folder that receives the kernel process's stdout and stderr.
KERNEL_LOG = "kernel.log"
_LOG_LIMIT = 1024 * 1024  # a bigger kernel log is cut to its last MiB before it is redacted
_INJECTED_TAG = "injected-parameters"


def vocabulary(manifest: Any) -> tuple[str, ...]:
    """The playbook author's words that are never a learner's PII: its parameters' string defaults and choices."""
    words: list[str] = []
    for parameter in getattr(manifest, "parameters", ()):
        for value in [parameter.default, *(parameter.choices or ())]:
            if isinstance(value, str) and value:
                words.append(value)
    return tuple(dict.fromkeys(words))


def redact_value(value: Any, allow: Iterable[str] = ()) -> Any:
    """``value`` with every string in it redacted (dicts and lists recursively; other types as they are);
    the strings in ``allow`` are kept."""
    allow = tuple(allow)
    if isinstance(value, str):
        return redact(value, allow=allow).text if value and value not in allow else value
    if isinstance(value, dict):
        return {k: redact_value(v, allow) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v, allow) for v in value]
    return value


def _redact_source(source: Any, allow: tuple[str, ...]) -> Any:
    if isinstance(source, list):
        return redact("".join(source), allow=allow).text
    return redact_value(source, allow)


def _redact_output(output: Any, allow: tuple[str, ...]) -> None:
    for key in ("text", "evalue"):
        if key in output:
            output[key] = _redact_source(output[key], allow)
    if "traceback" in output:
        output["traceback"] = redact_value(list(output["traceback"]), allow)
    data = output.get("data") or {}
    for mime in list(data):
        if mime.startswith("text/") or mime == "application/json":
            text = mime.startswith("text/")
            data[mime] = _redact_source(data[mime], allow) if text else redact_value(data[mime], allow)


def redact_notebook(nb: Any, allow: Iterable[str] = ()) -> Any:
    """Redact ``nb`` in place: the injected-parameters cell, every output, and papermill's parameters
    (the strings in ``allow``, the author's :func:`vocabulary`, are kept)."""
    allow = tuple(allow)
    for cell in nb.get("cells", []):
        if _INJECTED_TAG in cell.get("metadata", {}).get("tags", []):
            cell["source"] = _redact_source(cell.get("source", ""), allow)
        for output in cell.get("outputs", []):
            _redact_output(output, allow)
    papermill = nb.get("metadata", {}).get("papermill")
    if isinstance(papermill, dict) and "parameters" in papermill:
        papermill["parameters"] = redact_value(papermill["parameters"], allow)
    return nb


def redact_run_record(nb: Any, result: Any, allow: Iterable[str] = ()) -> None:
    """Redact a finished run's notebook, its result's parameters and error, and its kernel log, in place
    (keeping the strings in ``allow``, the playbook's :func:`vocabulary`)."""
    allow = tuple(allow)
    result.parameters = redact_value(result.parameters, allow)
    if result.error_message:
        result.error_message = redact(result.error_message, allow=allow).text
    redact_notebook(nb, allow)
    log = Path(result.output_path).parent / KERNEL_LOG
    if log.is_file():
        data = log.read_bytes()
        raw = data[-_LOG_LIMIT:].decode("utf-8", errors="replace")
        cleaned = redact(raw, allow=allow).text
        if cleaned != raw or len(data) > _LOG_LIMIT:
            log.write_text(cleaned, encoding="utf-8")


__all__ = ["KERNEL_LOG", "redact_notebook", "redact_run_record", "redact_value", "vocabulary"]
