"""What a server runs: copilot versions (each with its batcher), the router between them, and the two ways a
request is answered (whole, or streamed through a :class:`StreamJob`).

Every answer goes through :meth:`workbench.copilots.Copilot.answer`: the guard, the template, retrieval, and a
``generation`` telemetry event whose ``task`` is ``copilot:<id>@<version>`` and whose ``variant`` attribute is
the stage (``ga``, ``canary`` or ``direct`` for a spec served as is), with redacted text only. A semantic-cache
hit is recorded as a ``generation`` event too (no tokens, ``cache_hit: true``), and so is a stream whose client
left before the end (status ``client_disconnected``). The event's learner is the request's ``user`` field, else
the API key's name (``api-key:<name>``), else the server's own telemetry context; all of them are pseudonymised,
and the guard's per-learner rate limit and token budget apply to that learner.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.serving.batching import BatchedModel, DynamicBatcher, Ticket
from workbench.serving.cache import CachedAnswer, SemanticCache

if TYPE_CHECKING:
    from workbench.copilots import Copilot, Turn
    from workbench.prompting import GenerationResult


@dataclass
class Deployment:
    """One served copilot version.

    Attributes:
        copilot: The loaded copilot.
        stage: ``ga``, ``canary``, or ``None`` (a spec served as is).
        batcher: The batcher of its model (shared with other versions on the same model).
        cache: The semantic cache, when the spec enables it.
    """

    copilot: Copilot
    stage: str | None
    batcher: DynamicBatcher
    cache: SemanticCache | None = None

    @property
    def ref(self) -> str:
        """``id@version``: the model name responses carry."""
        return self.copilot.spec.ref

    @property
    def label(self) -> str:
        """The stage as telemetry records it."""
        return self.stage or "direct"

    def model(self, *, json_mode: bool) -> BatchedModel:
        """A request's view of the batched model."""
        return BatchedModel(self.batcher, response_format="json_object" if json_mode else None)


class Router:
    """Picks the deployment for a request's ``model``: ``id@version`` names one version; the served name (the
    copilot id, or ``serving.name``) goes to GA, or to the canary for ``canary_share`` of the requests (by a hash
    of the request's ``user`` when it has one, so a user stays on one version).
    """

    def __init__(self, deployments: Sequence[Deployment], *, canary_share: float | None = None) -> None:
        self.deployments = list(deployments)
        main = next((d for d in self.deployments if d.stage == "ga"), self.deployments[0])
        self.main = main
        self.canary = next((d for d in self.deployments if d.stage == "canary"), None)
        if canary_share is None and self.canary is not None:
            canary_share = self.canary.copilot.spec.serving.canary_share
        self.canary_share = float(canary_share or 0.0)
        self.name = main.copilot.spec.served_name
        self._random = random.Random()

    def names(self) -> list[str]:
        """Model names clients may send."""
        return [self.name, *(d.ref for d in self.deployments)]

    def pick(self, model: str, user: str | None = None) -> Deployment | None:
        """The deployment for ``model``, or ``None`` when the server does not serve it."""
        for deployment in self.deployments:
            if model == deployment.ref:
                return deployment
        if model != self.name:
            return None
        if self.canary is None or self.canary_share <= 0:
            return self.main
        if user:
            draw = int.from_bytes(hashlib.sha256(user.encode()).digest()[:8], "big") / 2**64
        else:
            draw = self._random.random()
        return self.canary if draw < self.canary_share else self.main


@dataclass(frozen=True)
class Reply:
    """A finished answer."""

    text: str
    finish_reason: str | None
    status: str
    input_tokens: int
    output_tokens: int
    cache_hit: bool = False


def _cache_key(deployment: Deployment, chat: list[dict[str, str]], turn: Turn, params: dict[str, Any],
               learner: str | None) -> tuple[Any, str] | None:  # fmt: skip
    """(partition, redacted key) for a cacheable request, else ``None`` (no cache, sampled, or a blocked prompt)."""
    if deployment.cache is None or float(params.get("temperature", 0.0) or 0.0) != 0.0:
        return None
    copilot = deployment.copilot
    decision = copilot.guard.check_prompt(chat, model=copilot.backend.name, learner=learner, audit=False)
    if decision.blocked:
        return None  # the normal path refuses it, with the guard's message
    partition = (deployment.ref, json.dumps(params, sort_keys=True), turn.template)
    return partition, json.dumps(decision.messages or chat, ensure_ascii=False)


def _record_request(
    deployment: Deployment, *, learner: str | None, latency: float, status: str, **attributes: Any
) -> None:
    """A ``generation`` event for a request the model did not finish (a cache hit, a client that left)."""
    from workbench.telemetry import record

    record(
        "generation",
        task=f"copilot:{deployment.ref}",
        duration_s=round(latency, 6),
        status=status,
        learner=learner,
        attributes={
            "gen_ai.request.model": deployment.copilot.backend.name, "gen_ai.usage.input_tokens": 0,
            "gen_ai.usage.output_tokens": 0, "latency_s": round(latency, 6), "cost": 0.0,
            "variant": deployment.label, **attributes,
        },
    )  # fmt: skip


def answer_request(
    deployment: Deployment, chat: list[dict[str, str]], params: dict[str, Any], *, json_mode: bool,
    learner: str | None, ticket: Ticket | None = None,
) -> Reply:  # fmt: skip
    """Answer a request whole (runs in a worker thread; the generation joins a shared batch).

    Args:
        ticket: The request's announcement to the batcher (:meth:`DynamicBatcher.announce`), when it has one.
    """
    with deployment.batcher.expecting(ticket):
        return _answer(deployment, chat, params, json_mode=json_mode, learner=learner)


def _answer(
    deployment: Deployment, chat: list[dict[str, str]], params: dict[str, Any], *, json_mode: bool,
    learner: str | None,
) -> Reply:  # fmt: skip
    started = time.perf_counter()
    copilot = deployment.copilot
    turn = copilot.prepare(chat)
    keyed = _cache_key(deployment, chat, turn, {**turn.params, **params}, learner) if not json_mode else None
    vector = None
    if keyed is not None and deployment.cache is not None:
        hit, vector = deployment.cache.lookup(*keyed)
        if hit is not None:
            _record_request(deployment, learner=learner, latency=time.perf_counter() - started, status="ok",
                            cache_hit=True, cache_similarity=hit.similarity)  # fmt: skip
            return Reply(hit.text, hit.finish_reason, "ok", hit.input_tokens, hit.output_tokens, cache_hit=True)
    answer = copilot.answer(
        chat, params=params, backend=deployment.model(json_mode=json_mode), learner=learner,
        label=deployment.label, turn=turn,
    )  # fmt: skip
    result = answer.result
    if keyed is not None and deployment.cache is not None and vector is not None and result.status == "ok":
        cached = CachedAnswer(result.text, result.finish_reason or "stop", result.input_tokens, result.output_tokens, 1.0)
        deployment.cache.store(keyed[0], keyed[1], vector, cached)
    return Reply(result.text, result.finish_reason, result.status, result.input_tokens, result.output_tokens)


class _ClientGone(Exception):
    """The client of a stream disconnected: stop generating."""


class StreamJob:
    """One streamed answer: generation runs in a worker thread and hands events to the event loop.

    Events on :attr:`events`: ``("text", str)``, then ``("done", GenerationResult)`` or ``("error", exception)``.
    :meth:`cancel` (the client left) makes the next streamed piece stop the generation.
    """

    def __init__(
        self, deployment: Deployment, chat: list[dict[str, str]], params: dict[str, Any], *, json_mode: bool,
        learner: str | None, loop: asyncio.AbstractEventLoop, ticket: Ticket | None = None,
    ) -> None:  # fmt: skip
        self.deployment = deployment
        self.ticket = ticket  # the request's announcement to the batcher, so a forming batch waits for it
        self.chat, self.params, self.learner = chat, params, learner
        self.model = deployment.model(json_mode=json_mode)
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.cancelled = threading.Event()
        self.finished = threading.Event()
        self.streaming = False  # the event stream started (it then counts itself out of the in-flight gauge)
        self._loop = loop

    def _put(self, kind: str, value: Any) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is listening any more
            self._loop.call_soon_threadsafe(self.events.put_nowait, (kind, value))

    def _text(self, piece: str) -> None:
        if self.cancelled.is_set():
            raise _ClientGone
        self._put("text", piece)

    def run(self) -> None:
        """Generate (in a worker thread)."""
        started = time.perf_counter()
        try:
            with self.deployment.batcher.expecting(self.ticket):
                answer = self.deployment.copilot.answer(
                    self.chat, params=self.params, backend=self.model, stream=True, on_text=self._text,
                    learner=self.learner, label=self.deployment.label,
                )  # fmt: skip
        except _ClientGone:
            _record_request(self.deployment, learner=self.learner, latency=time.perf_counter() - started,
                            status="client_disconnected")  # fmt: skip
            self._put("gone", None)
        except BaseException as exc:
            self._put("error", exc)
        else:
            self._put("done", answer.result)
        finally:
            handle = self.model.stream_handle
            if handle is not None:
                handle.close()  # stops the model now, if the client left mid-stream
            self.finished.set()

    def cancel(self) -> None:
        """The client left: stop at the next piece."""
        self.cancelled.set()


def result_reply(result: GenerationResult) -> Reply:
    """A :class:`Reply` from a finished generation."""
    return Reply(result.text, result.finish_reason, result.status, result.input_tokens, result.output_tokens)
