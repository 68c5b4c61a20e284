"""`polyglot-ko evaluate`: KOBEST as the model cards report it, or perplexity with `--perplexity`.

    polyglot-ko evaluate --model EleutherAI/polyglot-ko-1.3b --data-dir kobest/ --shots 0,5,10,50 --output r.json
    polyglot-ko evaluate --model out/model --perplexity valid.jsonl --stride 1024
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .kobest import PROTOCOLS, TASKS

    parser.add_argument("--model", required=True, help="model folder or hub id")
    parser.add_argument("--tokenizer", default=None, help="tokenizer folder or hub id (default: the model's)")
    parser.add_argument("--tasks", default=",".join(TASKS), help="comma-separated KOBEST tasks (default: all five)")
    parser.add_argument("--shots", default="0,5,10,50", help="comma-separated few-shot counts (default: 0,5,10,50)")
    parser.add_argument("--data-dir", default=None,
                        help="local KOBEST in the skt/kobest_v1 layout (<config>/<split>.jsonl); default: the hub")
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N documents per task")
    parser.add_argument("--protocol", default="polyglot", choices=PROTOCOLS,
                        help="polyglot: the model cards' harness branch (default); lm-eval-0.4: lm-eval 0.4's kobest tasks")
    parser.add_argument("--output", default=None, help="write the results as JSON here")
    parser.add_argument("--batch-size", type=int, default=32, help="KOBEST questions per forward pass (default 32)")
    parser.add_argument("--max-batch-tokens", type=int, default=None,
                        help="bound on rows x padded tokens per pass (default 16384 KOBEST, 4096 perplexity)")
    parser.add_argument("--max-length", type=int, default=None,
                        help="context window in tokens (default: the model's max_position_embeddings)")
    parser.add_argument("--dtype", default="float32", help="float32 (default), bfloat16 or float16")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--no-prefix-reuse", action="store_true",
                        help="score every candidate with its own plain forward pass (slow; for checking)")
    ppl = parser.add_argument_group("perplexity")
    ppl.add_argument("--perplexity", nargs="+", default=None, metavar="PATH",
                     help="text files / folders / globs, an indexed dataset prefix, or a prepared folder")
    ppl.add_argument("--stride", type=int, default=None, help="tokens between window starts (default: window/2)")
    ppl.add_argument("--text-field", default="text", help="JSON field holding the text (default: text)")
    ppl.add_argument("--txt-mode", default="line", choices=("line", "block", "file"),
                     help=".txt documents: one per line, blank-line separated block, or file")
    ppl.add_argument("--split", default="auto", choices=("auto", "train", "valid"),
                     help="prepared folders: which shards (auto: validation when present)")
    ppl.add_argument("--max-documents", type=int, default=None, help="score at most N documents")


def run(args: argparse.Namespace) -> int:
    from ._common import load_model_any, load_tokenizer_any
    from ..io_utils import atomic_write_json

    if args.batch_size <= 0:
        raise UserError(f"--batch-size {args.batch_size}: must be positive")
    tokenizer = load_tokenizer_any(args.tokenizer or args.model)
    model = load_model_any(args.model, dtype=args.dtype, device=args.device)
    if args.perplexity:
        from .perplexity import perplexity

        result = perplexity(model, tokenizer, [Path(p) if Path(p).exists() else p for p in args.perplexity],
                            context=args.max_length, stride=args.stride,
                            max_batch_tokens=args.max_batch_tokens or 4096, text_field=args.text_field,
                            txt_mode=args.txt_mode, split=args.split, max_documents=args.max_documents)
        result["model"] = args.model
        print(json.dumps(result, ensure_ascii=False, indent=2))
        if args.output:
            atomic_write_json(args.output, result)
        return 0

    from .kobest import evaluate_kobest, markdown_table

    result = evaluate_kobest(model, tokenizer, args.tasks, args.shots, args.data_dir, args.limit,
                             protocol=args.protocol, max_length=args.max_length, batch_size=args.batch_size,
                             max_batch_tokens=args.max_batch_tokens or 16384, prefix_reuse=not args.no_prefix_reuse)
    result["config"]["model"] = args.model
    name = Path(args.model).name if Path(args.model).exists() else args.model
    table = markdown_table(result, name)
    print(table)
    print(f"{sum(len(v) for v in result['results'].values())} task x shot evaluations in "
          f"{result['seconds']['total']:.1f} s (protocol {args.protocol}"
          + (f", first {args.limit} documents per task" if args.limit else "") + ")")
    if args.output:
        result["markdown"] = table
        atomic_write_json(args.output, result)
        print(f"wrote {args.output}")
    return 0
