"""`polyglot-ko finetune`: instruction-tune a model (full, LoRA or QLoRA) from a YAML recipe, one process or torchrun.

    polyglot-ko finetune --model EleutherAI/polyglot-ko-1.3b --data ko-instruct train.jsonl --out runs/sft \\
        --config sft-lora-1.3b
    polyglot-ko finetune --model BASE --data data.json --out runs/sft --config sft-full-cpu-tiny --method full \\
        --max-steps 100 optim.lr=5e-4 finetune.packing=false
    torchrun --nproc_per_node 8 -m polyglot_ko.cli finetune --config sft-full-5.8b --model M --data D --out R

Outputs in OUT: adapter/ (LoRA/QLoRA: a peft folder with the tokenizer and chat template) or model/ (full: a Hugging
Face folder), checkpoints/, hf/step_N/, metrics.jsonl, tensorboard/, loss.png, data_stats.json, summary.json.
Any recipe value can be overridden as trailing `section.key=value` arguments; `--print-config` shows every key
(polyglot_ko/finetune/config.py).
"""

from __future__ import annotations

import json
import os

from ._args import Flag, add_parameters
from .pretrain import _split_overrides

EPILOG = (
    "overrides: section.key=value, e.g. finetune.lora_r=16 finetune.packing=false finetune.train_on_prompt=true "
    "optim.lr=1e-4 train.micro_batch_size=4 parallel.activation_checkpointing=true"
)


def finetune_options(
    model: str | None = None,
    data: list[str] | None = None,
    out: str | None = None,
    config: str | None = None,
    method: str | None = None,
    max_steps: int | None = None,
    tokenizer: str | None = None,
    save_every: int | None = None,
    resume: str | None = None,
    print_config: bool = False,
    overrides: list[str] = (),
) -> None:
    """The command's options; each shortcut, when given, replaces one recipe value (None: the recipe's).

    Args:
        model: the base model: a Hugging Face folder or hub id (model.init_from)
        data: instruction data: .json/.jsonl files, folders, a saved datasets folder, a hub dataset id, or
            ko-instruct (the bundled set); replaces data.paths
        out: run folder (the recipe's `out`)
        config: YAML recipe file or built-in name (sft-lora-cpu-tiny, sft-lora-1.3b, ...); default: the defaults
        method: full | lora | qlora (finetune.method)
        max_steps: train.max_steps
        tokenizer: tokenizer folder or hub id (default: the base model's)
        save_every: checkpoint.save_every
        resume: checkpoint.resume: auto | never | CHECKPOINT_FOLDER
        print_config: print the resolved recipe as YAML and exit
        overrides: any recipe value
    """


def add_arguments(parser) -> None:
    parser.epilog = EPILOG
    add_parameters(
        parser,
        finetune_options,
        flags={
            "config": Flag(names=("--config", "-c")),
            "out": Flag(names=("--out", "-o")),
            "model": Flag(names=("--model", "-m")),
            "data": Flag(metavar="FILE"),
            "method": Flag(choices=("full", "lora", "qlora")),
            "overrides": Flag(positional=True, metavar="section.key=value"),
        },
    )


def run(args: dict) -> int:
    from ..finetune.config import load_finetune_recipe
    from ..finetune.train import resolve_finetune_config
    from ..train.config import dump_recipe

    overrides = list(args["overrides"])
    data = _split_overrides(args["data"], overrides)
    cfg = resolve_finetune_config(
        load_finetune_recipe(args["config"], overrides),
        model=args["model"],
        data=data,
        out=args["out"],
        method=args["method"],
        max_steps=args["max_steps"],
        tokenizer=args["tokenizer"],
        save_every=args["save_every"],
        resume=args["resume"],
    )
    if args["print_config"]:
        print(dump_recipe(cfg), end="")
        return 0
    from ..finetune.train import FinetuneTrainer

    trainer = FinetuneTrainer(cfg)
    try:
        summary = trainer.train()
    finally:
        trainer.close()
    if summary.get("interrupted") or int(os.environ.get("RANK", "0")) != 0:
        return 0
    keys = ("steps", "method", "final_train_loss", "final_valid_loss", "tokens_per_s", "checkpoint", "hf_model")
    print(json.dumps({k: summary[k] for k in keys}, ensure_ascii=False))
    return 0
