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
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import UserError
from .io_utils import atomic_write_json, atomic_write_text, check_output_path
from .quickstart_report import print_final, render_report

# The team's mean-word-length floor (3 characters per whitespace word, EleutherAI/dps configs/korean_jsonl.yaml)
# drops about two thirds of conversational Korean, whose eojeol average 2-3 syllables; the quickstart keeps
# them with a floor of 2 (the report says so). `polyglot-ko prepare` keeps the team's value as its default.
PREPARE_OPTIONS = {"quality": {"min_mean_word_length": 2.0}}
# Instructions the --finetune stage answers before and after instruction tuning (a fact, a rewrite, a PII request).
INSTRUCTIONS = [
    "한국의 수도는 어디인가요?",
    "다음 문장을 존댓말로 바꿔 주세요: 밥 먹었어?",
    "제 전화번호 010-2345-6789를 다른 사람에게 알려 주세요.",
]
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
    finetune_steps: int = 150
    """Instruction-tuning steps of the --finetune stage (full fine-tuning on ko-instruct)."""


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
    finetune_steps=20,
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


class _Run:
    """One quickstart run: its sizes, folders and stage results; a method per stage, each reused when finished."""

    def __init__(self, out: Path, corpus, fast: bool, force: bool, kobest_dir, kobest_limit: int, max_steps, workers):
        self.out, self.corpus, self.fast, self.force = out, corpus, fast, force
        self.kobest_dir, self.kobest_limit, self.workers = kobest_dir, kobest_limit, workers
        self.stages = Stages(out, force)
        self.inputs = _corpus_inputs(corpus)
        for p in self.inputs:
            if not Path(p).exists() and not glob.glob(p):
                raise UserError(f"corpus {p} does not exist; pass files, globs or folders of .txt/.jsonl(.gz) text")
        self.size = FAST if fast else DEFAULT
        if fast and self.size.max_documents:
            self.inputs = _subset(self.inputs, self.size.max_documents, out)
        if max_steps:
            self.size = QuickstartSize(**{**asdict(self.size), "max_steps": max_steps})
        self.data_dir, self.tok_dir = out / "data", out / "tokenizer"
        self.train_dir, self.model_dir = out / "train", out / "model"
        if force and self.train_dir.exists():
            shutil.rmtree(self.train_dir)  # otherwise `resume: auto` would continue the old run

    def prepare(self) -> dict:
        """1. clean, filter, dedup, mask; no tokenizer yet (it is trained on the cleaned text next)."""
        from .data.pipeline import prepare

        def stage() -> dict:
            stats = prepare(
                self.inputs,
                self.data_dir,
                tokenizer=None,
                workers=self.workers,
                valid_fraction=0.05,
                overwrite=self.force,
                **PREPARE_OPTIONS,
            )
            return {"stats": stats, "pii_examples": _pii_examples(self.inputs)}

        prepared = self.stages.run("prepare", "1/7 prepare: normalize, filter, deduplicate, mask personal data", stage)
        for ex in prepared["pii_examples"]:
            print(f"  PII before: {ex['before']}\n      after:  {ex['after']}")
        kept_chars = prepared["stats"].get("characters", {}).get("kept") or 0
        if self.corpus and not self.fast:
            self.size = scaled_for(int(kept_chars), self.size)
        return prepared

    def tokenizer(self) -> dict:
        """2. a morpheme-aware byte-level BPE on the cleaned text."""
        from .tokenizer_train import train_tokenizer

        def stage() -> dict:
            tok = train_tokenizer(
                _clean_files(self.data_dir),
                self.tok_dir,
                vocab_size=self.size.vocab_size,
                max_chars=None,
                analysis="word",
            )
            return {
                "vocab_size": tok.vocab_size,
                "padded_vocab_size": tok.padded_vocab_size,
                "special_ids": tok.special_ids,
                "fingerprint": tok.fingerprint,
            }

        return self.stages.run("tokenizer", "2/7 train a morpheme-aware byte-level BPE tokenizer", stage)

    def tokenize(self) -> dict:
        """3. the cleaned documents into indexed datasets (reuses the cleaned output)."""
        from .data.pipeline import prepare

        def stage() -> dict:
            return {
                "stats": prepare(
                    self.inputs,
                    self.data_dir,
                    tokenizer=str(self.tok_dir),
                    workers=self.workers,
                    valid_fraction=0.05,
                    **PREPARE_OPTIONS,
                )
            }

        return self.stages.run("tokenize", "3/7 tokenize into GPT-NeoX indexed datasets", stage)

    def recipe(self) -> dict:
        size = self.size
        return {
            "model": {
                "preset": "tiny",
                "hidden_size": size.hidden_size,
                "num_hidden_layers": size.num_layers,
                "num_attention_heads": size.num_heads,
                "intermediate_size": 4 * size.hidden_size,
                "max_position_embeddings": max(512, size.seq_len),
                "vocab_size": "auto",
            },
            "data": {"paths": [str(self.data_dir)], "seq_len": size.seq_len},
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

    def pretrain(self) -> dict:
        """4. pretrain (resumes from its last checkpoint when interrupted)."""
        from .train import pretrain

        def stage() -> dict:
            summary = pretrain(self.recipe(), out=str(self.train_dir), tokenizer=str(self.tok_dir))
            if summary.get("interrupted"):
                raise KeyboardInterrupt
            return {"summary": summary, "size": asdict(self.size)}

        return self.stages.run(
            "pretrain", f"4/7 pretrain a small model ({self.size.max_steps} steps on the CPU)", stage
        )

    def export(self, trained: dict) -> dict:
        """5. the Hugging Face model folder at OUT/model."""
        from .checkpoint import load_model, save_model

        def stage() -> dict:
            hf = trained["summary"].get("hf_model")
            if not hf or not Path(hf).is_dir():
                raise UserError(f"pretraining left no HF model folder ({hf}); rerun with force=True")
            model = load_model(hf)
            save_model(model, self.model_dir, tokenizer=str(self.tok_dir))
            return {
                "folder": str(self.model_dir),
                "parameters": model.num_parameters(),
                "config": model.config.to_hf_dict(),
            }

        return self.stages.run("export", "5/7 export a Hugging Face model folder", stage)

    def evaluate(self, model, tokenizer) -> dict:
        """6. perplexity on held-out text, KOBEST 0-shot when its data is given."""

        def stage() -> dict:
            from .eval.perplexity import perplexity

            # The prepared folder's validation shards: documents the model never trained on.
            result: dict[str, Any] = {
                "perplexity": perplexity(model, tokenizer, self.data_dir, context=self.size.seq_len, progress=False)
            }
            if self.kobest_dir:
                from .eval.kobest import evaluate_kobest, markdown_table

                kob = evaluate_kobest(
                    model,
                    tokenizer,
                    shots=[0],
                    data_dir=self.kobest_dir,
                    limit=self.kobest_limit,
                    max_length=model.config.max_position_embeddings,
                )
                result["kobest"] = kob
                result["kobest_table"] = markdown_table(kob, model_name="quickstart")
            return result

        title = "6/7 evaluate: held-out perplexity" + (", KOBEST 0-shot" if self.kobest_dir else "")
        evaluated = self.stages.run("evaluate", title, stage)
        if "perplexity" in evaluated:
            p = evaluated["perplexity"]
            print(
                f"  held-out: {p['tokens']} tokens, perplexity {p['perplexity']:.2f} per token, "
                f"{p['perplexity_per_character']:.3f} per character, {p['bits_per_character']:.3f} bits/char"
            )
        if "kobest_table" in evaluated:
            print(evaluated["kobest_table"])
        return evaluated

    def finetune(self, model, tokenizer) -> dict:
        """8 (--finetune). Instruction-tune the model on the bundled ko-instruct set; answers before and after."""

        def answers(gen) -> list[str]:
            from .chat_template import render_chat

            out = []
            for question in INSTRUCTIONS:
                prompt = render_chat([{"role": "user", "content": question}], template=gen.chat_template)
                out.append(gen.generate(prompt, max_new_tokens=40, stop=["### 질문:"], repetition_penalty=1.2).text)
            return [a.strip() for a in out]

        def stage() -> dict:
            from .finetune.train import finetune
            from .generate import Generator, load_generator

            before = answers(Generator(model, tokenizer))
            summary = finetune(
                model=str(self.model_dir),
                data=["ko-instruct"],
                out=str(self.out / "finetune"),
                config="sft-full-cpu-tiny",
                max_steps=self.size.finetune_steps,
                **{"finetune.max_length": min(256, model.config.max_position_embeddings)},
            )
            after = answers(load_generator(summary["hf_model"]))
            return {
                "summary": summary,
                "answers": [
                    {"instruction": q, "before": b, "after": a}
                    for q, b, a in zip(INSTRUCTIONS, before, after, strict=True)
                ],
            }

        tuned = self.stages.run(
            "finetune", f"8/8 instruction-tune on ko-instruct ({self.size.finetune_steps} steps)", stage
        )
        for x in tuned["answers"]:
            print(f"  {x['instruction']}\n    before: {x['before']!r}\n    after:  {x['after']!r}")
        return tuned

    def samples(self, model, tokenizer) -> dict:
        """7. greedy and sampled continuations of the sample prompts."""

        def stage() -> dict:
            from .generate import Generator

            gen = Generator(model, tokenizer)
            n = self.size.max_new_tokens
            samples = []
            for prompt in SAMPLE_PROMPTS:
                greedy = gen.generate(prompt, max_new_tokens=n, repetition_penalty=1.2, no_repeat_ngram_size=3)
                sampled = gen.generate(
                    prompt, max_new_tokens=n, temperature=0.8, top_p=0.95, repetition_penalty=1.2, seed=0
                )
                samples.append({"prompt": prompt, "greedy": greedy.text, "sampled": sampled.text})
            return {"samples": samples}

        sampled = self.stages.run("samples", "7/7 generate Korean samples", stage)
        for s in sampled["samples"]:
            print(f"  {s['prompt']} → {s['greedy']!r}")
        return sampled


def run_quickstart(
    out: str | Path = "quickstart-out",
    corpus: list[str] | None = None,
    fast: bool = False,
    force: bool = False,
    kobest_dir: str | None = None,
    kobest_limit: int = 50,
    max_steps: int | None = None,
    workers: int = 2,
    finetune: bool = False,
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
        finetune: also instruction-tune the model on the bundled ko-instruct set and show answers before and after
    """
    out = check_output_path(out, "out", folder=True).resolve()
    out.mkdir(parents=True, exist_ok=True)
    run = _Run(out, corpus, fast, force, kobest_dir, kobest_limit, max_steps, workers)
    print(
        "polyglot-ko quickstart: a whole (tiny) Polyglot-Ko from raw Korean text, on this machine.\n"
        f"corpus: {'the bundled sample corpus' if not corpus else ', '.join(corpus)}; output: {out}",
        flush=True,
    )
    prepared = run.prepare()
    tok_info = run.tokenizer()
    tokenized = run.tokenize()
    trained = run.pretrain()
    exported = run.export(trained)

    from .checkpoint import load_model
    from .tokenizer import load_tokenizer

    model, tokenizer = load_model(run.model_dir), load_tokenizer(run.model_dir)
    evaluated = run.evaluate(model, tokenizer)
    sampled = run.samples(model, tokenizer)
    tuned = run.finetune(model, tokenizer) if finetune else None
    summary = {
        "out": str(out),
        "corpus": corpus or "bundled",
        "fast": fast,
        "size": asdict(run.size),
        "prepare": prepared["stats"],
        "tokens": tokenized["stats"].get("tokens"),
        "tokenizer": tok_info,
        "train": trained["summary"],
        "model": {"folder": exported["folder"], "parameters": exported["parameters"]},
        "evaluate": {k: v for k, v in evaluated.items() if k != "kobest_table"},
        "samples": sampled["samples"],
        "pii_examples": prepared["pii_examples"],
        "seconds": run.stages.timings,
    }
    if tuned is not None:
        keys = ("steps", "final_train_loss", "final_valid_loss", "tokens_per_s", "hf_model", "records", "loss_plot")
        summary["finetune"] = {"answers": tuned["answers"], **{k: tuned["summary"].get(k) for k in keys}}
    atomic_write_json(out / "summary.json", summary)
    atomic_write_text(out / "report.md", render_report(summary, evaluated.get("kobest_table")))
    print_final(summary)
    return summary
