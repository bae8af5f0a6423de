"""Finding playbooks: the built-in pack, plugin packs, configured folders and explicit paths.

Built-ins register through the same door as plugins (datasette habit): :data:`packs` is a
:class:`~workbench._registry.Registry` over the ``workbench.playbooks`` entry-point group, and the built-in pack
is just its ``builtin`` entry. An entry point's object may be a folder path (``str`` / ``Path``), a module (its
folder is used) or a callable returning one or more folders. A folder is either one playbook (it holds a
``playbook.yaml``) or a pack (its sub-folders do).

Search order, first match of an id wins: explicit folders, ``settings.playbook_dirs``, ``./playbooks`` (where
``workbench playbook new`` writes), plugin packs, the built-in pack. So an author can shadow a built-in with a local copy while working on it.
"""

from __future__ import annotations

import sys
import sysconfig
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from workbench._registry import Registry
from workbench.errors import NotFoundError, ValidationError, WorkbenchError
from workbench.playbooks.manifest import MANIFEST_NAME, PlaybookManifest, load_manifest

#: Playbook packs by name: the ``workbench.playbooks`` entry-point group plus the built-in pack.
packs: Registry[Any] = Registry("playbook pack", "workbench.playbooks")


def builtin_pack_dir() -> Path:
    """The built-in pack: the checkout's ``playbooks/`` or the wheel's ``share/workbench/playbooks``."""
    root = Path(__file__).resolve().parent.parent.parent
    here = root / "playbooks"
    if here.is_dir() and (root / "pyproject.toml").is_file():  # a source checkout, not site-packages
        return here
    candidates = [Path(sys.prefix), Path(sysconfig.get_path("data"))]
    user_base = sysconfig.get_config_var("userbase")
    if user_base:
        candidates.append(Path(user_base))
    for base in candidates:
        shared = base / "share" / "workbench" / "playbooks"
        if shared.is_dir():
            return shared
    return here  # absent: the pack is simply empty


packs.register("builtin", builtin_pack_dir)


@dataclass(frozen=True)
class Playbook:
    """A playbook found on disk: its manifest, its folder and where it was found.

    Attributes:
        manifest: The validated manifest.
        root: The playbook's folder.
        source: ``builtin``, ``plugin:<name>``, ``settings``, ``cwd`` or ``path``.
    """

    manifest: PlaybookManifest
    root: Path
    source: str = "path"

    @property
    def id(self) -> str:
        """The playbook id."""
        return self.manifest.id

    @property
    def manifest_path(self) -> Path:
        """The ``playbook.yaml`` file."""
        return self.root / MANIFEST_NAME

    @property
    def notebook_path(self) -> Path:
        """The playbook's notebook."""
        return self.root / self.manifest.notebook_name

    def summary(self) -> dict[str, Any]:
        """A JSON-ready listing row."""
        m = self.manifest
        return {
            "id": m.id,
            "title": m.title,
            "version": m.version,
            "summary": m.summary,
            "audience": list(m.audience),
            "estimated_minutes": m.estimated_minutes,
            "skills": dict(m.skills),
            "tasks": [t.id for t in m.tasks],
            "source": self.source,
            "path": str(self.root),
        }


@dataclass
class Catalog:
    """The result of discovery: playbooks by id plus what could not be loaded.

    Attributes:
        playbooks: Id -> playbook, in search order.
        broken: Folder name -> the error that stopped its manifest from loading.
        shadowed: Playbooks hidden by an earlier one with the same id.
        plugin_failures: Pack name -> why the plugin failed to load.
    """

    playbooks: dict[str, Playbook] = field(default_factory=dict)
    broken: dict[str, WorkbenchError] = field(default_factory=dict)
    shadowed: list[Playbook] = field(default_factory=list)
    plugin_failures: dict[str, str] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Playbook]:
        return iter(self.playbooks.values())

    def __len__(self) -> int:
        return len(self.playbooks)

    def __contains__(self, playbook_id: object) -> bool:
        return playbook_id in self.playbooks


def load_playbook(path: str | Path, *, source: str = "path") -> Playbook:
    """Load the playbook in folder ``path`` (or from its ``playbook.yaml``).

    Raises:
        NotFoundError: When there is no such folder.
        ValidationError: When the manifest is invalid (naming file, line and field).
    """
    path = Path(path).expanduser()
    if path.is_file() and path.name == MANIFEST_NAME:
        path = path.parent
    if not path.is_dir():
        raise NotFoundError(
            f"no playbook folder at '{path}'",
            file=path,
            hint="pass a playbook id (see `workbench playbook list`) or a folder holding playbook.yaml",
        )
    return Playbook(manifest=load_manifest(path), root=path.resolve(), source=source)


def _folders_of(obj: Any) -> list[Path]:
    if isinstance(obj, ModuleType):
        return [Path(obj.__file__).parent] if obj.__file__ else []
    if isinstance(obj, str | Path):
        return [Path(obj)]
    if callable(obj):
        return _folders_of(obj())
    if isinstance(obj, Iterable):
        return [p for item in obj for p in _folders_of(item)]
    raise TypeError(
        f"a playbook pack must be a folder, a module or a callable returning folders, not {obj!r}"
    )


def _playbook_dirs(folder: Path) -> list[Path]:
    """``folder`` itself when it is a playbook, else its sub-folders that are (sorted)."""
    if (folder / MANIFEST_NAME).is_file():
        return [folder]
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and (p / MANIFEST_NAME).is_file())


def _sources(extra_dirs: Iterable[str | Path], catalog: Catalog) -> list[tuple[str, Path]]:
    from workbench.settings import get_settings

    out: list[tuple[str, Path]] = [("path", Path(d).expanduser()) for d in extra_dirs]
    out += [("settings", Path(d).expanduser()) for d in get_settings().playbook_dirs]
    local = Path.cwd() / "playbooks"  # where `workbench playbook new` writes by default
    if local.resolve() != builtin_pack_dir().resolve():  # in the source checkout it *is* the built-in pack
        out.append(("cwd", local))
    plugin_names = [n for n in packs.names() if n != "builtin"]
    for name in [*plugin_names, "builtin"]:
        try:
            folders = _folders_of(packs.get(name))
        except WorkbenchError as exc:
            catalog.plugin_failures[name] = exc.message
            continue
        except Exception as exc:  # a broken plugin must not break discovery
            catalog.plugin_failures[name] = f"{type(exc).__name__}: {exc}"
            continue
        label = "builtin" if name == "builtin" else f"plugin:{name}"
        out += [(label, f) for f in folders]
    catalog.plugin_failures.update(packs.load_failures)
    return out


def discover_playbooks(extra_dirs: Iterable[str | Path] = ()) -> Catalog:
    """Every playbook Workbench can see (see the module docstring for the order)."""
    catalog = Catalog()
    seen: set[Path] = set()
    for source, folder in _sources(extra_dirs, catalog):
        for pb_dir in _playbook_dirs(folder):
            if pb_dir.resolve() in seen:  # the same folder through two doors (./playbooks in the checkout)
                continue
            seen.add(pb_dir.resolve())
            try:
                playbook = load_playbook(pb_dir, source=source)
            except ValidationError as exc:
                catalog.broken.setdefault(pb_dir.name, exc)
                continue
            if playbook.id in catalog.playbooks:
                catalog.shadowed.append(playbook)
            else:
                catalog.playbooks[playbook.id] = playbook
    return catalog


def get_playbook(id_or_path: str | Path | Playbook, extra_dirs: Iterable[str | Path] = ()) -> Playbook:
    """A playbook by id, or by folder path (anything containing a path separator or that exists).

    Raises:
        NotFoundError: For an unknown id, listing the known ones.
        ValidationError: When the playbook exists but its manifest is invalid.
    """
    if isinstance(id_or_path, Playbook):
        return id_or_path
    text = str(id_or_path)
    candidate = Path(text).expanduser()
    if (
        isinstance(id_or_path, Path)
        or "/" in text
        or text.endswith(".yaml")
        or (candidate / MANIFEST_NAME).is_file()
    ):
        return load_playbook(candidate)
    catalog = discover_playbooks(extra_dirs)
    if text in catalog.playbooks:
        return catalog.playbooks[text]
    if text in catalog.broken:
        raise catalog.broken[text]
    known = ", ".join(catalog.playbooks) or "none"
    raise NotFoundError(
        f"unknown playbook '{text}'",
        field="playbook",
        hint=f"known playbooks: {known}. Add folders with WORKBENCH_PLAYBOOK_DIRS or pass a path",
    )


def filter_playbooks(
    playbooks: Iterable[Playbook], *, skill: str | None = None, role: str | None = None
) -> list[Playbook]:
    """The playbooks that practise ``skill`` and suit ``role``: the catalog filters (sidebar and CLI).

    A playbook practises a skill when its manifest or one of its tasks maps the skill; it suits a role when its
    audience lists the role or is empty (a playbook for everyone). ``None`` or ``""`` filters nothing.
    """
    return [pb for pb in playbooks if _practises(pb.manifest, skill) and _suits(pb.manifest, role)]


def _practises(manifest: PlaybookManifest, skill: str | None) -> bool:
    return not skill or skill in manifest.skills or any(skill in (t.skills or {}) for t in manifest.tasks)


def _suits(manifest: PlaybookManifest, role: str | None) -> bool:
    return not role or not manifest.audience or role in manifest.audience


def task_skill_weights(playbooks: Iterable[Playbook] | None = None) -> dict[str, dict[str, dict[str, float]]]:
    """``{playbook_id: {task_id: {skill_id: weight}}}`` for the tasks that map skills of their own.

    What a synthetic cohort needs to practise real lessons (``workbench.skills.generate_cohort(playbooks=...)``).
    Tasks that inherit the playbook's skills are left out, and so are playbooks without such tasks.

    Args:
        playbooks: The playbooks to read; default the built-in pack (an invalid manifest there is skipped).
    """
    if playbooks is None:
        playbooks = _builtin_playbooks()
    out: dict[str, dict[str, dict[str, float]]] = {}
    for pb in playbooks:
        tasks = {t.id: dict(t.skills) for t in pb.manifest.tasks if t.skills}
        if tasks:
            out[pb.id] = tasks
    return out


def _builtin_playbooks() -> list[Playbook]:
    found = []
    for folder in _playbook_dirs(builtin_pack_dir()):
        try:
            found.append(load_playbook(folder, source="builtin"))
        except ValidationError:
            continue
    return found

