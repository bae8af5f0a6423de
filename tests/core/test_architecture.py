"""Architecture checks: import-light package, and the layers of ARCHITECTURE.md.

The layer check reads every module's imports (including those inside functions) with ``ast`` rather than
import-linter: it needs no extra tool and also covers lazy imports, which is what keeps layers honest here.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "workbench"

LAYERS: dict[str, int] = {
    "errors": 0, "settings": 0, "_optional": 0, "_registry": 0, "_yaml": 0, "_lock": 0, "_sqlite": 0, "_lazy": 0, "__init__": 0, "__main__": 5,
    "telemetry": 1,
    "models": 2,
    "prompting": 3, "guardrails": 3, "rag": 3, "tuning": 3, "rubrics": 3,
    "playbooks": 4, "skills": 4,
    "widgets": 5, "cli": 5, "server": 5, "labextension": 5,
}  # fmt: skip


def _top(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "workbench":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_every_top_level_module_has_a_layer() -> None:
    names = {p.stem if p.is_file() else p.name for p in PKG.iterdir() if not p.name.startswith((".", "__pycache__"))}
    names = {n for n in names if n not in {"py", "static"} and not n.endswith(".typed")}
    unknown = {n for n in names if n not in LAYERS and (PKG / n).suffix in {"", ".py"}}
    unknown = {n for n in unknown if (PKG / n).is_dir() or (PKG / f"{n}.py").exists()}
    assert not unknown, f"give these modules a layer in LAYERS: {sorted(unknown)}"


def test_modules_import_only_their_layer_and_below() -> None:
    violations = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG)
        own = rel.parts[0].removesuffix(".py")
        own_layer = LAYERS.get(own)
        if own_layer is None:
            continue
        for module in _imports(path):
            top = _top(module)
            if top is None or top == own or top == "__init__":
                continue
            layer = LAYERS.get(top)
            if layer is not None and layer > own_layer:
                violations.append(f"{rel} imports {module} (layer {layer} > {own_layer})")
            if own_layer == layer and own_layer in (3, 4, 5) and own in {"widgets", "cli", "server"}:
                violations.append(f"{rel} imports sibling edge {module}")
    assert not violations, "\n".join(sorted(violations))


@pytest.mark.parametrize(
    "statement",
    [
        "import workbench",
        "import workbench.telemetry",
        "import workbench.models",
        "import workbench.cli",
    ],
)
def test_import_stays_light(statement: str) -> None:
    code = (
        f"{statement}\n"
        "import sys\n"
        "heavy = [m for m in ('torch', 'transformers', 'langchain', 'langchain_core', 'papermill', 'pandas',"
        " 'peft', 'bitsandbytes', 'sentence_transformers') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"'{statement}' imported heavy modules: {out.stdout.strip()}"
