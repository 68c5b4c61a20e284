"""`polyglot-ko generate`: Korean text from the command line (streaming, batches to JSONL, or interactive).

    polyglot-ko generate --model EleutherAI/polyglot-ko-1.3b "한국어로 된 프롬프트"      # streams to the terminal
    polyglot-ko generate --model M --file prompts.txt --output out.jsonl                # one prompt per line
    cat prompts.jsonl | polyglot-ko generate --model M --jsonl                          # {"prompt": ...} lines
    polyglot-ko generate --model M --interactive                                       # a prompt per line, /quit

Every decoding option of `SamplingParams` is a flag. Greedy by default; Korean text reads better sampled with
a repetition penalty, e.g. `--temperature 0.8 --top-p 0.95 --repetition-penalty 1.2`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prompts", nargs="*", help="prompt text(s); none: read --file or stdin")
    parser.add_argument("--model", required=True, help="model folder or hub id (with its tokenizer)")
    parser.add_argument("--tokenizer", default=None, help="tokenizer folder, if not the model's")
    parser.add_argument("--file", default=None,
                        help="prompts file: .txt (one per line) or .jsonl (field --prompt-field); - = stdin")
    parser.add_argument("--prompt-field", default="prompt", help="JSONL field holding the prompt")
    parser.add_argument("--output", default=None, help="write results as JSONL to this file (atomic)")
    parser.add_argument("--jsonl", action="store_true", help="print results as JSONL on stdout")
    parser.add_argument("--interactive", "-i", action="store_true", help="read prompts line by line; /quit ends")
    parser.add_argument("--no-prompt", action="store_true", help="print only the continuation, not the prompt")
    g = parser.add_argument_group("decoding")
    g.add_argument("--max-new-tokens", type=int, default=128)
    g.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    g.add_argument("--top-k", type=int, default=0, help="0 = off")
    g.add_argument("--top-p", type=float, default=1.0, help="1 = off")
    g.add_argument("--repetition-penalty", type=float, default=1.0, help="1 = off; 1.1-1.3 curbs loops")
    g.add_argument("--no-repeat-ngram-size", type=int, default=0, help="0 = off")
    g.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    g.add_argument("--stop-token-id", type=int, action="append", default=None,
                   help="stop token id (repeatable; default 2 = <|endoftext|>)")
    g.add_argument("--seed", type=int, default=None)
    m = parser.add_argument_group("model")
    m.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    m.add_argument("--device", default="cpu")
    m.add_argument("--quantize", default=None, choices=["int8"], help="int8 weight-only linears (CPU)")
    m.add_argument("--batch-size", type=int, default=16, help="prompts decoded together")
    m.add_argument("--threads", type=int, default=None, help="torch CPU threads")


def _read_prompts(args) -> list[str]:
    prompts = list(args.prompts)
    source = args.file
    if source is None and not prompts and not args.interactive and not sys.stdin.isatty():
        source = "-"
    if source is None:
        return prompts
    if source == "-":
        lines, name = sys.stdin.read().splitlines(), "stdin"
    else:
        path = Path(source)
        if not path.is_file():
            raise UserError(f"--file {source}: no such file; pass a .txt or .jsonl file of prompts")
        lines, name = path.read_text(encoding="utf-8").splitlines(), source
    is_jsonl = name.endswith(".jsonl") or (lines and lines[0].lstrip().startswith("{"))
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if is_jsonl:
            try:
                obj = json.loads(line)
                prompts.append(obj[args.prompt_field])
            except (json.JSONDecodeError, KeyError, TypeError):
                raise UserError(f"{name} line {n}: expected a JSON object with a {args.prompt_field!r} string "
                                f"field; fix the line or pass --prompt-field") from None
            if not isinstance(prompts[-1], str):
                raise UserError(f"{name} line {n}: {args.prompt_field!r} must be a string")
        else:
            prompts.append(line)
    return prompts


def _params(gen, args):
    kw = dict(max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_k=args.top_k,
              top_p=args.top_p, repetition_penalty=args.repetition_penalty,
              no_repeat_ngram_size=args.no_repeat_ngram_size, stop=tuple(args.stop), seed=args.seed)
    if args.stop_token_id is not None:
        kw["stop_token_ids"] = tuple(args.stop_token_id)
    return gen.params(**kw)


def _stream_one(gen, prompt: str, params, show_prompt: bool) -> None:
    out = sys.stdout
    if show_prompt:
        out.write(prompt)
        out.flush()
    start = time.perf_counter()
    stream = gen.stream(prompt, params)
    for chunk in stream:
        out.write(chunk)
        out.flush()
    out.write("\n")
    out.flush()
    res = stream.result()
    secs = time.perf_counter() - start
    print(f"[{len(res.token_ids)} tokens in {secs:.2f} s, {len(res.token_ids) / max(secs, 1e-9):.1f} tokens/s, "
          f"finish: {res.finish_reason}]", file=sys.stderr)


def _record(prompt: str, res) -> dict:
    return {"prompt": prompt, "text": res.text, "finish_reason": res.finish_reason,
            "prompt_tokens": len(res.prompt_token_ids), "completion_tokens": len(res.token_ids),
            "token_ids": res.token_ids}


def run(args: argparse.Namespace) -> int:
    import torch

    from .generate import load_generator

    if args.threads:
        torch.set_num_threads(args.threads)
    prompts = _read_prompts(args)
    if not prompts and not args.interactive:
        raise UserError("no prompt given; pass prompt text, --file FILE, pipe prompts on stdin, or use --interactive")
    gen = load_generator(args.model, dtype=args.dtype, device=args.device, tokenizer=args.tokenizer,
                         max_batch_size=args.batch_size, quantize=args.quantize)
    params = _params(gen, args)
    if args.interactive:
        print(f"{gen!r}; one prompt per line, /quit or Ctrl-D to end", file=sys.stderr)
        while True:
            try:
                line = input("> ")
            except EOFError:
                print(file=sys.stderr)
                return 0
            if line.strip() in ("/quit", "/exit"):
                return 0
            if line.strip():
                _stream_one(gen, line, params, show_prompt=False)
    if len(prompts) == 1 and not args.jsonl and not args.output:
        _stream_one(gen, prompts[0], params, show_prompt=not args.no_prompt)
        return 0
    start = time.perf_counter()
    results = gen.generate(prompts, params, progress=True)
    secs = time.perf_counter() - start
    records = [_record(p, r) for p, r in zip(prompts, results)]
    if args.output:
        from .io_utils import atomic_write_text

        atomic_write_text(args.output, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    elif args.jsonl:
        for r in records:
            print(json.dumps(r, ensure_ascii=False))
    else:
        for p, r in zip(prompts, results):
            print(("" if args.no_prompt else p) + r.text + "\n")
    n_tokens = sum(r["completion_tokens"] for r in records)
    print(f"{len(records)} prompts, {n_tokens} tokens in {secs:.2f} s ({n_tokens / max(secs, 1e-9):.1f} tokens/s)"
          + (f"; wrote {args.output}" if args.output else ""), file=sys.stderr)
    return 0
