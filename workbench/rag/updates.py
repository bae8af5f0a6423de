"""What an update of an index changed: :class:`UpdateReport` (returned by ``RagIndex.add``/``remove``/``sync``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.rag.ingest import SkippedDocument


@dataclass
class UpdateReport:
    """What :meth:`RagIndex.add` / :meth:`RagIndex.remove` changed."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[SkippedDocument] = field(default_factory=list)
    chunks_added: int = 0
    chunks_removed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "added": self.added,
            "replaced": self.replaced,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "skipped": [s.to_dict() for s in self.skipped],
            "chunks_added": self.chunks_added,
            "chunks_removed": self.chunks_removed,
        }

    def summary(self) -> str:
        """Human-readable lines for the CLI."""
        lines = [
            f"added {len(self.added)}, replaced {len(self.replaced)}, unchanged {len(self.unchanged)}, "
            f"removed {len(self.removed)} documents ({self.chunks_added} chunks embedded, "
            f"{self.chunks_removed} removed)"
        ]
        lines += [f"  skipped {s.source}: {s.reason}" for s in self.skipped]
        return "\n".join(lines)
