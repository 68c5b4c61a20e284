"""Fine-tuning throughput and peak memory against transformers' `Trainer` with peft, full and LoRA, on CPU.

    .venv/bin/python benchmarks/bench_finetune.py                  # small preset, 2 rounds, ~6 minutes on 2 cores
    .venv/bin/python benchmarks/bench_finetune.py --preset tiny --rounds 1 --steps 4

Both sides train the same weights on the same rows, one optimizer step = 8 rows of 256 tokens (1 micro-batch):
the bundled ko-instruct set tokenized with the released tokenizer (../shared/reference), answer-only labels,
packed first-fit into rows with restarting position ids (`finetune.packing`), rows drawn in the order of
`finetune.train.RowDataset` (seed 1234).

- ours: `polyglot_ko.finetune.train.FinetuneTrainer.train_step`, the code `polyglot-ko finetune` runs (the
  model's forward with the block-diagonal mask, the fused chunked output layer + cross-entropy over answer tokens
  only, fused AdamW, clipping);
- transformers: `transformers.Trainer` on `GPTNeoXForCausalLM` (sdpa attention) with the same initial weights,
  the same rows as {input_ids, labels, position_ids} (transformers builds the same block-causal mask from the
  restarting position ids), a sequential sampler, AdamW (torch) with the same lr, betas, eps, no weight decay,
  constant lr, clipping 1.0; LoRA: `peft.get_peft_model` with the same LoraConfig (r 8, alpha 16, no dropout,
  all four block linears) and the same A initialisation (the same seed before injection, the same module order).

Each variant runs in its own process (so that its peak RSS, `ru_maxrss`, is its own), the variants alternate in
`--rounds` rounds, and the medians of all timed steps (after 2 warm-up steps per process) are reported, with the
per-step losses of both sides (same loss curve = same computation). tokens/s counts the real (non-padding) tokens.
Results: benchmarks/results/finetune.json and finetune.md. The machine is shared: compare the ratios only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
TOKENIZER = ROOT.parent / "shared" / "reference" / "polyglot-ko-tokenizer"
VARIANTS = ("ours-lora", "hf-lora", "ours-full", "hf-full")
ROW, BATCH, SEED = 256, 8, 1234
LR = {"lora": 2e-3, "full": 3e-4}
TARGETS = ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"]


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare(folder: Path, preset: str) -> Path:
    """A base model folder (seed 0) with the released tokenizer."""
    from polyglot_ko import build_model, save_model

    tok = folder / "tokenizer"
    tok.mkdir(parents=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(TOKENIZER / f"MBBPE_62ce27a_2022-06-01_{name}", tok / name)
    return save_model(build_model(preset, seed=0), folder / "base", tokenizer=tok)


def ours(base: Path, method: str, steps: int, out: Path) -> tuple[list[float], list[float], list[int]]:
    from polyglot_ko.finetune.train import FinetuneTrainer, resolve_finetune_config

    cfg = resolve_finetune_config(
        "sft-lora-cpu-tiny",
        model=str(base),
        data="ko-instruct",
        out=str(out),
        method=method,
        max_steps=steps,
        **{
            "finetune.max_length": ROW,
            "finetune.validation_fraction": 0.0,
            "finetune.lora_targets": TARGETS,
            "train.global_batch_size": BATCH,
            "train.micro_batch_size": BATCH,
            "optim.lr": LR[method],
            "optim.min_lr": LR[method],
            "optim.warmup_steps": 0,
            "checkpoint.resume": "never",
            "logging.progress": False,
            "logging.tensorboard": False,
        },
    )
    trainer = FinetuneTrainer(cfg)
    loader = trainer.make_loader(steps)
    times, losses, tokens = [], [], []
    for _ in range(steps):
        t0 = time.perf_counter()
        batches = loader.next_step()
        trainer._set_lr()
        loss, _norm, _finite, _stop = trainer.train_step(batches)
        trainer.step += 1
        times.append(time.perf_counter() - t0)
        losses.append(loss)
        tokens.append(int(trainer.step_tokens))
    trainer.close()
    return times, losses, tokens


def hf_rows(base: Path, steps: int) -> tuple[list[dict], list[int]]:
    """The rows ours draws, in its order (ko-instruct -> examples -> packed rows -> RowDataset[g]), and the real
    (non-padding) tokens of each step."""
    from polyglot_ko.finetune.data import load_examples
    from polyglot_ko.finetune.packing import pack_examples
    from polyglot_ko.finetune.train import RowDataset

    examples, _ = load_examples("ko-instruct", base, max_length=ROW)
    ds = RowDataset(pack_examples(examples, ROW), SEED)
    items = [ds[g] for g in range(steps * BATCH)]
    rows = [{k: it[k] for k in ("input_ids", "labels", "position_ids")} for it in items]
    real = [
        int(sum((it["document_ids"] >= 0).sum() for it in items[s * BATCH : (s + 1) * BATCH])) for s in range(steps)
    ]
    return rows, real


def hf(base: Path, method: str, steps: int, out: Path) -> tuple[list[float], list[float], list[int]]:
    import torch
    from transformers import GPTNeoXForCausalLM, Trainer, TrainerCallback, TrainingArguments

    model = GPTNeoXForCausalLM.from_pretrained(base, dtype=torch.float32, attn_implementation="sdpa")
    if method == "lora":
        import peft

        torch.manual_seed(0)  # as ours: the train seed right before LoRA is injected, so A starts equal
        config = peft.LoraConfig(task_type="CAUSAL_LM", r=8, lora_alpha=16, lora_dropout=0.0, target_modules=TARGETS)
        model = peft.get_peft_model(model, config)
    rows, tokens = hf_rows(base, steps)
    times, losses, starts = [], [], []

    class Timer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            starts.append(time.perf_counter())

        def on_step_end(self, args, state, control, **kw):
            times.append(time.perf_counter() - starts[-1])

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

    class SequentialTrainer(Trainer):
        def _get_train_sampler(self, *args, **kwargs):
            return torch.utils.data.SequentialSampler(self.train_dataset)

    args = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=BATCH,
        gradient_accumulation_steps=1,
        max_steps=steps,
        learning_rate=LR[method],
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        adam_beta1=0.9,
        adam_beta2=0.95,
        adam_epsilon=1e-8,
        max_grad_norm=1.0,
        optim="adamw_torch",
        logging_steps=1,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        dataloader_num_workers=0,
        seed=0,
        remove_unused_columns=False,
        disable_tqdm=True,
    )
    trainer = SequentialTrainer(model=model, args=args, train_dataset=rows, callbacks=[Timer()])
    trainer.train()
    return times, losses, tokens


def worker(name: str, base: Path, steps: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    side, method = name.split("-")
    baseline = rss_mib()
    out = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    fn = ours if side == "ours" else hf
    times, losses, tokens = fn(base, method, steps, out)
    shutil.rmtree(out, ignore_errors=True)
    return {
        "variant": name,
        "step_s": times,
        "loss": losses,
        "tokens": tokens,
        "peak_rss_mib": peak_rss_mib(),
        "rss_before_model_mib": baseline,
    }


def summarize(runs: list[dict], warmup: int) -> dict:
    out = {}
    for name in VARIANTS:
        rs = [r for r in runs if r["variant"] == name]
        if not rs:
            continue
        times = [t for r in rs for t in r["step_s"][warmup:]]
        toks = [k for r in rs for k in r["tokens"][warmup:]]
        med = statistics.median(times)
        out[name] = {
            "median_step_s": med,
            "tokens_per_step": statistics.median(toks),
            "tokens_per_s": statistics.median(toks) / med,
            "peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in rs),
            "peak_above_start_mib": statistics.median(r["peak_rss_mib"] - r["rss_before_model_mib"] for r in rs),
            "losses": rs[0]["loss"],
            "timed_steps": len(times),
        }
    for method in ("lora", "full"):
        a, b = out.get(f"ours-{method}"), out.get(f"hf-{method}")
        if a and b:
            a["speedup_vs_hf"] = a["tokens_per_s"] / b["tokens_per_s"]
            a["peak_rss_vs_hf"] = a["peak_rss_mib"] / b["peak_rss_mib"]
            a["max_loss_diff_vs_hf"] = max(abs(x - y) for x, y in zip(a["losses"], b["losses"], strict=False))
    return out


def markdown(result: dict) -> str:
    s = result["settings"]
    lines = [
        "# Fine-tuning: ours vs transformers `Trainer` + peft (CPU)",
        "",
        f"`benchmarks/bench_finetune.py`: preset `{s['preset']}` ({s['parameters']:,} parameters), {s['batch']} rows x "
        f"{s['row']} tokens per step (packed ko-instruct, answer-only labels), fp32, {s['threads']} threads, "
        f"{s['rounds']} interleaved round(s) x {s['steps']} steps per process ({s['warmup']} warm-up); "
        f"transformers {s['transformers']}, peft {s['peft']}, torch {s['torch']}; load average at start "
        f"{s['loadavg']}.",
        "",
        "| variant | step (median) | tokens/s | vs transformers | peak RSS | peak above start | "
        "max loss difference vs transformers |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in result["results"].items():
        ratio = f"**{r['speedup_vs_hf']:.2f}x**" if "speedup_vs_hf" in r else "1.00x"
        diff = f"{r['max_loss_diff_vs_hf']:.1e}" if "max_loss_diff_vs_hf" in r else ""
        mem = f"{r['peak_rss_mib']:.0f} MiB" + (f" ({r['peak_rss_vs_hf']:.2f}x)" if "peak_rss_vs_hf" in r else "")
        lines.append(
            f"| {name} | {r['median_step_s']:.3f} s | {r['tokens_per_s']:.0f} | {ratio} | {mem} | "
            f"{r['peak_above_start_mib']:.0f} MiB | {diff} |"
        )
    lines += [
        "",
        "Per-step losses (first process of each variant):",
        "",
    ]
    for name, r in result["results"].items():
        lines.append(f"- {name}: " + ", ".join(f"{x:.4f}" for x in r["losses"]))
    lines += ["", result["note"], ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="small")
    ap.add_argument("--steps", type=int, default=6, help="steps per process, the first 2 untimed")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--base", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, Path(args.base), args.steps, args.threads)))
        return
    if not TOKENIZER.is_dir():
        sys.exit(f"{TOKENIZER} is missing: the benchmark tokenizes with the released tokenizer in ../shared")
    import peft
    import torch
    import transformers

    from polyglot_ko.config import get_config
    from polyglot_ko.io_utils import atomic_write_json, atomic_write_text

    tmp = Path(tempfile.mkdtemp(prefix="bench-finetune-"))
    base = prepare(tmp, args.preset)
    loadavg = os.getloadavg()[0]
    runs = []
    for r in range(args.rounds):
        for name in VARIANTS:
            cmd = [sys.executable, __file__, "--worker", name, "--base", str(base), "--steps", str(args.steps)]
            cmd += ["--threads", str(args.threads)]
            env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TOKENIZERS_PARALLELISM": "false"}
            p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
            if p.returncode:
                sys.exit(f"{name} failed:\n{p.stderr[-3000:]}")
            runs.append(json.loads(p.stdout.strip().splitlines()[-1]))
            last = runs[-1]
            print(
                f"round {r + 1} {name}: {statistics.median(last['step_s'][2:]):.3f} s/step, "
                f"peak {last['peak_rss_mib']:.0f} MiB, losses {[round(x, 4) for x in last['loss']]}",
                flush=True,
            )
    result = {
        "settings": {
            "preset": args.preset,
            "parameters": get_config(args.preset).num_parameters(),
            "row": ROW,
            "batch": BATCH,
            "steps": args.steps,
            "warmup": 2,
            "rounds": args.rounds,
            "threads": args.threads,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "peft": peft.__version__,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "loadavg": round(loadavg, 2),
        },
        "results": summarize(runs, 2),
        "runs": runs,
        "note": (
            "Same initial weights, rows and hyper-parameters on both sides; the loss columns show the two compute "
            "the same curve. Ours skips the output layer for the tokens that are not trained (prompts, padding) and "
            "never materialises the full logits; the peak RSS is the whole process's (ru_maxrss), 'above start' "
            "subtracts the RSS after imports. Shared machine: compare the ratios."
        ),
    }
    out = Path(args.out)
    atomic_write_json(out / "finetune.json", result)
    atomic_write_text(out / "finetune.md", markdown(result))
    print(markdown(result))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
