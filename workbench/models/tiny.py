"""The built-in model ``workbench-tiny``: a small Llama trained locally, in seconds, from shipped text.

Nothing is downloaded. The first :func:`build_tiny_model` call trains a byte-level BPE tokenizer and a 2-layer
Llama on ``datasets/tiny/corpus.txt`` (support chats, plain sentences and short JSON answers, made by
``datasets/tiny/make_corpus.py``) and caches the result under ``<models_dir>/workbench-tiny-<hash8>``, where the
hash covers the corpus bytes and the recipe. Later calls return the cached folder at once.

Building is atomic and safe across processes: the folder is written under a temporary name and renamed into
place while a file lock is held, so a reader never sees a half-written model and concurrent builders build it
once. Training is deterministic: the same corpus and recipe give bit-identical weights on the same machine.

The folder is an ordinary Hugging Face model folder (``config.json``, ``model.safetensors``, tokenizer files
with a chat template), so ``AutoModelForCausalLM.from_pretrained(path)`` loads it too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import ModelLoadError
from workbench.models import cache
from workbench.settings import TINY_MODEL, get_settings

#: Bump when the training code changes in a way that changes the weights (it is part of the cache key).
RECIPE_VERSION = 1
#: The file written last into a built folder; its presence marks a complete build.
MANIFEST = "workbench-tiny.json"

#: Special tokens of the tokenizer. The chat turns are ``<|role|>\ncontent<|end|>``.
PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
ROLE_TOKENS = {"system": "<|system|>", "user": "<|user|>", "assistant": "<|assistant|>"}
END_OF_TURN = "<|end|>"
SPECIAL_TOKENS = [PAD, BOS, EOS, UNK, *ROLE_TOKENS.values(), END_OF_TURN]

#: The chat template (Jinja, as Hugging Face tokenizers store it). It renders exactly the format of the chats
#: in the training corpus, so the model answers after ``<|assistant|>\n`` and ends its turn with ``<|end|>``.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)


@dataclass(frozen=True)
class TinyRecipe:
    """How ``workbench-tiny`` is built. Every field is part of the cache key.

    Attributes:
        vocab_size: Size of the byte-level BPE vocabulary (special tokens included).
        hidden_size: Width of the transformer.
        intermediate_size: Width of the MLP.
        num_layers: Number of decoder layers.
        num_heads: Attention heads (no grouped-query attention).
        context_length: ``max_position_embeddings``; prompts longer than this are refused.
        block_size: Length of the packed training sequences.
        batch_size: Sequences per optimisation step.
        steps: Optimisation steps.
        learning_rate: Peak AdamW learning rate (linear warm-up, then cosine decay to 10 %).
        seed: Seeds weight initialisation and data order.
    """

    vocab_size: int = 1536
    hidden_size: int = 128
    intermediate_size: int = 384
    num_layers: int = 2
    num_heads: int = 4
    context_length: int = 512
    block_size: int = 128
    batch_size: int = 8
    steps: int = 160
    learning_rate: float = 5e-3
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The recipe as plain JSON-ready data."""
        return dataclasses.asdict(self)


DEFAULT_RECIPE = TinyRecipe()


def corpus_path() -> Path:
    """The shipped training corpus, ``<datasets_dir>/tiny/corpus.txt``."""
    return get_settings().datasets_dir / "tiny" / "corpus.txt"


def _read_corpus() -> bytes:
    path = corpus_path()
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ModelLoadError(
            "the training corpus of the built-in model is missing",
            file=path,
            hint="reinstall workbench, or regenerate it with: python datasets/tiny/make_corpus.py",
        ) from None


def tiny_model_hash(corpus: bytes, recipe: TinyRecipe = DEFAULT_RECIPE) -> str:
    """The 8-hex-digit cache key of a build: corpus bytes + recipe + :data:`RECIPE_VERSION`."""
    digest = hashlib.sha256()
    digest.update(f"workbench-tiny/{RECIPE_VERSION}\n".encode())
    digest.update(json.dumps(recipe.to_dict(), sort_keys=True).encode())
    digest.update(b"\n")
    digest.update(corpus)
    return digest.hexdigest()[:8]


def tiny_model_path(recipe: TinyRecipe = DEFAULT_RECIPE) -> Path:
    """Where the built model lives (built or not)."""
    return get_settings().models_dir / f"{TINY_MODEL}-{tiny_model_hash(_read_corpus(), recipe)}"


def is_built(path: Path) -> bool:
    """Whether ``path`` holds a complete build (its manifest is written last)."""
    return cache.is_built(path, MANIFEST)


def build_tiny_model(*, force: bool = False) -> Path:
    """Build ``workbench-tiny`` if needed and return its folder.

    Args:
        force: Rebuild even when a cached build exists (the old folder is replaced atomically).

    Returns:
        The model folder, ``<models_dir>/workbench-tiny-<hash8>``.

    Raises:
        ModelLoadError: The shipped corpus is missing.
    """
    corpus = _read_corpus()
    target = get_settings().models_dir / f"{TINY_MODEL}-{tiny_model_hash(corpus, DEFAULT_RECIPE)}"

    def builder(out: Path) -> None:
        train_tiny_model(out, corpus=corpus.decode("utf-8"), recipe=DEFAULT_RECIPE)

    return atomic_build(target, builder, force=force)


def atomic_build(target: Path, builder: Callable[[Path], None], *, force: bool = False) -> Path:
    """:func:`workbench.models.cache.atomic_build` with this model's manifest (see there)."""
    return cache.atomic_build(target, builder, manifest=MANIFEST, force=force)


def split_documents(corpus: str) -> list[str]:
    """The corpus's documents (separated by blank lines), stripped, without empty ones."""
    return [doc.strip() for doc in corpus.split("\n\n") if doc.strip()]


def _strip_special(text: str) -> str:
    for token in SPECIAL_TOKENS:
        text = text.replace(token, " ")
    return text


def train_tokenizer(documents: list[str], vocab_size: int) -> Any:
    """Train the byte-level BPE tokenizer and wrap it as a transformers fast tokenizer with a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # Merges are learnt from the text only: role markers are whole special tokens, never split.
    tok.train_from_iterator([_strip_special(d) for d in documents], trainer)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, tok.token_to_id(BOS))]
    )
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        additional_special_tokens=[*ROLE_TOKENS.values(), END_OF_TURN],
        model_max_length=DEFAULT_RECIPE.context_length,
        clean_up_tokenization_spaces=False,
    )
    hf_tok.chat_template = CHAT_TEMPLATE
    return hf_tok


def _packed_blocks(tokenizer: Any, documents: list[str], block_size: int, seed: int) -> list[list[int]]:
    """Tokenise every document (``<s> ... </s>``), concatenate, cut into blocks, shuffle deterministically."""
    eos_id = tokenizer.convert_tokens_to_ids(EOS)
    stream: list[int] = []
    for ids in tokenizer(documents)["input_ids"]:
        stream.extend(ids)
        stream.append(eos_id)
    blocks = [stream[i : i + block_size] for i in range(0, len(stream) - block_size + 1, block_size)]
    random.Random(seed).shuffle(blocks)
    return blocks


def _batches(blocks: list[list[int]], batch_size: int, seed: int) -> Iterator[list[list[int]]]:
    """Endless batches over ``blocks``, reshuffled deterministically each epoch."""
    rnd = random.Random(seed + 1)
    order = list(range(len(blocks)))
    while True:
        for start in range(0, len(order) - batch_size + 1, batch_size):
            yield [blocks[i] for i in order[start : start + batch_size]]
        rnd.shuffle(order)


def train_tiny_model(out_dir: Path, *, corpus: str, recipe: TinyRecipe = DEFAULT_RECIPE) -> dict[str, Any]:
    """Train the tokenizer and the model on ``corpus`` and save both into ``out_dir``.

    Writes :data:`MANIFEST` last. Deterministic for a given corpus, recipe and torch thread count; the
    process's global random state is left untouched.

    Returns:
        The manifest: name, hash, recipe, corpus digest, final loss, build time and library versions.
    """
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    documents = split_documents(corpus)
    tokenizer = train_tokenizer(documents, recipe.vocab_size)
    blocks = _packed_blocks(tokenizer, documents, recipe.block_size, recipe.seed)
    eos_ids = [tokenizer.convert_tokens_to_ids(t) for t in (END_OF_TURN, EOS)]
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=recipe.hidden_size,
        intermediate_size=recipe.intermediate_size,
        num_hidden_layers=recipe.num_layers,
        num_attention_heads=recipe.num_heads,
        num_key_value_heads=recipe.num_heads,
        max_position_embeddings=recipe.context_length,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=eos_ids,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    losses: list[float] = []
    with _deterministic(recipe.seed):
        model = LlamaForCausalLM(config)
        optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate, weight_decay=0.0)
        warmup = max(1, recipe.steps // 10)

        def lr_at(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = (step - warmup) / max(1, recipe.steps - warmup)
            return 0.1 + 0.9 * 0.5 * (1.0 + _cos_pi(progress))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
        model.train()
        batches = _batches(blocks, recipe.batch_size, recipe.seed)
        for _ in range(recipe.steps):
            ids = torch.tensor(next(batches), dtype=torch.long)
            loss = model(input_ids=ids, labels=ids).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
    model.eval()
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=eos_ids,
        pad_token_id=tokenizer.pad_token_id,
        max_new_tokens=64,
        do_sample=False,
    )
    from workbench.models._hf import quiet_hf

    with quiet_hf():
        model.save_pretrained(out_dir, safe_serialization=True)
        tokenizer.save_pretrained(out_dir)
    tail = losses[-10:] or [float("nan")]
    manifest = {
        "name": TINY_MODEL,
        "hash": tiny_model_hash(corpus.encode("utf-8"), recipe),
        "recipe_version": RECIPE_VERSION,
        "recipe": recipe.to_dict(),
        "corpus_sha256": hashlib.sha256(corpus.encode("utf-8")).hexdigest(),
        "documents": len(documents),
        "training_tokens": recipe.steps * recipe.batch_size * recipe.block_size,
        "first_loss": losses[0] if losses else None,
        "final_loss": sum(tail) / len(tail),
        "build_seconds": round(time.perf_counter() - started, 3),
        "licence": "weights and corpus generated by Workbench, CC0",
    }
    return cache.write_manifest(out_dir, MANIFEST, model, manifest)


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of a built folder (empty when absent)."""
    try:
        data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _cos_pi(x: float) -> float:
    import math

    return math.cos(math.pi * min(max(x, 0.0), 1.0))


@contextmanager
def _deterministic(seed: int) -> Iterator[None]:
    """Seed torch and use one thread for the block; restore the caller's random state and threads after."""
    import torch

    threads = torch.get_num_threads()
    # One thread: the same floating-point reduction order on every machine (so identical weights), and on a
    # busy machine much faster than several threads fighting over shared cores (measured 10x).
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(threads)
