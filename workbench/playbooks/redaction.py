"""A playbook run's stored record carries no raw PII: parameters, outputs, errors and the kernel log are redacted.

A learner's input reaches a headless run through its parameters (``workbench playbook run ID -p prompt=...``),
and a run stores copies of it under the data directory: the injected-parameters cell and papermill's metadata
in the output notebook, ``run.json`` and the notebook's ``workbench`` metadata, whatever the cells printed, the
error message of a failed cell, and the kernel's log. Before the runner writes them (:func:`redact_run_record`),
each string goes through :func:`workbench.guardrails.redact` with every kind, names included, the same way
telemetry is redacted. The cells the playbook's author wrote are left as they are: they are the playbook, not
the learner's data.

Limit: papermill saves the output notebook after each cell while a run is going; the runner rewrites it redacted
when the run ends, however it ends, but a runner process that is itself killed mid-run leaves that autosaved
copy as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.guardrails import redact

#: The file in a run's folder that receives the kernel process's stdout and stderr.
KERNEL_LOG = "kernel.log"
_LOG_LIMIT = 1024 * 1024  # a bigger kernel log is cut to its last MiB before it is redacted
_INJECTED_TAG = "injected-parameters"


def redact_value(value: Any) -> Any:
    """``value`` with every string in it redacted (dicts and lists recursively; other types as they are)."""
    if isinstance(value, str):
        return redact(value).text if value else value
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


def _redact_source(source: Any) -> Any:
    if isinstance(source, list):
        return redact("".join(source)).text
    return redact_value(source)


def _redact_output(output: Any) -> None:
    for key in ("text", "evalue"):
        if key in output:
            output[key] = _redact_source(output[key])
    if "traceback" in output:
        output["traceback"] = redact_value(list(output["traceback"]))
    data = output.get("data") or {}
    for mime in list(data):
        if mime.startswith("text/") or mime == "application/json":
            data[mime] = _redact_source(data[mime]) if mime.startswith("text/") else redact_value(data[mime])


def redact_notebook(nb: Any) -> Any:
    """Redact ``nb`` in place: the injected-parameters cell, every output, and papermill's parameters."""
    for cell in nb.get("cells", []):
        if _INJECTED_TAG in cell.get("metadata", {}).get("tags", []):
            cell["source"] = _redact_source(cell.get("source", ""))
        for output in cell.get("outputs", []):
            _redact_output(output)
    papermill = nb.get("metadata", {}).get("papermill")
    if isinstance(papermill, dict) and "parameters" in papermill:
        papermill["parameters"] = redact_value(papermill["parameters"])
    return nb


def redact_run_record(nb: Any, result: Any) -> None:
    """Redact a finished run's notebook, its result's parameters and error, and its kernel log, in place."""
    result.parameters = redact_value(result.parameters)
    if result.error_message:
        result.error_message = redact(result.error_message).text
    redact_notebook(nb)
    log = Path(result.output_path).parent / KERNEL_LOG
    if log.is_file():
        data = log.read_bytes()
        raw = data[-_LOG_LIMIT:].decode("utf-8", errors="replace")
        cleaned = redact(raw).text
        if cleaned != raw or len(data) > _LOG_LIMIT:
            log.write_text(cleaned, encoding="utf-8")


__all__ = ["KERNEL_LOG", "redact_notebook", "redact_run_record", "redact_value"]
