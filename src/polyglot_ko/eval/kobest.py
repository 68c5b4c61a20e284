"""KOBEST (BoolQ, COPA, WiC, HellaSwag, SentiNeg) evaluated exactly as the Polyglot-Ko model cards report it.

Protocol "polyglot" = EleutherAI/lm-evaluation-harness branch `polyglot` (`lm_eval/tasks/kobest.py` with the
v0.3 `evaluator.evaluate` and `Task.fewshot_context`), verified against that code:

1. per task, the test split as a list, shuffled by a fresh `rnd = random.Random(); rnd.seed(42)`; `--limit N`
   keeps the first N after the shuffle;
2. for each kept document, in shuffled order, `rnd.sample(train_docs, k)` from THE SAME generator (train docs in
   dataset order; nothing is drawn at 0 shots), so the draws depend on the documents before it;
3. context = "\\n\\n".join(prompt(ex) + target(ex) for ex in examples) + "\\n\\n" + prompt(doc)  (just the prompt
   at 0 shots); target = the gold candidate string;
4. context and each candidate tokenized separately, no special tokens, concatenated, left-truncated to
   `max_length + 1` tokens with the last dropped (the window is the model's max_position_embeddings, 2048);
5. prediction = argmax of the summed log-likelihood (first index on ties, as numpy); macro F1 = scikit-learn
   `f1_score(gold, pred, average="macro")`; acc; acc_norm = argmax of log-likelihood / len(candidate text) (the
   reference's HellaSwag definition, applied to every task here).

Protocol "lm-eval-0.4" = lm-evaluation-harness 0.4's own `kobest_*` tasks with its `hf` model: the test docs
unshuffled (first N with --limit), few-shot examples from `random.Random(1234).sample(train, k)` per document
(the default `fewshot_random_seed`), examples rendered as `prompt + " " + choice + "\\n\\n"`, COPA's prompt with a
double space before the connector (`premise + "  왜냐하면"`), and the context/continuation split of
`TemplateLM._encode_pair` (trailing spaces of the context move into the continuation, the continuation's tokens
are those of the whole string after the context's tokens).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from .loglikelihood import Question, score, score_plain

TASKS = ("kobest_boolq", "kobest_copa", "kobest_wic", "kobest_hellaswag", "kobest_sentineg")
PROTOCOLS = ("polyglot", "lm-eval-0.4")
HUB_DATASET = "skt/kobest_v1"
# task -> (config name in skt/kobest_v1, columns every row needs)
_DATA = {
    "kobest_boolq": ("boolq", ("paragraph", "question", "label")),
    "kobest_copa": ("copa", ("premise", "question", "alternative_1", "alternative_2", "label")),
    "kobest_wic": ("wic", ("word", "context_1", "context_2", "label")),
    "kobest_hellaswag": ("hellaswag", ("context", "ending_1", "ending_2", "ending_3", "ending_4", "label")),
    "kobest_sentineg": ("sentineg", ("sentence", "label")),
}
# Display names and order of the model cards' tables.
CARD_NAMES = {
    "kobest_copa": "COPA",
    "kobest_hellaswag": "HellaSwag",
    "kobest_boolq": "BoolQ",
    "kobest_sentineg": "SentiNeg",
    "kobest_wic": "WiC",
}
LM_EVAL_FEWSHOT_SEED = 1234


@dataclass(frozen=True)
class Rendered:
    """One document in a protocol's strings."""

    prompt: str
    """The document's text without an answer (doc_to_text)."""
    candidates: tuple[str, ...]
    """Continuation strings in label order, each with its leading separator space."""
    choices: tuple[str, ...]
    """The answer texts without the separator (their character lengths normalise acc_norm)."""
    label: int
    """Index of the gold candidate."""

    @property
    def target(self) -> str:
        return self.candidates[self.label]


def _yes_no(prompt: str, no: str, yes: str, label: int) -> Rendered:
    return Rendered(prompt, (" " + no, " " + yes), (no, yes), label)


def render(task: str, doc: dict, protocol: str = "polyglot") -> Rendered:
    """The prompt and candidates of `doc` for `task`, in the strings of `protocol` (see the module docstring)."""
    label = int(doc["label"])
    if task == "kobest_boolq":
        return _yes_no(f"{doc['paragraph']} 질문: {doc['question']} 답변: ", "아니오", "예", label)
    if task == "kobest_copa":
        connector = {"원인": "왜냐하면", "결과": "그래서"}[doc["question"].strip()]
        # lm-eval 0.4's copa_doc_to_text writes f"{premise} {' ' + connector}": a double space.
        sep = "  " if protocol == "lm-eval-0.4" else " "
        alts = (doc["alternative_1"], doc["alternative_2"])
        return Rendered(doc["premise"] + sep + connector, tuple(" " + a for a in alts), alts, label)
    if task == "kobest_wic":
        prompt = f"문장1: {doc['context_1']} 문장2: {doc['context_2']} 두 문장에서 {doc['word']}가 같은 뜻으로 쓰였나?"
        return _yes_no(prompt, "아니오", "예", label)
    if task == "kobest_hellaswag":
        endings = tuple(doc[f"ending_{i}"] for i in range(1, 5))
        return Rendered(f"문장: {doc['context']}", tuple(" " + e for e in endings), endings, label)
    if task == "kobest_sentineg":
        return _yes_no(f"문장: {doc['sentence']} 긍부정:", "부정", "긍정", label)
    raise UserError(f"task {task!r} is unknown; choose from {', '.join(TASKS)}")


# --- data ------------------------------------------------------------------------------------------------
def _check_task(task: str) -> str:
    if task not in _DATA:
        short = f"kobest_{task}"
        if short in _DATA:
            return short
        raise UserError(f"--tasks: {task!r} is not a KOBEST task; choose from {', '.join(TASKS)}")
    return task


def _check_rows(rows: list[dict], task: str, where: str) -> list[dict]:
    columns = _DATA[task][1]
    for i, row in enumerate(rows):
        missing = [c for c in columns if c not in row]
        if missing:
            raise UserError(
                f"{where} row {i + 1} lacks column(s) {', '.join(missing)}; {task} needs "
                f"{', '.join(columns)} (the skt/kobest_v1 layout)"
            )
    return rows


def load_split(task: str, split: str, data_dir: str | Path | None = None) -> list[dict]:
    """Rows of one split: from `data_dir/<config>/<split>.jsonl` (the hub's layout) or from the hub."""
    task = _check_task(task)
    config = _DATA[task][0]
    if data_dir is not None:
        path = Path(data_dir) / config / f"{split}.jsonl"
        if not Path(data_dir).is_dir():
            raise UserError(
                f"--data-dir {data_dir} is not a folder; pass a folder in the skt/kobest_v1 layout "
                f"(<config>/<split>.jsonl)"
            )
        if not path.is_file():
            raise UserError(
                f"{path} is missing; --data-dir needs {config}/{split}.jsonl (the skt/kobest_v1 "
                f"layout), or leave --data-dir out to download {HUB_DATASET}"
            )
        rows = []
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as e:
                        raise UserError(
                            f"{path} line {n} is not valid JSON ({e.msg}); fix or re-export the file"
                        ) from None
        return _check_rows(rows, task, str(path))
    try:
        import datasets
    except ImportError:
        raise UserError(
            "loading KOBEST from the hub needs the `datasets` package; pip install 'polyglot-ko[eval]' "
            "or pass --data-dir"
        ) from None
    try:
        ds = datasets.load_dataset(HUB_DATASET, config, split=split)
    except Exception as e:  # the hub, the network and the cache fail in many ways; all mean the same to a user
        raise UserError(
            f"could not load {HUB_DATASET}/{config} ({type(e).__name__}: {str(e).splitlines()[0][:200]}); "
            f"pass --data-dir with a local copy in the hub's layout"
        ) from None
    return _check_rows([dict(r) for r in ds], task, f"{HUB_DATASET}/{config}/{split}")


# --- requests --------------------------------------------------------------------------------------------
@dataclass
class Request:
    """One evaluated document: the context string and its candidates, ready to tokenize."""

    doc: dict
    context: str
    rendered: Rendered


def build_requests(
    task: str,
    test_docs: Sequence[dict],
    train_docs: Sequence[dict],
    shots: int,
    protocol: str = "polyglot",
    limit: int | None = None,
) -> list[Request]:
    """Contexts in the reference order, with the reference's random draws (see the module docstring)."""
    if protocol not in PROTOCOLS:
        raise UserError(f"--protocol {protocol!r} is unknown; choose from {', '.join(PROTOCOLS)}")
    if shots < 0:
        raise UserError(f"--shots {shots}: the number of examples must be >= 0")
    if shots > len(train_docs):
        raise UserError(f"--shots {shots}: {task} has only {len(train_docs)} training examples to draw from")
    docs = list(test_docs)
    if protocol == "polyglot":
        rnd = random.Random()
        rnd.seed(42)
        rnd.shuffle(docs)
        pool = list(train_docs)
    else:
        rnd = random.Random(LM_EVAL_FEWSHOT_SEED)
        pool = list(train_docs)
    if limit is not None:
        docs = docs[:limit]
    out = []
    for doc in docs:
        r = render(task, doc, protocol)
        if shots == 0:
            context = r.prompt
        else:
            examples = [render(task, ex, protocol) for ex in rnd.sample(pool, shots)]
            if protocol == "polyglot":
                context = "\n\n".join(e.prompt + e.target for e in examples) + "\n\n" + r.prompt
            else:
                context = "".join(e.prompt + " " + e.choices[e.label] + "\n\n" for e in examples) + r.prompt
        out.append(Request(doc, context, r))
    return out


def tokenize_requests(
    requests: Sequence[Request], encode: Callable[[str], list[int]], protocol: str = "polyglot"
) -> list[Question]:
    """Token ids per the protocol: separate encodings (polyglot) or lm-eval 0.4's `_encode_pair` split."""
    questions = []
    for req in requests:
        if protocol == "polyglot":
            ctx = encode(req.context)
            conts = [encode(c) for c in req.rendered.candidates]
        else:
            context = req.context
            stripped = context.rstrip()
            moved = context[len(stripped) :]
            ctx = encode(stripped)
            conts = [encode(stripped + moved + c)[len(ctx) :] for c in req.rendered.candidates]
        questions.append(Question(ctx, conts))
    return questions


# --- metrics ---------------------------------------------------------------------------------------------
def macro_f1(golds: Sequence[int], preds: Sequence[int]) -> float:
    """Unweighted mean over the labels present in golds or preds of 2TP / (2TP + FP + FN) (= scikit-learn's
    `f1_score(average="macro")`; every such label has a non-zero denominator)."""
    labels = sorted(set(golds) | set(preds))
    if not labels:
        return 0.0
    total = 0.0
    for lab in labels:
        tp = sum(1 for g, p in zip(golds, preds, strict=True) if g == lab and p == lab)
        fp = sum(1 for g, p in zip(golds, preds, strict=True) if g != lab and p == lab)
        fn = sum(1 for g, p in zip(golds, preds, strict=True) if g == lab and p != lab)
        total += 2 * tp / (2 * tp + fp + fn)
    return total / len(labels)


def _argmax(values: Sequence[float]) -> int:
    best = 0
    for i, v in enumerate(values):
        if v > values[best]:
            best = i
    return best


def metrics(golds: Sequence[int], lls: Sequence[Sequence[float]], choice_lengths: Sequence[Sequence[int]]) -> dict:
    preds = [_argmax(ll) for ll in lls]
    preds_norm = [
        _argmax([v / n for v, n in zip(ll, lens, strict=True)]) for ll, lens in zip(lls, choice_lengths, strict=True)
    ]
    n = len(golds)
    return {
        "macro_f1": macro_f1(golds, preds),
        "acc": sum(p == g for p, g in zip(preds, golds, strict=True)) / n if n else 0.0,
        "acc_norm": sum(p == g for p, g in zip(preds_norm, golds, strict=True)) / n if n else 0.0,
        "n": n,
    }


# --- the whole evaluation ----------------------------------------------------------------------------------
def _parse_list(value: Any) -> list:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, int):
        return [value]
    return list(value)


def _check_options(tasks: Any, shots: Any, limit: int | None, protocol: str) -> tuple[list[str], list[int]]:
    """The task names and shot counts to run; `UserError` for a bad task, shot count, limit or protocol."""
    task_list = [_check_task(t) for t in _parse_list(tasks)]
    try:
        shot_list = [int(s) for s in _parse_list(shots)]
    except ValueError:
        raise UserError(f"--shots {shots!r}: give comma-separated integers such as 0,5,10,50") from None
    if limit is not None and limit <= 0:
        raise UserError(f"--limit {limit}: give a positive number of documents per task")
    if protocol not in PROTOCOLS:
        raise UserError(f"--protocol {protocol!r} is unknown; choose from {', '.join(PROTOCOLS)}")
    return task_list, shot_list


def _run_shots(
    model,
    tokenizer,
    task: str,
    test_docs,
    train_docs,
    k: int,
    protocol: str,
    limit,
    L: int,
    prefix_reuse: bool,
    batch_size: int,
    max_batch_tokens: int,
    progress: bool,
    return_samples: bool,
) -> dict:
    """One task at one shot count: build, tokenize and score its requests; metrics, time, truncations, samples."""
    from ._common import pad_id

    t0 = time.perf_counter()
    reqs = build_requests(task, test_docs, train_docs, k, protocol, limit)
    questions = tokenize_requests(reqs, tokenizer.encode, protocol)
    desc = f"{task} {k}-shot"
    if prefix_reuse:
        scored = score(
            model,
            questions,
            max_length=L,
            batch_size=batch_size,
            max_batch_tokens=max_batch_tokens,
            pad_id=pad_id(tokenizer),
            progress=progress,
            desc=desc,
        )
    else:
        scored = score_plain(model, questions, max_length=L, progress=progress, desc=desc)
    lls = [[ll for ll, _ in row] for row in scored]
    m = metrics([r.rendered.label for r in reqs], lls, [[len(c) for c in r.rendered.choices] for r in reqs])
    elapsed = time.perf_counter() - t0
    if progress:
        print(
            f"{desc}: macro_f1 {m['macro_f1']:.4f} acc {m['acc']:.4f} acc_norm {m['acc_norm']:.4f} n {m['n']} "
            f"({elapsed:.1f} s)",
            flush=True,
        )
    run = {
        "metrics": m,
        "seconds": elapsed,
        "truncated": sum(1 for q in questions if len(q.context) + max(len(c) for c in q.continuations) > L + 1),
    }
    if return_samples:
        run["samples"] = [
            {
                "context": r.context,
                "candidates": list(r.rendered.candidates),
                "label": r.rendered.label,
                "loglikelihoods": ll,
                "pred": _argmax(ll),
            }
            for r, ll in zip(reqs, lls, strict=True)
        ]
    return run


def evaluate_kobest(
    model,
    tokenizer,
    tasks: Sequence[str] | str = TASKS,
    shots: Sequence[int] | str = (0, 5, 10, 50),
    data_dir: str | Path | None = None,
    limit: int | None = None,
    *,
    protocol: str = "polyglot",
    max_length: int | None = None,
    batch_size: int = 32,
    max_batch_tokens: int = 16384,
    prefix_reuse: bool = True,
    progress: bool = True,
    return_samples: bool = False,
    dtype: str = "float32",
    device: str = "cpu",
) -> dict:
    """Evaluate `model` on KOBEST tasks at each shot count; returns the results.json structure.

    model / tokenizer: objects or folders / hub ids (the tokenizer defaults to the model's folder when None).
    data_dir: a local copy in the skt/kobest_v1 layout, or None for the hub. limit: documents per task.
    max_length: the window (default: the model's max_position_embeddings). return_samples: add per-document
    contexts, log-likelihoods and predictions under "samples" (large). prefix_reuse=False scores every candidate
    with its own plain forward pass (slow; the reference for tests).
    """
    from ._common import load_model_any, load_tokenizer_any, tokenizer_fingerprint

    if tokenizer is None:
        if not isinstance(model, (str, Path)):
            raise UserError("evaluate_kobest: pass a tokenizer with a model object (or pass the model folder)")
        tokenizer = model
    tokenizer = load_tokenizer_any(tokenizer)
    model_name = str(model) if isinstance(model, (str, Path)) else getattr(model.config, "name", "model")
    model = load_model_any(model, dtype=dtype, device=device)
    task_list, shot_list = _check_options(tasks, shots, limit, protocol)
    L = int(max_length or model.config.max_position_embeddings)

    results: dict[str, dict[str, dict]] = {}
    samples: dict[str, dict[str, list]] = {}
    timing: dict[str, dict[str, float]] = {}
    truncated: dict[str, dict[str, int]] = {}
    t_all = time.perf_counter()
    for task in task_list:
        test_docs = load_split(task, "test", data_dir)
        train_docs = load_split(task, "train", data_dir)
        for k in shot_list:
            run = _run_shots(
                model,
                tokenizer,
                task,
                test_docs,
                train_docs,
                k,
                protocol,
                limit,
                L,
                prefix_reuse,
                batch_size,
                max_batch_tokens,
                progress,
                return_samples,
            )
            results.setdefault(task, {})[str(k)] = run["metrics"]
            timing.setdefault(task, {})[str(k)] = run["seconds"]
            truncated.setdefault(task, {})[str(k)] = run["truncated"]
            if return_samples:
                samples.setdefault(task, {})[str(k)] = run["samples"]
    out = {
        "results": results,
        "config": {
            "model": model_name,
            "protocol": protocol,
            "tasks": task_list,
            "shots": shot_list,
            "limit": limit,
            "data": str(data_dir) if data_dir is not None else HUB_DATASET,
            "max_length": L,
            "tokenizer_fingerprint": tokenizer_fingerprint(tokenizer),
            "prefix_reuse": prefix_reuse,
        },
        "truncated_documents": truncated,
        "seconds": {"total": time.perf_counter() - t_all, "per_task": timing},
    }
    if return_samples:
        out["samples"] = samples
    return out


def markdown_table(results: dict, model_name: str = "model") -> str:
    """Tables laid out like the model cards': one per task, macro F1 by shot count, then acc / acc_norm / n."""
    res = results["results"] if "results" in results else results
    lines = []
    for task in [t for t in CARD_NAMES if t in res]:
        shots = sorted(res[task], key=int)
        lines.append(f"### {CARD_NAMES[task]} (F1)")
        lines.append("")
        lines.append("| Model | " + " | ".join(f"{s}-shot" for s in shots) + " |")
        lines.append("|---|" + "---|" * len(shots))
        lines.append(f"| {model_name} | " + " | ".join(f"{res[task][s]['macro_f1']:.4f}" for s in shots) + " |")
        lines.append("")
    lines.append("| task | shots | macro_f1 | acc | acc_norm | n |")
    lines.append("|---|---|---|---|---|---|")
    for task in [t for t in CARD_NAMES if t in res]:
        for s in sorted(res[task], key=int):
            m = res[task][s]
            lines.append(f"| {task} | {s} | {m['macro_f1']:.4f} | {m['acc']:.4f} | {m['acc_norm']:.4f} | {m['n']} |")
    return "\n".join(lines) + "\n"
