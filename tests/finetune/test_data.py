"""Instruction data: labels by hand on the released tokenizer, every record accounted for, bad files as one-line
errors, datasets folders, the offline hub error, truncation, the seeded split, and the bundled set."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from polyglot_ko.errors import UserError
from polyglot_ko.finetune.data import (
    DROP_REASONS,
    bundled_path,
    iter_records,
    load_examples,
    record_messages,
    split_examples,
    tokenize_messages,
)

ROOT = Path(__file__).resolve().parents[2]


def write_jsonl(path: Path, records) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records),
        encoding="utf-8",
    )
    return path


def trained_runs(labels):
    """The contiguous runs of trained label ids."""
    runs, cur = [], []
    for t in labels + [-100]:
        if t == -100:
            if cur:
                runs.append(cur)
            cur = []
        else:
            cur.append(t)
    return runs


def test_single_turn_labels_by_hand(tok, tmp_path):
    # "### 질문: 한국의 수도는?\n\n### 답변:" then " 서울입니다.<|endoftext|>", ids read off the released tokenizer.
    prompt = [6, 6, 6, 2438, 29, 803, 285, 2248, 272, 34, 202, 202, 6, 6, 6, 4253, 29]
    answer = [933, 1441, 17, 2]
    path = write_jsonl(tmp_path / "one.jsonl", [{"instruction": "  한국의 수도는?", "output": "서울입니다. "}])
    (ex,), stats = load_examples(path, tok)
    assert ex.input_ids == prompt + answer
    assert ex.labels == [-100] * len(prompt) + answer
    assert (stats.tokens, stats.trained_tokens) == (21, 4)
    assert tok.decode(answer) == " 서울입니다.<|endoftext|>" and answer[-1] == tok.endoftext_id == 2


def test_multi_turn_every_answer_trained_prompts_not(tok):
    q = ["안녕하세요?", "오늘 날씨 어때?", "고마워."]
    a = ["안녕하세요! 무엇을 도와드릴까요?", "저는 실시간 날씨를 볼 수 없어요.", "천만에요."]
    messages = [{"role": "system", "content": "친절하게 답해."}]
    for qi, ai in zip(q, a, strict=True):
        messages += [{"role": "user", "content": qi}, {"role": "assistant", "content": ai}]
    ids, labels = tokenize_messages(messages, tok)
    # By hand: the rendering in pieces; the pieces meet at pre-token boundaries, so their ids concatenate.
    pieces = [("친절하게 답해.\n\n", False)]
    for i, (qi, ai) in enumerate(zip(q, a, strict=True)):
        pieces += [(f"### 질문: {qi}\n\n### 답변:", False), (f" {ai}" + ("<|endoftext|>" if i == 2 else "\n\n"), True)]
    want_ids, want_labels = [], []
    for text, trained in pieces:
        piece = tok.encode(text)
        want_ids += piece
        want_labels += piece if trained else [-100] * len(piece)
    assert ids == want_ids and labels == want_labels
    assert [tok.decode(r) for r in trained_runs(labels)] == [f" {a[0]}\n\n", f" {a[1]}\n\n", f" {a[2]}<|endoftext|>"]
    # train_on_prompt keeps every token but the first (nothing precedes it).
    ids2, labels2 = tokenize_messages(messages, tok, train_on_prompt=True)
    assert ids2 == ids and labels2 == [-100] + ids[1:]


def test_alpaca_input_joins_the_instruction():
    messages, fmt = record_messages({"instruction": "다음 문장을 번역하세요. ", "input": " Hello ", "output": "안녕"})
    assert fmt == "alpaca"
    assert messages == [
        {"role": "user", "content": "다음 문장을 번역하세요.\nHello"},
        {"role": "assistant", "content": "안녕"},
    ]
    messages, _ = record_messages({"instruction": "질문", "input": "  ", "output": "답", "system": "시스템"})
    assert messages[0] == {"role": "system", "content": "시스템"} and messages[1]["content"] == "질문"


BAD = [
    ({"instruction": "답이 비었어", "output": "   "}, "empty_answer"),
    ({"instruction": " ", "output": "답"}, "empty_prompt"),
    ({"instruction": "x", "output": 3}, "malformed"),
    ({"instruction": ["x"], "output": "y"}, "malformed"),
    ({"text": "pretraining text"}, "malformed"),
    ("[1, 2]", "malformed"),
    ("{not json", "malformed"),
    ({"messages": []}, "malformed"),
    ({"messages": [{"role": "bot", "content": "x"}]}, "malformed"),
    (
        {
            "messages": [
                {"role": "user", "content": "a"},
                {"role": "system", "content": "b"},
                {"role": "assistant", "content": "c"},
            ]
        },
        "malformed",
    ),
    ({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "질문만"}]}, "no_assistant_turn"),
    (
        {
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "a"},
                {"role": "user", "content": "답 없는 질문"},
            ]
        },
        "last_turn_not_assistant",
    ),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": ""}]}, "empty_answer"),
    ({"instruction": "문서 끝<|endoftext|>", "output": "a"}, "control_token"),
    ({"instruction": "긴 답", "output": "가나다라 " * 200}, "too_long"),
]
GOOD = [
    {"instruction": "전화번호를 가려 줘: 010-1234-5678", "output": "<|tel|>"},
    {"messages": [{"role": "user", "content": "1+1?"}, {"role": "assistant", "content": "2"}], "task": "math"},
]


def test_every_record_accounted_for_with_reasons(tok, tmp_path):
    path = write_jsonl(tmp_path / "mixed.jsonl", [GOOD[0], *(r for r, _ in BAD), GOOD[1]])
    examples, stats = load_examples(path, tok, max_length=128)
    assert stats.records == len(BAD) + 2 == stats.kept + sum(stats.dropped.values())
    assert stats.kept == 2 and [e.where for e in examples] == [f"{path}:1", f"{path}:{len(BAD) + 2}"]
    assert stats.dropped == Counter(reason for _, reason in BAD)
    assert set(stats.dropped) <= set(DROP_REASONS)
    for line, (_, reason) in enumerate(BAD, start=2):  # each problem names the file, the line and the reason
        assert any(p.startswith(f"{path}:{line}: {reason}") for p in stats.problems), (line, reason)
    assert stats.formats == Counter(alpaca=1, chat=1) and stats.tasks == Counter({"-": 1, "math": 1})
    assert examples[0].input_ids.count(tok.tel_id) == 1  # PII masks stay one token and are allowed
    assert json.loads(json.dumps(stats.as_dict()))["dropped"]["malformed"] == 8


def test_json_array_records_name_their_line(tok, tmp_path):
    path = tmp_path / "alpaca.json"
    path.write_text(
        '[\n  {"instruction": "가", "output": "나"},\n  {"instruction": "다",\n   "output": 7},\n'
        '  {"instruction": "라", "output": "마"}\n]\n',
        encoding="utf-8",
    )
    examples, stats = load_examples(path, tok)
    assert stats.kept == 2 and stats.dropped == Counter(malformed=1)
    assert stats.problems == [f"{path}:3: malformed: output is int, expected a string"]
    assert [e.where for e in examples] == [f"{path}:2", f"{path}:5"]
    lines = tmp_path / "lines.json"  # JSON Lines under a .json name is read as JSON Lines
    write_jsonl(lines, [{"instruction": "가", "output": "나"}, {"instruction": "다", "output": "라"}])
    assert load_examples(lines, tok)[1].kept == 2


@pytest.mark.parametrize(
    "name, content, words",
    [
        ("broken.json", '[{"instruction": "a",\n "output": }]', r"broken\.json:2: not valid JSON"),
        (
            "object.json",
            '{"data": [{"instruction": "a", "output": "b"}]}',
            r"object\.json:1: the top level is an object",
        ),
        ("junk.jsonl", "hello\nworld\n", r"junk\.jsonl:1: not JSON Lines"),
        (
            "other.jsonl",
            '{"text": "a"}\n{"text": "b"}\n',
            r"other\.jsonl:1: no record in a known format \(found text\)",
        ),
        ("empty.jsonl", "\n\n", r"empty\.jsonl: holds no records"),
        (
            "latin1.jsonl",
            b'{"instruction": "a", "output": "b"}\n{"instruction": "caf\xe9"}\n',
            r"latin1\.jsonl:2: not UTF-8",
        ),
    ],
)
def test_unusable_files_are_one_line_errors(tok, tmp_path, name, content, words):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    with pytest.raises(UserError) as e:
        load_examples(path, tok)
    assert re.search(words, str(e.value)) and "\n" not in str(e.value)


def test_bad_sources_and_options(tok, tmp_path):
    with pytest.raises(UserError, match="no such file or folder"):
        load_examples(tmp_path / "nope.jsonl", tok)
    with pytest.raises(UserError, match="holds no .json/.jsonl files"):
        load_examples(tmp_path, tok)
    path = write_jsonl(tmp_path / "a.jsonl", GOOD)
    with pytest.raises(UserError, match="truncation 'left': unknown; use one of turns, drop"):
        load_examples(path, tok, truncation="left")
    with pytest.raises(UserError, match="max_length 1: must be an integer >= 2"):
        load_examples(path, tok, max_length=1)


def test_datasets_folders_read_like_files(tok, tmp_path):
    datasets = pytest.importorskip("datasets")
    records = [
        {"instruction": "하늘은 무슨 색이야?", "input": "", "output": "파란색이에요."},
        {"instruction": "요약해", "input": "긴 글", "output": "짧은 글"},
    ]
    from_file, _ = load_examples(write_jsonl(tmp_path / "r.jsonl", records), tok)
    datasets.Dataset.from_list(records).save_to_disk(str(tmp_path / "ds"))
    datasets.DatasetDict(
        {"train": datasets.Dataset.from_list(records[:1]), "test": datasets.Dataset.from_list(records[1:])}
    ).save_to_disk(str(tmp_path / "dd"))
    from_ds, stats = load_examples(tmp_path / "ds", tok)
    assert [e.input_ids for e in from_ds] == [e.input_ids for e in from_file] and stats.kept == 2
    assert from_ds[1].where == f"{tmp_path / 'ds'}[train] row 1"
    test_split, _ = load_examples(tmp_path / "dd", tok, split="test")
    assert [e.labels for e in test_split] == [from_file[1].labels]
    with pytest.raises(UserError, match=r"no split 'validation' \(it has train, test\)"):
        load_examples(tmp_path / "dd", tok, split="validation")


def test_hub_id_offline_is_an_actionable_error(template_tokenizer_dir):
    pytest.importorskip("datasets")
    code = (
        "from polyglot_ko.errors import UserError\nfrom polyglot_ko.finetune.data import load_examples\n"
        "try:\n    load_examples('beomi/KoAlpaca-v1.1a', " + repr(str(template_tokenizer_dir)) + ")\n"
        "except UserError as e:\n    print('USERERROR', e)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    lines = [line for line in out.stdout.splitlines() if line.startswith("USERERROR")]
    assert len(lines) == 1, out.stdout + out.stderr
    assert "cannot reach the Hugging Face hub to fetch dataset beomi/KoAlpaca-v1.1a" in lines[0]
    assert "--local-dir DIR" in lines[0]


def test_truncation_keeps_whole_leading_turns_or_drops(tok, tmp_path):
    long = "아주 긴 답변입니다. " * 30
    chat = {
        "messages": [
            {"role": "user", "content": "첫 질문"},
            {"role": "assistant", "content": "짧은 답."},
            {"role": "user", "content": "둘째 질문"},
            {"role": "assistant", "content": long},
        ]
    }
    path = write_jsonl(tmp_path / "long.jsonl", [chat])
    (ex,), stats = load_examples(path, tok, max_length=64)
    assert stats.truncated == 1 and len(ex) <= 64
    want, _ = tokenize_messages(chat["messages"][:2], tok)
    assert ex.input_ids == want and ex.input_ids[-1] == tok.endoftext_id  # re-rendered: ends like an answer
    examples, stats = load_examples(path, tok, max_length=64, truncation="drop")
    assert examples == [] and stats.dropped == Counter(too_long=1)
    examples, stats = load_examples(path, tok, max_length=4096)
    assert stats.truncated == 0 and len(examples[0]) > 64


def test_split_is_seeded_disjoint_and_complete():
    items = list(range(101))
    train, val = split_examples(items, 0.1, seed=3)
    assert len(val) == 10 and sorted(train + val) == items and not set(train) & set(val)
    assert train == sorted(train) and val == sorted(val)  # both keep the input order
    assert split_examples(items, 0.1, seed=3) == (train, val)
    assert split_examples(items, 0.1, seed=4)[1] != val
    assert split_examples(items, 0.0) == (items, [])
    assert len(split_examples(items[:5], 0.01)[1]) == 1  # a fraction > 0 gives at least one
    with pytest.raises(UserError, match="validation fraction 1.0: must be in"):
        split_examples(items, 1.0)


# --- the bundled set ---------------------------------------------------------------------------------------
def documented_counts() -> dict:
    """The per-task table of assets/README.md: | task | records | ..."""
    text = (bundled_path().parent / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| (\d+) \|", text, flags=re.M)
    return {task: int(n) for task, n in rows}


def test_bundled_set_loads_with_nothing_dropped(tok):
    examples, stats = load_examples("ko-instruct", tok)
    doc = documented_counts()
    assert stats.dropped == Counter() and stats.records == stats.kept == sum(doc.values()) >= 200
    assert dict(stats.tasks) == doc
    assert stats.formats["alpaca"] > 0 and stats.formats["chat"] > 0
    readme = (bundled_path().parent / "README.md").read_text(encoding="utf-8")
    assert "CC0" in readme
    assert f"{stats.formats['alpaca']} Alpaca-style" in readme and f"{stats.formats['chat']} chat" in readme
    multi = [
        r for _, r in iter_records(bundled_path()) if sum(m["role"] == "assistant" for m in r.get("messages", [])) >= 2
    ]
    assert len(multi) >= 10
    assert all(e.input_ids[-1] == tok.endoftext_id and e.labels[-1] == tok.endoftext_id for e in examples)


def test_bundled_pii_records_mask_or_refuse(tok):
    from polyglot_ko.data.pii import find_pii

    records = [r for _, r in iter_records(bundled_path()) if r.get("task") == "pii"]
    masks = {"<|tel|>", "<|rrn|>", "<|acc|>"}
    assert len(records) >= 20
    for r in records:
        messages, _ = record_messages(r)
        answers = [m["content"] for m in messages if m["role"] == "assistant"]
        for a in answers:  # no answer ever states a personal number
            assert find_pii(a) == [], a
        if any(any(m in a for m in masks) for a in answers):
            asked = " ".join(m["content"] for m in messages if m["role"] == "user")
            assert find_pii(asked), asked  # a masked answer masks numbers the request really holds
