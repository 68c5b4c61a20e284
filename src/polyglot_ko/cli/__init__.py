"""`polyglot-ko`: one console script, one subcommand per stage of the system.

Each subcommand is a module of this package that defines two functions:

    add_arguments(parser: polyglot_ko.cli._args.Parser) -> None   # options from typed library signatures
    run(args: dict) -> int | None                                  # the parsed options, by parameter name

The options are the parameters of the library functions and dataclasses a command calls (their types, defaults
and docstrings, read by jsonargparse; see `_args.py`), so a default lives once, in the library. The table below
names the modules; a module is imported only when its subcommand runs, so `polyglot-ko --help` stays fast and
works without the optional extras. A `UserError` becomes a one-line `error: ...` on stderr and exit status 2,
with no traceback; Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import UserError

# name -> (module, one-line help). Order is the order of the pipeline.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "quickstart": (
        "polyglot_ko.cli.quickstart",
        "the whole system on a bundled corpus: prepare, tokenizer, pretrain, evaluate, generate",
    ),
    "mask-pii": ("polyglot_ko.cli.mask_pii", "mask phone, account and registration numbers in text (stdin -> stdout)"),
    "prepare": (
        "polyglot_ko.cli.prepare",
        "clean, filter, deduplicate, mask and tokenize a corpus into indexed datasets",
    ),
    "train-tokenizer": (
        "polyglot_ko.cli.train_tokenizer",
        "train a morpheme-aware byte-level BPE tokenizer like Polyglot-Ko's",
    ),
    "pretrain": (
        "polyglot_ko.cli.pretrain",
        "pretrain a model from a YAML recipe (one process, or many under torchrun)",
    ),
    "finetune": (
        "polyglot_ko.cli.finetune",
        "instruction-tune a model (full, LoRA, QLoRA) on chat/Alpaca data from a YAML recipe",
    ),
    "merge": ("polyglot_ko.cli.merge", "fold a LoRA adapter into its base model and write a model folder"),
    "evaluate": ("polyglot_ko.cli.evaluate", "KOBEST as the model cards report it, and perplexity"),
    "generate": ("polyglot_ko.cli.generate", "generate Korean text from a model folder or hub id"),
    "chat": ("polyglot_ko.cli.chat", "chat with a model in the terminal: streamed answers, multi-turn history"),
    "serve": ("polyglot_ko.cli.serve", "OpenAI-compatible HTTP server (completions, chat) with continuous batching"),
    "convert": ("polyglot_ko.cli.convert", "convert a model folder between dtypes and shard sizes"),
    "export-gguf": ("polyglot_ko.cli.export_gguf", "write a model folder as one GGUF file for llama.cpp"),
    "push": ("polyglot_ko.cli.push", "upload a model folder with its model card to the Hugging Face hub"),
    "info": ("polyglot_ko.cli.info", "show a preset's or model folder's architecture and parameter count"),
}


def _top_parser() -> argparse.ArgumentParser:
    # Plain argparse: the top level lists the commands and must not import jsonargparse or any command module.
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="polyglot-ko",
        description="Polyglot-Ko: Korean GPT-NeoX models, from raw text to a served model.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `polyglot-ko COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"polyglot-ko {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in SUBCOMMANDS:
        parser = _top_parser()
        if not argv:
            parser.print_help()
            return 0
        parser.parse_args(argv)  # prints help/version or a usage error for an unknown command
        return 2
    name = argv[0]
    module_name, help_text = SUBCOMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        missing = getattr(e, "name", None) or str(e)
        print(
            f"error: `polyglot-ko {name}` needs a package that is not installed ({missing}); "
            f"install the extras with `pip install -e '.[all]'`",
            file=sys.stderr,
        )
        return 2
    from ._args import new_parser

    parser = new_parser(f"polyglot-ko {name}", (module.__doc__ or help_text).strip())
    try:
        module.add_arguments(parser)
        args = parser.parse_args(argv[1:]).as_dict()
        code = module.run(args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        if e.filename is None:
            raise
        # A path the user named cannot be read or written (a file where a folder must be, no permission, ...).
        print(f"error: {e.filename}: {e.strerror or e}; check the path", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(code or 0)
