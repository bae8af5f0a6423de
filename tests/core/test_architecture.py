"""Architecture checks: import-light package, the layers of ARCHITECTURE.md, no import circles, small rooms.

Every check reads the source with ``ast`` rather than import-linter: it needs no extra tool and also covers
function-local and ``if TYPE_CHECKING:`` imports, which is what keeps the layers honest here. The checkers are
plain functions taking a package root (:func:`module_graph`, :func:`import_cycles`, :func:`sideways_imports`,
:func:`oversized_files`, :func:`long_functions`); they run on the real tree and, to prove they catch what they
claim, on a small synthetic package built in a temporary folder (``test_checkers_report_...``).
"""

from __future__ import annotations

import ast
import io
import subprocess
import sys
import textwrap
import tokenize
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "workbench"

LAYERS: dict[str, int] = {
    "errors": 0, "settings": 0, "_optional": 0, "_registry": 0, "_yaml": 0, "_lock": 0, "_sqlite": 0, "_lazy": 0, "__init__": 0, "__main__": 5,
    "telemetry": 1,
    "models": 2,
    "prompting": 3, "guardrails": 3, "rag": 3, "tuning": 3, "rubrics": 3,
    "playbooks": 4, "skills": 4, "copilots": 4,
    "widgets": 5, "cli": 5, "server": 5, "serving": 5, "labextension": 5,
}  # fmt: skip

#: Layers whose packages are siblings: independent of each other unless the pair is in ALLOWED_SIDEWAYS.
SIBLING_GROUPS: dict[str, frozenset[str]] = {
    "capabilities": frozenset({"prompting", "guardrails", "rag", "tuning", "rubrics"}),
    "orchestration": frozenset({"playbooks", "skills", "copilots"}),
}

#: The one list of allowed sideways imports (importer, imported) -> why the design wants that dependency.
#: Keep it short and acyclic; a pair nothing imports any more must go (a test checks both).
#: Not listed on purpose: skills -> playbooks (synthetic cohorts get the playbooks' task skills as data).
ALLOWED_SIDEWAYS: dict[tuple[str, str], str] = {
    ("prompting", "guardrails"): "every generation is guarded: preflight, output checks and stream redaction",
    ("rubrics", "guardrails"): "the PII scorer reuses the guardrails' detectors; review items are redacted",
    ("tuning", "rubrics"): "a tuned adapter's held-out answers are scored with the learners' rubrics",
    ("playbooks", "skills"): "validating a manifest checks its skill ids against the skills taxonomy",
}

#: The rooms-stay-small limits (ARCHITECTURE.md section 6).
MAX_FILE_LINES = 600
MAX_FUNCTION_CODE_LINES = 80
#: Source files the size limit applies to; data files (YAML templates, JSONL) are not rooms.
SOURCE_SUFFIXES = (".py", ".js", ".css")
#: Folders every check skips: build output (``labextension``: the built JupyterLab extension) and caches.
SKIPPED_DIRS = frozenset({"labextension", "__pycache__", "node_modules"})

#: Files allowed over MAX_FILE_LINES, path relative to ``workbench/`` -> why. Should stay empty: an entry is
#: a debt with a reason, removed when paid (test_size_allow_lists_are_current).
ALLOWED_BIG_FILES: dict[str, str] = {}
#: Functions allowed over MAX_FUNCTION_CODE_LINES, ``path:qualified.name`` -> why. Should stay empty too.
ALLOWED_LONG_FUNCTIONS: dict[str, str] = {}


# ------------------------------------------------------------------------------------------------ checkers


def _source_files(root: Path, suffixes: Iterable[str] = (".py",)) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and path.suffix in tuple(suffixes) and not SKIPPED_DIRS.intersection(rel.parts):
            yield path


def _module_name(root: Path, path: Path) -> str:
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _ancestors(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _explicit_targets(
    node: ast.Import | ast.ImportFrom, importer: str, is_pkg: bool, known: set[str]
) -> set[str]:
    """Modules an import names: ``import a.b`` -> a.b; ``from a import n`` -> a.n when a module, else a."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    base = node.module or ""
    if node.level:  # relative: from the importer's package, one level up per extra dot
        package = importer if is_pkg else importer.rpartition(".")[0]
        parts = package.split(".")
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join([*parts, base] if base else parts)
    return {f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names}


def _import_targets(
    node: ast.Import | ast.ImportFrom, importer: str, is_pkg: bool, known: set[str]
) -> set[str]:
    """Modules whose code runs because of an import statement, as far as the package tree knows them.

    The named modules, plus each enclosing package's ``__init__`` (Python runs it first), except packages
    that enclose the importer itself: those are already being imported when the importer runs.
    """
    explicit = _explicit_targets(node, importer, is_pkg, known)
    own = {importer, *_ancestors(importer)}
    implicit = {parent for target in explicit for parent in _ancestors(target)} - own
    return {m for m in explicit | implicit if m in known and m != importer}


def module_graph(root: Path) -> dict[str, set[str]]:
    """``module -> modules it imports`` for every module of the package at ``root``, any import anywhere.

    Imports inside functions and under ``if TYPE_CHECKING:`` count; relative imports are resolved; an import
    of a package counts as an import of its ``__init__``, and ``from pkg import name`` where ``name`` is a
    submodule as an import of that submodule. Importing ``a.b.c`` also runs ``a.b``'s ``__init__`` first, so
    that counts too, unless ``a.b`` encloses the importer (then it is already running: a submodule that
    imports a sibling by its absolute name is no circle). Imports outside the package are left out.
    """
    files = {_module_name(root, path): path for path in _source_files(root)}
    known = set(files)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        is_pkg = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[module] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                graph[module] |= _import_targets(node, module, is_pkg, known)
    return graph


def _strongly_connected(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def _cycle_path(graph: Mapping[str, set[str]], members: list[str]) -> list[str]:
    """One shortest circle through the first member of a strongly connected component (BFS inside it)."""
    inside, start = set(members), members[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph.get(node, set()) & inside):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    return [start]  # unreachable for a real component of two or more members


def import_cycles(graph: Mapping[str, set[str]]) -> list[str]:
    """Each import circle of ``graph`` as ``"a -> b -> a"``: one per group of modules that import each other,
    naming the whole group when it is larger than that one circle."""
    found = []
    for members in _strongly_connected(graph):
        if len(members) > 1:
            path = _cycle_path(graph, members)
            more = f" (one of the circles among {', '.join(members)})" if len(members) > len(path) - 1 else ""
            found.append(" -> ".join(path) + more)
    return found


def _group_of(module: str, groups: Mapping[str, frozenset[str]]) -> tuple[str, str] | None:
    top = module.split(".")[1] if "." in module else ""
    return next(((name, top) for name, members in groups.items() if top in members), None)


def sideways_edges(
    graph: Mapping[str, set[str]], groups: Mapping[str, frozenset[str]]
) -> dict[tuple[str, str], list[str]]:
    """``(importer package, imported package) -> ["module -> module", ...]`` for imports between siblings."""
    found: dict[tuple[str, str], list[str]] = {}
    for module, targets in sorted(graph.items()):
        own = _group_of(module, groups)
        if own is None:
            continue
        for target in sorted(targets):
            other = _group_of(target, groups)
            if other is not None and other[0] == own[0] and other[1] != own[1]:
                found.setdefault((own[1], other[1]), []).append(f"{module} -> {target}")
    return found


def sideways_imports(
    root: Path, groups: Mapping[str, frozenset[str]], allowed: Mapping[tuple[str, str], str]
) -> list[str]:
    """Imports between sibling packages of one layer that ``allowed`` does not list, one line each."""
    edges = sideways_edges(module_graph(root), groups)
    return [
        f"{line} ({importer} -> {imported} is not an allowed sideways pair)"
        for (importer, imported), lines in sorted(edges.items())
        if (importer, imported) not in allowed
        for line in lines
    ]


def oversized_files(root: Path, limit: int, suffixes: Iterable[str] = SOURCE_SUFFIXES) -> dict[str, int]:
    """``path relative to root -> line count`` for source files longer than ``limit`` lines."""
    sizes = {
        path.relative_to(root).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in _source_files(root, suffixes)
    }
    return {path: n for path, n in sizes.items() if n > limit}


_NOT_CODE = frozenset(
    {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
)


def _code_rows(source: str) -> set[int]:
    """Line numbers holding code (by tokenize: a '#' inside a string is no comment)."""
    rows: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in _NOT_CODE:
            rows.update(range(token.start[0], token.end[0] + 1))
    return rows


def _code_lines(code_rows: set[int], node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """A function's lines of code: from ``def`` to its end, less docstring, blank and comment-only lines."""
    lines = set(range(node.lineno, (node.end_lineno or node.lineno) + 1)) & code_rows
    first = node.body[0]
    value = first.value if isinstance(first, ast.Expr) else None
    if isinstance(value, ast.Constant) and isinstance(value.value, str):  # the docstring
        lines -= set(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return len(lines)


def long_functions(root: Path, limit: int) -> dict[str, int]:
    """``path:Qualified.name -> lines of code`` for functions and methods (nested ones too) over ``limit``."""
    found: dict[str, int] = {}
    for path in _source_files(root):
        source = path.read_text(encoding="utf-8")
        rows, rel = _code_rows(source), path.relative_to(root).as_posix()
        scopes: list[tuple[ast.AST, str]] = [(ast.parse(source, filename=str(path)), "")]
        while scopes:
            node, prefix = scopes.pop()
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    name = f"{prefix}{child.name}"
                    if not isinstance(child, ast.ClassDef) and (n := _code_lines(rows, child)) > limit:
                        found[f"{rel}:{name}"] = n
                    scopes.append((child, f"{name}."))
                else:
                    scopes.append((child, prefix))
    return found


# ---------------------------------------------------------------------------------------------- real tree


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
    names = {
        p.stem if p.is_file() else p.name
        for p in PKG.iterdir()
        if not p.name.startswith((".", "__pycache__"))
    }
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


def test_no_import_circles() -> None:
    cycles = import_cycles(module_graph(PKG))
    assert not cycles, "import circles (function-local and TYPE_CHECKING imports count):\n" + "\n".join(
        cycles
    )


def test_siblings_import_each_other_only_through_allowed_pairs() -> None:
    unlisted = sideways_imports(PKG, SIBLING_GROUPS, ALLOWED_SIDEWAYS)
    assert not unlisted, (
        "sideways imports between packages of one layer (pass data instead, or list the pair with a reason "
        "in ALLOWED_SIDEWAYS):\n" + "\n".join(unlisted)
    )


def test_allowed_sideways_pairs_are_siblings_used_and_acyclic() -> None:
    for importer, imported in ALLOWED_SIDEWAYS:
        groups = {
            _group_of(f"workbench.{importer}", SIBLING_GROUPS),
            _group_of(f"workbench.{imported}", SIBLING_GROUPS),
        }
        assert len({g and g[0] for g in groups}) == 1 and None not in groups, (
            f"{importer} -> {imported}: not siblings"
        )
    used = sideways_edges(module_graph(PKG), SIBLING_GROUPS)
    stale = sorted(f"{a} -> {b}" for a, b in ALLOWED_SIDEWAYS if (a, b) not in used)
    assert not stale, f"remove these pairs from ALLOWED_SIDEWAYS, nothing imports that way any more: {stale}"
    pairs: dict[str, set[str]] = {}
    for importer, imported in ALLOWED_SIDEWAYS:
        pairs.setdefault(importer, set()).add(imported)
    assert not import_cycles(pairs), "ALLOWED_SIDEWAYS must not allow a circle between packages"


def test_no_file_over_the_size_limit() -> None:
    big = {
        path: n for path, n in oversized_files(PKG, MAX_FILE_LINES).items() if path not in ALLOWED_BIG_FILES
    }
    assert not big, f"files over {MAX_FILE_LINES} lines (split them into named parts): " + ", ".join(
        f"{path} ({n})" for path, n in sorted(big.items())
    )


def test_no_function_over_the_size_limit() -> None:
    long = {
        name: n
        for name, n in long_functions(PKG, MAX_FUNCTION_CODE_LINES).items()
        if name not in ALLOWED_LONG_FUNCTIONS
    }
    assert not long, (
        f"functions over {MAX_FUNCTION_CODE_LINES} lines of code, docstring, blank and comment lines aside "
        "(make them named steps passing small dataclasses): "
        + ", ".join(f"{name} ({n})" for name, n in sorted(long.items()))
    )


def test_size_allow_lists_are_current() -> None:
    stale = sorted(set(ALLOWED_BIG_FILES) - set(oversized_files(PKG, MAX_FILE_LINES)))
    stale += sorted(set(ALLOWED_LONG_FUNCTIONS) - set(long_functions(PKG, MAX_FUNCTION_CODE_LINES)))
    assert not stale, f"these are within the limits now: remove them from the allow-lists: {stale}"


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


# -------------------------------------------------------------------------------- the checkers themselves


def _write_package(root: Path, files: Mapping[str, str]) -> Path:
    """Write ``files`` (path in the package -> source) as a package named ``workbench`` under ``root``."""
    package = root / "workbench"
    for rel, source in files.items():
        path = package / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    return package


SYNTHETIC: dict[str, str] = {
    "__init__.py": "",
    # (a) a circle that only shows through a function-local import
    "rag/__init__.py": "",
    "rag/index.py": "from workbench.rag.chain import Retriever\n",
    "rag/chain.py": """
        class Retriever:
            def index(self):
                from workbench.rag.index import build  # local import: still a circle

                return build
        """,
    # a circle through a relative import and a TYPE_CHECKING import
    "rubrics/__init__.py": "from .scorers import SCORERS\n",
    "rubrics/scorers/__init__.py": "from ..judge import Judge\nSCORERS = {'judge': Judge}\n",
    "rubrics/judge.py": """
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from workbench.rubrics.scorers.base import Scorer  # runs scorers/__init__ first
        class Judge: ...
        """,
    "rubrics/scorers/base.py": "class Scorer: ...\n",
    # (b) an unlisted sideways import (rag -> tuning), next to a listed one (prompting -> guardrails)
    "tuning/__init__.py": "",
    "tuning/trainer.py": "def train(): ...\n",
    "rag/evaluate.py": """
        def score():
            from workbench.tuning import trainer

            return trainer.train()
        """,
    "guardrails/__init__.py": "def redact(text): return text\n",
    "prompting/__init__.py": "",
    "prompting/runner.py": "from workbench.guardrails import redact\n",
    # what must NOT be reported: a submodule importing a sibling through its own package's absolute name
    "models/__init__.py": "from workbench.models.backends import load\n",
    "models/backends.py": "from workbench.models.generation import Params\ndef load(): ...\n",
    "models/generation.py": "class Params: ...\n",
}


def test_checkers_report_a_circle_through_a_local_import_and_an_unlisted_sideways_import(
    tmp_path: Path,
) -> None:
    package = _write_package(tmp_path, SYNTHETIC)
    graph = module_graph(package)
    assert "workbench.rag.index" in graph["workbench.rag.chain"]
    assert "workbench.tuning.trainer" in graph["workbench.rag.evaluate"]

    cycles = import_cycles(graph)
    assert "workbench.rag.chain -> workbench.rag.index -> workbench.rag.chain" in cycles
    assert any(
        set(c.split(" -> ")) == {"workbench.rubrics.judge", "workbench.rubrics.scorers"} for c in cycles
    ), cycles
    assert len(cycles) == 2, cycles  # models/ (a package importing its own submodules) is no circle

    unlisted = sideways_imports(package, SIBLING_GROUPS, ALLOWED_SIDEWAYS)
    assert unlisted == [
        "workbench.rag.evaluate -> workbench.tuning (rag -> tuning is not an allowed sideways pair)",
        "workbench.rag.evaluate -> workbench.tuning.trainer (rag -> tuning is not an allowed sideways pair)",
    ]
    # Listing the pair (with its reason) is what makes it pass.
    assert sideways_imports(package, SIBLING_GROUPS, {**ALLOWED_SIDEWAYS, ("rag", "tuning"): "test"}) == []


def test_checkers_report_big_files_and_long_functions(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}  # one line of code" for i in range(81))
    comments = "\n".join("    # a comment is no code" for _ in range(30))
    package = _write_package(
        tmp_path,
        {
            "__init__.py": "",
            "big.py": "\n".join(f"A{i} = {i}" for i in range(601)) + "\n",
            "small.py": "\n".join(f"A{i} = {i}" for i in range(600)) + "\n",
            "long.py": f'def long():\n{body}\n\n\nclass Box:\n    def method(self):\n        """Doc.\n\n'
            + "\n" * 40
            + '        """\n'
            + comments.replace("    #", "        #")
            + "\n"
            + "\n".join(f"        y{i} = {i}" for i in range(79))
            + "\n",
        },
    )
    assert oversized_files(package, MAX_FILE_LINES) == {"big.py": 601}
    # def + 81 statements: 82 lines, reported; def + 79 statements after a docstring and comments: 80, not.
    assert long_functions(package, MAX_FUNCTION_CODE_LINES) == {"long.py:long": 82}
