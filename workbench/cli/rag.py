"""``workbench rag``: build, query, update and evaluate retrieval indexes (a thin layer over workbench.rag)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from workbench.cli import emit_json
from workbench.errors import ConfigError
from workbench.models.embedding_variants import CPU_DEFAULT, VARIANT_CHOICES
from workbench.rag import DEFAULT_EVAL_K, DEFAULT_K, FUSIONS, MODES, SPLITTERS


def _weights(value: str) -> tuple[float, float]:
    try:
        parts = tuple(float(p) for p in value.replace(":", ",").replace("/", ",").split(","))
    except ValueError:
        parts = ()
    if len(parts) != 2:
        raise ConfigError(
            f"--weights must be two numbers, not '{value}'", field="weights", hint="e.g. --weights 0.7,0.3"
        )
    return parts[0], parts[1]


class EmbedProgress:
    """A progress bar on stderr for ``(done, total)`` embedding progress: chunks/s and ETA (tqdm).

    The bar shows only when stderr is a terminal, so ``--json`` output and logs stay clean. It also remembers
    how many chunks a checkpoint supplied (``resumed``) and the embedding rate, for the report.
    """

    def __init__(self, label: str = "embedding") -> None:
        self.label = label
        self.bar: Any = None
        self.done = self.total = self.resumed = 0
        self.started = self.finished = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if self.bar is None:
            from tqdm import tqdm

            self.resumed, self.started = done, now
            self.bar = tqdm(
                total=total, initial=done, unit="chunk", desc=self.label, file=sys.stderr, disable=None,
                dynamic_ncols=True, smoothing=0.1,
            )  # fmt: skip
        else:
            self.bar.update(done - self.done)
        self.done, self.total, self.finished = done, total, now

    def close(self) -> None:
        """Close the bar (leaving its last line on the terminal)."""
        if self.bar is not None:
            self.bar.close()

    @property
    def chunks_per_s(self) -> float | None:
        """Chunks embedded per second in this run (``None`` when nothing was embedded)."""
        embedded, seconds = self.done - self.resumed, self.finished - self.started
        return round(embedded / seconds, 2) if embedded and seconds > 0 else None

    def interrupted(self, out: Path) -> str:
        """The line printed when Ctrl-C stops a build that checkpoints into ``out``'s checkpoint folder."""
        from workbench.rag import checkpoint_folder

        return (
            f"interrupted: {self.done} of {self.total} chunks are embedded and kept in {checkpoint_folder(out)}; "
            "run the same command again to resume"
        )


@click.group()
def command() -> None:
    """Build, query, update and evaluate retrieval indexes (dense MiniLM + BM25, hybrid fusion)."""


@command.command("index")
@click.argument("src", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Index folder to write.")
@click.option("--chunk-size", default=1000, show_default=True, help="Largest chunk, in characters.")
@click.option(
    "--chunk-overlap", default=100, show_default=True, help="Characters shared by neighbouring chunks."
)
@click.option("--splitter", type=click.Choice(SPLITTERS), default="markdown", show_default=True,
              help="markdown: cut on headings first (Markdown/HTML); recursive: paragraphs, lines, words.")  # fmt: skip
@click.option("--embedder", default=None, help="Embedding model (default: settings.default_embedder).")
@click.option("--variant", type=click.Choice(VARIANT_CHOICES, case_sensitive=False), default=None,
              help="How the embedder runs (default: settings.embedding_variant, 'auto': on a CPU "
              f"{CPU_DEFAULT}, the fastest that keeps retrieval quality; torch-fp32 on a GPU). The index "
              "records it, and queries use the same one.")  # fmt: skip
@click.option("--max-file-mb", default=20.0, show_default=True, help="Skip files larger than this.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report.")
def index_cmd(
    src: Path, out: Path, chunk_size: int, chunk_overlap: int, splitter: str, embedder: str | None,
    variant: str | None, max_file_mb: float, as_json: bool,
) -> None:  # fmt: skip
    """Index the documents in SRC (Markdown, text, HTML, PDF) into the folder --out.

    Embedding shows a progress bar (chunks/s, ETA) on a terminal. Ctrl-C keeps the chunks embedded so far
    next to --out; running the same command again embeds only the rest.
    """
    from workbench.rag import ChunkingConfig, RagIndex

    chunking = ChunkingConfig(splitter=splitter, chunk_size=chunk_size, chunk_overlap=chunk_overlap)  # type: ignore[arg-type]
    started = time.perf_counter()
    progress = EmbedProgress()
    try:
        index = RagIndex.build(
            src, out=out, chunking=chunking, embedder=embedder, variant=variant,
            max_file_bytes=int(max_file_mb * 1e6), progress=progress,
        )  # fmt: skip
    except KeyboardInterrupt:
        progress.close()
        click.echo(progress.interrupted(out), err=True)
        raise
    progress.close()
    seconds = time.perf_counter() - started
    embedding = {"resumed_chunks": progress.resumed, "chunks_per_s": progress.chunks_per_s}
    report = {**index.info(), "seconds": round(seconds, 2), "embedding": embedding}
    if as_json:
        emit_json(report)
        return
    click.echo(
        f"indexed {report['documents']} documents ({report['chunks']} chunks) in {seconds:.1f}s -> {index.path}"
    )
    rate = f", {progress.chunks_per_s:.1f} chunks/s" if progress.chunks_per_s else ""
    click.echo(f"  embedder {index.embedder.name}, variant {report['embedder']['variant']}{rate}")
    if progress.resumed:
        click.echo(f"  resumed: {progress.resumed} chunks came from the checkpoint of an interrupted run")
    for skipped in index.skipped:
        click.echo(
            f"  skipped {skipped.source}: {skipped.reason}" + (f" ({skipped.hint})" if skipped.hint else "")
        )


@command.command("query")
@click.argument("index_dir", type=click.Path(path_type=Path))
@click.argument("question")
@click.option("-k", "k", default=DEFAULT_K, show_default=True, help="Chunks to return.")
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@click.option(
    "--fusion", type=click.Choice(FUSIONS), default="weighted", show_default=True, help="Hybrid fusion."
)
@click.option("--weights", default="0.5,0.5", show_default=True, help="Dense,BM25 weights of the fusion.")
@click.option("--rerank", default=None, help="Cross-encoder folder (none ships) to rerank the candidates.")
@click.option("--embedder", default=None, help="Refused unless it is the embedder the index was built with.")
@click.option("--variant", type=click.Choice(VARIANT_CHOICES, case_sensitive=False), default=None,
              help="Refused unless it is the variant the index was built with (default: the index's own).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the hits as JSON (source, text, score...).")
def query_cmd(
    index_dir: Path, question: str, k: int, mode: str, fusion: str, weights: str, rerank: str | None,
    embedder: str | None, variant: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Retrieve the chunks of INDEX_DIR that best answer QUESTION."""
    from workbench.rag import RagIndex, load_reranker

    reranker = load_reranker(rerank) if rerank else None
    index = RagIndex.load(index_dir, embedder=embedder, variant=variant)
    hits = index.search(question, k, mode=mode, fusion=fusion, weights=_weights(weights), reranker=reranker)
    if as_json:
        emit_json([hit.to_dict() for hit in hits])
        return
    if not hits:
        click.echo("no hits")
    for hit in hits:
        snippet = " ".join(hit.text.split())
        snippet = snippet[:240] + ("..." if len(snippet) > 240 else "")
        click.echo(f"{hit.rank:>2}. {hit.score:8.4f}  {hit.source}  (chunk {hit.chunk.id})")
        click.echo(f"    {snippet}")


@command.command("eval")
@click.argument("index_dir", type=click.Path(path_type=Path))
@click.option("--questions", "questions_file", required=True, type=click.Path(path_type=Path),
              help='JSONL: {"question", "relevant": [source ids], "answer"?} per line.')  # fmt: skip
@click.option("-k", "k", default=DEFAULT_EVAL_K, show_default=True,
              help="k of recall@k for the default configurations.")  # fmt: skip
@click.option("--config", "configs", multiple=True,
              help="A configuration to compare (repeatable), e.g. 'mode=hybrid,fusion=rrf,weights=0.7:0.3,k=5' "
              "or 'chunk_size=500,chunk_overlap=50,splitter=recursive' (re-chunks the source folder). "
              "Default: dense, bm25, hybrid-rrf, hybrid-weighted.")  # fmt: skip
@click.option("--details", is_flag=True, help="With --json: per-question rankings.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def eval_cmd(
    index_dir: Path, questions_file: Path, k: int, configs: tuple[str, ...], details: bool, as_json: bool
) -> None:
    """Score INDEX_DIR on a question file: recall@k, MRR@10 and nDCG@10, one row per configuration."""
    from workbench.rag import EvalConfig, RagIndex, compare, default_configs, format_table, load_questions

    index = RagIndex.load(index_dir)
    questions = load_questions(questions_file, known_sources=index.sources)
    chosen = [EvalConfig.parse(spec, base=index.chunking) for spec in configs] or default_configs(k)
    results = compare(index, questions, chosen)
    if as_json:
        payload: dict[str, Any] = {
            "index": str(index.path),
            "questions": len(questions),
            "chunking": index.chunking.to_dict(),
            "results": [r.to_dict(details=details) for r in results],
        }
        emit_json(payload)
        return
    click.echo(format_table(results))


@command.command("add")
@click.argument("index_dir", type=click.Path(path_type=Path))
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--root", type=click.Path(path_type=Path), default=None,
              help="Folder source ids are relative to (default: the folder the index was built from).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True)
def add_cmd(index_dir: Path, paths: tuple[Path, ...], root: Path | None, as_json: bool) -> None:
    """Add or refresh documents (files or folders) without re-embedding the rest.

    Shows the same progress bar as `rag index`; Ctrl-C keeps the new chunks embedded so far for the next run.
    """
    progress = EmbedProgress()
    try:
        _update(index_dir, lambda index: index.add(paths, root=root, progress=progress), as_json, progress)
    except KeyboardInterrupt:
        progress.close()
        click.echo(progress.interrupted(index_dir), err=True)
        raise


@command.command("remove")
@click.argument("index_dir", type=click.Path(path_type=Path))
@click.argument("sources", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True)
def remove_cmd(index_dir: Path, sources: tuple[str, ...], as_json: bool) -> None:
    """Remove documents by source id (their path relative to the indexed folder)."""
    _update(index_dir, lambda index: index.remove(sources), as_json)


def _update(
    index_dir: Path, change: Callable[[Any], Any], as_json: bool, progress: EmbedProgress | None = None
) -> None:
    """Load the index, apply ``change`` (which saves it) and print its ``UpdateReport``."""
    from workbench.rag import RagIndex, index_lock

    # Concurrent `rag add`/`rag remove` wait for each other instead of conflicting.
    with index_lock(index_dir):
        report = change(RagIndex.load(index_dir))
    if progress is not None:
        progress.close()
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(report.summary())


@command.command("info")
@click.argument("index_dir", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def info_cmd(index_dir: Path, as_json: bool) -> None:
    """Show an index's manifest: embedder, chunking, versions, counts and sources."""
    from workbench.rag import read_info

    # The saved manifest alone: no embedder to load, and the versions shown are those the index was built with.
    manifest = read_info(index_dir)
    if as_json:
        emit_json(manifest)
        return
    click.echo(f"index       {index_dir}")
    spec = manifest["embedder"]
    click.echo(f"embedder    {spec.get('name')} (dim {spec.get('dim')}, variant {spec.get('variant')})")
    chunking = manifest["chunking"]
    click.echo(
        f"chunking    {chunking.get('splitter')}, size {chunking.get('chunk_size')}, overlap {chunking.get('chunk_overlap')}"
    )
    counts = manifest.get("counts", {})
    click.echo(f"contents    {counts.get('documents')} documents, {counts.get('chunks')} chunks")
    click.echo(f"source      {manifest.get('source_root')}")
    click.echo("versions    " + ", ".join(f"{k} {v}" for k, v in manifest.get("versions", {}).items()))
    for skipped in manifest.get("skipped", []):
        click.echo(f"skipped     {skipped['source']}: {skipped['reason']}")


@command.command("ask")
@click.argument("index_dir", type=click.Path(path_type=Path))
@click.argument("question")
@click.option("--model", default=None, help="Model (default: settings.default_model).")
@click.option(
    "-k",
    "k",
    default=DEFAULT_K,
    show_default=True,
    help="Chunks put in the prompt (fewer if they do not fit).",
)
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@click.option("--max-new-tokens", default=128, show_default=True)
@click.option("--show-prompt", is_flag=True, help="Also print the final prompt.")
@click.option("--json", "as_json", is_flag=True)
def ask_cmd(
    index_dir: Path, question: str, model: str | None, k: int, mode: str, max_new_tokens: int, show_prompt: bool,
    as_json: bool,
) -> None:  # fmt: skip
    """Answer QUESTION from INDEX_DIR with a model, citing the sources (the LangChain RAG chain)."""
    from workbench.models import load_model
    from workbench.rag import RagIndex, build_rag_chain

    index = RagIndex.load(index_dir)
    chain = build_rag_chain(index, load_model(model), k=k, mode=mode, max_new_tokens=max_new_tokens)
    result = chain.invoke(question)
    if as_json:
        result.pop("messages", None)
        emit_json(result)
        return
    if show_prompt:
        click.echo(result["prompt"])
        click.echo("-" * 60)
    click.echo(result["answer"] or "(empty answer)")
    click.echo("")
    for source in result["sources"]:
        mark = "*" if source["source"] in result["citations"] else " "
        click.echo(f"{mark}[{source['n']}] {source['source']}")
