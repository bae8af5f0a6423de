"""The Workbench error tree.

Every error a user can cause carries an actionable message: what was wrong, where (file, line, field) and how
to fix it (``hint``). The CLI prints these without a traceback; library callers catch :class:`WorkbenchError`.
"""

from __future__ import annotations

from pathlib import Path


class WorkbenchError(Exception):
    """Base class of every error Workbench raises on purpose.

    Args:
        message: What went wrong, in one sentence.
        hint: How to fix it.
        file: The file at fault, when there is one.
        line: The 1-based line number in ``file``.
        field: The field (dotted path) at fault.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.hint = hint
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field
        super().__init__(self.__str__())

    @property
    def location(self) -> str:
        """``file:line (field)`` for the parts that are known, or ``""``."""
        where = self.file or ""
        if self.file and self.line is not None:
            where += f":{self.line}"
        if self.field:
            where = f"{where} (field '{self.field}')" if where else f"field '{self.field}'"
        return where

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form, used by ``--json`` output and the server's error responses."""
        return {
            "error": type(self).__name__,
            "message": self.message,
            "hint": self.hint,
            "file": self.file,
            "line": self.line,
            "field": self.field,
        }


class ConfigError(WorkbenchError):
    """Settings or a configuration file are invalid."""


class ValidationError(WorkbenchError):
    """A user file (manifest, rubric, dataset, taxonomy...) does not match its schema."""


class MissingExtraError(WorkbenchError):
    """An optional dependency is not installed."""

    def __init__(self, package: str, extra: str | None = None) -> None:
        hint = f"pip install 'workbench[{extra}]'" if extra else f"pip install {package}"
        super().__init__(f"this feature needs the package '{package}', which is not installed", hint=hint)
        self.package = package
        self.extra = extra


class PluginError(WorkbenchError):
    """A plugin (entry point) failed to load or is not registered."""


class NotFoundError(WorkbenchError):
    """A named thing (model, template, playbook, rubric, index...) does not exist."""


class ModelError(WorkbenchError):
    """Base for model runtime errors."""


class ModelNotFoundError(ModelError, NotFoundError):
    """No model source knows this name."""


class ModelLoadError(ModelError):
    """A model folder exists but cannot be loaded (corrupt, incomplete, pickle-only)."""


class OfflineError(ModelError):
    """A hub model was requested while the hub cannot be reached."""


class QuantizationError(ModelError):
    """The requested bit width cannot run on this device."""


class EndpointError(ModelError):
    """An OpenAI-compatible HTTP endpoint is unreachable or answered with an error."""


class ContextLengthError(ModelError):
    """A prompt is longer than the model's context window."""


class StoreError(WorkbenchError):
    """The telemetry store cannot be opened, read or written."""


class PolicyViolation(WorkbenchError):
    """A guardrail policy blocked a request (denied model, term, budget, rate limit)."""


class RunError(WorkbenchError):
    """A playbook or training run failed."""


class PromotionError(WorkbenchError):
    """A copilot version may not be promoted or rolled back (a gate failed, no evaluation, nothing to restore)."""
