"""Write ``workbench/models/data/embedding-calibration.jsonl``: the texts that calibrate the int8 embedding export.

``openvino-int8`` (``workbench.models.embedding_quantize``) is static quantization: NNCF runs the float model over
a few hundred texts to learn the range of each activation. Those texts ship with the package (the export runs
offline, on the learner's machine), so they must be fixed and free to redistribute, and they must not be the
retrieval benchmark's corpus (``datasets/corpus``: Python standard library docstrings), or the quality figures of
``bench/ingest.py`` would flatter the int8 variant.

They are Workbench's own docstrings and Markdown documentation (this repository's text, under its licence): module,
class and function docstrings read with ``ast`` (nothing is imported) and the READMEs' paragraphs, packed into
texts of 200-1,000 characters as the default chunker makes them. Run from the repository root:
``python datasets/calibration/make_calibration.py`` (an unchanged tree gives the same file). The shipped file is
fixed: regenerating it after the docs change would change what ``openvino-int8`` computes, so bump
``EXPORT_VERSION`` in ``workbench/models/embedding_export.py`` when you do.
"""

from __future__ import annotations

import ast
import json
import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "workbench" / "models" / "data" / "embedding-calibration.jsonl"
COUNT = 320
SEED = 7


def _docstrings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef))]
    return [d for d in (ast.get_docstring(n) for n in nodes) if d]


def _paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if len(p.strip()) > 40]


def _packed(paragraphs: list[str], size: int = 1000) -> list[str]:
    """Paragraphs joined into texts of at most ``size`` characters (longer ones cut), as a chunker would."""
    texts, current = [], ""
    for p in paragraphs:
        if current and len(current) + len(p) + 2 > size:
            texts.append(current)
            current = ""
        current = f"{current}\n\n{p}" if current else p[:size]
    if current:
        texts.append(current)
    return [t for t in texts if len(t) >= 200]


def main() -> None:
    paragraphs: list[str] = []
    for path in sorted((ROOT / "workbench").rglob("*.py")):
        for doc in _docstrings(path):
            paragraphs.extend(_paragraphs(doc))
    for path in sorted([ROOT / "README.md", *(ROOT / "playbooks").glob("README.md"), *(ROOT / "extensions").rglob("README.md")]):
        if "node_modules" not in path.parts:
            paragraphs.extend(p for p in _paragraphs(path.read_text(encoding="utf-8")) if not p.startswith(("|", "```")))
    texts = _packed(paragraphs)
    chosen = sorted(random.Random(SEED).sample(range(len(texts)), min(COUNT, len(texts))))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as f:
        for i in chosen:
            f.write(json.dumps({"text": texts[i]}, ensure_ascii=False) + "\n")
    print(f"{OUT.relative_to(ROOT)}: {len(chosen)} texts from {len(texts)} candidates")


if __name__ == "__main__":
    main()
