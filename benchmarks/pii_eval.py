"""Scoring a PII masker on a labelled set, and the baseline it is compared with.

`score(find, rows)` compares predicted spans with labelled ones by exact (start, end, type) and returns
precision, recall and F1 per type. `baseline_find` re-creates the Polyglot-Ko team's published simple regex
approach (ground-truth §3) as described there: phone `NN(N)-NNN(N)-NNNN`, registration `NNNNNN-NNNNNNN`,
16-digit card patterns, and a bank-account pattern that takes any dash-joined digit groups at the start of a
text (so dates like 2023-01-05 become accounts) and any run of 11+ digits. It exists only to be measured
against (benchmarks/bench_pii.py and tests/data/test_pii_masker.py, which loads this file by path), so it
lives with the benchmarks, not in the package.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable

from polyglot_ko.constants import PII_TOKENS
from polyglot_ko.data.pii import PII_TYPES, PIIMatch

_BASELINE = [
    ("rrn", re.compile(r"\d{6}-\d{7}")),
    ("tel", re.compile(r"\d{2,3}-\d{3,4}-\d{4}")),
    ("acc", re.compile(r"5[1-5]\d{14}|4\d{15}|4\d{12}|3[47]\d{13}|6011\d{12}|\d{4}-\d{4}-\d{4}-\d{4}")),
    (
        "acc",
        re.compile(
            r"^\d+(?:-\d+)+|\d{11,}|\d{3,4}-\d{3,4}-\d{5,6}|\d{3}-\d{2,4}-\d{4,6}-\d{1,2}"
            r"|\d{3}-\d{6}-\d{2,4}-\d{3}"
        ),
    ),
]


def baseline_find(text: str) -> list[PIIMatch]:
    """The team's regexes applied in turn; a later pattern cannot take text an earlier one masked."""
    out: list[PIIMatch] = []
    for typ, pattern in _BASELINE:
        for m in pattern.finditer(text):
            if not any(p.start < m.end() and m.start() < p.end for p in out):
                out.append(PIIMatch(typ, m.start(), m.end(), m.group()))
    return sorted(out, key=lambda p: p.start)


def baseline_mask(text: str) -> str:
    tokens = dict(PII_TOKENS)
    parts, pos = [], 0
    for p in baseline_find(text):
        parts += [text[pos : p.start], tokens[p.type]]
        pos = p.end
    return "".join(parts + [text[pos:]])


def score(find: Callable[[str], list[PIIMatch]], rows: Iterable[dict]) -> dict:
    """Per-type and overall precision/recall/F1 of `find` on rows {"text", "spans": [{start, end, type}]}.

    Also lists the errors (first 50) so a failing test says which sentences were wrong.
    """
    tp: Counter = Counter()
    fp: Counter = Counter()
    fn: Counter = Counter()
    errors: list[dict] = []
    for row in rows:
        gold = {(s["start"], s["end"], s["type"]) for s in row["spans"]}
        pred = {(p.start, p.end, p.type) for p in find(row["text"])}
        for g in gold:
            (tp if g in pred else fn)[g[2]] += 1
        for p in pred - gold:
            fp[p[2]] += 1
        if gold != pred and len(errors) < 50:
            errors.append(
                {
                    "text": row["text"],
                    "form": row.get("form"),
                    "missed": [row["text"][a:b] + f" ({t})" for a, b, t in sorted(gold - pred)],
                    "wrong": [row["text"][a:b] + f" ({t})" for a, b, t in sorted(pred - gold)],
                }
            )
    result: dict = {}
    for t in PII_TYPES + ("all",):
        if t == "all":
            a, b, c = sum(tp.values()), sum(fp.values()), sum(fn.values())
        else:
            a, b, c = tp[t], fp[t], fn[t]
        p = a / (a + b) if a + b else 1.0
        r = a / (a + c) if a + c else 1.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        result[t] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "tp": a, "fp": b, "fn": c}
    result["errors"] = errors
    return result
