"""Test data for the RAG tests: a small corpus in every format, a PDF writer, and a counting embedder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from workbench.rag import ChunkingConfig

#: Small chunks, so the test corpus gives several chunks per document.
SMALL = ChunkingConfig(chunk_size=200, chunk_overlap=20)

DOCS: dict[str, str] = {
    "guides/csv.md": (
        "# Reading CSV files\n\nUse csv.reader to iterate over the rows of a comma separated values file.\n\n"
        "## Dialects\n\nA dialect describes the delimiter and quoting rules; csv.Sniffer guesses one.\n"
    ),
    "guides/json.md": (
        "# JSON\n\njson.dumps serialises a Python object to a JSON formatted string.\n\n"
        "## Decoding\n\njson.loads parses a JSON document; object_hook turns objects into custom classes.\n"
    ),
    "notes/compression.txt": (
        "Compression\n\nThe gzip module reads and writes .gz files. zlib.compress compresses bytes in memory.\n"
        "The bz2 and lzma modules offer stronger compression ratios.\n"
    ),
    "web/dates.html": (
        "<html><head><title>Dates and times</title><style>p{}</style></head><body>"
        "<h1>Dates</h1><p>datetime.fromisoformat parses an ISO 8601 date string.</p>"
        "<h2>Clocks</h2><p>time.perf_counter is the clock with the highest resolution for benchmarks.</p>"
        "<script>var x = 'not text';</script></body></html>"
    ),
}


def simple_pdf(lines: list[str]) -> bytes:
    """A minimal one-page PDF with a text layer (Helvetica), written without any PDF library."""
    ops = ["BT", "/F1 10 Tf", "12 TL", "40 800 Td"]
    for line in lines:
        ops.append("(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") Tj T*")
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


PDF_LINES = [
    "Hashing",
    "hashlib.sha256 computes a SHA-256 digest of bytes.",
    "secrets.token_hex makes random tokens.",
]


def write_corpus(root: Path) -> Path:
    """Write the small test corpus (Markdown, text, HTML, PDF) under ``root``."""
    for rel, text in DOCS.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / "pdf").mkdir(exist_ok=True)
    (root / "pdf" / "hashing.pdf").write_bytes(simple_pdf(PDF_LINES))
    return root


class CountingEmbedder:
    """Wraps the real embedder and counts the texts it embeds (to prove incremental updates embed less).

    Args:
        inner: The real embedder (its name, dimension and variant are this one's).
        interrupt_after: Raise ``KeyboardInterrupt`` (as Ctrl-C does) at the call after this many
            ``embed_documents`` calls; ``None``: never.
    """

    def __init__(self, inner: Any, *, interrupt_after: int | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.variant = getattr(inner, "variant", None)
        self.embedded = 0
        self.calls = 0
        self.interrupt_after = interrupt_after

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if self.interrupt_after is not None and self.calls >= self.interrupt_after:
            raise KeyboardInterrupt
        self.calls += 1
        self.embedded += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)
