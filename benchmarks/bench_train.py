"""Training throughput against a plain transformers loop with the same model, batch and optimizer (issue 5).

    .venv/bin/python benchmarks/bench_train.py                       # recipes/cpu-small.yaml, 2 threads
    .venv/bin/python benchmarks/bench_train.py --recipe recipes/cpu-tiny.yaml --steps 10 --compile

Both sides train the same architecture from the same initial weights on the same batches (random token ids
written as a real indexed dataset), one optimizer step = the recipe's global batch:

- ours: `polyglot_ko.train.loop.Trainer.train_step`, the code `polyglot-ko pretrain` runs (blocks of our model,
  fused chunked output-layer + cross-entropy, fused AdamW on CPU, clipping);
- ours + compile (with --compile): the same with `parallel.compile=true` (torch.compile per block);
- transformers: `GPTNeoXForCausalLM(GPTNeoXConfig(**config.to_hf_dict()))` (default sdpa attention), our initial
  weights, `model(input_ids, labels=..., shift_labels=next tokens).loss.backward()` per micro-batch,
  `clip_grad_norm_`, `torch.optim.AdamW`
  with the same hyper-parameters and weight-decay groups (PyTorch's default implementation).

The variants alternate step by step, `--steps` times after 2 warm-up steps each; the median step time is kept.
MFU = model FLOPs/token (`ModelConfig.flops_per_token`, 6N + attention) x tokens/s / the fp32 matmul FLOP/s
measured in the same run. The machine is shared: only ratios measured in the same run mean anything.
Results: benchmarks/results/train.json and train.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from polyglot_ko.data.indexed import write_indexed_dataset, write_manifest  # noqa: E402
from polyglot_ko.io_utils import atomic_write_json, atomic_write_text  # noqa: E402
from polyglot_ko.train.loop import Trainer, resolve_config  # noqa: E402
from polyglot_ko.train.metrics import measure_cpu_matmul_flops  # noqa: E402


def make_data(folder: Path, tokens: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    docs, left = [], tokens
    while left > 0:
        n = int(min(left, rng.integers(50, 2000)))
        docs.append(np.append(rng.integers(4, 30000, n - 1), 2))
        left -= n
    write_indexed_dataset(folder / "train_00000", docs)
    write_manifest(folder, ["train_00000"], {"fingerprint": "bench", "vocab_size": 30003, "endoftext_id": 2})
    return folder


def hf_side(trainer: Trainer):
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    hf_cfg = GPTNeoXConfig(**{k: v for k, v in trainer.model_config.to_hf_dict().items() if k != "polyglot_ko"})
    model = GPTNeoXForCausalLM(hf_cfg)
    state = trainer.model.state_dict()
    if hasattr(model, "lm_head"):  # transformers 5 names GPT-NeoX's output layer lm_head (embed_out on disk)
        state["lm_head.weight"] = state.pop("embed_out.weight")
    model.load_state_dict(state, strict=True)
    model.train()
    o = trainer.cfg.optim
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": o.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=o.lr,
        betas=(o.beta1, o.beta2),
        eps=o.eps,
    )

    def step(batches):
        total = 0.0
        for b in batches:
            ids = b[:, :-1]
            # the same targets as ours (every next token of the seq_len + 1 sample)
            loss = model(input_ids=ids, labels=ids, shift_labels=b[:, 1:].contiguous()).loss
            (loss / len(batches)).backward()
            total += float(loss.detach())
        torch.nn.utils.clip_grad_norm_(model.parameters(), o.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return total / len(batches)

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--recipe", default=str(ROOT / "recipes" / "cpu-small.yaml"))
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    ap.add_argument("--compile", action="store_true", help="also time parallel.compile=true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("overrides", nargs="*", help="recipe overrides, e.g. train.micro_batch_size=4")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    tmp = Path(tempfile.mkdtemp(prefix="bench-train-"))
    data = make_data(tmp / "data", 2_000_000)
    over = dict(o.split("=", 1) for o in args.overrides)
    base = {
        "out": str(tmp / "run"),
        "data": [str(data)],
        "checkpoint.resume": "never",
        "logging.progress": False,
        "logging.tensorboard": False,
        **over,
    }
    variants = {"ours": Trainer(resolve_config(args.recipe, **base))}
    if args.compile:
        variants["ours + compile"] = Trainer(resolve_config(args.recipe, **{**base, "parallel.compile": True}))
    ours = variants["ours"]
    cfg = ours.cfg
    loader = ours.dataset
    steps_fns = {name: tr.train_step for name, tr in variants.items()}
    steps_fns["transformers"] = hf_side(ours)

    G, M, L = cfg.train.global_batch_size, cfg.train.micro_batch_size, cfg.data.seq_len
    batches = [
        [torch.stack([loader[s * G + m * M + i] for i in range(M)]) for m in range(G // M)]
        for s in range(args.steps + 2)
    ]
    times = {name: [] for name in steps_fns}
    losses = {name: [] for name in steps_fns}
    for s, step_batches in enumerate(batches):
        for name, fn in steps_fns.items():
            t = time.perf_counter()
            out = fn(step_batches)
            dt = time.perf_counter() - t
            losses[name].append(float(out[0] if isinstance(out, tuple) else out))
            if s >= 2:
                times[name].append(dt)
        print(
            f"step {s}: " + ", ".join(f"{n} {times[n][-1] if s >= 2 else float('nan'):.3f}s" for n in steps_fns),
            flush=True,
        )
    peak = measure_cpu_matmul_flops(1024)
    mc = ours.model_config
    fpt = mc.flops_per_token(L)
    tokens = G * L
    rows = {}
    ref = statistics.median(times["transformers"])
    for name, ts in times.items():
        med = statistics.median(ts)
        rows[name] = {
            "step_s_median": med,
            "step_s_all": ts,
            "tokens_per_s": tokens / med,
            "mfu": fpt * tokens / med / peak,
            "speedup_vs_transformers": ref / med,
            "first_losses": losses[name][:3],
        }
    result = {
        "benchmark": "train",
        "recipe": os.path.relpath(args.recipe, ROOT),
        "overrides": over,
        "model": {
            "preset": mc.name,
            "layers": mc.num_hidden_layers,
            "hidden": mc.hidden_size,
            "parameters": mc.num_parameters(),
            "flops_per_token": fpt,
        },
        "global_batch": G,
        "micro_batch": M,
        "seq_len": L,
        "tokens_per_step": tokens,
        "steps_timed": args.steps,
        "threads": torch.get_num_threads(),
        "measured_matmul_flops": peak,
        "load_average": os.getloadavg(),
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "variants": rows,
        "note": "shared 2-core machine: ratios measured in the same run; absolute numbers vary with load",
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "train.json", result)
    lines = [
        f"# Training throughput: `{result['recipe']}` ({mc.name}, {mc.num_parameters() / 1e6:.1f}M params, "
        f"batch {G}x{L} tokens, micro-batch {M})",
        "",
        f"CPU, {result['threads']} threads, torch {torch.__version__}; fp32 matmul measured at "
        f"{peak / 1e9:.0f} GFLOP/s in this run; load average {result['load_average'][0]:.1f} (shared machine: "
        f"compare ratios only). Median of {args.steps} alternating steps.",
        "",
        "| variant | step (s) | tokens/s | MFU (vs measured matmul) | speed vs transformers |",
        "|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['step_s_median']:.3f} | {r['tokens_per_s']:.0f} | {r['mfu'] * 100:.1f}% | "
            f"{r['speedup_vs_transformers']:.2f}x |"
        )
    lines += [
        "",
        "Same initial weights and batches; first-step losses: "
        + ", ".join(f"{n} {r['first_losses'][0]:.4f}" for n, r in rows.items())
        + ".",
    ]
    atomic_write_text(out / "train.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
