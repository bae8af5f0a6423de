"""What ``workbench playbook validate`` reports: :class:`Problem`, each naming the file, field and fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from workbench.errors import WorkbenchError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a playbook.

    Attributes:
        file: The file at fault.
        message: What is wrong.
        field: The dotted field (or ``cells[i]``) at fault.
        line: 1-based line, when known.
        hint: How to fix it.
        severity: ``error`` (fails validation) or ``warning``.
    """

    file: str
    message: str
    field: str | None = None
    line: int | None = None
    hint: str | None = None
    severity: Literal["error", "warning"] = "error"

    @classmethod
    def of(cls, exc: WorkbenchError, *, severity: Literal["error", "warning"] = "error") -> Problem:
        """A problem from a Workbench error."""
        return cls(exc.file or "", exc.message, exc.field, exc.line, exc.hint, severity)

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        field = f" (field '{self.field}')" if self.field else ""
        hint = f"\n    hint: {self.hint}" if self.hint else ""
        return f"{self.severity}: {where}{field}: {self.message}{hint}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "field": self.field,
            "message": self.message,
            "hint": self.hint,
        }


def errors_only(problems: list[Problem]) -> list[Problem]:
    """The problems that fail validation."""
    return [p for p in problems if p.severity == "error"]


__all__ = ["Problem", "errors_only"]
