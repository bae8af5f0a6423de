"""The OpenAI-compatible ASGI app (FastAPI): ``/v1/chat/completions`` (plain and server-sent events),
``/v1/models``, ``/health`` and ``/metrics``.

- **Keys**: with API keys configured, ``/v1/*`` needs ``Authorization: Bearer <key>``; a missing or wrong key is a
  401. ``/health`` and ``/metrics`` stay open (for load balancers and Prometheus); they carry no text.
- **Errors** have OpenAI's shape and a 4xx for bad input: malformed JSON and invalid fields (400), an unknown
  model (404), a body over the size limit (413), a prompt over ``serving.max_prompt_chars`` or the model's
  context (400, ``context_length_exceeded``), a guardrail block (400, ``content_filter``; rate limits 429).
  Anything else is a 500 ``server_error`` and the server keeps serving.
- **Streams**: the first event waits for the first token, so a request the guard refuses still gets its 4xx;
  a client that disconnects mid-stream stops its row of the generation at the next token. Streams are batched
  like whole answers: concurrent streams share one generate call, each reading its own row (batching.py).
- **Shutdown**: uvicorn stops accepting on SIGTERM and lets in-flight requests (streams too) finish; then the
  batchers drain and the telemetry recorder flushes.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError as PydanticValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from workbench.errors import ContextLengthError, ModelError, PolicyViolation, WorkbenchError
from workbench.serving import protocol
from workbench.serving.batching import Ticket
from workbench.serving.deployment import Deployment, Router, StreamJob, answer_request, result_reply
from workbench.serving.metrics import ServerMetrics

#: Largest request body (bytes) when the spec's ``max_prompt_chars`` allows less: JSON overhead on top of it.
BODY_OVERHEAD = 64 * 1024


class APIError(Exception):
    """An error answered with OpenAI's shape."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None) -> None:  # fmt: skip
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code

    def response(self) -> JSONResponse:
        """The JSON error response."""
        body = protocol.error_body(self.message, type=self.type, param=self.param, code=self.code)
        return JSONResponse(body, status_code=self.status)


def parse_api_keys(values: Sequence[str]) -> dict[str, str]:
    """``["NAME=KEY", "KEY"]`` -> ``{key: name}`` (an unnamed key is named by a hash prefix, never by itself)."""
    import hashlib

    keys: dict[str, str] = {}
    for value in values:
        for item in value.replace(",", " ").split():
            name, sep, key = item.partition("=")
            if not sep:
                key, name = item, f"key-{hashlib.sha256(item.encode()).hexdigest()[:8]}"
            if key:
                keys[key] = name
    return keys


def workbench_error(exc: WorkbenchError) -> APIError:
    """The HTTP form of a Workbench error raised while answering."""
    text = exc.message + (f" ({exc.hint})" if exc.hint else "")
    if isinstance(exc, ContextLengthError):
        return APIError(400, text, param="messages", code="context_length_exceeded")
    if isinstance(exc, PolicyViolation):
        if exc.field in ("rate_limit", "token_budget"):
            return APIError(429, text, type="rate_limit_error", code="rate_limit_exceeded")
        return APIError(400, text, param="messages", code="content_filter")
    if isinstance(exc, ModelError):
        return APIError(500, text, type="server_error", code="model_error")
    return APIError(400, text, param=exc.field)


class _SSEResponse(StreamingResponse):
    """A streaming response that tells its job when the client is gone (and keeps the server's log quiet)."""

    def __init__(self, body: AsyncIterator[str], job: StreamJob, metrics: ServerMetrics) -> None:
        super().__init__(body, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        self.job, self.metrics = job, metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        except (ClientDisconnect, OSError):
            pass  # the client left; the finally below stops the generation
        finally:
            if not self.job.finished.is_set():
                self.job.cancel()
                self.metrics.disconnects.inc()
            if not self.job.streaming:  # the client left before the first event was sent
                self.metrics.in_flight.dec()


class CopilotServer:
    """The app's state: the router, metrics, keys, and the threads streams run in."""

    def __init__(self, deployments: Sequence[Deployment], *, api_keys: Mapping[str, str] | None = None,
                 canary_share: float | None = None, stream_workers: int = 64) -> None:  # fmt: skip
        self.router = Router(deployments, canary_share=canary_share)
        self.metrics = ServerMetrics()
        self.api_keys = dict(api_keys or {})
        self.max_chars = min(d.copilot.spec.serving.max_prompt_chars for d in deployments)
        self.max_body = self.max_chars * 4 + BODY_OVERHEAD  # UTF-8 and JSON escapes take more bytes than chars
        self.executor = ThreadPoolExecutor(max_workers=stream_workers, thread_name_prefix="workbench-stream")
        self.batchers = list({id(d.batcher): d.batcher for d in deployments}.values())
        for batcher in self.batchers:
            batcher.on_batch = self.metrics.batch_size.observe

    def authorise(self, request: Request) -> str | None:
        """The key's name (``None`` when no keys are configured); a 401 for a missing or wrong key."""
        if not self.api_keys:
            return None
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise APIError(401, "Missing API key: send 'Authorization: Bearer <key>'.", type="authentication_error",
                           code="invalid_api_key")  # fmt: skip
        for key, name in self.api_keys.items():
            if hmac.compare_digest(key.encode(), token.strip().encode()):
                return name
        raise APIError(401, "Incorrect API key provided.", type="authentication_error", code="invalid_api_key")

    async def read_request(self, request: Request) -> protocol.ChatCompletionRequest:
        """The checked request body (413 too big, 400 malformed JSON or invalid fields)."""
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            raise APIError(413, f"The request body is larger than {self.max_body} bytes.", code="request_too_large")
        body = await request.body()
        if len(body) > self.max_body:
            raise APIError(413, f"The request body is larger than {self.max_body} bytes.", code="request_too_large")
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise APIError(400, "We could not parse the JSON body of your request.", code="invalid_json") from None
        if not isinstance(data, dict):
            raise APIError(400, "The request body must be a JSON object.", code="invalid_json")
        try:
            parsed = protocol.ChatCompletionRequest.model_validate(data)
            chars = parsed.prompt_chars()
        except PydanticValidationError as exc:
            err = exc.errors()[0]
            param = ".".join(str(p) for p in err["loc"]) or None
            raise APIError(400, f"Invalid request: {param}: {err['msg']}", param=param) from None
        except ValueError as exc:
            raise APIError(400, f"Invalid request: {exc}", param="messages") from None
        if chars > self.max_chars:
            raise APIError(400, f"The prompt has {chars} characters; this copilot takes at most {self.max_chars}.",
                           param="messages", code="context_length_exceeded")  # fmt: skip
        return parsed

    def deployment_for(self, body: protocol.ChatCompletionRequest) -> Deployment:
        """The version that answers (404 for a model this server does not serve)."""
        deployment = self.router.pick(body.model, body.user)
        if deployment is None:
            raise APIError(404, f"The model '{body.model}' does not exist here; this server serves "
                           f"{', '.join(self.router.names())}.", param="model", code="model_not_found")  # fmt: skip
        return deployment

    def close(self) -> None:
        """Drain the batchers and the stream threads; flush telemetry."""
        for batcher in self.batchers:
            batcher.close(timeout=60)
        self.executor.shutdown(wait=True)
        from workbench.telemetry import get_recorder

        get_recorder().flush()


def create_app(
    deployments: Sequence[Deployment], *, api_keys: Mapping[str, str] | None = None,
    canary_share: float | None = None,
) -> FastAPI:  # fmt: skip
    """The ASGI app serving ``deployments`` (see :func:`workbench.serving.build_deployments`)."""
    server = CopilotServer(deployments, api_keys=api_keys, canary_share=canary_share)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await anyio.to_thread.run_sync(server.close)

    app = FastAPI(title="Workbench copilot", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.server = server
    _add_handlers(app)
    _add_info_routes(app, server)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        # Announced before the body is read, so a batch forming now waits for this request (see batching.py).
        tickets = {id(b): b.announce() for b in server.batchers}
        try:
            key_name = server.authorise(request)
            body = await server.read_request(request)
            deployment = server.deployment_for(body)
            learner = body.user or (f"api-key:{key_name}" if key_name else None)
            ticket = tickets[id(deployment.batcher)]
            for other in tickets.values():
                if other is not ticket:
                    other.arrive()  # other models' batchers need not wait for this request
            return await _complete(server, deployment, body, learner, ticket)
        finally:
            for left in tickets.values():
                left.arrive()  # idempotent: whatever happened, no batch waits for this request any more

    return app


def _add_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError) -> Response:
        return exc.response()

    @app.exception_handler(WorkbenchError)
    async def _workbench_error(_: Request, exc: WorkbenchError) -> Response:
        return workbench_error(exc).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        code = "not_found" if exc.status_code == 404 else None
        return APIError(exc.status_code, str(exc.detail), code=code).response()

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> Response:
        message = f"The server had an error while processing your request ({type(exc).__name__})."
        return APIError(500, message, type="server_error", code="server_error").response()


def _add_info_routes(app: FastAPI, server: CopilotServer) -> None:
    def model_card(name: str) -> dict[str, Any]:
        return {"id": name, "object": "model", "created": 0, "owned_by": "workbench"}

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        server.authorise(request)
        return {"object": "list", "data": [model_card(n) for n in server.router.names()]}

    @app.get("/v1/models/{name}")
    async def model(name: str, request: Request) -> dict[str, Any]:
        server.authorise(request)
        if name not in server.router.names():
            raise APIError(404, f"The model '{name}' does not exist here.", param="model", code="model_not_found")
        return model_card(name)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        router = server.router
        batchers = server.batchers
        caches = [d.cache.stats() for d in router.deployments if d.cache is not None]
        return {
            "status": "ok", "model": router.name, "canary_share": router.canary_share,
            "versions": [{"model": d.ref, "stage": d.stage} for d in router.deployments],
            "batching": [{"model": b.backend.name, "requests": b.stats.requests, "batches": b.stats.batches,
                          "mean_batch": round(b.stats.mean_batch, 3), "largest": b.stats.largest,
                          "sizes": dict(sorted(b.stats.sizes.items()))} for b in batchers],
            "cache": caches[0] if caches else None,
        }  # fmt: skip

    @app.get("/metrics")
    async def metrics() -> Response:
        for d in server.router.deployments:
            if d.cache is not None:
                server.metrics.cache_ratio.set(d.cache.hit_rate)
        return Response(server.metrics.render(), media_type=server.metrics.content_type)


async def _complete(
    server: CopilotServer, deployment: Deployment, body: protocol.ChatCompletionRequest, learner: str | None,
    ticket: Ticket | None,
) -> Response:
    """Answer whole or streamed, counting the request in the metrics."""
    metrics, started = server.metrics, time.perf_counter()
    labels = {"model": deployment.ref, "stage": deployment.label}
    metrics.in_flight.inc()
    try:
        if body.stream:
            return await _stream(server, deployment, body, learner, started, ticket)
        reply = await anyio.to_thread.run_sync(
            partial(answer_request, deployment, body.chat(), body.params(), json_mode=body.json_mode, learner=learner,
                    ticket=ticket)
        )
    except APIError as exc:
        metrics.requests.labels(**labels, status=str(exc.status)).inc()
        raise
    except WorkbenchError as exc:
        metrics.requests.labels(**labels, status=str(workbench_error(exc).status)).inc()
        raise
    finally:
        if not body.stream:
            metrics.in_flight.dec()
    _count(server, deployment, reply.input_tokens, reply.output_tokens, started)
    if deployment.cache is not None and not body.json_mode:
        metrics.cache.labels(result="hit" if reply.cache_hit else "miss").inc()
    return JSONResponse(
        protocol.completion(
            cid=protocol.completion_id(), model=deployment.ref, text=reply.text,
            finish_reason=protocol.finish_reason(reply.finish_reason, reply.status),
            input_tokens=reply.input_tokens, output_tokens=reply.output_tokens,
            fingerprint=deployment.copilot.spec.digest(),
        )
    )  # fmt: skip


def _count(server: CopilotServer, deployment: Deployment, input_tokens: int, output_tokens: int, started: float) -> None:
    metrics = server.metrics
    metrics.requests.labels(model=deployment.ref, stage=deployment.label, status="200").inc()
    metrics.latency.labels(model=deployment.ref).observe(time.perf_counter() - started)
    metrics.tokens.labels(direction="input").inc(input_tokens)
    metrics.tokens.labels(direction="output").inc(output_tokens)


async def _stream(
    server: CopilotServer, deployment: Deployment, body: protocol.ChatCompletionRequest, learner: str | None,
    started: float, ticket: Ticket | None,
) -> Response:  # fmt: skip
    """Start the stream job (a row of a shared batch); answer a refusal before the first token with its 4xx,
    else stream events."""
    loop = asyncio.get_running_loop()
    job = StreamJob(deployment, body.chat(), body.params(), json_mode=body.json_mode, learner=learner, loop=loop,
                    ticket=ticket)  # fmt: skip
    loop.run_in_executor(server.executor, job.run)
    try:
        first = await job.events.get()
    except BaseException:
        job.cancel()
        server.metrics.in_flight.dec()
        raise
    if first[0] == "error":
        server.metrics.in_flight.dec()
        exc = first[1]
        if isinstance(exc, WorkbenchError):
            raise exc
        raise APIError(500, f"The server had an error ({type(exc).__name__}).", type="server_error", code="server_error")
    events = _events(server, deployment, body, job, first, started)
    return _SSEResponse(events, job, server.metrics)


async def _events(
    server: CopilotServer, deployment: Deployment, body: protocol.ChatCompletionRequest, job: StreamJob,
    first: tuple[str, Any], started: float,
) -> AsyncIterator[str]:  # fmt: skip
    """The server-sent events of one stream."""
    cid, model, fingerprint = protocol.completion_id(), deployment.ref, deployment.copilot.spec.digest()
    emit = partial(protocol.chunk, cid=cid, model=model, fingerprint=fingerprint)
    job.streaming = True
    try:
        yield emit(delta={"role": "assistant", "content": ""})
        event = first
        while event[0] == "text":
            yield emit(delta={"content": event[1]})
            event = await job.events.get()
        if event[0] == "done":
            reply = result_reply(event[1])
            yield emit(delta={}, finish_reason=protocol.finish_reason(reply.finish_reason, reply.status))
            if body.stream_options is not None and body.stream_options.include_usage:
                yield emit(delta={}, usage_=protocol.usage(reply.input_tokens, reply.output_tokens))
            _count(server, deployment, reply.input_tokens, reply.output_tokens, started)
        elif event[0] == "error":
            exc = event[1]
            err = workbench_error(exc) if isinstance(exc, WorkbenchError) else APIError(500, "generation failed",
                                                                                       type="server_error")  # fmt: skip
            server.metrics.requests.labels(model=model, stage=deployment.label, status=str(err.status)).inc()
            yield protocol.sse(protocol.error_body(err.message, type=err.type, param=err.param, code=err.code))
        yield protocol.sse("[DONE]")
    finally:
        server.metrics.in_flight.dec()
