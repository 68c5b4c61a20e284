"""`polyglot-ko pretrain`: train from a YAML recipe, as one process or under torchrun.

    polyglot-ko pretrain --config cpu-tiny --out runs/tiny --data data/prepared --max-steps 200
    torchrun --nproc_per_node 8 -m polyglot_ko.cli pretrain --config polyglot-ko-1.3b --out /shared/run --data D
    # several nodes (run on each; the run folder on a shared filesystem):
    torchrun --nnodes 4 --nproc_per_node 8 --rdzv_backend c10d --rdzv_endpoint HOST0:29500 --rdzv_id run1 \\
        -m polyglot_ko.cli pretrain --config recipes/polyglot-ko-1.3b.yaml --out /shared/run --data D

Any recipe value can be overridden as trailing `section.key=value` arguments (`optim.lr=1e-4`); `--print-config`
shows every key. Values are typed as `TrainConfig` declares them (polyglot_ko/train/config.py).
"""

from __future__ import annotations

import json
import os
import re

from ._args import Flag, add_parameters

EPILOG = (
    "overrides: section.key=value, e.g. optim.lr=3e-4 train.micro_batch_size=4 model.vocab_size=auto "
    "parallel.activation_checkpointing=true data.weights=3,1\nmulti-node: torchrun --nnodes N --nproc_per_node G "
    "--rdzv_backend c10d --rdzv_endpoint HOST:PORT -m polyglot_ko.cli pretrain ..."
)


def pretrain_options(
    config: str | None = None,
    out: str | None = None,
    data: list[str] | None = None,
    valid_data: list[str] | None = None,
    tokenizer: str | None = None,
    max_steps: int | None = None,
    save_every: int | None = None,
    resume: str | None = None,
    export_hf: str | None = None,
    print_config: bool = False,
    overrides: list[str] = (),
) -> None:
    """The command's options; each shortcut, when given, replaces one recipe value (None: the recipe's).

    Args:
        config: YAML recipe file, or a built-in recipe name (default: TrainConfig's defaults)
        out: run folder (checkpoints, HF exports, metrics.jsonl); the recipe's `out`
        data: prepared-data folder(s) or .bin/.idx prefix(es); replaces data.paths
        valid_data: held-out data; replaces data.valid_paths
        tokenizer: tokenizer folder or hub id (checked against the data's fingerprint)
        max_steps: train.max_steps
        save_every: checkpoint.save_every
        resume: checkpoint.resume: auto | never | CHECKPOINT_FOLDER
        export_hf: only write a Hugging Face model folder from RUN/checkpoints/step_N to --out, then exit
        print_config: print the resolved recipe as YAML and exit
        overrides: any recipe value
    """


def add_arguments(parser) -> None:
    from ..train.config import builtin_recipes

    parser.epilog = EPILOG
    add_parameters(
        parser,
        pretrain_options,
        flags={
            "config": Flag(
                names=("--config", "-c"),
                help=f"YAML recipe file, or a built-in recipe "
                f"({', '.join(builtin_recipes())}); default: TrainConfig's "
                f"defaults",
            ),
            "out": Flag(names=("--out", "-o")),
            "data": Flag(metavar="PATH"),
            "valid_data": Flag(metavar="PATH"),
            "export_hf": Flag(metavar="CHECKPOINT"),
            "overrides": Flag(positional=True, metavar="section.key=value"),
        },
    )


_OVERRIDE = re.compile(r"^[A-Za-z_]\w*(\.\w+)*=")


def _split_overrides(paths, overrides):
    """`--data A B key=value`: argparse gives the override to --data (nargs="+" takes every word up to the next
    flag, and jsonargparse has no way to say otherwise); hand it back to the overrides."""
    if not paths:
        return paths
    keep = [p for p in paths if not _OVERRIDE.match(p)]
    overrides.extend(p for p in paths if _OVERRIDE.match(p))
    return keep


def run(args: dict) -> int:
    from ..errors import UserError
    from ..train.config import apply_overrides, dump_recipe, load_recipe

    if args["export_hf"]:
        from ..train.train_state import export_checkpoint

        if not args["out"]:
            raise UserError("--export-hf needs --out DEST (the Hugging Face folder to write)")
        print(export_checkpoint(args["export_hf"], args["out"], tokenizer=args["tokenizer"]))
        return 0
    overrides = list(args["overrides"])
    data = _split_overrides(args["data"], overrides)
    valid_data = _split_overrides(args["valid_data"], overrides)

    cfg = load_recipe(args["config"], overrides)
    short = {
        "out": args["out"],
        "data.paths": data,
        "data.valid_paths": valid_data,
        "tokenizer": args["tokenizer"],
        "train.max_steps": args["max_steps"],
        "checkpoint.save_every": args["save_every"],
        "checkpoint.resume": args["resume"],
    }
    cfg = apply_overrides(cfg, {k: v for k, v in short.items() if v is not None})
    if args["print_config"]:
        print(dump_recipe(cfg), end="")
        return 0
    from ..train.loop import pretrain

    summary = pretrain(cfg)
    if summary.get("interrupted") or int(os.environ.get("RANK", "0")) != 0:
        return 0
    print(
        json.dumps(
            {
                k: summary[k]
                for k in ("steps", "final_train_loss", "final_valid_loss", "tokens_per_s", "checkpoint", "hf_model")
            },
            ensure_ascii=False,
        )
    )
    return 0
