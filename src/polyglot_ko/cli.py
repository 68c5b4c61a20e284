"""`polyglot-ko`: one console script, one subcommand per stage of the system.

Each subcommand lives in its own module, which defines two functions:

    add_arguments(parser: argparse.ArgumentParser) -> None
    run(args: argparse.Namespace) -> int | None

The table below names them; a module is imported only when its subcommand runs, so `polyglot-ko --help`
stays fast and works without the optional extras. A `UserError` becomes a one-line `error: ...` on stderr
and exit status 2, with no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import UserError

# name -> (module, one-line help). Order is the order of the pipeline.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "quickstart": ("polyglot_ko.quickstart", "the whole system on a bundled corpus: prepare, tokenizer, pretrain, evaluate, generate"),
    "mask-pii": ("polyglot_ko.data.pii", "mask phone, account and registration numbers in text (stdin -> stdout)"),
    "prepare": ("polyglot_ko.data.pipeline", "clean, filter, deduplicate, mask and tokenize a corpus into indexed datasets"),
    "train-tokenizer": ("polyglot_ko.tokenizer_train", "train a morpheme-aware byte-level BPE tokenizer like Polyglot-Ko's"),
    "pretrain": ("polyglot_ko.train.cli", "pretrain a model from a YAML recipe (one process, or many under torchrun)"),
    "evaluate": ("polyglot_ko.eval.cli", "KOBEST as the model cards report it, and perplexity"),
    "generate": ("polyglot_ko.generate_cli", "generate Korean text from a model folder or hub id"),
    "serve": ("polyglot_ko.serve", "OpenAI-compatible HTTP server (completions, chat) with continuous batching"),
    "convert": ("polyglot_ko.checkpoint", "convert a model folder between dtypes and shard sizes"),
    "info": ("polyglot_ko.config", "show a preset's or model folder's architecture and parameter count"),
}


def _top_parser() -> argparse.ArgumentParser:
    from . import __version__

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
        print(f"error: `polyglot-ko {name}` needs a package that is not installed ({missing}); "
              f"install the extras with `pip install -e '.[all]'`", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog=f"polyglot-ko {name}", description=help_text)
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    try:
        code = module.run(args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
