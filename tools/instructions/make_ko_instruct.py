"""Build src/polyglot_ko/finetune/assets/ko-instruct.jsonl (and its README.md) from the content modules here.

    PYTHONPATH=src python tools/instructions/make_ko_instruct.py [--out-dir src/polyglot_ko/finetune/assets]

Deterministic: one random.Random(SEED) picks instruction phrasings, fills the templates (numbers, names, fake
personal numbers) and chooses which single-turn records are written in chat form (with or without a system
message) rather than Alpaca form. Every record is checked before it is written: no answer contains anything
the project's PII masker (polyglot_ko.data.pii) would mask, a masked answer only masks numbers the request
really holds (and a copy-with-masks answer equals mask_pii of the input), and no two records ask the same.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from content_chat import CONVERSATIONS  # noqa: E402
from content_gen import (  # noqa: E402
    ARITHMETIC,
    ARITHMETIC_SYSTEM,
    LOGIC,
    MASK_TASKS,
    NAMES,
    REFUSALS,
    REFUSALS_ALT,
    REFUSE_REQUESTS,
    SHARE_TASKS,
    fake_acc,
    fake_rrn,
    fake_tel,
    with_particle,
)
from content_qa import QA_KOREA, QA_LIFE, QA_SCIENCE, SUMMARIES  # noqa: E402
from content_text import (  # noqa: E402
    HONORIFIC_PAIRS,
    SENTIMENT,
    SENTIMENT_ASKS,
    SPELLING,
    SPELLING_ASKS,
    TO_FORMAL,
    TO_INFORMAL,
    TOPIC_ASKS,
    TOPIC_HEADLINES,
)

SEED = 20240601
CHAT_SHARE = 0.3
SYSTEMS = [
    "너는 친절하고 정확한 한국어 AI 비서야.",
    "당신은 사용자의 질문에 정확하고 간결하게 답하는 도우미입니다.",
    "You are a helpful assistant. 한국어로 답하세요.",
]
PII_SYSTEM = "당신은 개인정보를 보호하는 한국어 비서입니다."
SUMMARY_ASKS = [
    "다음 글을 한두 문장으로 요약해 주세요.",
    "아래 내용을 간단히 요약해 줘.",
    "다음 글의 핵심 내용을 한 문장으로 정리하세요.",
    "이 글을 짧게 요약해 주세요.",
]
TASKS = {
    "qa": "questions about Korea, science and everyday life, answered in a sentence or three",
    "summarization": "a short passage (input) summarised in one or two sentences",
    "rewriting": "존댓말 ↔ 반말 in both directions, spelling and spacing corrections",
    "classification": "review sentiment (긍정/부정) and news-headline topic (정치, 경제, 사회, 스포츠, 과학, 문화)",
    "reasoning": "arithmetic word problems with a worked answer (numbers drawn per record), short logic puzzles",
    "pii": "requests for someone's phone / 주민등록번호 / account number refused; texts holding personal numbers "
    "answered with them masked by the tel / rrn / acc mask tokens",
    "conversation": "multi-turn chats (travel, cooking, study, spelling follow-ups, arithmetic follow-ups, ...)",
}


def vocative(name: str) -> str:
    """민수 -> 민수야, 지훈 -> 지훈아 (the given name and the vocative particle its last syllable takes)."""
    given = name[1:]
    has_final = (ord(given[-1]) - 0xAC00) % 28 != 0
    return given + ("아" if has_final else "야")


def fill(text: str, slots: dict) -> str:
    return text.format(**slots) if "{" in text else text


def pii_slots(rng: random.Random) -> dict:
    bank, acc = fake_acc(rng)
    name = rng.choice(NAMES)
    slots = {"name": name, "call": vocative(name), "tel": fake_tel(rng), "rrn": fake_rrn(rng), "bank": bank, "acc": acc}
    for key in ("tel", "acc"):
        for kind in ("ro", "ieyo", "rago"):
            slots[f"{key}_{kind}"] = with_particle(slots[key], kind)
            slots[f"m_{key}_{kind}"] = f"<|{key}|>" + slots[f"{key}_{kind}"][len(slots[key]) :]
    return slots


def masked_slots(slots: dict) -> dict:
    """The slots with every number replaced by its mask token, the particle kept as the number is read (what
    mask_pii writes: 010-0657-2880으로 -> <|tel|>으로)."""
    out = {**slots, "tel": "<|tel|>", "rrn": "<|rrn|>", "acc": "<|acc|>"}
    for key in ("tel", "acc"):
        out.update({f"{key}_{kind}": slots[f"m_{key}_{kind}"] for kind in ("ro", "ieyo", "rago")})
    return out


class Builder:
    def __init__(self, rng: random.Random):
        self.rng, self.records, self.seen = rng, [], set()

    def single(
        self,
        task: str,
        instruction: str,
        text: str | None,
        answer: str,
        system: str | None = None,
        chat_share: float = CHAT_SHARE,
    ) -> bool:
        user = instruction + ("\n" + text if text else "")
        if user in self.seen:
            return False
        self.seen.add(user)
        if self.rng.random() < chat_share:
            sys_msg = system if system is not None else (self.rng.choice(SYSTEMS) if self.rng.random() < 0.5 else None)
            messages = [{"role": "system", "content": sys_msg}] if sys_msg else []
            messages += [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
            self.records.append({"task": task, "messages": messages})
        else:
            record = {"task": task, "instruction": instruction}
            if text:
                record["input"] = text
            self.records.append({**record, "output": answer})
        return True

    def chat(self, task: str, system: str | None, turns: list[str]) -> None:
        messages = [{"role": "system", "content": system}] if system else []
        messages += [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)]
        self.seen.add(turns[0])
        self.records.append({"task": task, "messages": messages})


def add_text_tasks(b: Builder) -> None:
    for q, a in QA_KOREA + QA_SCIENCE + QA_LIFE:
        b.single("qa", q, None, a)
    for passage, summary in SUMMARIES:
        b.single("summarization", b.rng.choice(SUMMARY_ASKS), passage, summary)
    for formal, informal in HONORIFIC_PAIRS:
        b.single("rewriting", b.rng.choice(TO_INFORMAL), formal, informal)
        b.single("rewriting", b.rng.choice(TO_FORMAL), informal, formal)
    for wrong, right in SPELLING:
        b.single("rewriting", b.rng.choice(SPELLING_ASKS), wrong, right)
    for review, label in SENTIMENT:
        b.single("classification", b.rng.choice(SENTIMENT_ASKS), review, label)
    for headline, topic in TOPIC_HEADLINES:
        b.single("classification", b.rng.choice(TOPIC_ASKS), headline, topic)


def add_reasoning(b: Builder, per_kind: int = 4) -> None:
    for make in ARITHMETIC:
        made = 0
        while made < per_kind:
            q, a = make(b.rng)
            use_system = b.rng.random() < 0.5
            made += b.single("reasoning", q, None, a, system=ARITHMETIC_SYSTEM if use_system else None)
    for q, a in LOGIC:
        b.single("reasoning", q, None, a)


def add_pii(b: Builder) -> None:
    from polyglot_ko.data.pii import mask_pii

    for kind, request in REFUSE_REQUESTS:
        names = b.rng.sample(NAMES, 2) if "{name}" in request else [None]
        for name in names:
            answer = b.rng.choice([REFUSALS, REFUSALS_ALT])[kind]
            b.single("pii", fill(request, {"name": name}), None, answer, system=PII_SYSTEM, chat_share=0.4)
    for instruction, text, answer in MASK_TASKS + [(t, None, a) for t, a in SHARE_TASKS]:
        for _ in range(2):
            slots = pii_slots(b.rng)
            if text is None:  # the user's own message holds the number
                b.single("pii", fill(instruction, slots), None, fill(answer, slots), chat_share=0.5)
            else:
                source, target = fill(text, slots), fill(answer, slots)
                if fill(text, masked_slots(slots)) == target and mask_pii(source) != target:
                    raise SystemExit(f"mask_pii disagrees with the masked copy of {source!r}")
                b.single("pii", instruction, source, target)


def add_conversations(b: Builder) -> None:
    for task, system, turns in CONVERSATIONS:
        slots = pii_slots(b.rng)
        b.chat(task, system, [fill(t, slots) for t in turns])


def check(records: list[dict]) -> None:
    """Refuse to write a record whose answers could leak or mis-mask a personal number."""
    from polyglot_ko.data.pii import find_pii, mask_pii

    masks = ("<|tel|>", "<|rrn|>", "<|acc|>")
    for r in records:
        if "messages" in r:
            users = [m["content"] for m in r["messages"] if m["role"] == "user"]
            answers = [m["content"] for m in r["messages"] if m["role"] == "assistant"]
        else:
            users, answers = [r["instruction"] + ("\n" + r["input"] if r.get("input") else "")], [r["output"]]
        for a in answers:
            if find_pii(a):
                raise SystemExit(f"an answer holds a personal number: {a!r}")
        used = {m for a in answers for m in masks if m in a}
        masked_users = mask_pii(" ".join(users))
        if used - {m for m in masks if m in masked_users}:
            raise SystemExit(f"an answer masks what the request does not hold: {r}")


def build() -> list[dict]:
    b = Builder(random.Random(SEED))
    add_text_tasks(b)
    add_reasoning(b)
    add_pii(b)
    add_conversations(b)
    check(b.records)
    return b.records


def readme(records: list[dict]) -> str:
    tasks = Counter(r["task"] for r in records)
    chats = sum("messages" in r for r in records)
    multi = sum(sum(m["role"] == "assistant" for m in r.get("messages", [])) >= 2 for r in records)
    rows = "\n".join(f"| `{t}` | {tasks[t]} | {desc} |" for t, desc in TASKS.items())
    return f"""# ko-instruct: a small Korean instruction set

License: **CC0 1.0** (public domain dedication). Written for polyglot-ko; no text was copied from another
dataset or website.

{len(records)} records, {len(records) - chats} Alpaca-style (`instruction`, optional `input`, `output`) and {chats} chat
(`messages` of system / user / assistant; {multi} of them multi-turn). Every record has a `task` field:

| task | records | what |
|---|---|---|
{rows}

How it was made: the questions, answers, passages, summaries, sentence pairs, reviews, headlines and
conversations were written by hand in `tools/instructions/content_*.py`; `tools/instructions/make_ko_instruct.py`
turns them into records with a fixed seed ({SEED}): it picks the instruction phrasing of each record from a few
variants, fills the arithmetic templates with numbers (answers computed, with the working shown), fills the
personal-data templates with names and fake numbers, and writes about {int(CHAT_SHARE * 100)} % of the
single-turn records in chat form (some with a system message). It checks every record with the
project's PII masker before writing: no answer contains a personal number, and each masked answer masks
numbers the request really holds. Regenerate (byte-identical) with

    PYTHONPATH=src python tools/instructions/make_ko_instruct.py

The personal numbers are fake: phone numbers have a middle group starting with 0 (010-0XXX-XXXX, not issued to
subscribers), resident registration numbers carry a wrong check digit, account numbers are random digits in
the groupings banks print. Masked answers keep the particle the number took (010-0657-2880으로 ->
`<|tel|>으로`), as the project's masker writes them. Facts are common knowledge, rounded as
stated (heights, lengths, population).

`polyglot_ko.finetune.data.load_examples("ko-instruct", tokenizer)` reads it with 0 records dropped.
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=str(HERE.parents[1] / "src/polyglot_ko/finetune/assets"))
    args = parser.parse_args(argv)
    import json

    from polyglot_ko.io_utils import atomic_write_text

    records = build()
    out = Path(args.out_dir)
    atomic_write_text(out / "ko-instruct.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    atomic_write_text(out / "README.md", readme(records))
    print(f"{len(records)} records -> {out / 'ko-instruct.jsonl'}: {dict(Counter(r['task'] for r in records))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
