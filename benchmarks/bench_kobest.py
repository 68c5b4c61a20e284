"""Benchmark: KOBEST wall time, ours against lm-eval 0.4 `--model hf` on the same checkpoint and data.

1. The five tasks at 5 shots, `--limit` documents each, on a random `small` model (6 layers, d=384, 1024
   positions) saved with the released tokenizer: our `evaluate_kobest(protocol="lm-eval-0.4")` against
   `lm_eval.simple_evaluate(model="hf")` on lm-eval's own kobest tasks (offline copy), and against lm-eval
   driving our model (`model="polyglot-ko"`). The runs are interleaved and repeated; medians are reported, and
   the metrics must be identical.
2. Examples per second of our scorer at 0 and 50 shots (the cards' protocol), with context reuse and with the
   plain one-forward-per-candidate computation (the same numbers, tested in tests/eval).

Results: benchmarks/results/kobest.json and .md. Wall times include model and data loading for every runner.
The machine is shared: compare the ratios, measured in the same run, not the absolute times.

    .venv/bin/python benchmarks/bench_kobest.py --limit 40 --repeats 2
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TASKS = ["kobest_boolq", "kobest_copa", "kobest_wic", "kobest_hellaswag", "kobest_sentineg"]


def make_model(preset: str, tokenizer_dir: Path, out: Path) -> Path:
    from polyglot_ko import build_model, save_model

    tok = out / "tokenizer"
    tok.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        src = tokenizer_dir / f"MBBPE_62ce27a_2022-06-01_{name}"
        shutil.copy(src if src.exists() else tokenizer_dir / name, tok / name)
    folder = out / preset
    save_model(build_model(preset, seed=0), folder, tokenizer=tok)
    return folder


def run_ours(model_dir, data_dir, limit, shots, protocol, prefix_reuse=True):
    from polyglot_ko.eval.kobest import evaluate_kobest

    t = time.perf_counter()
    r = evaluate_kobest(
        str(model_dir),
        None,
        TASKS,
        [shots],
        data_dir,
        limit,
        protocol=protocol,
        prefix_reuse=prefix_reuse,
        progress=False,
    )
    return time.perf_counter() - t, {task: r["results"][task][str(shots)] for task in TASKS}


def run_lm_eval(model_type, model_dir, task_manager, limit, shots, batch_size):
    import lm_eval

    args = f"pretrained={model_dir}" + (",dtype=float32" if model_type == "hf" else "")
    t = time.perf_counter()
    r = lm_eval.simple_evaluate(
        model=model_type,
        model_args=args,
        tasks=TASKS,
        num_fewshot=shots,
        limit=limit,
        task_manager=task_manager,
        batch_size=batch_size,
        device="cpu",
    )
    elapsed = time.perf_counter() - t
    metrics = {}
    for task in TASKS:
        res = r["results"][task]
        metrics[task] = {
            "macro_f1": res["f1,none"],
            "acc": res["acc,none"],
            "n": int(r["n-samples"][task]["effective"]),
        }
        if "acc_norm,none" in res:
            metrics[task]["acc_norm"] = res["acc_norm,none"]
    return elapsed, metrics


def same_metrics(a: dict, b: dict) -> bool:
    for task in TASKS:
        for key, value in b[task].items():
            if abs(a[task][key] - value) > 1e-9:
                return False
    return True


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="small")
    p.add_argument("--limit", type=int, default=40, help="documents per task for the 5-shot comparison")
    p.add_argument("--throughput-limit", type=int, default=24, help="documents per task for examples/s")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--hf-batch-size", type=int, default=8)
    p.add_argument("--data-dir", default=str(SHARED / "data" / "kobest"))
    p.add_argument("--tokenizer-dir", default=str(SHARED / "reference" / "polyglot-ko-tokenizer"))
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "kobest"))
    args = p.parse_args()

    # lm-eval's kobest f1 metric asks the `evaluate` library for its hub script, which retries for ~8 s per run
    # when the hub is unreachable: offline mode keeps that network wait out of lm-eval's timings.
    os.environ.setdefault("HF_EVALUATE_OFFLINE", "1")
    import torch
    from lm_eval.tasks import TaskManager

    import polyglot_ko.eval.lm_eval_adapter  # noqa: F401  (registers "polyglot-ko")
    from polyglot_ko.eval.lm_eval_adapter import offline_kobest_tasks

    work = Path(tempfile.mkdtemp(prefix="bench-kobest-"))
    try:
        model_dir = make_model(args.preset, Path(args.tokenizer_dir), work)
        tm = TaskManager(include_path=str(offline_kobest_tasks(args.data_dir, work / "tasks")), include_defaults=False)
        # Warm-up (imports, dataset caches, first-call allocations) outside the timings.
        run_ours(model_dir, args.data_dir, 2, 5, "lm-eval-0.4")
        run_lm_eval("hf", model_dir, tm, 2, 5, args.hf_batch_size)

        times = {"ours": [], "lm_eval_hf": [], "lm_eval_polyglot_ko": []}
        metrics = {}
        for rep in range(args.repeats):
            for name in times:
                if name == "ours":
                    t, m = run_ours(model_dir, args.data_dir, args.limit, 5, "lm-eval-0.4")
                elif name == "lm_eval_hf":
                    t, m = run_lm_eval("hf", model_dir, tm, args.limit, 5, args.hf_batch_size)
                else:
                    t, m = run_lm_eval("polyglot-ko", model_dir, tm, args.limit, 5, 32)
                times[name].append(t)
                metrics[name] = m
                print(f"rep {rep} {name}: {t:.1f} s", flush=True)
        med = {k: statistics.median(v) for k, v in times.items()}
        identical = {
            "lm_eval_hf": same_metrics(metrics["ours"], metrics["lm_eval_hf"]),
            "lm_eval_polyglot_ko": same_metrics(metrics["ours"], metrics["lm_eval_polyglot_ko"]),
        }

        throughput = {}
        for shots in (0, 50):
            for reuse in (True, False):
                t, m = run_ours(model_dir, args.data_dir, args.throughput_limit, shots, "polyglot", reuse)
                n = sum(v["n"] for v in m.values())
                throughput[f"{shots}-shot {'reuse' if reuse else 'plain'}"] = {
                    "seconds": t,
                    "examples": n,
                    "examples_per_s": n / t,
                }
                print(f"{shots}-shot reuse={reuse}: {n / t:.2f} examples/s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    result = {
        "benchmark": "kobest",
        "model": f"random {args.preset} preset (seed 0), released tokenizer",
        "limit_5shot": args.limit,
        "throughput_limit": args.throughput_limit,
        "repeats": args.repeats,
        "hf_batch_size": args.hf_batch_size,
        "seconds_median": med,
        "seconds_all": times,
        "speedup_vs_lm_eval_hf": med["lm_eval_hf"] / med["ours"],
        "speedup_lm_eval_polyglot_ko_vs_hf": med["lm_eval_hf"] / med["lm_eval_polyglot_ko"],
        "identical_metrics": identical,
        "metrics_5shot": metrics["ours"],
        "throughput": throughput,
        "reuse_speedup_0shot": throughput["0-shot reuse"]["examples_per_s"]
        / throughput["0-shot plain"]["examples_per_s"],
        "reuse_speedup_50shot": throughput["50-shot reuse"]["examples_per_s"]
        / throughput["50-shot plain"]["examples_per_s"],
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; shared with other jobs during the run",
    }
    out = Path(args.out)
    from polyglot_ko.io_utils import atomic_write_json, atomic_write_text

    atomic_write_json(out.with_suffix(".json"), result)
    md = [
        "# KOBEST benchmark",
        "",
        f"Model: {result['model']}. Five tasks at 5 shots, first {args.limit} test documents each, lm-eval 0.4's "
        f"kobest task definitions (offline copy) for every runner; wall time including model and data loading, "
        f"median of {args.repeats} interleaved runs (HF_EVALUATE_OFFLINE=1, so lm-eval does not wait on the hub). "
        f"The machine was shared with other jobs: read the ratios.",
        "",
        "| runner | seconds (median) | vs lm_eval --model hf | metrics identical to ours |",
        "|---|---|---|---|",
        f"| polyglot-ko evaluate --protocol lm-eval-0.4 | {med['ours']:.1f} | "
        f"{result['speedup_vs_lm_eval_hf']:.2f}x | - |",
        f"| lm_eval --model polyglot-ko | {med['lm_eval_polyglot_ko']:.1f} | "
        f"{result['speedup_lm_eval_polyglot_ko_vs_hf']:.2f}x | {identical['lm_eval_polyglot_ko']} |",
        f"| lm_eval --model hf (batch {args.hf_batch_size}) | {med['lm_eval_hf']:.1f} | 1.00x | "
        f"{identical['lm_eval_hf']} |",
        "",
        f"Throughput of our scorer, cards' protocol, five tasks x {args.throughput_limit} documents:",
        "",
        "| shots | context reuse (examples/s) | plain, one forward per candidate (examples/s) | ratio |",
        "|---|---|---|---|",
    ]
    for shots in (0, 50):
        a, b = throughput[f"{shots}-shot reuse"], throughput[f"{shots}-shot plain"]
        md.append(
            f"| {shots} | {a['examples_per_s']:.2f} | {b['examples_per_s']:.2f} | "
            f"{a['examples_per_s'] / b['examples_per_s']:.2f}x |"
        )
    atomic_write_text(out.with_suffix(".md"), "\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
