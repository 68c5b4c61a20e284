"""`prepare` throughput on the whole shared corpus (about 36 M characters): end to end and per step, with
2 worker processes and with 1 (same 2 tasks, so the same output), MB/s of input text (UTF-8) in total and
per core.

Per-step figures come from FOLDER/stats.json: each block times only its own work, summed over tasks, so
"step MB/s per core" = input MB / step seconds. End to end = input MB / wall seconds of `prepare` (stages,
datatrove process start-up and tokenization included). The reference is the same pipeline on 1 worker in
the same run (ratio = speed-up from the second worker). The machine is shared with other engineers: read
the ratios, not the absolute numbers. Results: benchmarks/results/prepare.json and prepare.md.

    python benchmarks/bench_prepare.py [--workers 2] [--skip-single]
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

from polyglot_ko.io_utils import atomic_write_json, atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "data" / "korean-corpus"
REF_TOK = SHARED / "reference" / "polyglot-ko-tokenizer"
STEPS = (
    "read",
    "nfc",
    "html",
    "whitespace",
    "repeats",
    "quality",
    "exact_hash",
    "write_filtered",
    "exact_find",
    "exact_dedup",
    "minhash",
    "write_deduped",
    "near_dedup",
    "pii",
    "write",
)


def corpus_bytes() -> tuple[int, int]:
    nbytes = nchars = 0
    for f in sorted(CORPUS.glob("*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            for line in fh:
                t = json.loads(line)["text"]
                nbytes += len(t.encode("utf-8"))
                nchars += len(t)
    return nbytes, nchars


def isolated_steps() -> dict:
    """Each step alone over the whole corpus in this process, CPU seconds (robust to other users' load).

    Steps see what they see in the pipeline: normalisation runs on every document, dedup and PII on the
    documents that pass the quality filters."""
    from polyglot_ko.data.dedup import KoreanMinhashSignature, minhash_config, text_hash
    from polyglot_ko.data.filters import check_quality
    from polyglot_ko.data.normalize import nfc, normalize_whitespace, reduce_repeats, remove_html
    from polyglot_ko.data.pii import mask_pii_with_counts
    from polyglot_ko.data.readers import iter_documents

    cpu = time.process_time
    out = {}
    t = cpu()
    texts = [d.text for d in iter_documents(str(CORPUS))]
    out["read"] = cpu() - t
    for name, fn in (
        ("nfc", nfc),
        ("html", remove_html),
        ("whitespace", normalize_whitespace),
        ("repeats", reduce_repeats),
    ):
        t = cpu()
        texts = [fn(x) for x in texts]
        out[name] = cpu() - t
    t = cpu()
    kept = [x for x in texts if check_quality(x) is None]
    out["quality"] = cpu() - t
    t = cpu()
    seen, unique = set(), []
    for x in kept:
        h = text_hash(x)
        if h not in seen:
            seen.add(h)
            unique.append(x)
    out["exact_dedup"] = cpu() - t
    sig = KoreanMinhashSignature(tempfile.mkdtemp(prefix="bench-sig-"), minhash_config(0.8))
    t = cpu()
    for x in unique:
        sh = sig.get_shingles(x)
        if sh.size:
            sig.get_signature(sh)
    out["minhash_signature"] = cpu() - t
    t = cpu()
    for x in unique:
        mask_pii_with_counts(x)
    out["pii"] = cpu() - t
    return {
        "cpu_seconds": {k: round(v, 3) for k, v in out.items()},
        "docs_after_quality": len(kept),
        "chars_after_quality": sum(map(len, kept)),
    }


def run_once(workers: int, tasks: int, tok: Path, work: Path) -> dict:
    from polyglot_ko.data.pipeline import prepare

    out = work / f"out-w{workers}"
    t = time.perf_counter()
    stats = prepare([str(CORPUS)], out, tokenizer=tok, workers=workers, tasks=tasks, overwrite=True, quiet=True)
    stats["wall"] = time.perf_counter() - t
    shutil.rmtree(out, ignore_errors=True)
    return stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-single", action="store_true", help="skip the 1-worker reference run")
    args = ap.parse_args()
    nbytes, nchars = corpus_bytes()
    mb = nbytes / 1e6
    work = Path(tempfile.mkdtemp(prefix="bench-prepare-"))
    tok = work / "tokenizer"
    tok.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(REF_TOK / f"MBBPE_62ce27a_2022-06-01_{name}", tok / name)
    iso = isolated_steps()
    runs = {}
    try:
        runs[f"workers={args.workers}"] = run_once(args.workers, args.workers, tok, work)
        if not args.skip_single:
            runs["workers=1"] = run_once(1, args.workers, tok, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    main_run = runs[f"workers={args.workers}"]
    steps = {}
    for step in STEPS:
        s = main_run["steps"].get(step)
        if s and s.get("seconds"):
            steps[step] = {
                "seconds_all_tasks": s["seconds"],
                "mb_s_per_core": round(mb / s["seconds"], 2),
                "docs_in": s.get("docs_in"),
                "docs_out": s.get("docs_out"),
            }
    iso["mb_s_per_core_of_corpus_input"] = {k: round(mb / v, 2) for k, v in iso["cpu_seconds"].items() if v}
    tk = main_run.get("tokenize", {})
    result = {
        "corpus": {"files": len(list(CORPUS.glob("*.jsonl.gz"))), "chars": nchars, "mb_utf8": round(mb, 2)},
        "end_to_end": {
            name: {
                "wall_s": round(r["wall"], 2),
                "mb_s_total": round(mb / r["wall"], 3),
                "mb_s_per_core": round(mb / r["wall"] / int(name.split("=")[1]), 3),
                "clean_s": r["seconds"]["clean"],
                "tokenize_s": r["seconds"].get("tokenize"),
            }
            for name, r in runs.items()
        },
        "steps_in_pipeline_wall": steps,
        "steps_isolated_cpu": iso,
        "tokenize": {
            "seconds": tk.get("seconds"),
            "tokens": main_run["tokens"],
            "mb_s_of_kept_text": round(main_run["characters"]["kept"] * (nbytes / nchars) / 1e6 / tk["seconds"], 2)
            if tk.get("seconds")
            else None,
        },
        "documents": main_run["documents"],
        "pii": main_run["pii"],
        "machine": f"{platform.machine()} 2 cores, shared with ~6 engineers while measured",
    }
    if "workers=1" in runs:
        result["speedup_vs_1_worker"] = round(runs["workers=1"]["wall"] / main_run["wall"], 3)
    atomic_write_json(ROOT / "benchmarks" / "results" / "prepare.json", result)
    d = main_run["documents"]
    lines = [
        "# prepare on the shared corpus",
        "",
        f"Input: {result['corpus']['files']} files, {nchars:,} characters, {mb:.1f} MB UTF-8 text. "
        "Machine: 2 cores, shared with other engineers while measured (absolute numbers are noisy).",
        "",
        "| run | wall s | MB/s total | MB/s per core |",
        "|---|---|---|---|",
    ]
    for name, e in result["end_to_end"].items():
        lines.append(f"| {name} | {e['wall_s']} | {e['mb_s_total']} | {e['mb_s_per_core']} |")
    if "speedup_vs_1_worker" in result:
        lines += [
            "",
            f"Speed-up of {args.workers} workers over 1 (same tasks, same output): {result['speedup_vs_1_worker']}x",
        ]
    lines += [
        "",
        "Per step, each alone over the whole corpus in one process, CPU time (robust to the shared "
        "machine's load; dedup and PII see only the documents that pass the quality filters, "
        f"{iso['chars_after_quality']:,} characters), as MB of corpus input per CPU-second:",
        "",
        "| step | CPU s | MB/s per core |",
        "|---|---|---|",
    ]
    for step, v in iso["cpu_seconds"].items():
        lines.append(f"| {step} | {v} | {iso['mb_s_per_core_of_corpus_input'].get(step)} |")
    total_cpu = sum(iso["cpu_seconds"].values())
    lines += [
        "",
        f"All steps: {total_cpu:.1f} CPU s = {mb / total_cpu:.2f} MB/s per core "
        "(tokenization and datatrove's stage overheads not included).",
    ]
    lines += [
        "",
        "Per step inside the 2-worker run (wall time of each block summed over tasks, inflated by other users' load):",
        "",
        "| step | seconds | MB/s per core | docs in | docs out |",
        "|---|---|---|---|---|",
    ]
    for step, s in steps.items():
        lines.append(f"| {step} | {s['seconds_all_tasks']} | {s['mb_s_per_core']} | {s['docs_in']} | {s['docs_out']} |")
    lines += [
        "",
        f"Documents: {d['input']:,} in, {d['kept']:,} kept; dropped: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(d["dropped"].items(), key=lambda kv: -kv[1])),
        f"PII masked: {main_run['pii']}",
        f"Tokens: {main_run['tokens']:,}",
        "",
    ]
    atomic_write_text(ROOT / "benchmarks" / "results" / "prepare.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
