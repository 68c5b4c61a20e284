"""The HTTP API's data: request schemas, OpenAI-style errors, the server's limits, chat prompts and SSE framing."""

# No `from __future__ import annotations`: pydantic resolves the annotations at run time.
import json
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..chat_template import CHAT_TEMPLATE, render_chat
from ..errors import UserError

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
