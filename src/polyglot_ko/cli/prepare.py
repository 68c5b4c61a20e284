"""`polyglot-ko prepare`: raw Korean text -> cleaned, filtered, deduplicated, PII-masked text (-> indexed datasets
with --tokenizer), in the Polyglot-Ko team's order. Rerun the same command to resume.

    polyglot-ko prepare --input data/ "more/*.jsonl.zst" --out prepared/ --workers 2
    polyglot-ko prepare --input data/ --out prepared/ --tokenizer EleutherAI/polyglot-ko-1.3b --valid-fraction 0.01
"""

from __future__ import annotations

from ._args import Flag, add_option, add_parameters

QUALITY = ["min_chars", "max_chars", "min_mean_word_length", "max_mean_word_length", "min_korean_ratio"]


def step_options(
    text_field: str,
    txt_mode: str,
    near_dedup_threshold: float,
    exact_dedup: bool,
    near_dedup: bool,
    mask_pii: bool,
    mask_cards: bool,
) -> None:
    """The step options of `prepare(**step_options)` that the command line sets (types here, defaults prepare's).

    Args:
        text_field: JSON/parquet field with the text
        txt_mode: .txt files: one document per line, per blank-line block, or per file
        near_dedup_threshold: MinHash Jaccard similarity above which documents are near duplicates
        exact_dedup: exact deduplication
        near_dedup: MinHash near deduplication
        mask_pii: mask personal data
        mask_cards: mask card numbers
    """


def _step_defaults() -> dict:
    # prepare() takes its step options as **kwargs; their defaults live in the pipeline module, once.
    from ..data.stages import default_options

    return default_options()


def add_arguments(parser) -> None:
    from ..data.filters import QualityConfig
    from ..data.pipeline import prepare
    from ..data.readers import TXT_MODES

    add_parameters(
        parser,
        prepare,
        only=["inputs", "out", "tokenizer", "workers", "tasks", "valid_fraction"],
        flags={
            "inputs": Flag(
                names=("--input", "-i"),
                type=list[str],
                metavar="INPUT",
                help="input files, globs or folders (.txt, .jsonl, .jsonl.gz, .jsonl.zst, .parquet)",
            ),
            "out": Flag(names=("--out", "-o"), type=str, help="output folder (created; rerun to resume)"),
            "tokenizer": Flag(
                type=str, required=False, help="tokenizer folder or hub id: also write indexed datasets + manifest"
            ),
            "workers": Flag(help="worker processes"),
            "tasks": Flag(help="shards to split the work into (default: --workers); a resumed run must use the same"),
            "valid_fraction": Flag(help="fraction of documents held out as validation shards (by text hash)"),
        },
    )
    add_parameters(
        parser,
        step_options,
        only=["text_field", "txt_mode"],
        defaults=_step_defaults(),
        flags={"txt_mode": Flag(choices=TXT_MODES)},
    )
    add_parameters(
        parser,
        QualityConfig,
        only=QUALITY,
        flags={
            "min_mean_word_length": Flag(
                help="drop documents whose mean eojeol length is below this (team: 3; 2 keeps "
                "more Korean prose, see the README)"
            )
        },
    )
    add_option(parser, "no_quality_filter", bool, False, "skip the quality filters")
    add_parameters(
        parser,
        step_options,
        only=["near_dedup_threshold", "exact_dedup", "near_dedup", "mask_pii", "mask_cards"],
        defaults=_step_defaults(),
        flags={
            "mask_pii": Flag(names=("--no-pii",), help="do not mask personal data"),
            "mask_cards": Flag(names=("--no-cards",), help="do not mask card numbers"),
            "exact_dedup": Flag(help="skip exact deduplication"),
            "near_dedup": Flag(help="skip MinHash near deduplication"),
        },
    )
    add_parameters(
        parser, prepare, only=["overwrite"], flags={"overwrite": Flag(help="delete --out first instead of resuming")}
    )


def run(args: dict) -> int:
    from ..data.filters import QualityConfig
    from ..data.pipeline import prepare

    quality = {k: args.pop(k) for k in QUALITY}
    if args.pop("no_quality_filter"):
        quality = {k: None for k in QualityConfig().as_dict()}  # every rule off, not only those with a flag
    prepare(args.pop("inputs"), args.pop("out"), quality=quality, **args)
    return 0
