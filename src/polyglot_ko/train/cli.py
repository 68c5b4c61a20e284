"""`polyglot-ko pretrain`: train from a YAML recipe, as one process or under torchrun.

    polyglot-ko pretrain --config recipes/cpu-tiny.yaml --out runs/tiny --data data/prepared --max-steps 200
    torchrun --nproc_per_node 8 -m polyglot_ko.cli pretrain --config recipes/polyglot-ko-1.3b.yaml --out /shared/run
    # several nodes (run on each; the run folder on a shared filesystem):
    torchrun --nnodes 4 --nproc_per_node 8 --rdzv_backend c10d --rdzv_endpoint HOST0:29500 --rdzv_id run1 \
        -m polyglot_ko.cli pretrain --config recipes/polyglot-ko-1.3b.yaml --out /shared/run

Any recipe value can be overridden as trailing `section.key=value` arguments (`optim.lr=1e-4`).
"""

from __future__ import annotations

import argparse
import json
import os
import re


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = ("overrides: section.key=value, e.g. optim.lr=3e-4 train.micro_batch_size=4 model.vocab_size=auto "
                     "parallel.activation_checkpointing=true\nmulti-node: torchrun --nnodes N --nproc_per_node G "
                     "--rdzv_backend c10d --rdzv_endpoint HOST:PORT -m polyglot_ko.cli pretrain ...")
    parser.add_argument("--config", "-c", help="YAML recipe (e.g. recipes/cpu-tiny.yaml); default: built-in defaults")
    parser.add_argument("--out", "-o", help="run folder (checkpoints, HF exports, metrics.jsonl)")
    parser.add_argument("--data", nargs="+", metavar="PATH",
                        help="prepared-data folder(s) or .bin/.idx prefix(es); replaces data.paths")
    parser.add_argument("--valid-data", nargs="+", metavar="PATH", help="held-out data; replaces data.valid_paths")
    parser.add_argument("--tokenizer", help="tokenizer folder or hub id (checked against the data's fingerprint)")
    parser.add_argument("--max-steps", type=int, help="train.max_steps")
    parser.add_argument("--save-every", type=int, help="checkpoint.save_every")
    parser.add_argument("--resume", help="checkpoint.resume: auto | never | CHECKPOINT_FOLDER")
    parser.add_argument("--export-hf", metavar="CHECKPOINT",
                        help="only write a Hugging Face model folder from RUN/checkpoints/step_N to --out, then exit")
    parser.add_argument("--print-config", action="store_true", help="print the resolved recipe as YAML and exit")
    parser.add_argument("overrides", nargs="*", metavar="section.key=value", help="any recipe value")


_OVERRIDE = re.compile(r"^[A-Za-z_]\w*(\.\w+)*=")


def _split_overrides(paths, overrides):
    """`--data A B key=value`: argparse gives the override to --data; hand it back to the overrides."""
    if not paths:
        return paths
    keep = [p for p in paths if not _OVERRIDE.match(p)]
    overrides.extend(p for p in paths if _OVERRIDE.match(p))
    return keep


def run(args: argparse.Namespace) -> int:
    from .config import apply_overrides, dump_recipe, load_recipe

    if args.export_hf:
        from ..errors import UserError
        from .checkpointing import export_checkpoint

        if not args.out:
            raise UserError("--export-hf needs --out DEST (the Hugging Face folder to write)")
        print(export_checkpoint(args.export_hf, args.out, tokenizer=args.tokenizer))
        return 0
    args.data = _split_overrides(args.data, args.overrides)
    args.valid_data = _split_overrides(args.valid_data, args.overrides)

    cfg = load_recipe(args.config, args.overrides)
    short = {"out": args.out, "data.paths": args.data, "data.valid_paths": args.valid_data,
             "tokenizer": args.tokenizer, "train.max_steps": args.max_steps,
             "checkpoint.save_every": args.save_every, "checkpoint.resume": args.resume}
    cfg = apply_overrides(cfg, {k: v for k, v in short.items() if v is not None})
    if args.print_config:
        print(dump_recipe(cfg), end="")
        return 0
    from .loop import pretrain

    summary = pretrain(cfg)
    if summary.get("interrupted") or int(os.environ.get("RANK", "0")) != 0:
        return 0
    print(json.dumps({k: summary[k] for k in ("steps", "final_train_loss", "final_valid_loss", "tokens_per_s",
                                              "checkpoint", "hf_model")}, ensure_ascii=False))
    return 0
