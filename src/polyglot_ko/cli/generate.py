"""`polyglot-ko generate`: Korean text from the command line (streaming, batches to JSONL, or interactive).

    polyglot-ko generate --model EleutherAI/polyglot-ko-1.3b "한국어로 된 프롬프트"      # streams to the terminal
    polyglot-ko generate --model M --file prompts.txt --output out.jsonl                # one prompt per line
    cat prompts.jsonl | polyglot-ko generate --model M --jsonl                          # {"prompt": ...} lines
    polyglot-ko generate --model M --interactive                                       # a prompt per line, /quit

Every decoding option of `SamplingParams` is a flag. Greedy by default; Korean text reads better sampled with
a repetition penalty, e.g. `--temperature 0.8 --top-p 0.95 --repetition-penalty 1.2`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ..errors import UserError
from ._args import OMIT, Flag, add_parameters, set_threads

DTYPES = ("float32", "bfloat16", "float16")
# The terminal's default answer length: longer than the API's SamplingParams.max_new_tokens (64), since a person
# reading a continuation wants a paragraph; the only default the command line sets itself.
CLI_MAX_NEW_TOKENS = 128


def io_options(
    prompts: list[str] = (),
    file: str | None = None,
    prompt_field: str = "prompt",
    output: str | None = None,
    jsonl: bool = False,
    interactive: bool = False,
    no_prompt: bool = False,
    threads: int | None = None,
) -> None:
    """Where prompts come from and results go (the command line's own options).

    Args:
        prompts: prompt text(s); none: read --file or stdin
        file: prompts file: .txt (one per line) or .jsonl (field --prompt-field); - = stdin
        prompt_field: JSONL field holding the prompt
        output: write results as JSONL to this file (atomic)
        jsonl: print results as JSONL on stdout
        interactive: read prompts line by line; /quit ends
        no_prompt: print only the continuation, not the prompt
        threads: torch CPU threads
    """


def model_flags(batch_flag: str | None = None, batch_help: str = "") -> dict:
    """How `load_generator`'s parameters are spelled on the command line (generate, serve, chat)."""
    flags = {
        "path_or_hub_id": Flag(names=("--model",), type=str, help="model folder or hub id (with its tokenizer)"),
        "tokenizer": Flag(type=str | None, help="tokenizer folder, if not the model's"),
        "dtype": Flag(choices=DTYPES, help="weights and compute dtype"),
        "device": Flag(help="cpu, cuda, cuda:1, ..."),
        "quantize": Flag(choices=("int8",), help="int8 weight-only linears (CPU)"),
        "adapter": Flag(type=str | None, help="LoRA adapter folder (peft format) to apply to the model"),
    }
    if batch_flag:
        flags["max_batch_size"] = Flag(names=(batch_flag,), help=batch_help)
    return flags


def add_model_options(parser, batch_flag: str, batch_help: str) -> None:
    """`load_generator`'s options, shared by `generate` and `serve`."""
    from ..generate import load_generator

    add_parameters(
        parser, load_generator, skip=("revision", "cpu_fast_linear"), flags=model_flags(batch_flag, batch_help)
    )


def add_decoding_options(parser, stop_help: str, stop_id_help: str) -> None:
    """Every `SamplingParams` field but logprobs as a flag; `--stop` and `--stop-token-id` repeatable."""
    from ..sampling import SamplingParams

    add_parameters(
        parser.add_argument_group("decoding"),
        SamplingParams,
        skip=("logprobs",),
        defaults={"max_new_tokens": CLI_MAX_NEW_TOKENS, "stop": [], "stop_token_ids": OMIT},
        flags={
            "stop": Flag(append=True, type=list[str], help=stop_help),
            "stop_token_ids": Flag(names=("--stop-token-id",), append=True, type=list[int], help=stop_id_help),
        },
    )


def generator_from_args(args: dict, max_batch_size: int | None = None):
    """`load_generator` called with the options `model_flags` spells (generate, serve, chat)."""
    from ..generate import load_generator

    return load_generator(
        args["path_or_hub_id"],
        dtype=args["dtype"],
        device=args["device"],
        adapter=args["adapter"],
        tokenizer=args["tokenizer"],
        max_batch_size=max_batch_size or args["max_batch_size"],
        quantize=args["quantize"],
    )


def add_arguments(parser) -> None:
    add_parameters(
        parser,
        io_options,
        only=["prompts", "file", "prompt_field", "output", "jsonl", "interactive", "no_prompt"],
        flags={"prompts": Flag(positional=True), "interactive": Flag(names=("--interactive", "-i"))},
    )
    add_decoding_options(parser, "stop string (repeatable)", "stop token id (repeatable; default 2 = <|endoftext|>)")
    model = parser.add_argument_group("model")
    add_model_options(model, "--batch-size", "prompts decoded together")
    add_parameters(model, io_options, only=["threads"])


def _read_prompts(args: dict) -> list[str]:
    prompts = list(args["prompts"])
    source = args["file"]
    if source is None and not prompts and not args["interactive"] and not sys.stdin.isatty():
        source = "-"
    if source is None:
        return prompts
    if source == "-":
        lines, name = sys.stdin.read().splitlines(), "stdin"
    else:
        path = Path(source)
        if not path.is_file():
            raise UserError(f"--file {source}: no such file; pass a .txt or .jsonl file of prompts")
        try:
            lines, name = path.read_text(encoding="utf-8").splitlines(), source
        except UnicodeDecodeError as e:
            line = path.read_bytes()[: e.start].count(b"\n") + 1
            raise UserError(
                f"--file {source} line {line}: not UTF-8 text; convert it (e.g. iconv -f cp949 -t utf-8)"
            ) from None
    is_jsonl = name.endswith(".jsonl") or (lines and lines[0].lstrip().startswith("{"))
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if is_jsonl:
            try:
                obj = json.loads(line)
                prompts.append(obj[args["prompt_field"]])
            except (json.JSONDecodeError, KeyError, TypeError):
                raise UserError(
                    f"{name} line {n}: expected a JSON object with a {args['prompt_field']!r} string "
                    f"field; fix the line or pass --prompt-field"
                ) from None
            if not isinstance(prompts[-1], str):
                raise UserError(f"{name} line {n}: {args['prompt_field']!r} must be a string")
        else:
            prompts.append(line)
    return prompts


def _params(gen, args: dict):
    from ..sampling import SamplingParams

    fields = set(SamplingParams.__dataclass_fields__)
    return gen.params(**{k: tuple(v) if isinstance(v, list) else v for k, v in args.items() if k in fields})


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
    print(
        f"[{len(res.token_ids)} tokens in {secs:.2f} s, {len(res.token_ids) / max(secs, 1e-9):.1f} tokens/s, "
        f"finish: {res.finish_reason}]",
        file=sys.stderr,
    )


def _record(prompt: str, res) -> dict:
    return {
        "prompt": prompt,
        "text": res.text,
        "finish_reason": res.finish_reason,
        "prompt_tokens": len(res.prompt_token_ids),
        "completion_tokens": len(res.token_ids),
        "token_ids": res.token_ids,
    }


def run(args: dict) -> int:

    set_threads(args["threads"])
    if args["output"]:
        from ..io_utils import check_output_path

        check_output_path(args["output"], "--output")
    prompts = _read_prompts(args)
    if not prompts and not args["interactive"]:
        raise UserError("no prompt given; pass prompt text, --file FILE, pipe prompts on stdin, or use --interactive")
    gen = generator_from_args(args)
    params = _params(gen, args)
    if args["interactive"]:
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
    if len(prompts) == 1 and not args["jsonl"] and not args["output"]:
        _stream_one(gen, prompts[0], params, show_prompt=not args["no_prompt"])
        return 0
    start = time.perf_counter()
    results = gen.generate(prompts, params, progress=True)
    secs = time.perf_counter() - start
    records = [_record(p, r) for p, r in zip(prompts, results, strict=False)]
    if args["output"]:
        from ..io_utils import atomic_write_text

        atomic_write_text(args["output"], "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    elif args["jsonl"]:
        for r in records:
            print(json.dumps(r, ensure_ascii=False))
    else:
        for p, r in zip(prompts, results, strict=False):
            print(("" if args["no_prompt"] else p) + r.text + "\n")
    n_tokens = sum(r["completion_tokens"] for r in records)
    print(
        f"{len(records)} prompts, {n_tokens} tokens in {secs:.2f} s ({n_tokens / max(secs, 1e-9):.1f} tokens/s)"
        + (f"; wrote {args['output']}" if args["output"] else ""),
        file=sys.stderr,
    )
    return 0
