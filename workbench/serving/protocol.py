"""The OpenAI chat API as this server speaks it: requests, responses, stream chunks and the error shape.

Requests accept what the ``openai`` package and LangChain's ``ChatOpenAI`` send; fields the server does not use
(``frequency_penalty``, ``logit_bias``, ``tools``...) are accepted and ignored, except where ignoring would change
the answer's meaning (``n`` other than 1, tool messages): those are refused with a 400. Errors always have
OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Roles the server takes; ``developer`` (OpenAI's newer name for system) is read as ``system``.
ROLES = ("system", "developer", "user", "assistant")


class ChatMessage(BaseModel):
    """One message; ``content`` may be a string or a list of text parts."""

    model_config = ConfigDict(extra="ignore")

    role: str
    content: str | list[dict[str, Any]] | None = None

    @field_validator("role")
    @classmethod
    def _known_role(cls, value: str) -> str:
        if value not in ROLES:
            raise ValueError(f"role '{value}' is not supported here; use one of {', '.join(ROLES)}")
        return "system" if value == "developer" else value

    def text(self) -> str:
        """The text of the message (text parts joined)."""
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        parts = []
        for part in self.content:
            if part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise ValueError("only text content parts are supported")
            parts.append(part["text"])
        return "".join(parts)


class ResponseFormat(BaseModel):
    """``{"type": "text" | "json_object"}`` (``json_schema`` is refused: the server cannot enforce a schema)."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["text", "json_object"] = "text"


class StreamOptions(BaseModel):
    """``{"include_usage": true}`` adds a final chunk with token usage."""

    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """A ``POST /v1/chat/completions`` body."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int = Field(default=1, ge=1, le=1, description="one choice per request")
    stream: bool = False
    stream_options: StreamOptions | None = None
    response_format: ResponseFormat | None = None
    user: str | None = Field(default=None, max_length=256)

    def chat(self) -> list[dict[str, str]]:
        """The messages as ``{"role", "content"}`` dicts."""
        return [{"role": m.role, "content": m.text()} for m in self.messages]

    def prompt_chars(self) -> int:
        """Characters in all messages (the server's cheap size check before any tokenizing)."""
        return sum(len(m.text()) for m in self.messages)

    def params(self) -> dict[str, Any]:
        """Generation parameters the request sets (Workbench names)."""
        out: dict[str, Any] = {}
        limit = self.max_completion_tokens or self.max_tokens
        if limit is not None:
            out["max_new_tokens"] = limit
        for name in ("temperature", "top_p", "seed"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.stop:
            out["stop"] = [self.stop] if isinstance(self.stop, str) else list(self.stop)
        return out

    @property
    def json_mode(self) -> bool:
        """Whether the request asks for one JSON object."""
        return self.response_format is not None and self.response_format.type == "json_object"


def error_body(message: str, *, type: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict[str, Any]:  # fmt: skip
    """OpenAI's error shape."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def completion_id() -> str:
    """A new ``chatcmpl-...`` id."""
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    """OpenAI's ``usage`` object."""
    return {"prompt_tokens": input_tokens, "completion_tokens": output_tokens, "total_tokens": input_tokens + output_tokens}


def completion(
    *, cid: str, model: str, text: str, finish_reason: str, input_tokens: int, output_tokens: int,
    fingerprint: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A ``chat.completion`` response."""
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": fingerprint,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish_reason,
             "logprobs": None}
        ],
        "usage": usage(input_tokens, output_tokens),
    }  # fmt: skip


def chunk(
    *, cid: str, model: str, delta: dict[str, Any], finish_reason: str | None = None,
    usage_: dict[str, int] | None = None, fingerprint: str | None = None,
) -> str:  # fmt: skip
    """One server-sent event carrying a ``chat.completion.chunk``."""
    body: dict[str, Any] = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": fingerprint,
        "choices": [] if usage_ is not None else [
            {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        ],
    }  # fmt: skip
    if usage_ is not None:
        body["usage"] = usage_
    return sse(body)


def sse(data: dict[str, Any] | str) -> str:
    """A ``data: ...`` event (``[DONE]`` as is)."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"data: {text}\n\n"


def finish_reason(generation_finish: str | None, status: str) -> str:
    """OpenAI's finish reason: ``content_filter`` when the guard withheld the answer."""
    if status == "blocked":
        return "content_filter"
    return "length" if generation_finish == "length" else "stop"
