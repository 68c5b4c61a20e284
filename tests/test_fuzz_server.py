"""A seeded, bounded fuzz of the HTTP API: generated bad request bodies never get a 500, a traceback or a hang,
and a well-formed request after the storm is served as usual (hardening)."""

from __future__ import annotations

import json
import random
import time

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

from polyglot_ko.generate import load_generator  # noqa: E402
from polyglot_ko.serve import ServerLimits, create_app  # noqa: E402

from .test_serve import ServerThread  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CLIENT_ERRORS = {400, 401, 404, 405, 408, 413, 422, 429}
HOSTILE = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2**31,
    2**64,
    -(2**63) - 1,
    10**30,
    0.5,
    -0.0,
    1e-300,
    1e308,
    -1e308,
    "",
    "가",
    "\ud800",
    "x" * 3000,
    "NaN",
    [],
    [[]],
    [0],
    [-5],
    [2**40],
    [[1, 2], "a"],
    {},
    {"a": {"b": []}},
    ["\udfff"],
    [None],
    list(range(40)),
    "### 질문:",
    "\x00",
]
FIELDS = [
    "prompt",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "top_k",
    "n",
    "stream",
    "stop",
    "seed",
    "logprobs",
    "top_logprobs",
    "echo",
    "repetition_penalty",
    "no_repeat_ngram_size",
    "stop_token_ids",
    "model",
    "stream_options",
    "user",
]


def mutated_bodies(rng: random.Random, count: int):
    valid_completion = {"prompt": "안녕하세요", "max_tokens": 4}
    valid_chat = {"messages": [{"role": "user", "content": "안녕"}], "max_tokens": 4}
    for _ in range(count):
        path = rng.choice(["/v1/completions", "/v1/chat/completions"])
        body = dict(valid_completion if path.endswith("/completions") and "chat" not in path else valid_chat)
        for _ in range(rng.randint(1, 4)):
            body[rng.choice(FIELDS)] = rng.choice(HOSTILE)
        if rng.random() < 0.2:
            body["messages"] = [{"role": rng.choice(["user", "bot", 5, None]), "content": rng.choice(HOSTILE)}]
        raw = json.dumps(body, allow_nan=True).encode("utf-8", "surrogatepass")
        kind = rng.random()
        if kind < 0.1:
            raw = raw[: rng.randint(0, len(raw))]  # truncated JSON
        elif kind < 0.2:
            i = rng.randrange(len(raw))
            raw = raw[:i] + bytes([rng.randrange(256)]) + raw[i + 1 :]  # one byte flipped
        elif kind < 0.25:
            raw = b"[" * 3000 + b"]" * 3000  # deep nesting
        yield path, raw


@pytest.fixture(scope="module")
def fuzz_server(tiny_model_dir):
    gen = load_generator(tiny_model_dir, max_batch_size=4)
    app = create_app(
        gen, model_name="tiny", limits=ServerLimits(max_prompt_tokens=64, max_tokens=8, max_queue=16, body_timeout=5.0)
    )
    with ServerThread(app) as s:
        yield s


def test_generated_bad_requests_never_get_a_500_or_hang(fuzz_server):
    rng = random.Random(20261201)
    seen: dict[int, int] = {}
    with httpx.Client(base_url=fuzz_server.url, timeout=20) as client:
        for path, raw in mutated_bodies(rng, 250):
            t0 = time.monotonic()
            r = client.post(path, content=raw, headers={"Content-Type": "application/json"})
            assert time.monotonic() - t0 < 20
            seen[r.status_code] = seen.get(r.status_code, 0) + 1
            assert r.status_code == 200 or r.status_code in CLIENT_ERRORS, (r.status_code, raw[:200], r.text[:300])
            if r.status_code != 200 and r.headers.get("content-type", "").startswith("application/json"):
                err = r.json()["error"]
                assert err["message"] and "Traceback" not in err["message"]
        # Both successes and refusals happened: the fuzz reached the model and the validation.
        assert seen.get(200, 0) >= 5 and sum(v for k, v in seen.items() if k != 200) > 50, seen
        ok = client.post("/v1/completions", json={"prompt": "가나다", "max_tokens": 3})
        assert ok.status_code == 200 and ok.json()["choices"][0]["finish_reason"]
        health = client.get("/health")
        assert health.status_code == 200 and health.json()["in_system"] == 0
