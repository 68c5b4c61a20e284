"""The chat template against its oracles: transformers' apply_chat_template (text and assistant masks) on a
tokenizer folder holding the template, and the server's format_chat for generation prompts."""

from __future__ import annotations

import json

import pytest

from polyglot_ko.chat_template import (
    CHAT_TEMPLATE,
    assistant_spans,
    render_chat,
    render_chat_with_spans,
    save_template,
    template_from_folder,
)
from polyglot_ko.errors import UserError
from polyglot_ko.finetune.data import tokenize_messages

SYSTEM = {"role": "system", "content": "  너는 친절하고 정확한 한국어 비서야.\n"}
CHATS = {
    "single": [
        {"role": "user", "content": "한국의 수도는 어디야?"},
        {"role": "assistant", "content": "한국의 수도는 서울입니다."},
    ],
    "multi": [
        {"role": "user", "content": " 안녕? "},
        {"role": "assistant", "content": "안녕하세요!\n\n무엇을 도와드릴까요?\n"},
        {"role": "user", "content": "내 번호 <|tel|> 로 연락 줘.\n줄바꿈도 있어."},
        {"role": "assistant", "content": "죄송하지만 저는 전화를 걸 수 없어요."},
        {"role": "user", "content": "3 더하기 4는?"},
        {"role": "assistant", "content": "3 + 4 = 7입니다."},
    ],
}
CHATS["single+system"] = [SYSTEM, *CHATS["single"]]
CHATS["multi+system"] = [SYSTEM, *CHATS["multi"]]


@pytest.fixture(scope="module")
def hf_tokenizer(template_tokenizer_dir):
    transformers = pytest.importorskip("transformers")
    return transformers.AutoTokenizer.from_pretrained(template_tokenizer_dir)


@pytest.mark.parametrize("name", sorted(CHATS))
def test_render_equals_transformers_apply_chat_template(hf_tokenizer, name):
    chat = CHATS[name]
    # A training conversation (ends with the answer) and a generation prompt (ends with the user's turn).
    for messages, add in ((chat, False), (chat[:-1], True), (chat, True)):
        ours = render_chat(messages, add_generation_prompt=add)
        theirs = hf_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add)
        assert ours == theirs
        assert ours.encode("utf-8") == theirs.encode("utf-8")


@pytest.mark.parametrize("name", sorted(CHATS))
def test_labels_equal_transformers_assistant_mask(hf_tokenizer, tok, name):
    chat = CHATS[name]
    out = hf_tokenizer.apply_chat_template(chat, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    ids, labels = tokenize_messages(chat, tok)
    assert ids == list(out["input_ids"])
    assert [int(label != -100) for label in labels] == list(out["assistant_masks"])
    assert sum(out["assistant_masks"]) > 0


def format_chat(messages: list[dict]) -> str:
    """The KoAlpaca prompt format the server documented (and built by hand) before it used the template."""
    parts: list[str] = []
    for m in messages:
        role, content = m["role"], m["content"].strip()
        if role == "system":
            parts.append(f"{content}\n\n")
        elif role == "user":
            parts.append(f"### 질문: {content}\n\n")
        else:
            parts.append(f"### 답변: {content}\n\n")
    return "".join(parts) + "### 답변:"


@pytest.mark.parametrize("name", sorted(CHATS))
def test_generation_prompt_equals_server_format_chat(name):
    chat = CHATS[name]
    for k in range(1, len(chat) + 1):  # every prefix: what a client sends at each point of the conversation
        assert render_chat(chat[:k], add_generation_prompt=True) == format_chat(chat[:k])


def test_the_documented_layout():
    text = render_chat(CHATS["multi+system"], add_generation_prompt=False)
    assert text == (
        "너는 친절하고 정확한 한국어 비서야.\n\n"
        "### 질문: 안녕?\n\n### 답변: 안녕하세요!\n\n무엇을 도와드릴까요?\n\n"
        "### 질문: 내 번호 <|tel|> 로 연락 줘.\n줄바꿈도 있어.\n\n"
        "### 답변: 죄송하지만 저는 전화를 걸 수 없어요.\n\n"
        "### 질문: 3 더하기 4는?\n\n### 답변: 3 + 4 = 7입니다.<|endoftext|>"
    )
    spans = assistant_spans(CHATS["multi+system"])
    assert [text[a:b] for a, b in spans] == [
        " 안녕하세요!\n\n무엇을 도와드릴까요?\n\n",
        " 죄송하지만 저는 전화를 걸 수 없어요.\n\n",
        " 3 + 4 = 7입니다.<|endoftext|>",
    ]


@pytest.mark.parametrize("name", sorted(CHATS))
def test_generation_prompt_is_a_prefix_of_the_training_text(name):
    chat = CHATS[name]
    prompt = render_chat(chat[:-1], add_generation_prompt=True)
    full, spans = render_chat_with_spans(chat, add_generation_prompt=False)
    assert full.startswith(prompt)
    assert spans[-1] == (len(prompt), len(full))


def test_template_errors_are_one_line_user_errors():
    for bad, words in (
        ([{"role": "bot", "content": "x"}], "role bot"),
        ([{"role": "user", "content": 3}], "no string content"),
        ([{"role": "user", "content": None}], "no string content"),
        ([], "empty"),
    ):
        with pytest.raises(UserError) as e:
            render_chat(bad)
        assert words in str(e.value) and "\n" not in str(e.value)


def test_templates_run_sandboxed_like_transformers():
    with pytest.raises(UserError, match="append.*unsafe"):
        render_chat([{"role": "user", "content": "x"}], template="{{ messages.append(1) }}")
    with pytest.raises(UserError, match="cannot store attribute '_x'"):
        render_chat([{"role": "user", "content": "x"}], template="{% set ns = namespace(_x=1) %}{{ ns._x }}")
    assert render_chat([{"role": "user", "content": "x"}], template="{{ messages | tojson }}") == json.dumps(
        [{"role": "user", "content": "x"}]
    )


def test_template_from_folder(tmp_path, template_tokenizer_dir):
    assert template_from_folder(template_tokenizer_dir) == CHAT_TEMPLATE
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "tokenizer_config.json").write_text(json.dumps({"eos_token": "<|endoftext|>"}))
    assert template_from_folder(plain) == CHAT_TEMPLATE  # no template: the built-in one
    custom = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    save_template(plain, custom)
    saved = json.loads((plain / "tokenizer_config.json").read_text())
    assert saved == {"eos_token": "<|endoftext|>", "chat_template": custom}
    assert template_from_folder(plain) == custom
    (plain / "chat_template.jinja").write_text("{{ 'jinja file' }}", encoding="utf-8")
    assert template_from_folder(plain) == "{{ 'jinja file' }}"  # the .jinja file wins, as in transformers
    listed = tmp_path / "listed"
    listed.mkdir()
    (listed / "tokenizer_config.json").write_text(
        json.dumps({"chat_template": [{"name": "tool_use", "template": "x"}, {"name": "default", "template": custom}]})
    )
    assert template_from_folder(listed) == custom


def test_template_from_folder_errors(tmp_path):
    with pytest.raises(UserError, match="not a folder"):
        template_from_folder(tmp_path / "missing")
    (tmp_path / "chat_template.jinja").write_text("{% for m in messages %}", encoding="utf-8")
    with pytest.raises(UserError) as e:
        template_from_folder(tmp_path)
    assert "chat_template.jinja" in str(e.value) and "syntax error" in str(e.value) and "\n" not in str(e.value)
    (tmp_path / "chat_template.jinja").unlink()
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"chat_template": 5}))
    with pytest.raises(UserError, match="must be a string"):
        template_from_folder(tmp_path)
