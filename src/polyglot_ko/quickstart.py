"""`polyglot-ko quickstart`: the whole system, end to end, on a bundled Korean corpus, in minutes on a CPU.

    raw text -> prepare (clean, filter, dedup, PII masking) -> train a tokenizer -> tokenize -> pretrain a
    small model -> Hugging Face model folder -> perplexity -> KOBEST 0-shot (if data is given) -> samples
    -> report.md + loss curve

Every stage records its result in OUT/.quickstart/<stage>.json when it finishes; a rerun reuses finished
stages (unless --force) and an interrupted pretraining resumes from its last checkpoint. The model is tiny
(a few million parameters, minutes of CPU): the report says so and shows how to run the real sizes.
"""

from __future__ import annotations

import glob
import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import UserError
from .io_utils import atomic_write_json, atomic_write_text, check_output_path

# The team's mean-word-length floor (3 characters per whitespace word, EleutherAI/dps configs/korean_jsonl.yaml)
# drops about two thirds of conversational Korean, whose eojeol average 2-3 syllables; the quickstart keeps
# them with a floor of 2 (the report says so). `polyglot-ko prepare` keeps the team's value as its default.
PREPARE_OPTIONS = {"quality": {"min_mean_word_length": 2.0}}
SAMPLE_PROMPTS = ["오늘 날씨가", "이 영화는 정말", "서울시는 다음 달부터", "고객님, 문의하신", "한국어 언어 모델은"]


@dataclass
class QuickstartSize:
    """The knobs that set how big and how long the run is."""

    vocab_size: int
    """BPE vocabulary of the tokenizer trained on the corpus (plus 3 PII tokens)."""
    hidden_size: int
    """Model width."""
    num_layers: int
    """Transformer blocks."""
    num_heads: int
    """Attention heads (head size = hidden_size / num_heads)."""
    seq_len: int
    """Training sequence length in tokens."""
    batch_size: int
    """Sequences per optimizer step."""
    max_steps: int
    """Optimizer steps."""
    lr: float
    """Peak learning rate (linear warmup, cosine decay to a tenth)."""
    valid_every: int
    """Steps between validation passes."""
    max_documents: int | None = None
    """Use only the first N documents of the corpus (the --fast toy run)."""
    max_new_tokens: int = 40
    """Tokens per sample generation."""


DEFAULT = QuickstartSize(
    vocab_size=4000,
    hidden_size=192,
    num_layers=4,
    num_heads=3,
    seq_len=128,
    batch_size=16,
    max_steps=500,
    lr=2e-3,
    valid_every=50,
)
FAST = QuickstartSize(
    vocab_size=1000,
    hidden_size=64,
    num_layers=2,
    num_heads=2,
    seq_len=64,
    batch_size=8,
    max_steps=30,
    lr=3e-3,
    valid_every=15,
    max_documents=400,
    max_new_tokens=12,
)


def scaled_for(chars: int, base: QuickstartSize) -> QuickstartSize:
    """Defaults for a user corpus of `chars` characters: vocabulary and steps grow with the data, capped to
    what still finishes in a few tens of minutes on a laptop (the real sizes are `pretrain` recipes)."""
    vocab = int(min(30000, max(2000, round(chars / 150 / 1000) * 1000)))
    steps = int(min(5000, max(base.max_steps, chars // 4000)))
    hidden = 256 if chars < 5_000_000 else 384
    return QuickstartSize(
        **{
            **asdict(base),
            "vocab_size": vocab,
            "max_steps": steps,
            "hidden_size": hidden,
            "num_heads": hidden // 64,
            "valid_every": max(50, steps // 10),
        }
    )


class Stages:
    """Remembers which stages finished (OUT/.quickstart/<name>.json) so reruns skip them."""

    def __init__(self, out: Path, force: bool):
        self.dir = out / ".quickstart"
        if force and self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.timings: dict[str, float] = {}

    def run(self, name: str, title: str, fn: Callable[[], dict]) -> dict:
        marker = self.dir / f"{name}.json"
        if marker.is_file():
            result = json.loads(marker.read_text(encoding="utf-8"))
            print(f"\n== {title}: reusing the finished stage ({marker}; --force redoes it)", flush=True)
            self.timings[name] = result.get("_seconds", 0.0)
            return result
        print(f"\n== {title}", flush=True)
        t0 = time.perf_counter()
        result = fn()
        result["_seconds"] = round(time.perf_counter() - t0, 2)
        self.timings[name] = result["_seconds"]
        atomic_write_json(marker, result)
        return result


def _corpus_inputs(corpus: list[str] | None) -> list[str]:
    if corpus:
        return corpus
    from .corpus import bundled_corpus_files

    return [str(p) for p in bundled_corpus_files()]


def _subset(inputs: list[str], limit: int, out: Path) -> list[str]:
    """The first `limit` documents of the inputs, written as one jsonl file (for --fast)."""
    from .data.readers import read_texts

    path = out / "corpus-subset.jsonl"
    lines = []
    for i, text in enumerate(read_texts(inputs)):
        if i >= limit:
            break
        lines.append(json.dumps({"id": f"subset-{i}", "text": text}, ensure_ascii=False))
    atomic_write_text(path, "\n".join(lines) + "\n")
    return [str(path)]


def _pii_examples(inputs: list[str], n: int = 3, width: int = 60) -> list[dict]:
    """Before/after snippets of the first documents where the masker finds personal data."""
    from .data.pii import find_pii, mask_pii
    from .data.readers import read_texts

    examples = []
    for text in read_texts(inputs):
        matches = find_pii(text)
        if not matches:
            continue
        m = matches[0]
        lo, hi = max(0, m.start - width // 2), min(len(text), m.end + width // 2)
        before = text[lo:hi].replace("\n", " ")
        examples.append({"before": before, "after": mask_pii(before)})
        if len(examples) >= n:
            break
    return examples


def _clean_files(data_dir: Path) -> list[str]:
    files = sorted(str(p) for p in (data_dir / "clean").glob("**/*.jsonl*"))
    if not files:
        raise UserError(f"{data_dir}/clean holds no cleaned documents; rerun with force=True")
    return files


def run_quickstart(
    out: str | Path = "quickstart-out",
    corpus: list[str] | None = None,
    fast: bool = False,
    force: bool = False,
    kobest_dir: str | None = None,
    kobest_limit: int = 50,
    max_steps: int | None = None,
    workers: int = 2,
) -> dict:
    """Run every stage; returns the summary that report.md is written from.

    Args:
        out: output folder
        corpus: your own corpus: .txt/.jsonl(.gz/.zst)/.parquet files, globs or folders (default: the bundled
            sample corpus)
        fast: the same stages at a toy size, in well under a minute
        force: redo every stage instead of reusing finished ones
        kobest_dir: a local copy of skt/kobest_v1 to include KOBEST 0-shot
        kobest_limit: documents per KOBEST task
        max_steps: override the number of pretraining steps
        workers: worker processes for data preparation
    """
    out = check_output_path(out, "out", folder=True).resolve()
    out.mkdir(parents=True, exist_ok=True)
    stages = Stages(out, force)
    inputs = _corpus_inputs(corpus)
    for p in inputs:
        if not Path(p).exists() and not glob.glob(p):
            raise UserError(f"corpus {p} does not exist; pass files, globs or folders of .txt/.jsonl(.gz) text")
    size = FAST if fast else DEFAULT
    if fast and size.max_documents:
        inputs = _subset(inputs, size.max_documents, out)
    if max_steps:
        size = QuickstartSize(**{**asdict(size), "max_steps": max_steps})
    data_dir, tok_dir, train_dir, model_dir = out / "data", out / "tokenizer", out / "train", out / "model"
    if force and train_dir.exists():
        shutil.rmtree(train_dir)  # otherwise `resume: auto` would continue the old run

    banner = (
        "polyglot-ko quickstart: a whole (tiny) Polyglot-Ko from raw Korean text, on this machine.\n"
        f"corpus: {'the bundled sample corpus' if not corpus else ', '.join(corpus)}; output: {out}"
    )
    print(banner, flush=True)

    # 1. prepare: clean, filter, dedup, mask; no tokenizer yet (it is trained on the cleaned text next).
    def prepare_stage() -> dict:
        from .data.pipeline import prepare

        stats = prepare(
            inputs, data_dir, tokenizer=None, workers=workers, valid_fraction=0.05, overwrite=force, **PREPARE_OPTIONS
        )
        return {"stats": stats, "pii_examples": _pii_examples(inputs)}

    prepared = stages.run("prepare", "1/7 prepare: normalize, filter, deduplicate, mask personal data", prepare_stage)
    for ex in prepared["pii_examples"]:
        print(f"  PII before: {ex['before']}\n      after:  {ex['after']}")
    kept_chars = prepared["stats"].get("characters", {}).get("kept") or 0
    if corpus and not fast:
        size = scaled_for(int(kept_chars), size)

    # 2. tokenizer: morpheme-aware byte-level BPE on the cleaned text.
    def tokenizer_stage() -> dict:
        from .tokenizer_train import train_tokenizer

        tok = train_tokenizer(
            _clean_files(data_dir), tok_dir, vocab_size=size.vocab_size, max_chars=None, analysis="word"
        )
        return {
            "vocab_size": tok.vocab_size,
            "padded_vocab_size": tok.padded_vocab_size,
            "special_ids": tok.special_ids,
            "fingerprint": tok.fingerprint,
        }

    tok_info = stages.run("tokenizer", "2/7 train a morpheme-aware byte-level BPE tokenizer", tokenizer_stage)

    # 3. tokenize the cleaned documents into indexed datasets (reuses the cleaned output).
    def tokenize_stage() -> dict:
        from .data.pipeline import prepare

        stats = prepare(
            inputs, data_dir, tokenizer=str(tok_dir), workers=workers, valid_fraction=0.05, **PREPARE_OPTIONS
        )
        return {"stats": stats}

    tokenized = stages.run("tokenize", "3/7 tokenize into GPT-NeoX indexed datasets", tokenize_stage)

    # 4. pretrain (resumes from its last checkpoint when interrupted).
    def pretrain_stage() -> dict:
        from .train import pretrain

        recipe = {
            "model": {
                "preset": "tiny",
                "hidden_size": size.hidden_size,
                "num_hidden_layers": size.num_layers,
                "num_attention_heads": size.num_heads,
                "intermediate_size": 4 * size.hidden_size,
                "max_position_embeddings": max(512, size.seq_len),
                "vocab_size": "auto",
            },
            "data": {"paths": [str(data_dir)], "seq_len": size.seq_len},
            "optim": {"lr": size.lr, "min_lr": size.lr / 10, "warmup_steps": max(5, size.max_steps // 20)},
            "train": {
                "max_steps": size.max_steps,
                "global_batch_size": size.batch_size,
                "micro_batch_size": size.batch_size,
                "valid_every": size.valid_every,
                "valid_batches": 8,
            },
            "checkpoint": {
                "save_every": max(10, size.max_steps // 4),
                "keep_last": 1,
                "resume": "auto",
                "export_hf": "end",
            },
            "logging": {"tensorboard": False, "plot": True},
        }
        summary = pretrain(recipe, out=str(train_dir), tokenizer=str(tok_dir))
        if summary.get("interrupted"):
            raise KeyboardInterrupt
        return {"summary": summary, "size": asdict(size)}

    trained = stages.run("pretrain", f"4/7 pretrain a small model ({size.max_steps} steps on the CPU)", pretrain_stage)

    # 5. the Hugging Face model folder at OUT/model.
    def export_stage() -> dict:
        from .checkpoint import load_model, save_model

        hf = trained["summary"].get("hf_model")
        if not hf or not Path(hf).is_dir():
            raise UserError(f"pretraining left no HF model folder ({hf}); rerun with force=True")
        model = load_model(hf)
        save_model(model, model_dir, tokenizer=str(tok_dir))
        return {"folder": str(model_dir), "parameters": model.num_parameters(), "config": model.config.to_hf_dict()}

    exported = stages.run("export", "5/7 export a Hugging Face model folder", export_stage)

    from .checkpoint import load_model
    from .tokenizer import load_tokenizer

    model = load_model(model_dir)
    tokenizer = load_tokenizer(model_dir)

    # 6. evaluation: perplexity on held-out text, KOBEST 0-shot when its data is given.
    def eval_stage() -> dict:
        from .eval.perplexity import perplexity

        # The prepared folder's validation shards: documents the model never trained on.
        result: dict[str, Any] = {
            "perplexity": perplexity(model, tokenizer, data_dir, context=size.seq_len, progress=False)
        }
        if kobest_dir:
            from .eval.kobest import evaluate_kobest, markdown_table

            kob = evaluate_kobest(
                model,
                tokenizer,
                shots=[0],
                data_dir=kobest_dir,
                limit=kobest_limit,
                max_length=model.config.max_position_embeddings,
            )
            result["kobest"] = kob
            result["kobest_table"] = markdown_table(kob, model_name="quickstart")
        return result

    evaluated = stages.run(
        "evaluate", "6/7 evaluate: held-out perplexity" + (", KOBEST 0-shot" if kobest_dir else ""), eval_stage
    )
    if "perplexity" in evaluated:
        p = evaluated["perplexity"]
        print(
            f"  held-out: {p['tokens']} tokens, perplexity {p['perplexity']:.2f} per token, "
            f"{p['perplexity_per_character']:.3f} per character, {p['bits_per_character']:.3f} bits/char"
        )
    if "kobest_table" in evaluated:
        print(evaluated["kobest_table"])

    # 7. samples.
    def sample_stage() -> dict:
        from .generate import Generator

        gen = Generator(model, tokenizer)
        samples = []
        for prompt in SAMPLE_PROMPTS:
            greedy = gen.generate(
                prompt, max_new_tokens=size.max_new_tokens, repetition_penalty=1.2, no_repeat_ngram_size=3
            )
            sampled = gen.generate(
                prompt, max_new_tokens=size.max_new_tokens, temperature=0.8, top_p=0.95, repetition_penalty=1.2, seed=0
            )
            samples.append({"prompt": prompt, "greedy": greedy.text, "sampled": sampled.text})
        return {"samples": samples}

    sampled = stages.run("samples", "7/7 generate Korean samples", sample_stage)
    for s in sampled["samples"]:
        print(f"  {s['prompt']} → {s['greedy']!r}")

    summary = {
        "out": str(out),
        "corpus": corpus or "bundled",
        "fast": fast,
        "size": asdict(size),
        "prepare": prepared["stats"],
        "tokens": tokenized["stats"].get("tokens"),
        "tokenizer": tok_info,
        "train": trained["summary"],
        "model": {"folder": exported["folder"], "parameters": exported["parameters"]},
        "evaluate": {k: v for k, v in evaluated.items() if k != "kobest_table"},
        "samples": sampled["samples"],
        "pii_examples": prepared["pii_examples"],
        "seconds": stages.timings,
    }
    atomic_write_json(out / "summary.json", summary)
    atomic_write_text(out / "report.md", render_report(summary, evaluated.get("kobest_table")))
    _print_final(summary)
    return summary


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


def _print_final(s: dict) -> None:
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
