"""The lazy-export helper: names load on first use, once; unknown names fail clearly; every lazy package uses it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from workbench._lazy import lazy_exports

PKG = Path(__file__).resolve().parents[2] / "workbench"

PACKAGE = """
from workbench._lazy import lazy_exports

_EXPORTS = {"heavy": ("Heavy", "missing"), "lazypkg_far.deep": ("Far",)}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), eager=("light",))
light = 1
"""


def test_names_load_on_first_use_and_once(tmp_path: Path) -> None:
    (tmp_path / "lazypkg").mkdir()
    (tmp_path / "lazypkg" / "__init__.py").write_text(PACKAGE)
    (tmp_path / "lazypkg" / "heavy.py").write_text("import builtins\nbuiltins.LOADS += 1\nclass Heavy: ...\n")
    (tmp_path / "lazypkg_far").mkdir()
    (tmp_path / "lazypkg_far" / "__init__.py").write_text("")
    (tmp_path / "lazypkg_far" / "deep.py").write_text("Far = 42\n")
    code = """
import builtins, sys
builtins.LOADS = 0
import lazypkg
assert "lazypkg.heavy" not in sys.modules and builtins.LOADS == 0
assert {"Heavy", "Far", "missing"} <= set(dir(lazypkg))
assert lazypkg.__all__ == ["Far", "Heavy", "light", "missing"]
first = lazypkg.Heavy
assert "lazypkg.heavy" in sys.modules and builtins.LOADS == 1
assert lazypkg.__dict__["Heavy"] is first  # cached: the next lookup skips __getattr__
from lazypkg import Heavy
assert Heavy is first and builtins.LOADS == 1
assert lazypkg.Far == 42  # an absolute module name
for name in ("Nope", "missing"):
    try:
        getattr(lazypkg, name)
    except AttributeError as exc:
        print(name, exc)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.splitlines() == [
        "Nope module 'lazypkg' has no attribute 'Nope'",
        "missing module 'lazypkg.heavy' has no attribute 'missing'",
    ]


def test_a_name_under_two_modules_is_refused() -> None:
    with pytest.raises(ValueError, match=r"'Twice' is exported from both 'pkg\.one' and 'pkg\.two'"):
        lazy_exports("pkg", {"one": ("Twice",), "two": ("Twice",)}, {})


def test_lazy_packages_use_the_one_helper() -> None:
    """No package writes its own module ``__getattr__``: each goes through workbench._lazy."""
    users = []
    for init in PKG.rglob("__init__.py"):
        tree = ast.parse(init.read_text())
        own = [
            n.name
            for n in tree.body
            if isinstance(n, ast.FunctionDef) and n.name in ("__getattr__", "__dir__")
        ]
        assert not own, f"{init.relative_to(PKG)} defines {own}; use workbench._lazy.lazy_exports"
        if "lazy_exports(" in init.read_text():
            users.append(init.parent.name)
    assert {"models", "playbooks", "rag", "skills", "tuning", "widgets"} <= set(users)
