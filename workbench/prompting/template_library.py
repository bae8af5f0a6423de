"""The template library: every template in the built-in folder, ``<data_dir>/templates`` and extra folders.

Templates are looked up by ``id`` or ``id@version`` (default: the latest version); a later folder overrides an
earlier one for the same ``id@version``, so a team can patch a built-in.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from workbench.errors import NotFoundError, ValidationError
from workbench.prompting.templates import PromptTemplate, RenderedPrompt, load_template

BUILTIN_DIR = Path(__file__).with_name("templates")


def template_dirs(extra: Iterable[str | Path] = ()) -> list[Path]:
    """Folders searched for templates, lowest precedence first: built-ins, ``<data_dir>/templates``, ``extra``."""
    from workbench.settings import get_settings

    dirs = [BUILTIN_DIR, get_settings().data_dir / "templates", *(Path(d).expanduser() for d in extra)]
    return [d for d in dirs if d.is_dir()]


class TemplateLibrary:
    """Every template found in a set of folders, by id and version.

    Later folders override earlier ones for the same ``id@version`` (a team can patch a built-in).
    """

    def __init__(self, dirs: Sequence[str | Path] | None = None) -> None:
        self.dirs = [Path(d) for d in dirs] if dirs is not None else template_dirs()
        self._by_id: dict[str, dict[int, PromptTemplate]] = {}
        for folder in self.dirs:
            for path in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
                tpl = load_template(path)
                self._by_id.setdefault(tpl.id, {})[tpl.version] = tpl

    def ids(self) -> list[str]:
        """Sorted template ids."""
        return sorted(self._by_id)

    def templates(self, *, all_versions: bool = False) -> list[PromptTemplate]:
        """The latest version of each template (or every version)."""
        out: list[PromptTemplate] = []
        for tid in self.ids():
            versions = self._by_id[tid]
            out.extend(versions[v] for v in sorted(versions)) if all_versions else out.append(versions[max(versions)])
        return out

    def versions(self, template_id: str) -> list[int]:
        """The versions of ``template_id``, ascending."""
        return sorted(self._by_id.get(template_id, {}))

    def get(self, ref: str, version: int | None = None) -> PromptTemplate:
        """A template by ``id``, ``id@version`` or ``id`` plus ``version`` (default: the latest).

        Raises:
            NotFoundError: Unknown id or version (with close matches in the hint).
        """
        tid, ver = parse_ref(ref)
        ver = version if version is not None else ver
        versions = self._by_id.get(tid)
        if not versions:
            close = difflib.get_close_matches(tid, self.ids(), n=3)
            hint = f"did you mean {', '.join(close)}?" if close else "run 'workbench template list' to see them"
            raise NotFoundError(f"unknown template '{ref}'", hint=hint, field="template")
        if ver is None:
            return versions[max(versions)]
        if ver not in versions:
            raise NotFoundError(
                f"template '{tid}' has no version {ver}",
                hint=f"available versions: {sorted(versions)}",
                field="template",
            )
        return versions[ver]


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``"summarise@2"`` -> ``("summarise", 2)``; ``"summarise"`` -> ``("summarise", None)``."""
    if "@" not in ref:
        return ref.strip(), None
    tid, _, ver = ref.partition("@")
    ver = ver.strip().lstrip("v")
    if not ver.isdigit():
        raise ValidationError(f"bad template reference '{ref}'", hint="use id or id@version, e.g. summarise@2", field="template")
    return tid.strip(), int(ver)


_LIBRARIES: dict[tuple[str, ...], TemplateLibrary] = {}


def library(dirs: Sequence[str | Path] | None = None, *, reload: bool = False) -> TemplateLibrary:
    """The template library for ``dirs`` (default: built-ins + ``<data_dir>/templates``), cached."""
    resolved = [Path(d) for d in dirs] if dirs is not None else template_dirs()
    key = tuple(str(d) for d in resolved)
    if reload or key not in _LIBRARIES:
        _LIBRARIES[key] = TemplateLibrary(resolved)
    return _LIBRARIES[key]


def get_template(ref: str | PromptTemplate, *, version: int | None = None, dirs: Sequence[str | Path] | None = None) -> PromptTemplate:
    """A template by ``id`` / ``id@version``, or a YAML path (anything ending in .yaml/.yml)."""
    if isinstance(ref, PromptTemplate):
        return ref
    if ref.endswith((".yaml", ".yml")):
        return load_template(ref)
    return library(dirs).get(ref, version)


def list_templates(*, all_versions: bool = False, dirs: Sequence[str | Path] | None = None) -> list[PromptTemplate]:
    """Every template (latest versions unless ``all_versions``)."""
    return library(dirs).templates(all_versions=all_versions)


def render(ref: str | PromptTemplate, variables: Mapping[str, Any] | None = None, **kwargs: Any) -> RenderedPrompt:
    """Shortcut: ``get_template(ref).render(variables, **kwargs)``."""
    return get_template(ref).render(variables, **kwargs)
