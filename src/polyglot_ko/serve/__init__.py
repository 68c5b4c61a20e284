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

Chat prompts are rendered with the model folder's chat template (`chat_template.py`: the KoAlpaca-style
format by default); generation stops at the next "### 질문:" as well as at any `stop` the request gives.

The package: `api.py` (request schemas, errors, limits), `worker.py` (the decode thread), `app.py` (`Service`:
one small method per endpoint, and `create_app`).
"""

from .api import APIError, ServerLimits, format_chat
from .app import Service, create_app
from .worker import BatchWorker

__all__ = ["create_app", "format_chat", "BatchWorker", "Service", "ServerLimits", "APIError"]
