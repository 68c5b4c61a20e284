"""Build the bundled Korean sample corpus (ko-sample.jsonl.gz) from the hand-written documents and templates.

A build tool, not package code: the package ships only its output (src/polyglot_ko/assets/corpus/). Run it from
the repository root after editing a source file here, then commit the output:

    .venv/bin/python tools/corpus/make_corpus.py

Deterministic: a fixed seed, a fixed document order and gzip written with mtime 0, so rebuilding without edits
gives the same bytes (the test checks the committed file against a rebuild).

Sources:
- `handwritten/*.txt`: documents written by hand. A document starts with a line `=== key=value ...`
  (`source=`, optional `quality=low:<reason>`); its text follows. Inline markup `{{kind:text}}` marks a piece
  of fictional personal data (`tel`, `acc`, `rrn`) or a hard negative that a PII masker must leave alone
  (`date`, `price`, `zip`, `bizno`, `order`, `isbn`, `num`, ...). The markup is stripped from the text and
  recorded in the annotations file, so tests know exactly what should and should not be masked.
- `templates.py`: sentence banks with slots for names, places, dates, numbers and products, combined into
  further documents (each picks several sentences from large banks, so no two documents share most of
  their text and a near-duplicate filter keeps them).
- A few exact and near duplicates of hand-written documents are added on purpose, so dedup has work to show.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import random
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
ASSETS = HERE.parents[1] / "src" / "polyglot_ko" / "assets" / "corpus"  # where the package ships the output
OUTPUT = ASSETS / "ko-sample.jsonl.gz"
ANNOTATIONS = ASSETS / "ko-sample.annotations.json"
SEED = 20240601

PII_KINDS = ("tel", "acc", "rrn")
NEGATIVE_KINDS = ("date", "price", "zip", "bizno", "order", "isbn", "num", "time", "tracking")
_MARKUP = re.compile(r"\{\{(\w+):(.*?)\}\}")
_RRN = re.compile(r"^(\d{6})-?(\d{7})$")


def rrn_with_check_digit(rrn: str) -> str:
    """Return `rrn` with its last digit replaced by the valid (pre-2020) check digit, keeping its separator.

    Fictional numbers get a valid check digit so that a masker which validates it still treats them as real.
    """
    m = _RRN.match(rrn)
    if not m:
        raise ValueError(f"not a resident registration number: {rrn!r}")
    digits = m.group(1) + m.group(2)
    weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
    check = (11 - sum(int(d) * w for d, w in zip(digits[:12], weights, strict=True)) % 11) % 10
    fixed = digits[:12] + str(check)
    return f"{fixed[:6]}-{fixed[6:]}" if "-" in rrn else fixed


def strip_markup(text: str) -> tuple[str, list[dict], list[dict]]:
    """Remove `{{kind:text}}` markup; return the clean text, the PII spans and the hard-negative spans."""
    pii: list[dict] = []
    negatives: list[dict] = []
    out: list[str] = []
    pos = 0
    for m in _MARKUP.finditer(text):
        kind, value = m.group(1), m.group(2)
        if kind == "rrn" and _RRN.match(value):  # partly hidden forms (900101-1******) stay as written
            value = rrn_with_check_digit(value)
        out.append(text[pos : m.start()])
        start = sum(len(p) for p in out)
        out.append(value)
        span = {"kind": kind, "text": value, "start": start, "end": start + len(value)}
        if kind in PII_KINDS:
            pii.append(span)
        elif kind in NEGATIVE_KINDS:
            negatives.append(span)
        else:
            raise ValueError(f"unknown markup kind {kind!r} in {m.group(0)!r}")
        pos = m.end()
    out.append(text[pos:])
    return "".join(out), pii, negatives


def parse_handwritten(path: Path) -> list[dict]:
    """Parse one hand-written source file into documents (text still carrying markup)."""
    docs: list[dict] = []
    current: dict | None = None
    lines: list[str] = []

    def close() -> None:
        if current is not None:
            text = "\n".join(lines).strip("\n")
            if text.strip():
                current["raw"] = text
                docs.append(current)

    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("=== ") or line == "===":
            close()
            current = {"source": path.stem, "file": path.name}
            for item in line[4:].split():
                key, _, value = item.partition("=")
                current[key] = value
            lines = []
        elif current is not None:
            lines.append(line.rstrip())
    close()
    return docs


_PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~“”‘’「」『』《》〈〉【】…·ㆍ"


def mean_word_length(text: str) -> float:
    """Mean length of the whitespace-separated words of `text`, punctuation stripped."""
    lengths = [len(w.strip(_PUNCT)) for w in text.split()]
    lengths = [n for n in lengths if n] or [0]
    return sum(lengths) / len(lengths)


def near_duplicate(text: str, rng: random.Random) -> str:
    """A light edit of `text`, as reposted copies look (a tag, a changed digit or word, punctuation), close
    enough (character 5-gram Jaccard > 0.85) that near-dedup should catch it."""
    edits = [
        lambda t: re.sub(r"\d", lambda m: str((int(m.group(0)) + 1) % 10), t, count=1),
        lambda t: t.replace(". ", "! ", 1),
        lambda t: rng.choice(["[펌] ", "(공유) ", "[스크랩] "]) + t,
        lambda t: t + rng.choice(["\n\n출처: 동네 소식지", "\n(퍼온 글입니다)", "\n\n좋은 글이라 공유합니다."]),
        lambda t: t.replace("습니다.", "습니다!", 1),
        lambda t: t.replace("\n\n", "\n", 1),
    ]
    out = text
    for edit in rng.sample(edits, 2):
        out = edit(out)
    if out == text:
        out = text + " (재게시)"
    return out


def build() -> tuple[list[dict], dict]:
    """Build the documents (`{"id","source","text"}`) and the annotations, deterministically."""
    # templates.py is a sibling file, not an importable module: load it by path.
    spec = importlib.util.spec_from_file_location("polyglot_ko_corpus_templates", HERE / "templates.py")
    templates = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(templates)

    rng = random.Random(SEED)
    records: list[dict] = []
    annotations: dict[str, dict] = {}
    counters: dict[str, int] = {}

    def add(source: str, text: str, pii=(), negatives=(), **extra) -> str:
        counters[source] = counters.get(source, 0) + 1
        doc_id = f"{source}-{counters[source]:04d}"
        records.append({"id": doc_id, "source": source, "text": text})
        note = {k: v for k, v in extra.items() if v}
        if pii:
            note["pii"] = list(pii)
        if negatives:
            note["negatives"] = list(negatives)
        if note:
            annotations[doc_id] = note
        return doc_id

    handwritten_ids: list[str] = []
    for path in sorted((HERE / "handwritten").glob("*.txt")):
        for doc in parse_handwritten(path):
            text, pii, negatives = strip_markup(doc["raw"])
            doc_id = add(doc["source"], text, pii, negatives, quality=doc.get("quality"), origin="handwritten")
            if not doc.get("quality"):
                handwritten_ids.append(doc_id)

    for source, marked in templates.generate(random.Random(SEED + 1)):
        text, pii, negatives = strip_markup(marked)
        add(source, text, pii, negatives, origin="template")

    # Duplicates on purpose: exact copies (same text, new id) and light edits of hand-written documents. The
    # originals are the documents with the longest words (eojeol), so that a MassiveText-style mean-word-length
    # filter (which drops most plain Korean) does not remove them before dedup gets to show its work.
    by_id = {r["id"]: r for r in records}
    candidates = [i for i in handwritten_ids if len(by_id[i]["text"]) >= 250 and "pii" not in annotations.get(i, {})]
    candidates.sort(key=lambda i: (-mean_word_length(by_id[i]["text"]), i))
    picks = candidates[:16]
    rng.shuffle(picks)
    for original in picks[:8]:
        src = by_id[original]
        add(
            src["source"],
            src["text"],
            annotations.get(original, {}).get("pii", ()),
            annotations.get(original, {}).get("negatives", ()),
            duplicate_of=original,
            origin="duplicate",
        )
    for original in picks[8:]:
        src = by_id[original]
        add(src["source"], near_duplicate(src["text"], rng), near_duplicate_of=original, origin="near-duplicate")

    rng.shuffle(records)
    return records, annotations


def write(records: list[dict], annotations: dict) -> None:
    from polyglot_ko.io_utils import atomic_write_bytes

    buf = io.BytesIO()
    # mtime=0 and no file name in the header: identical input gives identical bytes.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        for r in records:
            gz.write((json.dumps(r, ensure_ascii=False) + "\n").encode("utf-8"))
    atomic_write_bytes(OUTPUT, buf.getvalue())
    # One line per document keeps the file small and its diffs readable.
    lines = [
        f"  {json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)}"
        for k, v in sorted(annotations.items())
    ]
    text = (
        f'{{"format": "polyglot-ko-sample-annotations/1", "seed": {SEED}, "file": "{OUTPUT.name}",\n'
        f' "documents": {{\n' + ",\n".join(lines) + "\n }}\n"
    )
    json.loads(text)  # stays valid JSON
    atomic_write_bytes(ANNOTATIONS, text.encode("utf-8"))
    for path in (OUTPUT, ANNOTATIONS):
        path.chmod(0o644)  # package data must be readable by every user (atomic writes create 0600 files)


def summary(records: list[dict], annotations: dict) -> str:
    by_source: dict[str, list[int]] = {}
    for r in records:
        by_source.setdefault(r["source"], []).append(len(r["text"]))
    hangul = sum(sum("\uac00" <= ch <= "\ud7a3" for ch in r["text"]) for r in records)
    lines = [f"{'source':<10} {'docs':>6} {'chars':>9}"]
    for source, lens in sorted(by_source.items()):
        lines.append(f"{source:<10} {len(lens):>6} {sum(lens):>9}")
    total = sum(len(r["text"]) for r in records)
    pii = sum(len(a.get("pii", ())) for a in annotations.values())
    lines.append(f"{'total':<10} {len(records):>6} {total:>9}  (Hangul syllables {hangul}, PII spans {pii})")
    return "\n".join(lines)


def main() -> int:
    records, annotations = build()
    write(records, annotations)
    print(summary(records, annotations))
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size / 1e6:.2f} MB) and {ANNOTATIONS.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
