"""`polyglot-ko chat` and `ChatSession`: prompts are the folder's template rendered over the history, answers
stream and stop where the template says, /reset and /system; and the real command in a pseudo-terminal.

Two real tiny models: the random `tiny_model_dir`, and one trained here (a few seconds) on one two-turn
conversation, so that its greedy answers are that conversation's: the first ends at the model's own next
"### 질문:" (the stop string), the second at <|endoftext|> (the stop id).
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from polyglot_ko import UserError
from polyglot_ko.chat import ChatSession
from polyglot_ko.chat_template import render_chat
from polyglot_ko.generate import load_generator

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ROOT = Path(__file__).resolve().parents[2]
CONVERSATION = [
    {"role": "user", "content": "안녕"},
    {"role": "assistant", "content": "반갑습니다"},
    {"role": "user", "content": "이름은?"},
    {"role": "assistant", "content": "폴리글랏입니다"},
]


@pytest.fixture(scope="module")
def gen(tiny_model_dir):
    return load_generator(tiny_model_dir, max_batch_size=1)


@pytest.fixture(scope="module")
def chat_model_dir(tmp_path_factory, reference_tokenizer_dir):
    """The tiny model overfitted on CONVERSATION rendered as training text (ending with <|endoftext|>)."""
    from polyglot_ko import build_model, load_tokenizer, save_model

    text = render_chat(CONVERSATION, add_generation_prompt=False)
    ids = torch.tensor([load_tokenizer(reference_tokenizer_dir).encode(text)])
    assert ids[0, -1].item() == 2  # <|endoftext|> is one token, id 2
    torch.manual_seed(0)
    model = build_model("tiny", seed=0)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(200):
        loss = model(ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    assert loss.item() < 0.1
    out = tmp_path_factory.mktemp("chat-model") / "model"
    save_model(model.eval(), out, tokenizer=reference_tokenizer_dir)
    return out


def test_prompts_render_the_history_and_answers_stream(gen):
    chat = ChatSession(gen, system="  당신은 도우미입니다. ", max_new_tokens=6, repetition_penalty=1.3)
    first = list(chat.ask("서울은 어떤 도시인가요?"))
    assert chat.last_prompt == render_chat(
        [{"role": "system", "content": "당신은 도우미입니다."}, {"role": "user", "content": "서울은 어떤 도시인가요?"}],
        add_generation_prompt=True,
        template=gen.chat_template,
    )
    assert chat.last_prompt == "당신은 도우미입니다.\n\n### 질문: 서울은 어떤 도시인가요?\n\n### 답변:"
    answer1 = "".join(first)
    assert answer1 and answer1 == chat.last_result.text.strip()  # chunks join to exactly the kept answer
    assert len(first) > 1  # streamed, not one block
    assert chat.last_result.text == gen.generate(chat.last_prompt, max_new_tokens=6, repetition_penalty=1.3).text

    history = chat.messages
    answer2 = "".join(chat.ask("부산은요?"))
    assert chat.last_prompt == render_chat(
        history + [{"role": "user", "content": "부산은요?"}], add_generation_prompt=True, template=gen.chat_template
    )
    assert f"### 질문: 서울은 어떤 도시인가요?\n\n### 답변: {answer1}\n\n### 질문: 부산은요?" in chat.last_prompt
    assert chat.messages == [
        {"role": "system", "content": "당신은 도우미입니다."},
        {"role": "user", "content": "서울은 어떤 도시인가요?"},
        {"role": "assistant", "content": answer1},
        {"role": "user", "content": "부산은요?"},
        {"role": "assistant", "content": answer2},
    ]

    chat.reset()
    assert chat.messages == [{"role": "system", "content": "당신은 도우미입니다."}]
    again = "".join(chat.ask("서울은 어떤 도시인가요?"))
    assert again == answer1  # greedy, the same prompt as the first turn
    chat.set_system(None)
    assert (
        chat.prompt_for("질문")
        == f"### 질문: 서울은 어떤 도시인가요?\n\n### 답변: {again}\n\n### 질문: 질문\n\n### 답변:"
    )


def test_answers_stop_at_the_next_question_and_at_endoftext(chat_model_dir):
    chat = ChatSession(load_generator(chat_model_dir), max_new_tokens=40)
    assert "".join(chat.ask("안녕")) == "반갑습니다"
    # the model went on with "\n\n### 질문: 이름은?": the stop string ended the answer, not the length
    assert chat.last_result.finish_reason == "stop" and chat.last_result.text == " 반갑습니다\n\n"
    assert "".join(chat.ask("이름은?")) == "폴리글랏입니다"
    assert chat.last_result.finish_reason == "stop" and chat.last_result.text == " 폴리글랏입니다"  # id 2
    assert chat.messages == CONVERSATION
    other_stops = ChatSession(chat.generator, max_new_tokens=40, stop=["끝"], stop_token_ids=[3])
    assert other_stops.params.stop == ("끝", "### 질문:") and other_stops.params.stop_token_ids == (3, 2)
    assert "".join(other_stops.ask("안녕")) == "반갑습니다"  # the template's stops still end the answer


def test_an_unfinished_answer_is_not_kept_and_old_turns_make_room(gen):
    chat = ChatSession(gen, max_new_tokens=8)
    stream = chat.ask("첫 질문")
    next(stream)
    stream.close()  # e.g. Ctrl-C in the middle of the answer
    assert chat.messages == [] and chat.last_prompt is None
    with pytest.raises(UserError, match="empty"):
        next(chat.ask("   "))

    long_question = "한국어 문장을 길게 씁니다. " * 30  # ~150 tokens; the tiny model's context is 512
    for _ in range(4):
        list(chat.ask(long_question))
    assert chat.dropped_turns >= 1
    assert len(gen.encode_prompt(chat.last_prompt)) + 8 <= gen.max_context
    assert chat.last_prompt == render_chat(
        chat.messages[:-1], add_generation_prompt=True, template=gen.chat_template
    ), "the prompt is the (shortened) history"


def _read_until(fd: int, buf: bytearray, pattern: bytes, deadline: float) -> None:
    while pattern not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out waiting for {pattern!r}; terminal so far:\n{buf.decode(errors='replace')}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                data = b""
            if not data:
                raise AssertionError(f"chat ended before {pattern!r}:\n{buf.decode(errors='replace')}")
            buf += data


def test_chat_command_in_a_pseudo_terminal(chat_model_dir):
    """The real `polyglot-ko chat MODEL` on a pty: two questions, /reset, a question, /exit; exit status 0."""
    expected = ChatSession(load_generator(chat_model_dir), max_new_tokens=40)
    want = ["".join(expected.ask("안녕")), "".join(expected.ask("이름은?"))]
    expected.reset()
    want.append("".join(expected.ask("이름은?")))
    assert want[:2] == ["반갑습니다", "폴리글랏입니다"]

    leader, follower = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONUNBUFFERED": "1", "TERM": "dumb"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "polyglot_ko.cli",
            "chat",
            str(chat_model_dir),
            "--max-new-tokens",
            "40",
            "--threads",
            "1",
        ],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        start_new_session=True,
    )
    os.close(follower)
    buf = bytearray()
    deadline = time.monotonic() + 120
    try:
        for line in ["안녕", "이름은?", "/reset", "이름은?", "/exit"]:
            _read_until(leader, buf, b"> ", deadline)
            del buf[: buf.index(b"> ") + 2]  # only what comes after this prompt
            os.write(leader, line.encode() + b"\r")
            _read_until(leader, buf, b"\n", deadline)  # the terminal echoes the line
            if line == "/exit":
                break
            if line == "/reset":
                _read_until(leader, buf, b"[conversation cleared]", deadline)
                continue
            answer = want.pop(0)
            _read_until(leader, buf, answer.encode() + b"\r\n\r\n", deadline)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)
    assert not want


def test_chat_command_reads_a_pipe_too(chat_model_dir):
    """Questions from stdin without a terminal (a script): the same answers; Ctrl-D (end of input) ends it."""
    proc = subprocess.run(
        [sys.executable, "-m", "polyglot_ko.cli", "chat", str(chat_model_dir), "--threads", "1", "--system", " "],
        input="안녕\n/help\n/nonsense\n이름은?\n",
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    answers = [a.strip() for a in re.split(r"> ", proc.stdout) if a.strip()]
    assert answers == ["반갑습니다", "폴리글랏입니다"]
    assert "[unknown command /nonsense;" in proc.stderr and "/reset forgets the conversation" in proc.stderr


def test_chat_command_errors_are_one_line(tiny_model_dir, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cases = [
        (["chat", str(tmp_path / "absent")], "does not exist"),
        (["chat", str(tiny_model_dir), "--temperature", "-1"], "temperature=-1"),
        (["chat", str(tiny_model_dir), "--adapter", str(tmp_path)], str(tmp_path)),
    ]
    for argv, message in cases:
        proc = subprocess.run(
            [sys.executable, "-m", "polyglot_ko.cli", *argv], input="", capture_output=True, text=True, env=env
        )
        err = proc.stderr.strip()
        assert proc.returncode == 2 and err.startswith("error: ") and message in err and "\n" not in err, err
