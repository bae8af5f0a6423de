"""OpenAI-compatible HTTP endpoints (``openai:<model>``): Ollama, vLLM, llama.cpp server, OpenAI itself.

Uses the official ``openai`` client. Where the endpoint is:

1. ``base_url=`` / ``api_key=`` given to :func:`~workbench.models.load_model`;
2. else ``WORKBENCH_OPENAI_BASE_URL`` / ``WORKBENCH_OPENAI_API_KEY``;
3. else ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``;
4. else https://api.openai.com/v1 (local servers ignore the key, so a placeholder is sent when none is set).

Loading checks the endpoint at once (``GET /models``, a short connect timeout, no retries), so a server that
is down is an :class:`~workbench.errors.EndpointError` within seconds, not a hang at the first prompt.

Token counts come from the server's ``usage``. Endpoints do not expose their tokenizer, so
:meth:`OpenAIBackend.count_tokens` (and any count a server leaves out) is an estimate of 4 characters per token.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Generator, Mapping
from typing import Any

from workbench.errors import (
    ConfigError,
    ContextLengthError,
    EndpointError,
    ModelNotFoundError,
    QuantizationError,
    WorkbenchError,
)
from workbench.models.backends import BaseChatBackend, check_kwargs
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

OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
#: Context assumed when the caller does not say (endpoints do not report it).
DEFAULT_CONTEXT = 8192
#: Characters per token for estimates.
CHARS_PER_TOKEN = 4
_NO_KEY = "not-needed"
_CONTEXT_WORDS = ("context length", "context window", "maximum context", "too long", "too many tokens")


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate: one token per 4 characters (at least 1 for non-empty text)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def resolve_endpoint(base_url: str | None = None, api_key: str | None = None) -> tuple[str, str | None]:
    """The base URL and API key to use (see the module docstring for the order)."""
    url = (
        base_url
        or os.environ.get("WORKBENCH_OPENAI_BASE_URL")
        or os.environ.get("OPENAI_BASE_URL")
        or OPENAI_DEFAULT_URL
    )
    key = api_key or os.environ.get("WORKBENCH_OPENAI_API_KEY") or os.environ.get("OPENAI_API_KEY")
    return url.rstrip("/"), key


class OpenAIBackend(BaseChatBackend):
    """A model served over the OpenAI chat-completions API.

    Args:
        model: The model name the server knows (``llama3.2``, ``gpt-4o-mini``...).
        base_url: The endpoint, e.g. ``http://localhost:11434/v1`` (Ollama).
        api_key: Sent as a bearer token; local servers ignore it.
        timeout: Seconds to wait for an answer.
        connect_timeout: Seconds to wait for the connection.
        max_retries: Retries of failed requests (0 or 1 keeps failures fast).
        context_length: The served model's context, when known (enables a local length check).
        check: Probe ``GET /models`` now, so an unreachable endpoint fails at load time.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 3.0,
        max_retries: int = 0,
        context_length: int | None = None,
        check: bool = True,
    ) -> None:
        import openai

        self.base_url, key = resolve_endpoint(base_url, api_key)
        if not key and self.base_url == OPENAI_DEFAULT_URL:
            raise EndpointError(
                "no API key for the OpenAI API",
                field="api_key",
                hint="set WORKBENCH_OPENAI_API_KEY (or pass api_key=), or point WORKBENCH_OPENAI_BASE_URL at a "
                "local server such as Ollama (http://localhost:11434/v1)",
            )
        self._api_key_set = bool(key)
        self.model_id = model
        self.name = f"openai:{model}"
        self.bits = None
        self._context_known = context_length is not None
        self.context_length = int(context_length or DEFAULT_CONTEXT)
        self.timeout = timeout
        self.client = openai.OpenAI(
            base_url=self.base_url,
            api_key=key or _NO_KEY,
            timeout=openai.Timeout(timeout, connect=connect_timeout),
            max_retries=max_retries,
        )
        self.served_models: list[str] | None = None
        if check:
            self.served_models = self._list_models()

    # -- errors -------------------------------------------------------------------------------------------------

    def _error(self, exc: Exception) -> WorkbenchError:
        """Translate an ``openai`` exception into a Workbench error with a fix."""
        import openai

        where = f"the endpoint {self.base_url}"
        if isinstance(exc, openai.APITimeoutError):
            return EndpointError(
                f"{where} did not answer within {self.timeout:g} s",
                hint="check that the server is up and not overloaded, or pass a larger timeout=",
            )
        if isinstance(exc, openai.APIConnectionError):
            return EndpointError(
                f"cannot reach {where} ({_first_line(exc)})",
                field="base_url",
                hint="start the server (e.g. `ollama serve`, `vllm serve MODEL`, `llama-server -m FILE`) or fix "
                "base_url= / WORKBENCH_OPENAI_BASE_URL",
            )
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return EndpointError(
                f"{where} refused the API key ({exc.status_code})",
                field="api_key",
                hint="set WORKBENCH_OPENAI_API_KEY (or pass api_key=) to a valid key",
            )
        if isinstance(exc, openai.NotFoundError):
            served = f"; it serves: {', '.join(self.served_models)}" if self.served_models else ""
            return ModelNotFoundError(
                f"{where} does not serve the model '{self.model_id}'",
                field="model",
                hint=f"pull or load the model on the server (e.g. `ollama pull {self.model_id}`){served}",
            )
        if isinstance(exc, openai.BadRequestError) and any(w in str(exc).lower() for w in _CONTEXT_WORDS):
            return ContextLengthError(
                f"{where} says the prompt is longer than the model's context: {_first_line(exc)}",
                field="prompt",
                hint="shorten the prompt or use a model with a longer context",
            )
        if isinstance(exc, openai.APIStatusError):
            return EndpointError(
                f"{where} answered {exc.status_code}: {_first_line(exc)}",
                hint="check the server's log; the request parameters may not be supported there",
            )
        return EndpointError(f"request to {where} failed: {type(exc).__name__}: {_first_line(exc)}")

    def _list_models(self) -> list[str] | None:
        import openai

        try:
            return sorted(m.id for m in self.client.models.list())
        except openai.NotFoundError:
            return None  # some servers have no /models route; chat requests will tell
        except openai.APIError as exc:
            raise self._error(exc) from None

    # -- prompts ------------------------------------------------------------------------------------------------

    def render_chat(self, messages: Prompt) -> str:
        """A readable rendering (the server applies the model's real template)."""
        msgs = to_messages(messages)
        return "".join(f"{m['role']}: {m['content']}\n" for m in msgs) + "assistant:"

    def count_tokens(self, text_or_messages: Prompt) -> int:
        """Estimated tokens (4 characters each): endpoints do not expose their tokenizer."""
        if isinstance(text_or_messages, str):
            return estimate_tokens(text_or_messages)
        return estimate_tokens(self.render_chat(text_or_messages))

    def _request(self, prompt: Prompt, params: GenerationParams) -> dict[str, Any]:
        messages = to_messages(prompt)
        if self._context_known:
            estimate = self.count_tokens(messages)
            if estimate >= self.context_length:
                raise ContextLengthError(
                    f"the prompt has about {estimate} tokens, but {self.name} has a context of "
                    f"{self.context_length} tokens",
                    field="prompt",
                    hint="shorten the prompt or use a model with a longer context",
                )
        request: dict[str, Any] = {
            "model": self.model_id,
            "messages": messages,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
        }
        if not params.greedy:
            request["top_p"] = params.top_p
        if params.seed is not None:
            request["seed"] = params.seed
        if params.json_mode:
            request["response_format"] = {"type": "json_object"}
        if params.stop:
            request["stop"] = list(params.stop[:4])  # the API takes at most 4; longer lists are cut locally
        return request

    # -- generation ---------------------------------------------------------------------------------------------

    def generate(
        self, prompt: Prompt, params: GenerationParams | Mapping[str, Any] | None = None, **overrides: Any
    ) -> Generation:
        """One chat-completions request (not streamed, so ``ttft_s`` is ``None``)."""
        import openai

        resolved = resolve_params(params, overrides)
        request = self._request(prompt, resolved)
        started = time.perf_counter()
        try:
            response = self.client.chat.completions.create(**request)
        except openai.APIError as exc:
            raise self._error(exc) from None
        latency = time.perf_counter() - started
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content if choice and choice.message else None) or ""
        text, cut = cut_at_stop(text, resolved.stop)
        usage = response.usage
        return Generation(
            text=text,
            model=self.model_id,
            input_tokens=usage.prompt_tokens if usage else self.count_tokens(request["messages"]),
            output_tokens=usage.completion_tokens if usage else estimate_tokens(text),
            latency_s=latency,
            ttft_s=None,
            finish_reason="stop" if cut else _finish_reason(choice.finish_reason if choice else None),
            bits=None,
        )

    def _stream(self, prompt: Prompt, params: GenerationParams) -> GenerationStream:
        import openai

        request = self._request(prompt, params)
        state: dict[str, Any] = {}

        def chunks() -> Generator[str, None, Generation]:
            started = time.perf_counter()
            try:
                response = self.client.chat.completions.create(
                    **request, stream=True, stream_options={"include_usage": True}
                )
            except openai.APIError as exc:
                raise self._error(exc) from None
            state["response"] = response
            scanner = StopScanner(params.stop)
            pieces: list[str] = []
            ttft = None
            finish = None
            usage = None
            try:
                for event in response:
                    if event.usage is not None:
                        usage = event.usage
                    for choice in event.choices or []:
                        if choice.finish_reason:
                            finish = choice.finish_reason
                        delta = choice.delta.content if choice.delta else None
                        if not delta:
                            continue
                        if ttft is None:
                            ttft = time.perf_counter() - started
                        emitted = scanner.feed(delta)
                        if emitted:
                            pieces.append(emitted)
                            yield emitted
                    if scanner.stopped:
                        break
            except openai.APIError as exc:
                raise self._error(exc) from None
            finally:
                response.close()
            tail = scanner.flush()
            if tail:
                pieces.append(tail)
                yield tail
            text = "".join(pieces)
            return Generation(
                text=text,
                model=self.model_id,
                input_tokens=usage.prompt_tokens if usage else self.count_tokens(request["messages"]),
                output_tokens=usage.completion_tokens if usage else estimate_tokens(text),
                latency_s=time.perf_counter() - started,
                ttft_s=ttft,
                finish_reason="stop" if scanner.stopped else _finish_reason(finish),
                bits=None,
            )

        def close() -> None:
            response = state.get("response")
            if response is not None:
                response.close()

        return GenerationStream(chunks(), on_close=close)

    def memory_footprint(self) -> int | None:
        """Unknown: the weights live on the server."""
        return None

    def info(self) -> dict[str, Any]:
        """Endpoint, model, served models, context (the API key is never included)."""
        return {
            "name": self.name,
            "model": self.model_id,
            "source": "openai",
            "base_url": self.base_url,
            "api_key_set": self._api_key_set,
            "served_models": self.served_models,
            "bits": None,
            "device": "remote",
            "context_length": self.context_length,
            "context_length_known": self._context_known,
            "footprint_bytes": None,
        }


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _finish_reason(reason: str | None) -> str:
    return "length" if reason == "length" else "stop"


class OpenAISource:
    """``openai:<model>``: an OpenAI-compatible endpoint."""

    name = "openai"
    syntax = "'openai:<model>' (an OpenAI-compatible endpoint; base_url= or WORKBENCH_OPENAI_BASE_URL)"
    priority = 50
    options = ("base_url", "api_key", "timeout", "connect_timeout", "max_retries", "context_length", "check")

    def matches(self, spec: str) -> bool:
        return False  # only by prefix

    def load(
        self, spec: str, *, bits: int | str | None = None, device: Any = None, **kwargs: Any
    ) -> OpenAIBackend:
        check_kwargs(self.name, kwargs, self.options)
        model = spec.strip()
        if not model:
            raise ModelNotFoundError(
                "the model name after 'openai:' is empty",
                field="model",
                hint="write openai:<model>, e.g. openai:llama3.2",
            )
        if bits is not None:
            raise QuantizationError(
                "an HTTP endpoint decides its own precision; bits= cannot apply",
                field="bits",
                hint="drop bits=, and pick a quantized model on the server (e.g. an Ollama q4_K_M tag)",
            )
        if device not in (None, "auto"):
            raise ConfigError(
                "an HTTP endpoint runs on the server's devices; device= cannot apply",
                field="device",
                hint="drop device=",
            )
        return OpenAIBackend(model, **kwargs)
