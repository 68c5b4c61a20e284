"""The quickstart's report: report.md from the run's summary, and the closing lines printed on the terminal."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any


def _fmt(x: Any, digits: int = 3) -> str:
    if isinstance(x, float):
        return f"{x:.{digits}f}" if math.isfinite(x) else "n/a"
    if isinstance(x, int):
        return f"{x:,}"
    return "n/a" if x is None else str(x)


def _percent(x: Any) -> str:
    return f"{100 * x:.1f} %" if isinstance(x, (int, float)) and math.isfinite(x) else "n/a"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (pipes escaped, newlines shown as ⏎)."""
    return text.replace("|", "\\|").replace("\n", " ⏎ ")


def _finetune_section(f: dict) -> list[str]:
    lines = [
        "",
        "## 6. Instruction tuning (--finetune)",
        "",
        f"Full fine-tuning of the model above on the bundled ko-instruct set (answer tokens only, packed rows): "
        f"{_fmt(f.get('steps'))} steps, train loss {_fmt(f.get('final_train_loss'))}, held-out loss "
        f"{_fmt(f.get('final_valid_loss'))}; the tuned model is `{f.get('hf_model')}`. Greedy answers "
        f"(repetition penalty 1.2), the prompt rendered with the folder's chat template:",
        "",
        "| instruction | before | after |",
        "|---|---|---|",
    ]
    lines += [f"| {_cell(x['instruction'])} | {_cell(x['before'])} | {_cell(x['after'])} |" for x in f["answers"]]
    return lines


# Long on purpose: one Markdown document written top to bottom, so it reads in the order it renders.
def render_report(s: dict, kobest_table: str | None = None) -> str:
    st, tr, size = s["prepare"], s["train"], s["size"]
    docs = st["documents"]
    lines = [
        "# polyglot-ko quickstart report",
        "",
        f"**What this is.** A Polyglot-Ko-shaped GPT-NeoX of **{s['model']['parameters']:,} parameters**, trained for "
        f"{tr.get('steps')} steps (about {s['seconds'].get('pretrain', 0) / 60:.1f} minutes) on a CPU, on "
        f"{'the bundled sample corpus' if s['corpus'] == 'bundled' else 'your corpus'}. It shows every stage of "
        "the system working; it is not a useful language model. The released models have 1.3B-12.8B parameters "
        "and saw 167B-219B tokens on GPUs (see below for how to run those sizes).",
        "",
        "## 1. Data preparation",
        "",
        "| documents in | kept | " + " | ".join(f"dropped: {k}" for k in docs["dropped"]) + " |",
        "|---|---|" + "---|" * len(docs["dropped"]),
        f"| {docs['input']:,} | {docs['kept']:,} | " + " | ".join(f"{v:,}" for v in docs["dropped"].values()) + " |",
        "",
        "Quality filters use the team's thresholds except the mean word length floor, lowered from 3 to 2 "
        "characters per word (the team's value drops about two thirds of the bundled corpus, whose eojeol average "
        "2-3 syllables).",
        "",
        f"Personal data masked: {', '.join(f'{k} {v:,}' for k, v in st.get('pii', {}).items())} "
        "(`<|acc|>` bank accounts and cards, `<|rrn|>` registration numbers, `<|tel|>` phone numbers). "
        f"Tokens written: {_fmt(s.get('tokens'))}.",
        "",
    ]
    if s.get("pii_examples"):
        lines += ["| before | after |", "|---|---|"]
        lines += [f"| {_cell(e['before'])} | {_cell(e['after'])} |" for e in s["pii_examples"]]
        lines.append("")
    tok = s["tokenizer"]
    lines += [
        "## 2. Tokenizer",
        "",
        f"Morpheme-aware byte-level BPE (kiwipiepy boundaries, as the released MBBPE): {tok['vocab_size']:,} ids "
        f"({tok['padded_vocab_size']:,} embedding rows); special ids {tok['special_ids']}.",
        "",
        "## 3. Pretraining",
        "",
        f"Model: {size['num_layers']} layers, d={size['hidden_size']}, {size['num_heads']} heads, "
        f"sequence {size['seq_len']}, batch {size['batch_size']}, peak lr {size['lr']}.",
        "",
        "| steps | final train loss | final valid loss | tokens/s | MFU (vs a matmul measured on this CPU) |",
        "|---|---|---|---|---|",
        f"| {tr.get('steps')} | {_fmt(tr.get('final_train_loss'))} | {_fmt(tr.get('final_valid_loss'))} | "
        f"{_fmt(tr.get('tokens_per_s'), 0)} | {_percent(tr.get('mfu'))} |",
        "",
    ]
    if tr.get("loss_plot"):
        plot = str(tr["loss_plot"])
        shown = Path(plot).relative_to(s["out"]) if plot.startswith(s["out"]) else plot
        lines += [f"![loss curve]({shown})", ""]
    ev = s["evaluate"]
    lines += ["## 4. Evaluation", ""]
    if "perplexity" in ev:
        p = ev["perplexity"]
        lines += [
            "| held-out documents | tokens | perplexity (token) | perplexity (char) | bits/char |",
            "|---|---|---|---|---|",
            f"| {p['documents']} | {_fmt(p['tokens'])} | {_fmt(p['perplexity'], 2)} | "
            f"{_fmt(p['perplexity_per_character'], 3)} | {_fmt(p['bits_per_character'])} |",
            "",
        ]
    if kobest_table:
        lines += [
            "KOBEST, 0 shots, on a limited slice of the test sets (macro F1 as the model cards):",
            "",
            kobest_table,
            "",
        ]
    else:
        lines += ["KOBEST was not run: pass `--kobest-dir DIR` (a local copy of skt/kobest_v1) to include it.", ""]
    lines += [
        "## 5. Samples",
        "",
        "| prompt | greedy (repetition penalty 1.2) | sampled (T=0.8, top-p 0.95) |",
        "|---|---|---|",
    ]
    for x in s["samples"]:
        lines.append(f"| {_cell(x['prompt'])} | {_cell(x['greedy'])} | {_cell(x['sampled'])} |")
    if s.get("finetune"):
        lines += _finetune_section(s["finetune"])
    m = s["model"]["folder"]
    lines += [
        "",
        "## Where things are",
        "",
        f"- Hugging Face model folder (with tokenizer): `{m}`",
        f"- prepared data and stats: `{s['out']}/data` (`stats.json`, `rejects/`), tokenizer: `{s['out']}/tokenizer`",
        f"- training run: `{s['out']}/train` (`metrics.jsonl`, checkpoints, `loss.png`)",
        "",
        "## Next",
        "",
        "```bash",
        f'polyglot-ko generate --model {m} "오늘 날씨가"',
        f"polyglot-ko serve --model {m} --port 8000",
        f"polyglot-ko evaluate --model {m} --tasks kobest_copa,kobest_boolq --shots 0,5 --data-dir KOBEST_DIR",
        "polyglot-ko pretrain --config recipes/polyglot-ko-1.3b.yaml --out runs/1.3b --data DATA"
        "  # on GPUs, under torchrun",
        "```",
        "",
        "The released models load by hub id (when the hub is reachable): "
        '`polyglot_ko.load_model("EleutherAI/polyglot-ko-1.3b")`, or '
        '`polyglot-ko generate --model EleutherAI/polyglot-ko-1.3b "..."`. For the real sizes, run the '
        "model-card recipes with `torchrun --nproc-per-node 8 -m polyglot_ko.cli pretrain --config "
        "recipes/polyglot-ko-1.3b.yaml ...` (FSDP2, bf16) on GPU nodes.",
        "",
        "Stage times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in s["seconds"].items()),
        "",
    ]
    return "\n".join(lines)


def print_final(s: dict) -> None:
    tr = s["train"]
    print("\n" + "=" * 72)
    print(
        f"done. A {s['model']['parameters']:,}-parameter model trained for {tr.get('steps')} steps "
        f"(train loss {_fmt(tr.get('final_train_loss'))}, valid loss {_fmt(tr.get('final_valid_loss'))})."
    )
    print(f"  report:      {s['out']}/report.md")
    print(f"  model:       {s['model']['folder']}   (AutoModelForCausalLM loads it)")
    if tr.get("loss_plot"):
        print(f"  loss curve:  {tr['loss_plot']}")
    print("next:")
    print(f'  polyglot-ko generate --model {s["model"]["folder"]} "오늘 날씨가"')
    print(f"  polyglot-ko serve --model {s['model']['folder']}")
    print("  polyglot-ko evaluate --model MODEL --tasks kobest_copa --shots 0 --data-dir KOBEST_DIR")
    print("  polyglot-ko pretrain --config recipes/cpu-small.yaml --out runs/small --data DATA")
