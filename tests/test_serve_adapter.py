"""`polyglot-ko serve --model BASE --adapter DIR`, the real command on a free port: completions and chat answer
with the LoRA adapter applied (greedy text = `load_generator(BASE, adapter=DIR)`'s, not the base model's)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")
pytest.importorskip("peft")

from polyglot_ko import load_model, load_tokenizer  # noqa: E402
from polyglot_ko.generate import load_generator  # noqa: E402
from polyglot_ko.serve import format_chat  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PROMPT = "대한민국의 수도는"
MESSAGES = [{"role": "system", "content": "도우미입니다."}, {"role": "user", "content": "안녕하세요?"}]


@pytest.fixture(scope="module")
def adapter_dir(tiny_model_dir, tmp_path_factory):
    """A LoRA adapter on the tiny model trained 10 steps on one sentence (large enough to change greedy text)."""
    from polyglot_ko.finetune.lora import LORA_TARGETS, add_lora, save_adapter

    tok = load_tokenizer(tiny_model_dir)
    ids = torch.tensor([tok.encode("서울은 대한민국의 수도이며 가장 큰 도시이다. 한강이 흐른다.")])
    torch.manual_seed(0)  # LoRA A's initialisation and the dropout masks
    model = add_lora(load_model(tiny_model_dir), r=4, alpha=16, targets=LORA_TARGETS)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-2)
    model.train()
    for _ in range(10):
        model(ids, labels=ids).loss.backward()
        opt.step()
        opt.zero_grad()
    return save_adapter(
        model, tmp_path_factory.mktemp("serve-lora") / "adapter", base_model_name_or_path=tiny_model_dir
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_served_completions_use_the_adapter(tiny_model_dir, adapter_dir):
    tuned = load_generator(tiny_model_dir, adapter=adapter_dir)
    base = load_generator(tiny_model_dir)
    want = tuned.generate(PROMPT, max_new_tokens=16)
    chat_prompt = format_chat(MESSAGES, tuned.chat_template)
    want_chat = tuned.generate(chat_prompt, max_new_tokens=16, stop=["### 질문:"])
    assert want.token_ids != base.generate(PROMPT, max_new_tokens=16).token_ids  # the adapter changes the text

    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "polyglot_ko.cli",
            "serve",
            "--model",
            str(tiny_model_dir),
            "--adapter",
            str(adapter_dir),
            "--port",
            str(port),
            "--threads",
            "1",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "the server did not come up in 120 s"
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        r = httpx.post(
            url + "/v1/completions",
            json={"prompt": PROMPT, "max_tokens": 16, "temperature": 0},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["choices"][0]["text"] == want.text
        assert body["usage"]["completion_tokens"] == len(want.token_ids)
        r = httpx.post(
            url + "/v1/chat/completions",
            json={"messages": MESSAGES, "max_tokens": 16, "temperature": 0},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["message"]["content"] == want_chat.text.strip()  # as the server sends it
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
