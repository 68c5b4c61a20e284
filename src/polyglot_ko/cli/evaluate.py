"""`polyglot-ko evaluate`: KOBEST as the model cards report it, or perplexity with `--perplexity`.

polyglot-ko evaluate --model EleutherAI/polyglot-ko-1.3b --data-dir kobest/ --shots 0,5,10,50 --output r.json
polyglot-ko evaluate --model out/model --tasks copa,hellaswag --shots 5 --limit 100
polyglot-ko evaluate --model out/model --perplexity valid.jsonl --stride 1024
polyglot-ko evaluate --model EleutherAI/polyglot-ko-1.3b --adapter my-lora --perplexity valid.jsonl   # base + LoRA
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import UserError
from ._args import OMIT, Flag, add_option, add_parameters


def add_arguments(parser) -> None:
    from ..eval._common import load_model_any
    from ..eval.kobest import PROTOCOLS, evaluate_kobest
    from ..eval.perplexity import perplexity

    add_parameters(
        parser,
        evaluate_kobest,
        only=["model", "tokenizer", "tasks", "shots", "data_dir", "limit", "protocol"],
        defaults={"tokenizer": None},
        flags={
            "model": Flag(type=str, help="model folder or hub id"),
            "tokenizer": Flag(type=str | None, help="tokenizer folder or hub id (default: the model's)"),
            "tasks": Flag(type=str, help="comma-separated KOBEST tasks (default: all five)"),
            "shots": Flag(type=str, help="comma-separated few-shot counts"),
            "data_dir": Flag(
                type=str | None,
                help="local KOBEST in the skt/kobest_v1 layout (<config>/<split>.jsonl); default: the hub",
            ),
            "limit": Flag(help="evaluate only the first N documents per task"),
            "protocol": Flag(
                choices=PROTOCOLS,
                help="polyglot: the model cards' harness branch; lm-eval-0.4: lm-eval 0.4's kobest tasks",
            ),
        },
    )
    add_parameters(
        parser,
        load_model_any,
        only=["adapter"],
        flags={"adapter": Flag(type=str | None, help="LoRA adapter folder (peft format) to apply to the model")},
    )
    add_option(parser, "output", str | None, None, "write the results as JSON here")
    add_parameters(
        parser,
        evaluate_kobest,
        only=["batch_size", "max_batch_tokens", "max_length", "dtype", "device", "prefix_reuse"],
        defaults={"max_batch_tokens": OMIT},
        flags={
            "batch_size": Flag(help="KOBEST questions per forward pass"),
            "max_batch_tokens": Flag(
                help="bound on rows x padded tokens per pass (default 16384 KOBEST, 4096 perplexity)"
            ),
            "max_length": Flag(help="context window in tokens (default: the model's max_position_embeddings)"),
            "dtype": Flag(help="float32, bfloat16 or float16"),
            "device": Flag(help="torch device"),
            "prefix_reuse": Flag(help="score every candidate with its own plain forward pass (slow; for checking)"),
        },
    )
    ppl = parser.add_argument_group("perplexity")
    add_parameters(
        ppl,
        perplexity,
        only=["texts_or_paths", "stride", "text_field", "txt_mode", "split", "max_documents"],
        defaults={"texts_or_paths": None},
        flags={
            "texts_or_paths": Flag(
                names=("--perplexity",),
                type=list[str] | None,
                metavar="PATH",
                help="text files / folders / globs, an indexed dataset prefix, or a prepared folder",
            ),
            "stride": Flag(help="tokens between window starts (default: window/2)"),
            "text_field": Flag(help="JSON field holding the text"),
            "txt_mode": Flag(
                choices=("line", "block", "file"),
                help=".txt documents: one per line, blank-line separated block, or file",
            ),
            "split": Flag(
                choices=("auto", "train", "valid"),
                help="prepared folders: which shards (auto: validation when present)",
            ),
            "max_documents": Flag(help="score at most N documents"),
        },
    )


def run(args: dict) -> int:
    from ..eval._common import load_model_any, load_tokenizer_any
    from ..io_utils import atomic_write_json

    if args["batch_size"] <= 0:
        raise UserError(f"--batch-size {args['batch_size']}: must be positive")
    if args["output"]:
        from ..io_utils import check_output_path

        check_output_path(args["output"], "--output")
    tokenizer = load_tokenizer_any(args["tokenizer"] or args["model"])
    model = load_model_any(args["model"], dtype=args["dtype"], device=args["device"], adapter=args["adapter"])
    batch_tokens = {"max_batch_tokens": args["max_batch_tokens"]} if "max_batch_tokens" in args else {}
    if args["texts_or_paths"]:
        from ..eval.perplexity import perplexity

        # On the command line every --perplexity item is a path (or glob): never score the string itself.
        inputs = [Path(p) if not any(c in p for c in "*?[") else p for p in args["texts_or_paths"]]
        result = perplexity(
            model,
            tokenizer,
            inputs,
            context=args["max_length"],
            stride=args["stride"],
            text_field=args["text_field"],
            txt_mode=args["txt_mode"],
            split=args["split"],
            max_documents=args["max_documents"],
            **batch_tokens,
        )
        result["model"] = args["model"]
        if args["adapter"]:
            result["adapter"] = args["adapter"]
        print(json.dumps(result, ensure_ascii=False, indent=2))
        if args["output"]:
            atomic_write_json(args["output"], result)
        return 0

    from ..eval.kobest import evaluate_kobest, markdown_table

    result = evaluate_kobest(
        model,
        tokenizer,
        args["tasks"],
        args["shots"],
        args["data_dir"],
        args["limit"],
        protocol=args["protocol"],
        max_length=args["max_length"],
        batch_size=args["batch_size"],
        prefix_reuse=args["prefix_reuse"],
        **batch_tokens,
    )
    result["config"]["model"] = args["model"]
    if args["adapter"]:
        result["config"]["adapter"] = args["adapter"]
    name = Path(args["model"]).name if Path(args["model"]).exists() else args["model"]
    if args["adapter"]:
        name += f" + {Path(args['adapter']).name}"
    table = markdown_table(result, name)
    print(table)
    print(
        f"{sum(len(v) for v in result['results'].values())} task x shot evaluations in "
        f"{result['seconds']['total']:.1f} s (protocol {args['protocol']}"
        + (f", first {args['limit']} documents per task" if args["limit"] else "")
        + ")"
    )
    if args["output"]:
        result["markdown"] = table
        atomic_write_json(args["output"], result)
        print(f"wrote {args['output']}")
    return 0
