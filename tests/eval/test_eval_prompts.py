"""Prompt and candidate strings per task against the ground-truth table (Korean verbatim), few-shot layout,
and the data loader's errors."""

from __future__ import annotations

import json

import pytest

from polyglot_ko.errors import UserError
from polyglot_ko.eval.kobest import TASKS, build_requests, load_split, render, tokenize_requests

DOCS = {
    "kobest_boolq": {"paragraph": "P문단.", "question": "Q질문?", "label": 1},
    "kobest_copa": {
        "premise": "비가 왔다.",
        "question": "결과",
        "alternative_1": "우산을 썼다.",
        "alternative_2": "해가 떴다.",
        "label": 0,
    },
    "kobest_wic": {"word": "배", "context_1": "[배]를 먹었다.", "context_2": "[배]가 아프다.", "label": 0},
    "kobest_hellaswag": {
        "context": "문맥이다.",
        "ending_1": "하나.",
        "ending_2": "둘.",
        "ending_3": "셋.",
        "ending_4": "넷.",
        "label": 2,
    },
    "kobest_sentineg": {"sentence": "좋아요", "label": 1},
}

# The ground-truth table (docs/ground-truth.md §4), written out for the documents above.
EXPECTED = {
    "kobest_boolq": ("P문단. 질문: Q질문? 답변: ", (" 아니오", " 예")),
    "kobest_copa": ("비가 왔다. 그래서", (" 우산을 썼다.", " 해가 떴다.")),
    "kobest_wic": (
        "문장1: [배]를 먹었다. 문장2: [배]가 아프다. 두 문장에서 배가 같은 뜻으로 쓰였나?",
        (" 아니오", " 예"),
    ),
    "kobest_hellaswag": ("문장: 문맥이다.", (" 하나.", " 둘.", " 셋.", " 넷.")),
    "kobest_sentineg": ("문장: 좋아요 긍부정:", (" 부정", " 긍정")),
}


@pytest.mark.parametrize("task", TASKS)
def test_prompts_match_ground_truth(task):
    r = render(task, DOCS[task])
    assert (r.prompt, r.candidates) == EXPECTED[task]
    assert r.target == EXPECTED[task][1][DOCS[task]["label"]]


def test_copa_cause_connector_and_lm_eval_whitespace():
    doc = dict(DOCS["kobest_copa"], question="원인")
    assert render("kobest_copa", doc).prompt == "비가 왔다. 왜냐하면"
    # lm-eval 0.4's copa_doc_to_text puts a double space before the connector; the other tasks are unchanged.
    assert render("kobest_copa", doc, "lm-eval-0.4").prompt == "비가 왔다.  왜냐하면"
    for task in TASKS:
        if task != "kobest_copa":
            assert render(task, DOCS[task], "lm-eval-0.4") == render(task, DOCS[task])


def test_fewshot_context_layout():
    train = [dict(DOCS["kobest_sentineg"], sentence=f"문장{i}", label=i % 2) for i in range(6)]
    test = [DOCS["kobest_sentineg"]]
    (req,) = build_requests("kobest_sentineg", test, train, 3)
    parts = req.context.split("\n\n")
    assert len(parts) == 4 and parts[-1] == "문장: 좋아요 긍부정:"
    for part in parts[:-1]:
        i = int(part.split("문장")[2].split(" ")[0])  # "문장: 문장{i} 긍부정: 부정"
        assert part == f"문장: 문장{i} 긍부정:" + (" 긍정" if i % 2 else " 부정")
    (req0,) = build_requests("kobest_sentineg", test, train, 0)
    assert req0.context == "문장: 좋아요 긍부정:"


def test_tokenization_protocols(tokenizer):
    (req,) = build_requests("kobest_boolq", [DOCS["kobest_boolq"]], [], 0)
    (q,) = tokenize_requests([req], tokenizer.encode)
    assert q.context == tokenizer.encode("P문단. 질문: Q질문? 답변: ")
    assert q.continuations == [tokenizer.encode(" 아니오"), tokenizer.encode(" 예")]
    (q4,) = tokenize_requests([req], tokenizer.encode, "lm-eval-0.4")
    # lm-eval 0.4 moves the context's trailing space into the continuation and splits the whole encoding.
    assert q4.context == tokenizer.encode("P문단. 질문: Q질문? 답변:")
    assert q4.context + q4.continuations[0] == tokenizer.encode("P문단. 질문: Q질문? 답변:  아니오")


@pytest.mark.parametrize("task", TASKS)
def test_real_rows_render(task, kobest_dir):
    rows = load_split(task, "test", kobest_dir)
    assert len(rows) > 300
    r = render(task, rows[0])
    assert r.prompt and all(c.startswith(" ") for c in r.candidates) and 0 <= r.label < len(r.candidates)


def test_data_errors(tmp_path, kobest_dir):
    with pytest.raises(UserError, match="copa/test.jsonl is missing"):
        load_split("kobest_copa", "test", tmp_path)
    (tmp_path / "copa").mkdir()
    (tmp_path / "copa" / "test.jsonl").write_text(json.dumps({"premise": "x", "label": 0}) + "\n")
    with pytest.raises(UserError, match="lacks column"):
        load_split("kobest_copa", "test", tmp_path)
    with pytest.raises(UserError, match="not a KOBEST task"):
        load_split("kobest_nope", "test", kobest_dir)
    with pytest.raises(UserError, match="not a folder"):
        load_split("copa", "test", tmp_path / "absent")
