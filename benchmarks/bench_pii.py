"""PII masker benchmark: precision/recall per type on tests/fixtures/pii_labelled.jsonl and masking throughput on
the shared Korean corpus, both against the team's published simple regex approach (pii_eval.baseline_find).

Throughput is single-process MB/s of UTF-8 input per CPU-second (process time, so other users' load on a
shared machine does not count); the two maskers run interleaved (median of `--repeats`). Results go to
benchmarks/results/pii.json and pii.md.

    python benchmarks/bench_pii.py [--chars 8000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import statistics
import time
from pathlib import Path

from pii_eval import baseline_find, baseline_mask, score  # benchmarks/pii_eval.py, beside this script
from polyglot_ko.data.pii import find_pii, mask_pii_with_counts
from polyglot_ko.io_utils import atomic_write_json, atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "data" / "korean-corpus"
FIXTURE = ROOT / "tests" / "fixtures" / "pii_labelled.jsonl"


def load_texts(max_chars: int) -> list[str]:
    """Documents from every corpus file in turn (round-robin), so the sample mixes the sources."""
    files = sorted(CORPUS.glob("*.jsonl.gz"))
    handles = [gzip.open(f, "rt", encoding="utf-8") for f in files]
    texts, total = [], 0
    while handles and total < max_chars:
        for h in list(handles):
            line = h.readline()
            if not line:
                handles.remove(h)
                continue
            t = json.loads(line)["text"]
            texts.append(t)
            total += len(t)
    return texts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chars", type=int, default=8_000_000, help="corpus characters to mask per run")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    rows = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
    ours, base = score(find_pii, rows), score(baseline_find, rows)
    errors = ours.pop("errors")
    base.pop("errors")

    texts = load_texts(args.chars)
    nbytes = sum(len(t.encode("utf-8")) for t in texts)
    nchars = sum(map(len, texts))
    times = {"ours": [], "baseline": []}
    found = {}
    for _ in range(args.repeats):
        t = time.process_time()
        counts = {"tel": 0, "rrn": 0, "acc": 0}
        for x in texts:
            _, c = mask_pii_with_counts(x)
            for k in counts:
                counts[k] += c.get(k, 0)
        times["ours"].append(time.process_time() - t)
        found["ours"] = counts
        t = time.process_time()
        n = 0
        for x in texts:
            n += baseline_mask(x) != x
        times["baseline"].append(time.process_time() - t)
        found["baseline_docs_changed"] = n
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "labelled_set": {
            "file": str(FIXTURE.relative_to(ROOT)),
            "sentences": len(rows),
            "spans": sum(len(r["spans"]) for r in rows),
        },
        "ours": ours,
        "baseline": base,
        "ours_errors": errors[:20],
        "throughput": {
            "corpus_docs": len(texts),
            "corpus_chars": nchars,
            "corpus_mb": round(nbytes / 1e6, 2),
            "ours_mb_s": round(nbytes / 1e6 / med["ours"], 2),
            "baseline_mb_s": round(nbytes / 1e6 / med["baseline"], 2),
            "ours_vs_baseline_speed": round(med["baseline"] / med["ours"], 3),
            "seconds": {k: [round(x, 3) for x in v] for k, v in times.items()},
            "found_in_corpus": found,
        },
        "machine": f"{platform.processor() or platform.machine()}, shared with other engineers while measured",
    }
    out = ROOT / "benchmarks" / "results"
    atomic_write_json(out / "pii.json", result)
    lines = [
        "# PII masker vs the team's regexes",
        "",
        f"Labelled set: {len(rows)} sentences, {result['labelled_set']['spans']} spans "
        f"(`tests/fixtures/pii_labelled.jsonl`); exact span and type must match.",
        "",
        "| type | ours P | ours R | baseline P | baseline R |",
        "|---|---|---|---|---|",
    ]
    for t in ("tel", "rrn", "acc", "all"):
        lines.append(
            f"| {t} | {ours[t]['precision']:.4f} | {ours[t]['recall']:.4f} | "
            f"{base[t]['precision']:.4f} | {base[t]['recall']:.4f} |"
        )
    th = result["throughput"]
    lines += [
        "",
        f"Throughput on {th['corpus_mb']} MB ({th['corpus_docs']:,} documents) of the shared corpus, "
        f"one process, CPU time, median of {args.repeats} interleaved runs (machine shared):",
        "",
        "| masker | MB/s per core |",
        "|---|---|",
        f"| ours | {th['ours_mb_s']} |",
        f"| baseline regexes | {th['baseline_mb_s']} |",
        "",
        f"ours / baseline speed: {th['ours_vs_baseline_speed']}x",
        "",
    ]
    atomic_write_text(out / "pii.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
