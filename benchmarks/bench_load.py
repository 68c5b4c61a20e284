"""Load time and peak memory of a Polyglot-Ko-1.3B checkpoint: ours against transformers' from_pretrained.

Writes a random-weight 1.3B model once as an fp16 safetensors folder (like the released checkpoints), then loads
it in fresh subprocesses, alternating ours and transformers, as float32 and as float16. Peak memory is the
child's max RSS minus its RSS after imports, so it measures the load alone. Results:
benchmarks/results/load.json and .md.

    .venv/bin/python benchmarks/bench_load.py [--repeats 2] [--workdir /tmp/bench-load]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

CHILD = r"""
import json, resource, sys, time, torch
which, folder, dtype = sys.argv[1], sys.argv[2], getattr(torch, sys.argv[3])
from polyglot_ko import load_model
from transformers import AutoModelForCausalLM
def status_mb(key):
    # VmHWM belongs to this address space (reset by exec); ru_maxrss is inherited from the forking parent.
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
rss_mb = lambda: status_mb("VmRSS")
base = rss_mb()
t0 = time.perf_counter()
if which == "ours":
    model = load_model(folder, dtype=dtype)
else:
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
# Touch every weight, inside the timing, so lazily mapped pages count in time and memory too: the
# measure is "a model ready to run", which a forward pass would need anyway.
with torch.no_grad():
    for p in model.parameters():
        p.sum()
elapsed = time.perf_counter() - t0
peak = status_mb("VmHWM")
n = sum(p.numel() for p in model.parameters())
size_mb = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
print(json.dumps({"seconds": elapsed, "peak_mb": peak - base, "end_mb": rss_mb() - base,
                  "params": n, "model_mb": size_mb}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--workdir", default="/tmp/bench-load")
    args = ap.parse_args()

    import torch

    folder = Path(args.workdir) / "polyglot-ko-1.3b-random-fp16"
    if not (folder / "config.json").is_file():
        print(f"writing a random 1.3B fp16 checkpoint to {folder} ...", flush=True)
        # In a child process, so this parent stays small while the measured children run.
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import torch; from polyglot_ko import build_model, save_model; "
                f"save_model(build_model('polyglot-ko-1.3b', dtype=torch.float16, seed=0), '{folder}', "
                "max_shard_size='1GB')",
            ],
            check=True,
        )

    rows = []
    for dtype in ("float32", "float16"):
        runs: dict[str, list[dict]] = {"ours": [], "transformers": []}
        for _ in range(args.repeats):
            for which in ("ours", "transformers"):
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, which, str(folder), dtype], capture_output=True, text=True, check=True
                )
                runs[which].append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(dtype, which, runs[which][-1], flush=True)
        med = {
            w: {k: statistics.median(r[k] for r in rs) for k in ("seconds", "peak_mb", "end_mb")}
            for w, rs in runs.items()
        }
        model_mb = runs["ours"][0]["model_mb"]
        rows.append(
            {
                "dtype": dtype,
                "model_mb": model_mb,
                "ours": med["ours"],
                "transformers": med["transformers"],
                "speedup": med["transformers"]["seconds"] / med["ours"]["seconds"],
                "ours_peak_over_model": med["ours"]["peak_mb"] / model_mb,
                "transformers_peak_over_model": med["transformers"]["peak_mb"] / model_mb,
            }
        )

    result = {
        "benchmark": "load 1.3B fp16 safetensors checkpoint",
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "repeats": args.repeats,
        "rows": rows,
        "note": "median of repeats, fresh process each; peak = VmHWM minus RSS after imports, all weights touched "
        "inside the timing; "
        "the 2-core machine was shared with other jobs while measuring",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "load.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "| load as | model size | ours: time / peak | transformers: time / peak | speed-up "
        "| peak/size ours vs transformers |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dtype']} | {r['model_mb'] / 1024:.2f} GiB | {r['ours']['seconds']:.1f} s / "
            f"{r['ours']['peak_mb'] / 1024:.2f} GiB | {r['transformers']['seconds']:.1f} s / "
            f"{r['transformers']['peak_mb'] / 1024:.2f} GiB | {r['speedup']:.2f}x | "
            f"{r['ours_peak_over_model']:.2f} vs {r['transformers_peak_over_model']:.2f} |"
        )
    (RESULTS / "load.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
