"""`polyglot-ko serve`: an OpenAI-compatible HTTP API (completions, chat) with continuous batching.

    polyglot-ko serve --model EleutherAI/polyglot-ko-1.3b [--host 127.0.0.1] [--port 8000] [--api-key KEY]

Endpoints: `POST /v1/completions`, `POST /v1/chat/completions`, `GET /v1/models`, `GET /health`. Streaming
uses server-sent events (`data: {...}` lines, then `data: [DONE]`) exactly like OpenAI's, so the official
`openai` client works unchanged (`OpenAI(base_url="http://127.0.0.1:8000/v1", api_key=KEY or "none")`).

One worker thread owns the model and a `DecodeEngine` (generate.py). HTTP handlers run on the asyncio loop:
they validate a request, turn it into sequences and hand them to the worker through a queue; each new
sequence joins the running batch at the next decode step and leaves it when done, and its text comes back to
the handler as it is decoded (`loop.call_soon_threadsafe`). A client that disconnects cancels its sequences,
which frees their batch rows at the next step. Errors are OpenAI-style JSON
(`{"error": {"message", "type", "param", "code"}}`): 400 bad values, 401 API key, 404 unknown model/route,
413 body or prompt too long, 422 wrong JSON types, 429 queue full, 503 shutting down. A failure inside a
decode step fails the sequences of that batch with a 500 and the worker carries on.

Chat template (Polyglot-Ko is a base model; this is the KoAlpaca-style format its instruction-tuned
descendants use, documented so clients can rely on it):

    {system message}\\n\\n                      (only if there is one)
    ### 질문: {user message}\\n\\n### 답변: {assistant message}\\n\\n   (for each earlier turn)
    ### 질문: {last user message}\\n\\n### 답변:

Generation stops at the next "### 질문:" as well as at any `stop` the request gives.
"""

# No `from __future__ import annotations`: FastAPI must resolve `Request` annotations of the nested routes.
import asyncio
import json
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal, Optional, Union

from .errors import UserError
from .sampling import SamplingParams

log = logging.getLogger("polyglot_ko.serve")

CHAT_USER, CHAT_ASSISTANT = "### 질문:", "### 답변:"


def format_chat(messages: list[dict]) -> str:
    """The prompt for a list of {"role", "content"} messages (system, user, assistant), ending with "### 답변:"."""
    parts: list[str] = []
    for m in messages:
        role, content = m["role"], m["content"].strip()
        if role == "system":
            parts.append(f"{content}\n\n")
        elif role == "user":
            parts.append(f"{CHAT_USER} {content}\n\n")
        else:
            parts.append(f"{CHAT_ASSISTANT} {content}\n\n")
    return "".join(parts) + CHAT_ASSISTANT


# --- request schemas ---------------------------------------------------------------------------------------
def _models():
    # Pydantic is imported lazily with FastAPI so `polyglot-ko --help` never needs the serve extra.
    from pydantic import BaseModel, ConfigDict, Field

    class Common(BaseModel):
        # Strict types: "5" is not a number here (422), but unknown OpenAI fields are ignored.
        model_config = ConfigDict(strict=True, extra="ignore")
        model: Optional[str] = None
        max_tokens: Optional[int] = None
        temperature: float = 1.0
        top_p: float = 1.0
        n: int = 1
        stream: bool = False
        stop: Union[str, list[str], None] = None
        seed: Optional[int] = None
        user: Optional[str] = None
        stream_options: Optional[dict] = None
        # Extensions (pass with the openai client's `extra_body`): the decoding options Korean output needs.
        top_k: int = 0
        repetition_penalty: float = 1.0
        no_repeat_ngram_size: int = 0
        stop_token_ids: Optional[list[int]] = None

    class CompletionRequest(Common):
        prompt: Union[str, list[str], list[int], list[list[int]]]
        echo: bool = False
        logprobs: Optional[int] = None

    class Message(BaseModel):
        model_config = ConfigDict(strict=True, extra="ignore")
        role: Literal["system", "user", "assistant"]
        content: str

    class ChatRequest(Common):
        messages: list[Message] = Field(min_length=1)
        max_completion_tokens: Optional[int] = None
        logprobs: bool = False
        top_logprobs: Optional[int] = None

    return CompletionRequest, ChatRequest


class APIError(Exception):
    def __init__(self, status: int, message: str, type_: str = "invalid_request_error",
                 param: Optional[str] = None, code: Optional[str] = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


# --- the worker thread that owns the model ----------------------------------------------------------------
@dataclass
class _Handle:
    """Bridges one sequence's events from the worker thread to the request's asyncio queue."""

    loop: asyncio.AbstractEventLoop
    events: asyncio.Queue
    index: int
    sequence: Any = None
    error: Optional[str] = None

    def _put(self, item) -> None:
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait, item)
        except RuntimeError:  # the loop is closed: the client is gone, nothing to tell
            pass

    def on_text(self, _seq, chunk: str) -> None:
        self._put(("text", self.index, chunk))

    def on_done(self, seq) -> None:
        self._put(("done", self.index, seq))

    def on_error(self, message: str) -> None:
        self.error = message
        self._put(("error", self.index, message))


class QueueFull(Exception):
    pass


class BatchWorker:
    """One thread, one `DecodeEngine`: takes sequences from an inbox and steps the batch while there is work."""

    def __init__(self, generator, max_queue: int = 64):
        self.generator = generator
        self.engine = generator.new_engine()
        self.max_queue = max_queue
        self.inbox: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.in_system = 0          # sequences submitted and not finished (queued + running)
        self.peak_batch = 0         # most sequences decoded in one step: > 1 proves requests share steps
        self.tokens_generated = 0
        self.accepting = True
        self.thread = threading.Thread(target=self._loop, name="polyglot-ko-decode", daemon=True)

    def start(self) -> "BatchWorker":
        self.thread.start()
        return self

    def submit(self, sequences: list) -> None:
        with self._lock:
            if not self.accepting:
                raise APIError(503, "the server is shutting down; retry on another instance", "server_error",
                               code="shutting_down")
            if self.in_system + len(sequences) > self.max_queue:
                raise QueueFull()
            self.in_system += len(sequences)
        for s in sequences:
            self.inbox.put(s)

    def stats(self) -> dict:
        return {"running": len(self.engine.active), "waiting": len(self.engine.pending) + self.inbox.qsize(),
                "in_system": self.in_system, "peak_batch": self.peak_batch, "steps": self.engine.steps,
                "tokens_generated": self.tokens_generated}

    def _finished(self, seqs) -> None:
        with self._lock:
            self.in_system -= len(seqs)
        for s in seqs:
            self.tokens_generated += len(s.out_ids)
            s.tag.on_done(s)

    def _loop(self) -> None:
        engine = self.engine
        while not self._stop.is_set():
            try:
                item = self.inbox.get(timeout=0.05) if not engine.has_work else self.inbox.get_nowait()
                engine.submit(item)
                while True:
                    engine.submit(self.inbox.get_nowait())
            except queue.Empty:
                pass
            if not engine.has_work:
                continue
            try:
                done = engine.step()
                self.peak_batch = max(self.peak_batch, len(engine.active))
            except Exception as e:  # a failed step must not kill the server: fail this batch, keep serving
                log.exception("decode step failed")
                failed = list(engine.active) + list(engine.pending)
                self.engine = engine = self.generator.new_engine()
                with self._lock:
                    self.in_system -= len(failed)
                for s in failed:
                    s.finish_reason = s.finish_reason or "error"
                    s.tag.on_error(f"generation failed: {type(e).__name__}: {e}")
                continue
            if done:
                self._finished(done)

    def shutdown(self, timeout: float = 0.0) -> None:
        """Stop accepting; give running sequences `timeout` seconds to finish, then cancel the rest."""
        with self._lock:
            self.accepting = False
        deadline = time.monotonic() + timeout
        while self.in_system and time.monotonic() < deadline:
            time.sleep(0.05)
        for s in list(self.engine.active) + list(self.engine.pending):
            s.cancel()
        end = time.monotonic() + 5
        while self.in_system and time.monotonic() < end:
            time.sleep(0.02)
        self._stop.set()
        self.thread.join(timeout=5)


# --- the app ------------------------------------------------------------------------------------------------
@dataclass
class ServerLimits:
    """Guards against requests that would hog the model."""

    max_prompt_tokens: int = 1536
    """Longest prompt in tokens (413 above it)."""
    max_tokens: int = 512
    """Largest `max_tokens` a request may ask for (400 above it)."""
    max_queue: int = 64
    """Sequences queued or running at once, over all requests (429 above it)."""
    max_n: int = 8
    """Largest `n` (choices per prompt)."""
    max_body_bytes: int = 1 << 20
    """Largest request body (413 above it)."""
    default_max_tokens: int = 16
    """`max_tokens` when a completion request gives none (OpenAI's default is 16)."""


def create_app(generator, model_name: str = "polyglot-ko", api_key: Optional[str] = None,
               limits: Optional[ServerLimits] = None, shutdown_timeout: float = 30.0):
    """A FastAPI app serving `generator`; its lifespan starts and stops the decode worker (`app.state.worker`)."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, StreamingResponse
    from pydantic import ValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    CompletionRequest, ChatRequest = _models()
    limits = limits or ServerLimits()
    created = int(time.time())

    @asynccontextmanager
    async def lifespan(app):
        app.state.worker = BatchWorker(generator, max_queue=limits.max_queue).start()
        yield
        await asyncio.to_thread(app.state.worker.shutdown, shutdown_timeout)

    app = FastAPI(title="polyglot-ko", lifespan=lifespan, docs_url=None, redoc_url=None)

    def error_response(err: APIError) -> JSONResponse:
        return JSONResponse(err.body(), status_code=err.status)

    @app.exception_handler(APIError)
    async def _api_error(_request, err: APIError):
        return error_response(err)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return error_response(APIError(exc.status_code, str(exc.detail), code=code))

    @app.exception_handler(Exception)
    async def _unexpected(_request, exc: Exception):
        log.exception("unexpected error")
        return error_response(APIError(500, f"internal error: {type(exc).__name__}", "server_error"))

    def check_auth(request: Request) -> None:
        if api_key is None:
            return
        header = request.headers.get("authorization", "")
        if header != f"Bearer {api_key}":
            raise APIError(401, "invalid or missing API key; send `Authorization: Bearer <key>`",
                           code="invalid_api_key")

    async def parse(request: Request, schema):
        check_auth(request)
        body = await request.body()
        if len(body) > limits.max_body_bytes:
            raise APIError(413, f"request body is {len(body)} bytes; the limit is {limits.max_body_bytes}",
                           code="request_too_large")
        try:
            obj = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise APIError(400, f"request body is not valid JSON ({e})", code="invalid_json") from None
        if not isinstance(obj, dict):
            raise APIError(400, "request body must be a JSON object", code="invalid_json")
        try:
            req = schema.model_validate(obj)
        except ValidationError as e:
            first = e.errors()[0]
            param = ".".join(str(p) for p in first["loc"])
            raise APIError(422, f"{param}: {first['msg']} (got {first.get('input')!r:.80})", param=param,
                           code="invalid_type") from None
        if req.model is not None and req.model not in (model_name, "polyglot-ko"):
            raise APIError(404, f"model {req.model!r} is not served here; GET /v1/models lists {model_name!r}",
                           param="model", code="model_not_found")
        return req

    def sampling(req, max_tokens: Optional[int], stop_extra: tuple[str, ...] = (), logprobs=None) -> SamplingParams:
        if max_tokens is None:
            max_tokens = limits.default_max_tokens
        if max_tokens > limits.max_tokens:
            raise APIError(400, f"max_tokens={max_tokens} exceeds this server's limit of {limits.max_tokens}",
                           param="max_tokens", code="max_tokens_too_large")
        if not 1 <= req.n <= limits.max_n:
            raise APIError(400, f"n={req.n} must be in [1, {limits.max_n}]", param="n")
        stop = (req.stop,) if isinstance(req.stop, str) else tuple(req.stop or ())
        kw = dict(max_new_tokens=max_tokens, temperature=req.temperature, top_p=req.top_p, top_k=req.top_k,
                  repetition_penalty=req.repetition_penalty, no_repeat_ngram_size=req.no_repeat_ngram_size,
                  stop=stop + stop_extra, seed=req.seed, logprobs=logprobs)
        if req.stop_token_ids is not None:
            kw["stop_token_ids"] = tuple(req.stop_token_ids)
        try:
            return SamplingParams(**kw).validate(generator.vocab_size)
        except UserError as e:
            raise APIError(400, str(e), param=str(e).split("=")[0]) from None

    def encode(prompt) -> list[int]:
        try:
            ids = generator.encode_prompt(prompt)
        except UserError as e:
            raise APIError(400, str(e), param="prompt") from None
        if len(ids) > limits.max_prompt_tokens:
            raise APIError(413, f"prompt is {len(ids)} tokens; this server accepts at most "
                                f"{limits.max_prompt_tokens}", param="prompt", code="prompt_too_long")
        return ids

    async def run_sequences(request: Request, prompts: list[list[int]], params: SamplingParams, n: int,
                            want_prompt_logprobs: bool = False):
        """Submit prompts x n; returns (handles, events queue). Choice i*n+j is prompt i, sample j."""
        loop = asyncio.get_running_loop()
        events: asyncio.Queue = asyncio.Queue()
        handles, seqs = [], []
        for i, ids in enumerate(prompts):
            for j in range(n):
                p = params.replace(seed=params.seed + j) if (params.seed is not None and j) else params
                h = _Handle(loop, events, i * n + j)
                try:
                    seq = generator.new_sequence(None, p, listener=h.on_text, tag=h, prompt_ids=ids)
                except UserError as e:
                    raise APIError(400, str(e), param="prompt") from None
                seq.want_prompt_logprobs = want_prompt_logprobs
                h.sequence = seq
                handles.append(h)
                seqs.append(seq)
        try:
            request.app.state.worker.submit(seqs)
        except QueueFull:
            raise APIError(429, f"the server is at its limit of {limits.max_queue} queued sequences; retry "
                                f"shortly", "rate_limit_error", code="queue_full") from None
        return handles, events

    def cancel(handles) -> None:
        for h in handles:
            h.sequence.cancel()

    async def wait_all(request: Request, handles, events: asyncio.Queue) -> None:
        """Wait until every sequence is done; cancel them all if the client goes away."""
        pending = len(handles)
        try:
            while pending:
                try:
                    kind, _i, payload = await asyncio.wait_for(events.get(), timeout=0.5)
                except asyncio.TimeoutError:
                    if await request.is_disconnected():
                        cancel(handles)
                        return
                    continue
                if kind == "done":
                    pending -= 1
                elif kind == "error":
                    raise APIError(500, payload, "server_error")
        except asyncio.CancelledError:
            cancel(handles)
            raise

    def usage(prompts: list[list[int]], handles) -> dict:
        p = sum(len(x) for x in prompts)
        c = sum(len(h.sequence.out_ids) for h in handles)
        return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}

    def token_str(t: int) -> str:
        return generator.tokenizer.decode([t])

    def completion_logprobs(seq, echo: bool) -> dict:
        tokens, lps, tops = [], [], []
        if echo:
            for k, t in enumerate(seq.prompt_ids):
                tokens.append(token_str(t))
                lps.append(None if k == 0 else seq.prompt_logprobs[k - 1])
                tops.append(None)
        for e in seq.logprobs or []:
            tokens.append(token_str(e["token_id"]))
            lps.append(e["logprob"])
            tops.append({token_str(t): lp for t, lp in e["top"]})
        offsets, pos = [], 0
        for tok in tokens:
            offsets.append(pos)
            pos += len(tok)
        return {"tokens": tokens, "token_logprobs": lps, "top_logprobs": tops, "text_offset": offsets}

    def sse(obj) -> str:
        return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"

    # --- routes ---
    @app.get("/health")
    async def health(request: Request):
        w = request.app.state.worker
        return {"status": "ok" if w.accepting else "shutting_down", "model": model_name, **w.stats()}

    @app.get("/v1/models")
    async def models(request: Request):
        check_auth(request)
        return {"object": "list", "data": [{"id": model_name, "object": "model", "created": created,
                                            "owned_by": "polyglot-ko"}]}

    @app.post("/v1/completions")
    async def completions(request: Request):
        req = await parse(request, CompletionRequest)
        raw = req.prompt
        if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int)):
            raw = [raw]
        if not raw:
            raise APIError(400, "prompt must not be an empty list", param="prompt")
        if req.logprobs is not None and not 0 <= req.logprobs <= 20:
            raise APIError(400, f"logprobs={req.logprobs} must be in [0, 20]", param="logprobs")
        params = sampling(req, req.max_tokens, logprobs=req.logprobs)
        prompts = [encode(p) for p in raw]
        prompt_texts = [p if isinstance(p, str) else generator.tokenizer.decode(p) for p in raw]
        want_prompt_lp = bool(req.echo and req.logprobs is not None)
        handles, events = await run_sequences(request, prompts, params, req.n, want_prompt_lp)
        rid, now = f"cmpl-{uuid.uuid4().hex}", int(time.time())

        def choice_text(h) -> str:
            return (prompt_texts[h.index // req.n] if req.echo else "") + h.sequence.text

        if not req.stream:
            await wait_all(request, handles, events)
            choices = [{"index": h.index, "text": choice_text(h), "finish_reason": h.sequence.finish_reason,
                        "logprobs": completion_logprobs(h.sequence, req.echo) if req.logprobs is not None else None}
                       for h in handles]
            return {"id": rid, "object": "text_completion", "created": now, "model": model_name,
                    "choices": choices, "usage": usage(prompts, handles)}

        include_usage = bool((req.stream_options or {}).get("include_usage"))

        async def stream():
            pending = len(handles)
            try:
                if req.echo:
                    for h in handles:
                        yield sse({"id": rid, "object": "text_completion", "created": now, "model": model_name,
                                   "choices": [{"index": h.index, "text": prompt_texts[h.index // req.n],
                                                "finish_reason": None, "logprobs": None}]})
                while pending:
                    kind, i, payload = await events.get()
                    if kind == "text":
                        choice = {"index": i, "text": payload, "finish_reason": None, "logprobs": None}
                    elif kind == "done":
                        pending -= 1
                        lp = None
                        if req.logprobs is not None:
                            lp = completion_logprobs(payload, False)
                        choice = {"index": i, "text": "", "finish_reason": payload.finish_reason, "logprobs": lp}
                    else:
                        yield sse({"error": {"message": payload, "type": "server_error", "param": None,
                                             "code": None}})
                        return
                    yield sse({"id": rid, "object": "text_completion", "created": now, "model": model_name,
                               "choices": [choice]})
                if include_usage:
                    yield sse({"id": rid, "object": "text_completion", "created": now, "model": model_name,
                               "choices": [], "usage": usage(prompts, handles)})
                yield "data: [DONE]\n\n"
            finally:
                # Runs on normal end and when the client disconnects (the response task is cancelled).
                cancel(handles)

        return StreamingResponse(stream(), media_type="text/event-stream")

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        req = await parse(request, ChatRequest)
        if req.top_logprobs is not None and not 0 <= req.top_logprobs <= 20:
            raise APIError(400, f"top_logprobs={req.top_logprobs} must be in [0, 20]", param="top_logprobs")
        max_tokens = req.max_completion_tokens if req.max_completion_tokens is not None else req.max_tokens
        if max_tokens is None:
            max_tokens = min(limits.max_tokens, 256)
        params = sampling(req, max_tokens, stop_extra=(CHAT_USER,),
                          logprobs=(req.top_logprobs or 0) if req.logprobs else None)
        prompt = format_chat([m.model_dump() for m in req.messages])
        prompts = [encode(prompt)]
        handles, events = await run_sequences(request, prompts, params, req.n)
        rid, now = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

        def chat_logprobs(seq):
            if seq.logprobs is None:
                return None
            def item(t, lp):
                s = token_str(t)
                return {"token": s, "logprob": lp, "bytes": list(s.encode("utf-8"))}
            return {"content": [{**item(e["token_id"], e["logprob"]),
                                 "top_logprobs": [item(t, lp) for t, lp in e["top"]]} for e in seq.logprobs]}

        if not req.stream:
            await wait_all(request, handles, events)
            choices = [{"index": h.index, "message": {"role": "assistant", "content": h.sequence.text.strip()},
                        "finish_reason": h.sequence.finish_reason, "logprobs": chat_logprobs(h.sequence)}
                       for h in handles]
            return {"id": rid, "object": "chat.completion", "created": now, "model": model_name,
                    "choices": choices, "usage": usage(prompts, handles)}

        include_usage = bool((req.stream_options or {}).get("include_usage"))

        def chunk(choices, **extra):
            return sse({"id": rid, "object": "chat.completion.chunk", "created": now, "model": model_name,
                        "choices": choices, **extra})

        async def stream():
            pending = len(handles)
            started = set()
            try:
                for h in handles:
                    yield chunk([{"index": h.index, "delta": {"role": "assistant", "content": ""},
                                  "finish_reason": None, "logprobs": None}])
                while pending:
                    kind, i, payload = await events.get()
                    if kind == "text":
                        # The template ends with "답변:"; the model's first space is formatting, not content.
                        text = payload.lstrip() if i not in started else payload
                        if not text:
                            continue
                        started.add(i)
                        yield chunk([{"index": i, "delta": {"content": text}, "finish_reason": None,
                                      "logprobs": None}])
                    elif kind == "done":
                        pending -= 1
                        yield chunk([{"index": i, "delta": {}, "finish_reason": payload.finish_reason,
                                      "logprobs": chat_logprobs(payload)}])
                    else:
                        yield sse({"error": {"message": payload, "type": "server_error", "param": None,
                                             "code": None}})
                        return
                if include_usage:
                    yield chunk([], usage=usage(prompts, handles))
                yield "data: [DONE]\n\n"
            finally:
                cancel(handles)

        return StreamingResponse(stream(), media_type="text/event-stream")

    return app


__all__ = ["create_app", "format_chat", "BatchWorker", "ServerLimits", "APIError"]
