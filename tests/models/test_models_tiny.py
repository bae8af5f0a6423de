"""The built-in model: its corpus, its cache, atomic builds across processes, and deterministic training."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workbench.errors import ModelLoadError
from workbench.models import TINY_MODEL, build_tiny_model
from workbench.models.tiny import (
    CHAT_TEMPLATE,
    DEFAULT_RECIPE,
    MANIFEST,
    atomic_build,
    corpus_path,
    is_built,
    read_manifest,
    split_documents,
    tiny_model_hash,
    tiny_model_path,
    train_tiny_model,
)

DATASET = Path(__file__).resolve().parents[2] / "datasets" / "tiny"


def test_corpus_is_shipped_small_and_reproducible() -> None:
    corpus = DATASET / "corpus.txt"
    assert corpus.stat().st_size < 1_000_000
    check = subprocess.run(
        [sys.executable, str(DATASET / "make_corpus.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    readme = (DATASET / "README.md").read_text(encoding="utf-8")
    assert "CC0" in readme and "make_corpus.py" in readme


def test_corpus_has_sentences_chats_and_json() -> None:
    docs = split_documents((DATASET / "corpus.txt").read_text(encoding="utf-8"))
    chats = [d for d in docs if d.startswith("<|system|>")]
    plain = [d for d in docs if not d.startswith(("<|", "{"))]
    answers = [d.rsplit("<|assistant|>\n", 1)[1].removesuffix("<|end|>") for d in chats]
    json_answers = [json.loads(a) for a in answers if a.startswith("{")]
    assert len(plain) > 100 and len(chats) > 500
    assert any("score" in j and "rationale" in j for j in json_answers)
    assert any("intent" in j for j in json_answers)


def test_chat_template_renders_the_corpus_format(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert tokenizer.chat_template == CHAT_TEMPLATE
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == "<|system|>\nS<|end|>\n<|user|>\nU<|end|>\n<|assistant|>\n"
    ids = tokenizer(text)["input_ids"]
    assert tokenizer.convert_tokens_to_ids("<|user|>") in ids  # role markers are single special tokens
    assert 1000 <= len(tokenizer) <= 2048


def test_build_is_cached_under_a_content_hash(tiny_model_dir: Path) -> None:
    assert tiny_model_dir == tiny_model_path()
    assert tiny_model_dir.name == f"{TINY_MODEL}-{tiny_model_hash(corpus_path().read_bytes())}"
    assert is_built(tiny_model_dir)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        assert (tiny_model_dir / name).is_file(), name
    manifest = read_manifest(tiny_model_dir)
    assert manifest["recipe"] == DEFAULT_RECIPE.to_dict()
    assert manifest["final_loss"] < manifest["first_loss"] / 3
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["max_position_embeddings"] >= 512
    before = (tiny_model_dir / "model.safetensors").stat().st_mtime_ns
    assert build_tiny_model() == tiny_model_dir  # the cached build, untouched
    assert (tiny_model_dir / "model.safetensors").stat().st_mtime_ns == before


def test_hash_covers_corpus_and_recipe() -> None:
    base = tiny_model_hash(b"corpus")
    assert len(base) == 8
    assert tiny_model_hash(b"corpus!") != base
    assert tiny_model_hash(b"corpus", dataclasses.replace(DEFAULT_RECIPE, steps=1)) != base


def test_missing_corpus_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.settings import reset_settings

    monkeypatch.setenv("WORKBENCH_DATASETS_DIR", str(tmp_path))
    reset_settings()
    with pytest.raises(ModelLoadError) as err:
        build_tiny_model()
    assert err.value.file == str(tmp_path / "tiny" / "corpus.txt")
    assert "make_corpus.py" in (err.value.hint or "")


def test_training_is_deterministic(tmp_path: Path) -> None:
    """Two builds from the same corpus and recipe give bit-identical files (a small recipe keeps it cheap)."""
    corpus = "\n\n".join(split_documents(corpus_path().read_text(encoding="utf-8"))[:60])
    recipe = dataclasses.replace(DEFAULT_RECIPE, vocab_size=400, steps=4, batch_size=2, block_size=32)
    first = train_tiny_model(tmp_path / "a", corpus=corpus, recipe=recipe)
    second = train_tiny_model(tmp_path / "b", corpus=corpus, recipe=recipe)
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert first["final_loss"] == second["final_loss"]
    train_tiny_model(tmp_path / "c", corpus=corpus, recipe=dataclasses.replace(recipe, seed=1))
    assert (tmp_path / "c" / "model.safetensors").read_bytes() != (
        tmp_path / "a" / "model.safetensors"
    ).read_bytes()


def test_training_leaves_the_callers_random_state_alone(tmp_path: Path) -> None:
    import torch

    corpus = "\n\n".join(split_documents(corpus_path().read_text(encoding="utf-8"))[:20])
    recipe = dataclasses.replace(DEFAULT_RECIPE, vocab_size=300, steps=1, batch_size=1, block_size=16)
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_tiny_model(tmp_path / "m", corpus=corpus, recipe=recipe)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


def _write_builder(tmp_path: Path) -> Path:
    script = tmp_path / "builder.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, sys, time
            from pathlib import Path
            from workbench.models.tiny import MANIFEST, atomic_build

            target, log = Path(sys.argv[1]), Path(sys.argv[2])

            def builder(out):
                with open(log, "a") as fh:
                    fh.write(f"{os.getpid()}\\n")
                (out / "weights.bin").write_bytes(b"x" * 100_000)
                time.sleep(0.5)  # a slow build, so the other processes arrive while it runs
                (out / MANIFEST).write_text("{}")

            path = atomic_build(target, builder)
            print(path, (path / "weights.bin").stat().st_size)
            """
        )
    )
    return script


@pytest.mark.slow
def test_concurrent_builders_in_several_processes_build_once(tmp_path: Path) -> None:
    script = _write_builder(tmp_path)
    target, log = tmp_path / "models" / "thing-1234abcd", tmp_path / "builds.log"
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(target), str(log)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    assert {out.strip() for out, _ in outputs} == {f"{target} 100000"}
    assert len(log.read_text().splitlines()) == 1  # one process built, the others found its result
    leftovers = [p.name for p in target.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_force_replaces_a_build_atomically_and_failures_leave_no_trace(tmp_path: Path) -> None:
    target = tmp_path / "models" / "thing"
    calls: list[int] = []

    def builder(out: Path) -> None:
        calls.append(1)
        (out / "n.txt").write_text(str(len(calls)))
        (out / MANIFEST).write_text("{}")

    atomic_build(target, builder)
    atomic_build(target, builder)
    assert len(calls) == 1
    atomic_build(target, builder, force=True)
    assert (target / "n.txt").read_text() == "2"

    def broken(out: Path) -> None:
        (out / "half.bin").write_text("half")
        raise RuntimeError("out of disk")

    with pytest.raises(RuntimeError, match="out of disk"):
        atomic_build(target, broken, force=True)
    assert (target / "n.txt").read_text() == "2"  # the previous build is intact
    assert sorted(p.name for p in target.parent.iterdir()) == ["thing", "thing.lock"]
