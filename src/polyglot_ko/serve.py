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
decode step fails the sequences of that step with a 500 and the worker carries on; `GET /health` answers 200
only while the worker is alive, accepting and not stuck in a step (503 with the reason otherwise).

Chat template (Polyglot-Ko is a base model; this is the KoAlpaca-style format its instruction-tuned
descendants use, documented so clients can rely on it):

    {system message}\\n\\n                      (only if there is one)
    ### 질문: {user message}\\n\\n### 답변: {assistant message}\\n\\n   (for each earlier turn)
    ### 질문: {last user message}\\n\\n### 답변:

Generation stops at the next "### 질문:" as well as at any `stop` the request gives.
"""

# No `from __future__ import annotations`: FastAPI and pydantic resolve the annotations at run time.
import asyncio
import hmac
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .chat_template import CHAT_TEMPLATE, render_chat
from .errors import UserError
from .sampling import SamplingParams

log = logging.getLogger("polyglot_ko.serve")

CHAT_USER, CHAT_ASSISTANT = "### 질문:", "### 답변:"


def format_chat(messages: list[dict], template: str | None = None) -> str:
    """The generation prompt for {"role", "content"} messages under a chat template (default: ours, which ends
    with "### 답변:"); the server uses the model folder's own (`Generator.chat_template`)."""
    return render_chat(messages, add_generation_prompt=True, template=template or CHAT_TEMPLATE)


# --- request schemas ---------------------------------------------------------------------------------------
class CommonRequest(BaseModel):
    """Fields completions and chat share. Strict types: "5" is not a number here (422); unknown OpenAI fields
    are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")
    model: str | None = None
    max_tokens: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    n: int = 1
    stream: bool = False
    stop: str | list[str] | None = None
    seed: int | None = None
    user: str | None = None
    stream_options: dict | None = None
    # Extensions (pass with the openai client's `extra_body`): the decoding options Korean output needs.
    top_k: int = 0
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    stop_token_ids: list[int] | None = None


class CompletionRequest(CommonRequest):
    prompt: str | list[str] | list[int] | list[list[int]]
    echo: bool = False
    logprobs: int | None = None


class Message(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    role: Literal["system", "user", "assistant"]
    content: str


class ChatRequest(CommonRequest):
    messages: list[Message] = Field(min_length=1)
    max_completion_tokens: int | None = None
    logprobs: bool = False
    top_logprobs: int | None = None


class APIError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ):
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
    error: str | None = None

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
    """One thread, one `DecodeEngine`: takes sequences from an inbox and steps the batch while there is work.

    Nothing a request does can stop it: a failed step fails only the sequences in it (the engine is
    failure-safe), and anything else that raises is logged and fails what was in the engine, which is then
    replaced. The load it reports is derived from the sequences themselves (accepted and not finished), never
    kept as a hand-maintained counter that a failure could leave raised.
    """

    def __init__(self, generator, max_queue: int = 64, stall_seconds: float = 300.0):
        self.generator = generator
        self.engine = generator.new_engine()
        self.max_queue = max_queue
        self.stall_seconds = stall_seconds
        self.inbox: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._live: set = set()  # sequences accepted here whose end has not been reported yet
        self.peak_batch = 0  # most sequences decoded in one step: > 1 proves requests share steps
        self.tokens_generated = 0
        self.failed_steps = 0
        self.last_error: str | None = None
        self.step_started: float | None = None  # monotonic time the step in progress began
        self.accepting = True
        self.thread = threading.Thread(target=self._loop, name="polyglot-ko-decode", daemon=True)

    def start(self) -> "BatchWorker":
        self.thread.start()
        return self

    @property
    def in_system(self) -> int:
        """Sequences accepted and not finished (queued + running)."""
        with self._lock:
            return sum(1 for s in self._live if not s.finished)

    def submit(self, sequences: list) -> None:
        with self._lock:
            if not self.accepting:
                raise APIError(
                    503, "the server is shutting down; retry on another instance", "server_error", code="shutting_down"
                )
            self._live = {s for s in self._live if not s.finished}
            if len(self._live) + len(sequences) > self.max_queue:
                raise QueueFull()
            self._live.update(sequences)
        for s in sequences:
            self.inbox.put(s)

    def health(self) -> tuple[str, int]:
        """("ok", 200), or why not and 503: the worker thread died, is shutting down, or a step hangs."""
        if not self.thread.is_alive():
            return "worker_stopped", 503
        if not self.accepting:
            return "shutting_down", 503
        started = self.step_started
        if started is not None and time.monotonic() - started > self.stall_seconds:
            return "stalled", 503
        return "ok", 200

    def stats(self) -> dict:
        return {
            "running": len(self.engine.active),
            "waiting": len(self.engine.pending) + self.inbox.qsize(),
            "in_system": self.in_system,
            "peak_batch": self.peak_batch,
            "steps": self.engine.steps,
            "tokens_generated": self.tokens_generated,
            "failed_steps": self.failed_steps,
            "last_error": self.last_error,
        }

    def _report(self, seqs) -> None:
        for s in seqs:
            self.tokens_generated += len(s.out_ids)
            if s.error is not None:
                s.tag.on_error(f"generation failed: {type(s.error).__name__}: {s.error}")
            else:
                s.tag.on_done(s)
        with self._lock:
            self._live.difference_update(seqs)

    def _fail_everything(self, error: Exception) -> None:
        """Last resort when something outside a step raised: fail what the engine holds, start a new one."""
        engine, self.engine = self.engine, self.generator.new_engine()
        failed = [s for s in list(engine.active) + list(engine.admitting) + list(engine.pending) if not s.finished]
        for s in failed:
            s.fail(error)
        self._report(failed)

    def _iterate(self) -> None:
        engine = self.engine
        try:
            item = self.inbox.get(timeout=0.05) if not engine.has_work else self.inbox.get_nowait()
            engine.submit(item)
            while True:
                engine.submit(self.inbox.get_nowait())
        except queue.Empty:
            pass
        if not engine.has_work:
            return
        self.step_started = time.monotonic()
        failures = engine.failed_steps
        try:
            done = engine.step()
        finally:
            self.step_started = None
        if engine.failed_steps != failures:
            self.failed_steps += 1
            error = next(s.error for s in done if s.error is not None)
            self.last_error = f"{type(error).__name__}: {error}"
            log.error(
                "decode step failed (%s); its %d sequence(s) were ended with an error",
                self.last_error,
                sum(s.error is not None for s in done),
            )
        self.peak_batch = max(self.peak_batch, len(engine.active))
        if done:
            self._report(done)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._iterate()
            except Exception as e:  # the thread must outlive any failure, or every request would hang
                log.exception("decode worker failed outside a step")
                self.failed_steps += 1
                self.last_error = f"{type(e).__name__}: {e}"
                self._fail_everything(e)

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
    """Largest request body (413 above it, checked while it arrives)."""
    default_max_tokens: int = 16
    """`max_tokens` when a completion request gives none (OpenAI's default is 16)."""
    stall_seconds: float = 300.0
    """`/health` answers 503 "stalled" when one decode step has run longer than this."""
    max_stop: int = 16
    """Most stop strings per request (each is searched after every token)."""
    max_stop_chars: int = 256
    """Longest stop string."""
    body_timeout: float = 30.0
    """Seconds a client may take to send its request body (408 after that: slow clients hold a connection)."""

    def validate(self) -> "ServerLimits":
        for name, value in vars(self).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise UserError(f"server limit {name}={value!r} must be a number > 0", param=name)
        return self


def sse(obj) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"


def _lone_surrogate_at(obj, path: str = "", depth: int = 0) -> str | None:
    """The dotted path of the first string (key or value) holding a lone surrogate, if any."""
    if depth > 64:  # deeper than any field we read; pydantic rejects its type
        return None
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError:
            return path or "body"
        return None
    for key, value in items:
        where = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and _lone_surrogate_at(key, where, depth + 1):
            return where
        found = _lone_surrogate_at(value, where, depth + 1)
        if found:
            return found
    return None


def _error_event(message: str) -> str:
    return sse({"error": {"message": message, "type": "server_error", "param": None, "code": None}})


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


__all__ = ["create_app", "format_chat", "BatchWorker", "Service", "ServerLimits", "APIError"]
