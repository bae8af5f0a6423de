"""Build the shipped retrieval corpus from the running Python's standard library docstrings.

Deterministic for a given Python version: modules, members and sections are written in a fixed order and no
timestamps are written. Run from the repository root::

    python datasets/corpus/make_corpus.py            # writes datasets/corpus/docs/
    python datasets/corpus/make_corpus.py --check    # exits 1 if docs/ differs from what it would write

Most pages are Markdown; a few are written as HTML, plain text and one as PDF so that the corpus exercises
every format the ingest step reads. The text is the modules' own docstrings (Python Software Foundation
License Version 2; see README.md).
"""

from __future__ import annotations

import argparse
import html
import importlib
import inspect
import re
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "docs"
PAGE_LIMIT = 24_000  # characters per page; members past it are left out (whole sections only)

#: topic folder -> modules. The folder is part of each page's source id (``data/json.md``).
TOPICS: dict[str, list[str]] = {
    "text": ["re", "string", "textwrap", "difflib", "unicodedata", "html", "html.parser", "shlex", "fnmatch"],
    "data": [
        "json", "csv", "pickle", "copy", "pprint", "enum", "dataclasses", "struct", "configparser", "tomllib",
        "base64", "binascii", "xml.etree.ElementTree", "plistlib", "shelve",
    ],
    "collections": ["collections", "heapq", "bisect", "array", "weakref", "graphlib", "queue"],
    "numeric": ["math", "cmath", "decimal", "fractions", "random", "statistics", "numbers", "operator"],
    "functional": ["itertools", "functools", "contextlib", "abc", "typing"],
    "files": [
        "os.path", "pathlib", "shutil", "glob", "tempfile", "filecmp", "fileinput", "io", "stat", "linecache",
    ],
    "compression": ["zlib", "gzip", "bz2", "lzma", "zipfile", "tarfile"],
    "crypto": ["hashlib", "hmac", "secrets", "uuid"],
    "dates": ["datetime", "time", "calendar", "zoneinfo", "sched"],
    "concurrency": ["threading", "subprocess", "concurrent.futures", "selectors", "signal"],
    "internet": ["urllib.parse", "urllib.request", "http.client", "ipaddress", "socket", "email.message", "smtplib"],
    "dev": [
        "logging", "argparse", "unittest", "doctest", "timeit", "traceback", "warnings", "inspect", "pdb",
        "tracemalloc", "sqlite3", "platform", "locale", "gettext", "importlib", "sys",
    ],
}  # fmt: skip

#: pages written in another format than Markdown, to exercise the other readers.
HTML_PAGES = {"html.parser", "csv", "glob", "secrets", "sched", "ipaddress"}
TEXT_PAGES = {"shlex", "bisect", "fractions", "linecache", "calendar", "smtplib"}
PDF_PAGES = {"textwrap"}


def _doc(obj: object) -> str:
    """The object's own docstring (never an inherited one), cleaned."""
    raw = getattr(obj, "__doc__", None)
    if not isinstance(raw, str) or not raw.strip():
        return ""
    text = inspect.cleandoc(raw)
    # Addresses in reprs differ between runs; keep the corpus byte-stable.
    return re.sub(r" at 0x[0-9a-f]+", "", text)


def _signature(obj: object) -> str:
    try:
        sig = str(inspect.signature(obj))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "(...)"
    # Addresses and the interpreter's path are machine-specific.
    sig = re.sub(r" at 0x[0-9a-f]+", "", sig).replace(repr(sys.executable), "sys.executable")
    return sig if len(sig) < 160 else sig[:157] + "...)"


def _public_names(module: object) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in dir(module) if not n.startswith("_")]
    return sorted(set(names))


def _owned(module: object, obj: object) -> bool:
    owner = getattr(obj, "__module__", None)
    name = module.__name__  # type: ignore[attr-defined]
    if owner is None:
        return False
    # C accelerators (_json, _csv, _datetime...) document the public module's objects.
    return owner == name or owner.lstrip("_") == name.split(".")[-1] or owner.startswith(name + ".")


def collect(module_name: str) -> dict[str, object]:
    """The module's documented members: title, intro, functions, classes (with methods), constants."""
    module = importlib.import_module(module_name)
    doc = _doc(module)
    first, _, rest = doc.partition("\n")
    if rest and not rest.startswith("\n"):  # the first line is not a title of its own
        first, rest = "", doc
    functions: list[tuple[str, str, str]] = []
    classes: list[tuple[str, str, str, list[tuple[str, str, str]]]] = []
    for name in _public_names(module):
        obj = getattr(module, name, None)
        if obj is None or inspect.ismodule(obj) or not _owned(module, obj):
            continue
        if inspect.isclass(obj):
            methods = []
            for mname, member in sorted(vars(obj).items()):
                if mname.startswith("_") and mname != "__init__":
                    continue
                func = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
                if isinstance(member, property):
                    func = member.fget
                mdoc = _doc(func) if callable(func) or isinstance(member, property) else ""
                if not mdoc or (mname == "__init__" and mdoc.startswith("Initialize self.")):
                    continue
                msig = "" if isinstance(member, property) else _signature(func)
                methods.append((mname, msig, mdoc))
            cdoc = _doc(obj)
            if cdoc or methods:
                classes.append((name, _signature(obj), cdoc, methods))
        elif callable(obj):
            fdoc = _doc(obj)
            if fdoc:
                functions.append((name, _signature(obj), fdoc))
    return {"name": module_name, "title": first.strip(), "intro": rest.strip(), "functions": functions,
            "classes": classes}  # fmt: skip


def _sections(info: dict[str, object]) -> list[tuple[int, str, str]]:
    """(level, heading, body) sections of a page, cut to PAGE_LIMIT characters."""
    name = str(info["name"])
    title = str(info["title"]) or f"The {name} module"
    out: list[tuple[int, str, str]] = [(1, f"{name} — {title}", str(info["intro"]))]
    size = len(out[0][1]) + len(out[0][2])
    more: list[tuple[int, str, str]] = []
    functions = info["functions"]
    classes = info["classes"]
    assert isinstance(functions, list) and isinstance(classes, list)
    if functions:
        more.append((2, "Functions", ""))
        more += [(3, f"{name}.{fname}{sig}", fdoc) for fname, sig, fdoc in functions]
    if classes:
        more.append((2, "Classes", ""))
        for cname, sig, cdoc, methods in classes:
            more.append((3, f"class {name}.{cname}{sig}", cdoc))
            more += [(4, f"{cname}.{mname}{msig}", mdoc) for mname, msig, mdoc in methods]
    for section in more:
        cost = len(section[1]) + len(section[2]) + 8
        if size + cost > PAGE_LIMIT:
            break
        out.append(section)
        size += cost
    return out


def _is_code(line: str) -> bool:
    return line.startswith(("    ", "\t", ">>>", "...")) and bool(line.strip())


def _fence(body: str) -> str:
    """Markdown body: doctest and indented blocks fenced as code, stray ``#`` lines escaped."""
    lines = body.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(">>>"):  # a doctest block runs to the next blank line
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i])
                i += 1
            out += ["```", *block, "```"]
            continue
        if _is_code(line):
            block = []
            while i < len(lines) and (_is_code(lines[i]) or not lines[i].strip()):
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():
                block.pop()
                i -= 1
            out += ["```", *block, "```"]
            continue
        out.append("\\" + line if line.startswith("#") else line)
        i += 1
    return "\n".join(out)


def render_markdown(sections: list[tuple[int, str, str]]) -> str:
    parts = []
    for level, heading, body in sections:
        parts.append(f"{'#' * level} {heading}\n")
        if body:
            parts.append(_fence(body) + "\n")
    return "\n".join(parts)


def render_text(sections: list[tuple[int, str, str]]) -> str:
    parts = []
    for level, heading, body in sections:
        underline = "=-~."[level - 1] * min(len(heading), 78)
        parts.append(f"{heading}\n{underline}\n")
        if body:
            parts.append(body + "\n")
    return "\n".join(parts)


def render_html(sections: list[tuple[int, str, str]]) -> str:
    title = html.escape(sections[0][1])
    parts = ["<!DOCTYPE html>", '<html lang="en">', f"<head><meta charset=\"utf-8\"><title>{title}</title>",
             "<style>body{font-family:sans-serif}</style></head>", "<body>"]  # fmt: skip
    for level, heading, body in sections:
        parts.append(f"<h{level}>{html.escape(heading)}</h{level}>")
        for para in re.split(r"\n\s*\n", body):
            if para.strip():
                parts.append(f"<p>{html.escape(para)}</p>")
    parts += ["<script>var ignored = 'scripts are not text';</script>", "</body>", "</html>", ""]
    return "\n".join(parts)


def render_pdf(sections: list[tuple[int, str, str]]) -> bytes:
    """A small, valid PDF (Helvetica text, one text object per page) without any PDF library."""
    lines: list[str] = []
    for _level, heading, body in sections:
        lines += ["", heading, ""]
        for raw in body.splitlines():
            while len(raw) > 95:
                lines.append(raw[:95])
                raw = raw[95:]
            lines.append(raw)
    return simple_pdf(lines)


def simple_pdf(lines: list[str], per_page: int = 60) -> bytes:
    """Write ``lines`` of Windows-1252 text into a minimal multi-page PDF."""
    pages = [lines[i : i + per_page] for i in range(0, max(len(lines), 1), per_page)] or [[]]
    objects: list[bytes] = []
    n_pages = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    for i, page in enumerate(pages):
        ops = ["BT", "/F1 9 Tf", "11 TL", "40 800 Td"]
        for line in page:
            safe = line.encode("cp1252", "replace").decode("cp1252")
            safe = safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({safe}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("cp1252")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def build(out: Path) -> list[Path]:
    """Write every page under ``out``; returns the written paths."""
    written = []
    for topic, modules in TOPICS.items():
        for module_name in modules:
            sections = _sections(collect(module_name))
            if module_name in HTML_PAGES:
                path, data = out / topic / f"{module_name}.html", render_html(sections).encode()
            elif module_name in TEXT_PAGES:
                path, data = out / topic / f"{module_name}.txt", render_text(sections).encode()
            elif module_name in PDF_PAGES:
                path, data = out / topic / f"{module_name}.pdf", render_pdf(sections)
            else:
                path, data = out / topic / f"{module_name}.md", render_markdown(sections).encode()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            written.append(path)
    return written


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true", help="compare with --out instead of writing")
    args = parser.parse_args(argv)
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            build(Path(tmp))
            same = _tree(Path(tmp)) == _tree(args.out)
        print(
            "corpus is up to date"
            if same
            else f"corpus differs from {args.out} (Python {sys.version.split()[0]})"
        )
        return 0 if same else 1
    if args.out.exists():
        shutil.rmtree(args.out)
    written = build(args.out)
    total = sum(p.stat().st_size for p in written)
    print(f"wrote {len(written)} pages, {total / 1024:.0f} KiB, under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
