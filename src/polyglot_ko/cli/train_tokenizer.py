"""`polyglot-ko train-tokenizer`: a morpheme-aware byte-level BPE tokenizer with the released structure.

polyglot-ko train-tokenizer --input data/*.jsonl.gz --out my-tokenizer            # 30,000 + 3 ids
polyglot-ko train-tokenizer --input corpus.txt --out tok --vocab-size 8000 --no-morpheme   # seconds
"""

from __future__ import annotations

from ._args import Flag, add_parameters


def add_arguments(parser) -> None:
    from ..tokenizer_train import ANALYSIS_MODES, train_tokenizer

    add_parameters(
        parser,
        train_tokenizer,
        flags={
            "inputs": Flag(
                names=("--input",),
                type=list[str],
                metavar="PATH",
                help="files, globs or folders: .txt (one document per line), .jsonl(.gz/.zst), .parquet",
            ),
            "out": Flag(help="tokenizer folder to write (atomically)"),
            "vocab_size": Flag(
                help="BPE vocabulary incl. 4 special tokens and 256 bytes; 3 PII tokens come on top "
                "(30000 -> 30003 ids, as released)"
            ),
            "morpheme_aware": Flag(
                names=("--no-morpheme",),
                help="do not mark morpheme boundaries (plain byte-level BPE; much faster to train)",
            ),
            "show_progress": Flag(names=("--quiet",), help="no progress bar or summary"),
            "analysis": Flag(choices=ANALYSIS_MODES),
        },
    )


def run(args: dict) -> int:
    from ..tokenizer_train import train_tokenizer

    train_tokenizer(**args)
    return 0
