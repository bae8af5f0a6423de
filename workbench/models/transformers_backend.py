"""Local models through Hugging Face transformers: the backend every local model source returns.

:class:`TransformersBackend` wraps a causal LM and its tokenizer. It renders chats with the tokenizer's chat
template, refuses prompts longer than the context, generates greedily or by sampling, streams (generation
runs in a worker thread feeding a queue), batches with left padding, and measures tokens, latency and time
to first token. It records no telemetry: the prompting layer does.

Safety: only safetensors weights are loaded (pickle files can run code when unpickled; the sources check folders
with :mod:`workbench.models.folders` first) and remote code is never trusted. The sources themselves live in
:mod:`workbench.models.sources`.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from workbench.errors import (
    ContextLengthError,
    ModelLoadError,
    WorkbenchError,
)
from workbench.models._hf import quiet_hf
from workbench.models.backends import BaseChatBackend, check_prompt_list
from workbench.models.generation import (
    Generation,
    GenerationParams,
    GenerationStream,
    Prompt,
    StopScanner,
    cut_at_stop,
    resolve_params,
    to_messages,
)
from workbench.models.quantization import QuantizationPlan, plan_quantization, quiet_bitsandbytes

#: Used when neither the config nor the tokenizer states a context length.
DEFAULT_CONTEXT = 2048
#: CPU models smaller than this generate on one thread.
SINGLE_THREAD_PARAMS = 50_000_000


def _parameter_count(model: Any) -> int:
    try:
        return int(sum(p.numel() for p in model.parameters()))
    except Exception:
        return SINGLE_THREAD_PARAMS


@contextmanager
def _cpu_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch CPU threads (process-wide), restoring the count after; ``None``: as is."""
    if n is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _context_length(config: Any, tokenizer: Any) -> int:
    for attr in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx"):
        value = getattr(config, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 10**7:
        return limit
    return DEFAULT_CONTEXT


# --- the backend ---------------------------------------------------------------------------------------------


class TransformersBackend(BaseChatBackend):
    """A causal LM loaded with transformers, behind the :class:`~workbench.models.ChatBackend` protocol.

    Attributes:
        model: The ``PreTrainedModel`` (for tuning and judges).
        tokenizer: Its tokenizer, with ``padding_side="left"`` for batched generation.
        plan: The :class:`QuantizationPlan` it was loaded with.
        source: ``builtin``, ``local`` or ``hub``.
        path: The folder (or hub id) it was loaded from.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        name: str,
        model_id: str,
        source: str,
        path: str,
        plan: QuantizationPlan,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.model_id = model_id
        self.source = source
        self.path = path
        self.plan = plan
        self.bits = plan.bits
        self.context_length = _context_length(model.config, tokenizer)
        self._lock = threading.Lock()
        self._eos_ids = self._find_eos_ids()
        # Small models gain nothing from several CPU threads, and on a busy machine threads that wait for each
        # other make generation several times slower (measured 5x on a shared 2-core machine).
        self._single_thread = plan.device.kind == "cpu" and _parameter_count(model) < SINGLE_THREAD_PARAMS

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        *,
        name: str,
        model_id: str,
        source: str,
        bits: int | str | None = None,
        device: Any = None,
        strict: bool = False,
        revision: str | None = None,
        local_files_only: bool = True,
    ) -> TransformersBackend:
        """Load a model folder (or a cached/downloadable hub id) according to a quantization plan.

        Raises:
            QuantizationError: Invalid ``bits``, or ``strict`` and ``bits`` cannot run on the device.
            ModelLoadError: transformers failed to load the files.
        """
        plan = plan_quantization(bits, device, strict=strict)
        quiet_bitsandbytes()
        common: dict[str, Any] = {
            "revision": revision,
            "local_files_only": local_files_only,
            "trust_remote_code": False,
        }
        try:
            with quiet_hf():
                from transformers import AutoModelForCausalLM, AutoTokenizer

                tokenizer = AutoTokenizer.from_pretrained(str(path), **common)
                model = AutoModelForCausalLM.from_pretrained(
                    str(path), use_safetensors=True, **common, **plan.to_load_kwargs()
                )
        except WorkbenchError:
            raise
        except Exception as exc:
            local = source != "hub"
            raise ModelLoadError(
                f"transformers could not load the model: {type(exc).__name__}: {_first_line(exc)}",
                file=str(path) if local else None,
                field=None if local else "model",
                hint="check that it is a complete causal language model saved with save_pretrained(), with "
                "safetensors weights",
            ) from exc
        model.eval()
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        return cls(model, tokenizer, name=name, model_id=model_id, source=source, path=str(path), plan=plan)

    # -- prompts and tokens -----------------------------------------------------------------------------------

    @property
    def has_chat_template(self) -> bool:
        """Whether the tokenizer carries a chat template."""
        return bool(getattr(self.tokenizer, "chat_template", None))

    def render_chat(self, messages: Prompt) -> str:
        """The prompt text for ``messages``, ending with the assistant cue.

        Uses the tokenizer's chat template; a model without one gets ``role: content`` lines and
        ``assistant:``.
        """
        msgs = to_messages(messages)
        if self.has_chat_template:
            rendered = self.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
            return str(rendered)
        return "".join(f"{m['role']}: {m['content']}\n" for m in msgs) + "assistant:"

    def _prompt_text(self, prompt: Prompt) -> str:
        # A string is one user message on chat models; models without a chat template complete it as-is.
        if isinstance(prompt, str) and not self.has_chat_template:
            return prompt
        return self.render_chat(prompt)

    def _encode_one(self, text: str) -> list[int]:
        bos = getattr(self.tokenizer, "bos_token", None)
        add_special = not (bos and text.startswith(bos))  # templates that write BOS themselves
        # verbose=False: a prompt over the context is our ContextLengthError, not the tokenizer's log warning
        return list(self.tokenizer(text, add_special_tokens=add_special, verbose=False)["input_ids"])

    def count_tokens(self, text_or_messages: Prompt) -> int:
        """Tokens in a raw string (no special tokens), or in messages as rendered for the model."""
        if isinstance(text_or_messages, str):
            return len(self.tokenizer(text_or_messages, add_special_tokens=False, verbose=False)["input_ids"])
        return len(self._encode_one(self.render_chat(text_or_messages)))

    def _check_length(self, n_tokens: int, which: str = "the prompt") -> None:
        if n_tokens >= self.context_length:
            raise ContextLengthError(
                f"{which} has {n_tokens} tokens, but {self.name} has a context of {self.context_length} tokens "
                f"(prompt and output together)",
                field="prompt",
                hint=f"shorten it to under {self.context_length} tokens (fewer messages, less retrieved context), "
                "or use a model with a longer context",
            )

    def _max_new(self, n_tokens: int, params: GenerationParams) -> int:
        return max(1, min(params.max_new_tokens, self.context_length - n_tokens))

    def _find_eos_ids(self) -> list[int]:
        ids: list[int] = []
        gen_eos = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        for value in (gen_eos, self.tokenizer.eos_token_id):
            for i in value if isinstance(value, list) else [value]:
                if isinstance(i, int) and i not in ids:
                    ids.append(i)
        return ids

    # -- generation -------------------------------------------------------------------------------------------

    def _generate_kwargs(
        self, params: GenerationParams, max_new: int, cancel: threading.Event, prompt_len: int
    ) -> dict[str, Any]:
        from transformers import GenerationConfig, StoppingCriteriaList

        config = GenerationConfig(
            max_new_tokens=max_new,
            do_sample=not params.greedy,
            eos_token_id=self._eos_ids or None,
            pad_token_id=self.tokenizer.pad_token_id,
            bos_token_id=self.tokenizer.bos_token_id,
        )
        if not params.greedy:
            config.temperature = params.temperature
            config.top_p = params.top_p
            config.top_k = 0
        criteria = StoppingCriteriaList([_Cancelled(cancel)])
        if params.stop:
            criteria.append(_StopStrings(self.tokenizer, params.stop, prompt_len))
        kwargs: dict[str, Any] = {"generation_config": config, "stopping_criteria": criteria}
        if params.json_mode:
            from transformers import LogitsProcessorList

            from workbench.models.structured import JsonLogitsProcessor

            width = int(self.model.get_output_embeddings().weight.shape[0])
            json_only = JsonLogitsProcessor(
                self.tokenizer, self._eos_ids, width, candidates=1 if params.greedy else 40
            )
            kwargs["logits_processor"] = LogitsProcessorList([json_only])
        return kwargs

    def _run(self, inputs: Mapping[str, Any], params: GenerationParams, kwargs: dict[str, Any]) -> Any:
        import torch

        with (
            self._lock,
            torch.inference_mode(),
            _cpu_threads(1 if self._single_thread else None),
            # A seed must not reset the caller's random stream: fork it (CPU; accelerators are seeded too).
            torch.random.fork_rng(devices=[], enabled=params.seed is not None),
        ):
            if params.seed is not None:
                torch.manual_seed(params.seed)
            return self.model.generate(**inputs, **kwargs)

    def _split_output(self, new_ids: list[int]) -> tuple[list[int], bool]:
        """The generated ids before the first end-of-turn token (padding removed), and whether one came."""
        pad = self.tokenizer.pad_token_id
        for i, tok in enumerate(new_ids):
            if tok in self._eos_ids:
                return new_ids[:i], True
        while new_ids and new_ids[-1] == pad and pad not in self._eos_ids:
            new_ids = new_ids[:-1]
        return new_ids, False

    def _finish(
        self,
        new_ids: list[int],
        params: GenerationParams,
        *,
        input_tokens: int,
        latency: float,
        ttft: float | None,
        text: str | None = None,
        stopped: bool = False,
    ) -> Generation:
        kept, ended = self._split_output(new_ids)
        output_tokens = len(kept) + (1 if ended else 0)
        if text is None:
            text = self.tokenizer.decode(kept, skip_special_tokens=True, clean_up_tokenization_spaces=False)
            text, stopped = cut_at_stop(text, params.stop)
        return Generation(
            text=text,
            model=self.model_id,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            latency_s=latency,
            ttft_s=ttft,
            finish_reason="stop" if (ended or stopped) else "length",
            bits=self.bits,
        )

    def _inputs(self, ids: list[list[int]]) -> dict[str, Any]:
        batch = self.tokenizer.pad({"input_ids": ids}, padding=True, return_tensors="pt")
        device = self.plan.device.torch_device
        return {k: v.to(device) for k, v in batch.items()}

    def generate(
        self, prompt: Prompt, params: GenerationParams | Mapping[str, Any] | None = None, **overrides: Any
    ) -> Generation:
        """Generate a reply to ``prompt`` (a string is one user message on chat models).

        Raises:
            ContextLengthError: The rendered prompt does not fit in the context.
        """
        resolved = resolve_params(params, overrides)
        ids = self._encode_one(self._prompt_text(prompt))
        self._check_length(len(ids))
        max_new = self._max_new(len(ids), resolved)
        timer = _FirstTokenTimer()
        kwargs = self._generate_kwargs(resolved, max_new, threading.Event(), len(ids))
        started = time.perf_counter()
        timer.started = started
        out = self._run(self._inputs([ids]), resolved, {**kwargs, "streamer": timer})
        latency = time.perf_counter() - started
        new_ids = out[0, len(ids) :].tolist()
        return self._finish(new_ids, resolved, input_tokens=len(ids), latency=latency, ttft=timer.ttft)

    def generate_batch(
        self,
        prompts: Sequence[Prompt],
        params: GenerationParams | Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> list[Generation]:
        """Generate replies to ``prompts`` in one left-padded batch.

        Every result carries the batch's latency; ``ttft_s`` is ``None`` (tokens arrive together).
        """
        check_prompt_list(prompts)
        resolved = resolve_params(params, overrides)
        if not prompts:
            return []
        encoded = [self._encode_one(self._prompt_text(p)) for p in prompts]
        for i, ids in enumerate(encoded):
            self._check_length(len(ids), f"prompt {i} of the batch")
        width = max(len(ids) for ids in encoded)
        max_new = min(self._max_new(len(ids), resolved) for ids in encoded)
        kwargs = self._generate_kwargs(resolved, max_new, threading.Event(), width)
        started = time.perf_counter()
        out = self._run(self._inputs(encoded), resolved, kwargs)
        latency = time.perf_counter() - started
        return [
            self._finish(out[i, width:].tolist(), resolved, input_tokens=len(ids), latency=latency, ttft=None)
            for i, ids in enumerate(encoded)
        ]

    def stream_batch(
        self, prompts: Sequence[Prompt], params: GenerationParams | Mapping[str, Any] | None = None, **overrides: Any
    ) -> list[GenerationStream]:
        """Stream replies to ``prompts`` from one left-padded batch (see :mod:`workbench.models.batch_stream`).

        Generation starts now, in its own thread; each stream delivers its own row's text.

        Raises:
            ContextLengthError: A prompt does not fit in the context (nothing starts).
        """
        from workbench.models.batch_stream import stream_rows

        check_prompt_list(prompts)
        resolved = resolve_params(params, overrides)
        if not prompts:
            return []
        encoded = [self._encode_one(self._prompt_text(p)) for p in prompts]
        for i, ids in enumerate(encoded):
            self._check_length(len(ids), f"prompt {i} of the batch")
        return stream_rows(self, encoded, resolved)

    def _stream(self, prompt: Prompt, params: GenerationParams) -> GenerationStream:
        ids = self._encode_one(self._prompt_text(prompt))
        self._check_length(len(ids))
        max_new = self._max_new(len(ids), params)
        cancel = threading.Event()
        streamer = _make_queue_streamer(self.tokenizer)
        kwargs = self._generate_kwargs(params, max_new, cancel, len(ids))
        inputs = self._inputs([ids])
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                box["out"] = self._run(inputs, params, {**kwargs, "streamer": streamer})
            except BaseException as exc:
                box["error"] = exc
                streamer.end()

        def chunks() -> Generator[str, None, Generation]:
            started = time.perf_counter()
            streamer.started = started
            worker = threading.Thread(target=work, name=f"workbench-generate-{self.name}", daemon=True)
            worker.start()
            scanner = StopScanner(params.stop)
            pieces: list[str] = []
            try:
                for piece in streamer:
                    emitted = scanner.feed(piece)
                    if emitted:
                        pieces.append(emitted)
                        yield emitted
                    if scanner.stopped:
                        cancel.set()
                        break
                tail = scanner.flush()
                if tail:
                    pieces.append(tail)
                    yield tail
            finally:
                cancel.set()
                worker.join()
            if "error" in box:
                raise box["error"]
            latency = time.perf_counter() - started
            new_ids = box["out"][0, len(ids) :].tolist()
            return self._finish(
                new_ids,
                params,
                input_tokens=len(ids),
                latency=latency,
                ttft=streamer.ttft,
                text="".join(pieces),
                stopped=scanner.stopped,
            )

        return GenerationStream(chunks(), on_close=cancel.set)

    # -- reporting --------------------------------------------------------------------------------------------

    def memory_footprint(self) -> int | None:
        """Bytes of the weights and buffers (``model.get_memory_footprint()``)."""
        try:
            return int(self.model.get_memory_footprint())
        except Exception:
            return None

    def info(self) -> dict[str, Any]:
        """Source, folder, bits, quantization plan, device, context length, parameters and footprint."""
        return {
            "name": self.name,
            "model": self.model_id,
            "source": self.source,
            "path": self.path,
            "architecture": type(self.model).__name__,
            "parameters": _parameter_count(self.model),
            "bits": self.bits,
            "quantization": self.plan.describe(),
            "method": self.plan.method,
            "fallback_reason": self.plan.fallback_reason,
            "model_fallback": self.model_fallback,
            "device": self.plan.device.torch_device,
            "context_length": self.context_length,
            "chat_template": self.has_chat_template,
            "footprint_bytes": self.memory_footprint(),
        }


# --- generation helpers (transformers protocols) ---------------------------------------------------------------


class _FirstTokenTimer:
    """A transformers streamer that only records when the first generated token arrives."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.ttft: float | None = None
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True  # the first call carries the prompt
            return
        if self.ttft is None:
            self.ttft = time.perf_counter() - self.started

    def end(self) -> None:
        pass


@functools.lru_cache(maxsize=1)
def _queue_streamer_class() -> type:
    from transformers import TextIteratorStreamer

    class QueueStreamer(TextIteratorStreamer):  # type: ignore[misc]
        """TextIteratorStreamer that skips the prompt and empty chunks and records time to first token."""

        def __init__(self, tokenizer: Any) -> None:
            super().__init__(
                tokenizer, skip_prompt=True, skip_special_tokens=True, clean_up_tokenization_spaces=False
            )
            self.started = time.perf_counter()
            self.ttft: float | None = None

        def put(self, value: Any) -> None:
            if self.ttft is None and not self.next_tokens_are_prompt:
                self.ttft = time.perf_counter() - self.started
            super().put(value)

        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            if text:
                self.text_queue.put(text, timeout=self.timeout)
            if stream_end:
                self.text_queue.put(self.stop_signal, timeout=self.timeout)

    return QueueStreamer


def _make_queue_streamer(tokenizer: Any) -> Any:
    """A new queue streamer (the class is built on first use, so transformers loads lazily)."""
    return _queue_streamer_class()(tokenizer)


class _Cancelled:
    """Stopping criterion: stop every row once ``event`` is set (the stream was closed)."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        return torch.full(
            (input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device
        )


class _StopStrings:
    """Stopping criterion: stop a row once its generated text contains a stop string."""

    def __init__(self, tokenizer: Any, stops: Sequence[str], prompt_len: int) -> None:
        self.tokenizer = tokenizer
        self.stops = tuple(stops)
        self.prompt_len = prompt_len

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_len :], skip_special_tokens=True)
        done = [any(s in t for s in self.stops) for t in texts]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)
