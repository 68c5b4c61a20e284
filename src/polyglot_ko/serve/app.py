"""The FastAPI app: `Service` turns each request into sequences for the worker and shapes the answer."""

# No `from __future__ import annotations`: FastAPI resolves the `Request` annotations of the routes at run time.
import asyncio
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import UserError
from ..sampling import SamplingParams
from .api import (
    CHAT_USER,
    APIError,
    ChatRequest,
    CompletionRequest,
    ServerLimits,
    _error_event,
    _lone_surrogate_at,
    format_chat,
    sse,
)
from .worker import BatchWorker, QueueFull, _Handle

log = logging.getLogger("polyglot_ko.serve")


class Service:
    """What the routes do, one small method each: parse a request, turn it into sequences for the worker, and
    shape what comes back (a JSON body, or server-sent events through `stream_events`)."""

    def __init__(self, generator, model_name: str, api_key: str | None, limits: ServerLimits):
        self.generator, self.model_name, self.api_key, self.limits = generator, model_name, api_key, limits
        self.created = int(time.time())

    # -- requests --
    def check_auth(self, request: Request) -> None:
        if self.api_key is None:
            return
        header = request.headers.get("authorization", "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(header, f"Bearer {self.api_key}".encode()):
            raise APIError(
                401, "invalid or missing API key; send `Authorization: Bearer <key>`", code="invalid_api_key"
            )

    async def read_body(self, request: Request) -> bytes:
        """The body, refused with 413 as soon as it passes the limit (declared or while it streams in)."""
        limit = self.limits.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise APIError(413, f"request body is {declared} bytes; the limit is {limit}", code="request_too_large")
        body = bytearray()

        async def receive() -> None:
            async for chunk in request.stream():
                body.extend(chunk)
                if len(body) > limit:
                    raise APIError(413, f"request body is over the limit of {limit} bytes", code="request_too_large")

        try:
            await asyncio.wait_for(receive(), timeout=self.limits.body_timeout)
        except asyncio.TimeoutError:
            raise APIError(
                408, f"the request body did not arrive within {self.limits.body_timeout:g} s", code="request_timeout"
            ) from None
        return bytes(body)

    async def parse(self, request: Request, schema):
        self.check_auth(request)
        body = await self.read_body(request)
        try:
            obj = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise APIError(400, f"request body is not valid JSON ({e})", code="invalid_json") from None
        except RecursionError:
            raise APIError(400, "request body is nested too deeply", code="invalid_json") from None
        if not isinstance(obj, dict):
            raise APIError(400, "request body must be a JSON object", code="invalid_json")
        bad = _lone_surrogate_at(obj)
        if bad is not None:
            raise APIError(
                400,
                f"{bad}: holds a lone UTF-16 surrogate (such as \\ud800), which is not text",
                param=bad,
                code="invalid_string",
            )
        try:
            req = schema.model_validate(obj)
        except ValidationError as e:
            first = e.errors()[0]
            param = ".".join(str(p) for p in first["loc"])
            raise APIError(
                422, f"{param}: {first['msg']} (got {first.get('input')!r:.80})", param=param, code="invalid_type"
            ) from None
        if req.model is not None and req.model not in (self.model_name, "polyglot-ko"):
            raise APIError(
                404,
                f"model {req.model!r} is not served here; GET /v1/models lists {self.model_name!r}",
                param="model",
                code="model_not_found",
            )
        return req

    def sampling(self, req, max_tokens: int | None, stop_extra: tuple[str, ...] = (), logprobs=None) -> SamplingParams:
        limits = self.limits
        if max_tokens is None:
            max_tokens = min(limits.default_max_tokens, limits.max_tokens)
        if max_tokens > limits.max_tokens:
            raise APIError(
                400,
                f"max_tokens={max_tokens} exceeds this server's limit of {limits.max_tokens}",
                param="max_tokens",
                code="max_tokens_too_large",
            )
        if not 1 <= req.n <= limits.max_n:
            raise APIError(400, f"n={req.n} must be in [1, {limits.max_n}]", param="n")
        stop = (req.stop,) if isinstance(req.stop, str) else tuple(req.stop or ())
        if len(stop) > limits.max_stop or any(len(x) > limits.max_stop_chars for x in stop):
            raise APIError(
                400,
                f"stop: at most {limits.max_stop} stop strings of at most {limits.max_stop_chars} characters each",
                param="stop",
            )
        kw = dict(
            max_new_tokens=max_tokens,
            temperature=req.temperature,
            top_p=req.top_p,
            top_k=req.top_k,
            repetition_penalty=req.repetition_penalty,
            no_repeat_ngram_size=req.no_repeat_ngram_size,
            stop=stop + stop_extra,
            seed=req.seed,
            logprobs=logprobs,
        )
        if req.stop_token_ids is not None:
            kw["stop_token_ids"] = tuple(req.stop_token_ids)
        try:
            return SamplingParams(**kw).validate(self.generator.vocab_size)
        except UserError as e:
            raise APIError(400, str(e), param=e.param) from None

    def encode(self, prompt) -> list[int]:
        try:
            ids = self.generator.encode_prompt(prompt)
        except UserError as e:
            raise APIError(400, str(e), param="prompt") from None
        if len(ids) > self.limits.max_prompt_tokens:
            raise APIError(
                413,
                f"prompt is {len(ids)} tokens; this server accepts at most {self.limits.max_prompt_tokens}",
                param="prompt",
                code="prompt_too_long",
            )
        return ids

    async def encode_all(self, prompts: list) -> list[list[int]]:
        # Off the event loop: a long prompt takes a while to tokenize and must not freeze other requests.
        return await asyncio.to_thread(lambda: [self.encode(p) for p in prompts])

    async def run_sequences(
        self,
        request: Request,
        prompts: list[list[int]],
        params: SamplingParams,
        n: int,
        want_prompt_logprobs: bool = False,
    ):
        """Submit prompts x n; returns (handles, events queue). Choice i*n+j is prompt i, sample j."""
        loop = asyncio.get_running_loop()
        events: asyncio.Queue = asyncio.Queue()
        handles, seqs = [], []
        for i, ids in enumerate(prompts):
            for j in range(n):
                p = params.replace(seed=(params.seed + j) % 2**64) if (params.seed is not None and j) else params
                h = _Handle(loop, events, i * n + j)
                try:
                    seq = self.generator.new_sequence(None, p, listener=h.on_text, tag=h, prompt_ids=ids)
                except UserError as e:
                    raise APIError(400, str(e), param="prompt") from None
                seq.want_prompt_logprobs = want_prompt_logprobs
                h.sequence = seq
                handles.append(h)
                seqs.append(seq)
        try:
            request.app.state.worker.submit(seqs)
        except QueueFull:
            raise APIError(
                429,
                f"the server is at its limit of {self.limits.max_queue} queued sequences; retry shortly",
                "rate_limit_error",
                code="queue_full",
            ) from None
        return handles, events

    @staticmethod
    def cancel(handles) -> None:
        for h in handles:
            h.sequence.cancel()

    async def wait_all(self, request: Request, handles, events: asyncio.Queue) -> None:
        """Wait until every sequence is done; cancel them all if the client goes away.

        The client is checked every half second also while text keeps arriving (a busy stream never times out)."""
        pending = len(handles)
        next_check = time.monotonic() + 0.5
        try:
            while pending:
                try:
                    kind, _i, payload = await asyncio.wait_for(events.get(), timeout=0.5)
                except asyncio.TimeoutError:
                    kind = None
                if time.monotonic() >= next_check:
                    next_check = time.monotonic() + 0.5
                    if await request.is_disconnected():
                        self.cancel(handles)
                        return
                if kind == "done":
                    pending -= 1
                elif kind == "error":
                    raise APIError(500, payload, "server_error")
        except asyncio.CancelledError:
            self.cancel(handles)
            raise

    async def stream_events(
        self,
        handles,
        events: asyncio.Queue,
        on_text: Callable,
        on_done: Callable,
        head: list[str],
        tail: Callable[[], list[str]],
    ):
        """The SSE body both endpoints share: `head`, then one event per text chunk / finished choice (None from
        a callback skips it), an error event if a step fails, `tail`, `[DONE]`; cancels what is left at the end
        or when the client disconnects (the response task is cancelled)."""
        pending = len(handles)
        try:
            for line in head:
                yield line
            while pending:
                kind, i, payload = await events.get()
                if kind == "error":
                    yield _error_event(payload)
                    return
                if kind == "done":
                    pending -= 1
                event = on_text(i, payload) if kind == "text" else on_done(i, payload)
                if event is not None:
                    yield event
            for line in tail():
                yield line
            yield "data: [DONE]\n\n"
        finally:
            self.cancel(handles)

    # -- responses --
    @staticmethod
    def usage(prompts: list[list[int]], handles) -> dict:
        p = sum(len(x) for x in prompts)
        c = sum(len(h.sequence.out_ids) for h in handles)
        return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}

    def token_str(self, t: int) -> str:
        return self.generator.tokenizer.decode([t])

    def completion_logprobs(self, seq, echo: bool) -> dict:
        tokens, lps, tops = [], [], []
        if echo:
            for k, t in enumerate(seq.prompt_ids):
                tokens.append(self.token_str(t))
                lps.append(None if k == 0 else seq.prompt_logprobs[k - 1])
                tops.append(None)
        for e in seq.logprobs or []:
            tokens.append(self.token_str(e["token_id"]))
            lps.append(e["logprob"])
            tops.append({self.token_str(t): lp for t, lp in e["top"]})
        offsets, pos = [], 0
        for tok in tokens:
            offsets.append(pos)
            pos += len(tok)
        return {"tokens": tokens, "token_logprobs": lps, "top_logprobs": tops, "text_offset": offsets}

    def chat_logprobs(self, seq) -> dict | None:
        if seq.logprobs is None:
            return None

        def item(t, lp):
            s = self.token_str(t)
            return {"token": s, "logprob": lp, "bytes": list(s.encode("utf-8"))}

        return {
            "content": [
                {**item(e["token_id"], e["logprob"]), "top_logprobs": [item(t, lp) for t, lp in e["top"]]}
                for e in seq.logprobs
            ]
        }

    # -- endpoints --
    async def completions(self, request: Request):
        req = await self.parse(request, CompletionRequest)
        raw = req.prompt
        if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int)):
            raw = [raw]
        if not raw:
            raise APIError(400, "prompt must not be an empty list", param="prompt")
        if req.logprobs is not None and not 0 <= req.logprobs <= 20:
            raise APIError(400, f"logprobs={req.logprobs} must be in [0, 20]", param="logprobs")
        params = self.sampling(req, req.max_tokens, logprobs=req.logprobs)
        prompts = await self.encode_all(raw)
        prompt_texts = [p if isinstance(p, str) else self.generator.tokenizer.decode(p) for p in raw]
        want_prompt_lp = bool(req.echo and req.logprobs is not None)
        handles, events = await self.run_sequences(request, prompts, params, req.n, want_prompt_lp)
        rid, now = f"cmpl-{uuid.uuid4().hex}", int(time.time())

        def body(choices, **extra) -> dict:
            return {
                "id": rid,
                "object": "text_completion",
                "created": now,
                "model": self.model_name,
                "choices": choices,
                **extra,
            }

        def echo_text(h) -> str:
            return prompt_texts[h.index // req.n] if req.echo else ""

        if not req.stream:
            await self.wait_all(request, handles, events)
            return body(
                [
                    {
                        "index": h.index,
                        "text": echo_text(h) + h.sequence.text,
                        "finish_reason": h.sequence.finish_reason,
                        "logprobs": self.completion_logprobs(h.sequence, req.echo)
                        if req.logprobs is not None
                        else None,
                    }
                    for h in handles
                ],
                usage=self.usage(prompts, handles),
            )

        def on_text(i, text):
            return sse(body([{"index": i, "text": text, "finish_reason": None, "logprobs": None}]))

        def on_done(i, seq):
            lp = self.completion_logprobs(seq, False) if req.logprobs is not None else None
            return sse(body([{"index": i, "text": "", "finish_reason": seq.finish_reason, "logprobs": lp}]))

        head = (
            [
                sse(body([{"index": h.index, "text": echo_text(h), "finish_reason": None, "logprobs": None}]))
                for h in handles
            ]
            if req.echo
            else []
        )
        include_usage = bool((req.stream_options or {}).get("include_usage"))

        def tail():
            return [sse(body([], usage=self.usage(prompts, handles)))] if include_usage else []

        return StreamingResponse(
            self.stream_events(handles, events, on_text, on_done, head, tail), media_type="text/event-stream"
        )

    async def chat(self, request: Request):
        req = await self.parse(request, ChatRequest)
        if req.top_logprobs is not None and not 0 <= req.top_logprobs <= 20:
            raise APIError(400, f"top_logprobs={req.top_logprobs} must be in [0, 20]", param="top_logprobs")
        max_tokens = req.max_completion_tokens if req.max_completion_tokens is not None else req.max_tokens
        if max_tokens is None:
            max_tokens = min(self.limits.max_tokens, 256)
        params = self.sampling(
            req, max_tokens, stop_extra=(CHAT_USER,), logprobs=(req.top_logprobs or 0) if req.logprobs else None
        )
        try:
            prompt = format_chat([m.model_dump() for m in req.messages], self.generator.chat_template)
        except UserError as e:  # the model folder's template refused these messages (e.g. a role it lacks)
            raise APIError(400, str(e), param="messages") from None
        prompts = await self.encode_all([prompt])
        handles, events = await self.run_sequences(request, prompts, params, req.n)
        rid, now = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

        def body(choices, **extra) -> dict:
            obj = "chat.completion" if not req.stream else "chat.completion.chunk"
            return {"id": rid, "object": obj, "created": now, "model": self.model_name, "choices": choices, **extra}

        if not req.stream:
            await self.wait_all(request, handles, events)
            return body(
                [
                    {
                        "index": h.index,
                        "message": {"role": "assistant", "content": h.sequence.text.strip()},
                        "finish_reason": h.sequence.finish_reason,
                        "logprobs": self.chat_logprobs(h.sequence),
                    }
                    for h in handles
                ],
                usage=self.usage(prompts, handles),
            )

        started: set[int] = set()

        def on_text(i, text):
            # The template ends with "답변:"; the model's first space is formatting, not content.
            text = text.lstrip() if i not in started else text
            if not text:
                return None
            started.add(i)
            return sse(body([{"index": i, "delta": {"content": text}, "finish_reason": None, "logprobs": None}]))

        def on_done(i, seq):
            return sse(
                body(
                    [{"index": i, "delta": {}, "finish_reason": seq.finish_reason, "logprobs": self.chat_logprobs(seq)}]
                )
            )

        head = [
            sse(
                body(
                    [
                        {
                            "index": h.index,
                            "delta": {"role": "assistant", "content": ""},
                            "finish_reason": None,
                            "logprobs": None,
                        }
                    ]
                )
            )
            for h in handles
        ]
        include_usage = bool((req.stream_options or {}).get("include_usage"))

        def tail():
            return [sse(body([], usage=self.usage(prompts, handles)))] if include_usage else []

        return StreamingResponse(
            self.stream_events(handles, events, on_text, on_done, head, tail), media_type="text/event-stream"
        )

    def models(self, request: Request) -> dict:
        self.check_auth(request)
        return {
            "object": "list",
            "data": [{"id": self.model_name, "object": "model", "created": self.created, "owned_by": "polyglot-ko"}],
        }


def _error_response(err: APIError) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status)


def create_app(
    generator,
    model_name: str = "polyglot-ko",
    api_key: str | None = None,
    limits: ServerLimits | None = None,
    shutdown_timeout: float = 30.0,
) -> FastAPI:
    """A FastAPI app serving `generator`; its lifespan starts and stops the decode worker (`app.state.worker`)."""
    limits = (limits or ServerLimits()).validate()
    service = Service(generator, model_name, api_key, limits)

    @asynccontextmanager
    async def lifespan(app):
        app.state.worker = BatchWorker(
            generator, max_queue=limits.max_queue, stall_seconds=limits.stall_seconds
        ).start()
        yield
        await asyncio.to_thread(app.state.worker.shutdown, shutdown_timeout)

    app = FastAPI(title="polyglot-ko", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.service = service

    @app.exception_handler(APIError)
    async def _api_error(_request, err: APIError):
        return _error_response(err)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return _error_response(APIError(exc.status_code, str(exc.detail), code=code))

    @app.exception_handler(Exception)
    async def _unexpected(_request, exc: Exception):
        log.exception("unexpected error")
        return _error_response(APIError(500, f"internal error: {type(exc).__name__}", "server_error"))

    @app.get("/health")
    async def health(request: Request):
        w = request.app.state.worker
        status, code = w.health()
        return JSONResponse({"status": status, "model": model_name, **w.stats()}, status_code=code)

    @app.get("/v1/models")
    async def models(request: Request):
        return service.models(request)

    @app.post("/v1/completions")
    async def completions(request: Request):
        return await service.completions(request)

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        return await service.chat(request)

    return app
